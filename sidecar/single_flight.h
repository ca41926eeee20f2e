#ifndef PAT_SIDECAR_SINGLE_FLIGHT_H_
#define PAT_SIDECAR_SINGLE_FLIGHT_H_

#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"

namespace pat::sidecar {

// Collapses concurrent calls for one key into one: the first caller runs
// the function, callers that arrive while it runs wait for its result and
// get a copy of it. Nothing is cached: once the call returns, the next
// caller runs the function again.
//
// Thread-safe. `fn` runs without any lock held.
template <typename Key, typename Value, typename Hash = absl::Hash<Key>,
          typename Eq = std::equal_to<Key>>
class SingleFlight {
 public:
  // `on_join` (optional) runs each time a caller joins a call in flight,
  // before it waits (e.g. to count shared calls). It runs under the internal
  // lock: it must be cheap and must not call Do().
  explicit SingleFlight(std::function<void()> on_join = nullptr)
      : on_join_(std::move(on_join)) {}

  // Runs `fn` (a callable returning Value) or joins the call in flight for
  // `key`. `*shared` (optional) tells whether the result came from another
  // caller's call.
  template <typename Fn>
  Value Do(const Key& key, Fn&& fn, bool* shared = nullptr) {
    std::shared_ptr<Call> call;
    {
      absl::MutexLock lock(&mu_);
      auto it = calls_.find(key);
      if (it != calls_.end()) {
        call = it->second;
        if (shared != nullptr) *shared = true;
        if (on_join_) on_join_();
        while (!call->value.has_value()) call->done.Wait(&mu_);
        return *call->value;
      }
      call = std::make_shared<Call>();
      calls_.emplace(key, call);
    }
    if (shared != nullptr) *shared = false;
    Value value = std::forward<Fn>(fn)();
    {
      absl::MutexLock lock(&mu_);
      call->value.emplace(value);
      calls_.erase(key);
      call->done.SignalAll();
    }
    return value;
  }

 private:
  struct Call {
    std::optional<Value> value;  // guarded by the owner's mu_
    absl::CondVar done;
  };
  const std::function<void()> on_join_;
  absl::Mutex mu_;
  absl::flat_hash_map<Key, std::shared_ptr<Call>, Hash, Eq> calls_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_SINGLE_FLIGHT_H_
