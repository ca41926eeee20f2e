#ifndef PAT_SIDECAR_ASYNC_AUTHORIZE_H_
#define PAT_SIDECAR_ASYNC_AUTHORIZE_H_

#include <atomic>
#include <exception>
#include <memory>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/associated_executor.hpp"
#include "boost/asio/async_result.hpp"
#include "boost/asio/awaitable.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/use_awaitable.hpp"
#include "sidecar/authorizer.h"

// Pipeline step 3 of the sidecar's HTTP front: the asynchronous authorize
// step. Authorizer::Authorize's callback may run inline (a decision from
// memory) or later on another thread (one that needed the authority). A
// coroutine co_awaits AwaitDecision and never blocks its event loop: an
// inline decision is returned without suspending (no post, no trip through
// the loop's queue); a later one resumes the coroutine on its own executor.
namespace pat::sidecar {

// The fail-closed result used when the authorizer throws.
inline AuthzResult AuthorizerFailedResult() {
  AuthzResult r;
  r.reason = policy::Reason::kAuthorityUnavailable;
  r.http_status = policy::ReasonHttpStatus(r.reason);
  r.message = "authorization temporarily unavailable";
  r.retry_after_seconds = 1;
  return r;
}

// Counts decisions in flight (so shutdown can wait for late callbacks before
// the event loops go away). Must outlive every pending decision.
using PendingCounter = std::atomic<int>;

namespace internal {

// One Authorize() call, shared by its callback and the awaiting coroutine.
struct DecisionSlot {
  // The suspended coroutine's completion, type-erased; Complete() posts it
  // to the handler's associated executor.
  struct Waiter {
    virtual ~Waiter() = default;
    virtual void Complete(AuthzResult r) = 0;
  };
  template <typename Handler>
  struct PostingWaiter final : Waiter {
    explicit PostingWaiter(Handler h) : handler(std::move(h)) {}
    void Complete(AuthzResult r) override {
      auto ex = boost::asio::get_associated_executor(handler);
      boost::asio::post(ex,
                        [h = std::move(handler), r = std::move(r)]() mutable {
                          std::move(h)(std::move(r));
                        });
    }
    Handler handler;
  };

  explicit DecisionSlot(PendingCounter& p) : pending(p) {}

  // The callback given to Authorize(): keeps the first result only.
  void Deliver(AuthzResult r) {
    std::unique_ptr<Waiter> waiter;
    {
      absl::MutexLock lock(&mu);
      if (fired) return;
      fired = true;
      if (this->waiter == nullptr) {
        result.emplace(std::move(r));  // taken by the coroutine
        return;
      }
      waiter = std::move(this->waiter);
    }
    waiter->Complete(std::move(r));
    pending.fetch_sub(1);
  }

  // The result already delivered, if any (then the decision is no longer
  // pending).
  std::optional<AuthzResult> Take() {
    std::optional<AuthzResult> r;
    {
      absl::MutexLock lock(&mu);
      r.swap(result);
    }
    if (r.has_value()) pending.fetch_sub(1);
    return r;
  }

  // Completes `handler` at once with a result delivered meanwhile, or keeps
  // it for Deliver().
  template <typename Handler>
  void Wait(Handler handler) {
    std::optional<AuthzResult> ready;
    {
      absl::MutexLock lock(&mu);
      ready.swap(result);
      if (!ready.has_value()) {
        waiter = std::make_unique<PostingWaiter<Handler>>(std::move(handler));
        return;
      }
    }
    PostingWaiter<Handler>(std::move(handler)).Complete(std::move(*ready));
    pending.fetch_sub(1);
  }

  PendingCounter& pending;
  absl::Mutex mu;
  bool fired ABSL_GUARDED_BY(mu) = false;
  std::optional<AuthzResult> result ABSL_GUARDED_BY(mu);
  std::unique_ptr<Waiter> waiter ABSL_GUARDED_BY(mu);
};

}  // namespace internal

// Asks `authorizer` about `view`. `view` must stay valid until the result
// is returned. An exception from Authorize() yields AuthorizerFailedResult().
inline boost::asio::awaitable<AuthzResult> AwaitDecision(
    Authorizer& authorizer, const RequestView& view, PendingCounter& pending) {
  auto slot = std::make_shared<internal::DecisionSlot>(pending);
  pending.fetch_add(1);
  try {
    authorizer.Authorize(
        view, [slot](AuthzResult r) { slot->Deliver(std::move(r)); });
  } catch (...) {
    slot->Deliver(AuthorizerFailedResult());
  }
  if (std::optional<AuthzResult> now = slot->Take()) co_return std::move(*now);
  // While it waits, the slot owns this coroutine (its handler), so the frame
  // must not own the slot: the frame's reference is given up once Wait() has
  // stored the handler (or completed it). Otherwise slot -> handler -> frame
  // -> slot is a cycle, and destroying a waiting coroutine at shutdown
  // destroys the slot from inside its own waiter.
  co_return co_await boost::asio::async_initiate<
      const boost::asio::use_awaitable_t<>&, void(AuthzResult)>(
      [&slot](auto handler) {
        const std::shared_ptr<internal::DecisionSlot> owned = std::move(slot);
        owned->Wait(std::move(handler));
      },
      boost::asio::use_awaitable);
}

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_ASYNC_AUTHORIZE_H_
