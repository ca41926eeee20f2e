#ifndef PAT_SIDECAR_SINGLE_FLIGHT_H_
#define PAT_SIDECAR_SINGLE_FLIGHT_H_

#include <cstddef>
#include <functional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"

namespace pat::sidecar {

// Collapses concurrent asynchronous calls for one key into one, without
// blocking anybody: the first caller for a key starts the call, later
// callers' callbacks are queued behind it, and Complete() hands the one
// result to every queued callback. Nothing is cached: after Complete() the
// next caller starts a new call.
//
// Bounded: at most `max_waiters` callbacks wait on one key (beyond that
// Join() refuses and the caller answers for itself).
//
// Thread-safe. Callbacks never run with the internal lock held; `start`
// runs outside it too (it may even complete the call inline).
template <typename Key, typename Value, typename Hash = absl::Hash<Key>,
          typename Eq = std::equal_to<Key>>
class AsyncSingleFlight {
 public:
  using Callback = absl::AnyInvocable<void(const Value&) &&>;
  enum class Joined { kStarted, kShared, kFull };

  explicit AsyncSingleFlight(size_t max_waiters) : max_waiters_(max_waiters) {}

  // Queues `done` for `key`. kStarted: no call was in flight, `start()` has
  // been run to begin one (it must lead to exactly one Complete(key, ...)).
  // kShared: `done` joined the call in flight. kFull: refused, `done` is
  // left untouched (still the caller's to run).
  template <typename Start>
  Joined Join(const Key& key, Callback& done, Start&& start) {
    {
      absl::MutexLock lock(&mu_);
      auto [it, inserted] = calls_.try_emplace(key);
      if (!inserted) {
        if (it->second.size() >= max_waiters_) return Joined::kFull;
        it->second.push_back(std::move(done));
        return Joined::kShared;
      }
      it->second.push_back(std::move(done));
    }
    std::forward<Start>(start)();
    return Joined::kStarted;
  }

  // Ends the call for `key`: every queued callback runs (in this thread, in
  // order, without the lock) with `value`.
  void Complete(const Key& key, const Value& value) {
    std::vector<Callback> waiters;
    {
      absl::MutexLock lock(&mu_);
      auto it = calls_.find(key);
      if (it == calls_.end()) return;
      waiters = std::move(it->second);
      calls_.erase(it);
    }
    for (Callback& waiter : waiters) std::move(waiter)(value);
  }

  // Keys with a call in flight.
  size_t in_flight() const {
    absl::MutexLock lock(&mu_);
    return calls_.size();
  }

 private:
  const size_t max_waiters_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<Key, std::vector<Callback>, Hash, Eq> calls_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_SINGLE_FLIGHT_H_
