#ifndef PAT_SIDECAR_RESPONSE_SHAPING_H_
#define PAT_SIDECAR_RESPONSE_SHAPING_H_

#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "boost/beast/http/message.hpp"
#include "boost/beast/http/string_body.hpp"
#include "common/policy/catalog.h"
#include "common/policy/reason.h"
#include "sidecar/authorizer.h"

// Pipeline step 5 of the sidecar's HTTP front: the ONE place that renders
// responses the sidecar writes itself (every refusal, and local answers).
namespace pat::sidecar {

using LocalResponse =
    boost::beast::http::response<boost::beast::http::string_body>;

// A refusal, typed: the status, the body's "reason" and "err" all come from
// `reason` (policy::ReasonHttpStatus / ReasonCode / DecisionMessage).
struct Refusal {
  Refusal() = default;
  explicit Refusal(policy::Reason r, std::string d = {}, int retry_after = 0,
                   const policy::Endpoint* e = nullptr)
      : reason(r),
        detail(std::move(d)),
        retry_after_seconds(retry_after),
        endpoint(e) {}

  policy::Reason reason = policy::Reason::kInternalError;
  // Appended to the reason's fixed message; secret-shaped substrings are
  // redacted before it is rendered.
  std::string detail;
  int retry_after_seconds = 0;      // > 0: Retry-After
  const policy::Endpoint* endpoint = nullptr;  // its error_style wins
};

// The refusal for a denied AuthzResult (the message's leading
// ReasonMessage(reason) is not repeated in the detail).
Refusal RefusalFrom(const AuthzResult& result);

// The response for `refusal`: policy::ErrorBody(reason, detail, style) with
// style = endpoint ? endpoint->error_style : default_style, Content-Type
// application/json, Cache-Control no-store, X-Request-Id, WWW-Authenticate on
// 401, Retry-After when asked for. `version` 10 or 11.
LocalResponse RenderRefusal(const Refusal& refusal,
                            policy::ErrorStyle default_style,
                            absl::string_view request_id, unsigned version,
                            bool keep_alive);

// The local answer of an allowed request whose endpoint has
// LocalAnswer::kWhoami: 200 {"username":"<token_id>"}.
LocalResponse RenderWhoami(absl::string_view token_id,
                           absl::string_view request_id, unsigned version,
                           bool keep_alive);

// The canned 503 `overloaded` response written (without a session) to
// connections over --max_connections, with Connection: close.
absl::string_view OverloadedResponseBytes();

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_RESPONSE_SHAPING_H_
