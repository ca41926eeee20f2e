#ifndef PAT_SIDECAR_ASYNC_AUTHORIZE_H_
#define PAT_SIDECAR_ASYNC_AUTHORIZE_H_

#include <atomic>
#include <exception>
#include <memory>
#include <optional>
#include <utility>

#include "boost/asio/associated_executor.hpp"
#include "boost/asio/async_result.hpp"
#include "boost/asio/post.hpp"
#include "sidecar/authorizer.h"

// Pipeline step 3 of the sidecar's HTTP front: the asynchronous authorize
// step. Authorizer::Authorize's callback may run inline or on another
// thread; the completion always runs on the caller's executor (posted), so a
// coroutine can co_await a decision without ever blocking its event loop.
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

// Asks `authorizer` about `view` and completes with the AuthzResult
// (signature void(AuthzResult)) on the completion handler's associated
// executor. `view` must stay valid until the completion runs. An exception
// from Authorize() completes with AuthorizerFailedResult().
template <typename CompletionToken>
auto AsyncAuthorize(Authorizer& authorizer, const RequestView& view,
                    PendingCounter& pending, CompletionToken&& token) {
  return boost::asio::async_initiate<CompletionToken, void(AuthzResult)>(
      [&authorizer, &view, &pending](auto handler) {
        using Handler = decltype(handler);
        struct Pending {
          std::optional<Handler> handler;
          std::atomic<bool> fired{false};
        };
        auto state = std::make_shared<Pending>();
        state->handler.emplace(std::move(handler));
        pending.fetch_add(1);
        auto complete = [state, &pending](AuthzResult r) {
          if (state->fired.exchange(true)) return;
          auto ex = boost::asio::get_associated_executor(*state->handler);
          boost::asio::post(ex, [state, r = std::move(r)]() mutable {
            Handler h = std::move(*state->handler);
            state->handler.reset();
            std::move(h)(std::move(r));
          });
          pending.fetch_sub(1);
        };
        try {
          authorizer.Authorize(view, [complete](AuthzResult r) mutable {
            complete(std::move(r));
          });
        } catch (...) {
          complete(AuthorizerFailedResult());
        }
      },
      token);
}

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_ASYNC_AUTHORIZE_H_
