#ifndef PAT_SIDECAR_AUTHORIZER_H_
#define PAT_SIDECAR_AUTHORIZER_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "common/policy/catalog.h"
#include "common/policy/reason.h"

// The contract between the sidecar's HTTP front and its authorization step
// (SPEC §7). The front owns framing, limits and forwarding; the authorizer
// owns every decision about the token, the endpoint, the scope and the
// resource. Decisions are typed (policy::Reason), never strings to parse.
namespace pat::sidecar {

// What the HTTP front hands to the authorizer for one request. Views point
// into the request held by the front and stay valid until the completion
// callback of Authorize() has run.
struct RequestView {
  absl::string_view method;
  // The raw request-target exactly as received (path and query).
  absl::string_view target;
  // Every value of every known credential header, in order, as (lower-case
  // header name, raw value). Two entries means two credentials.
  std::vector<std::pair<absl::string_view, absl::string_view>> credentials;
  absl::string_view client_ip;
  absl::string_view request_id;
  // The request body, buffered by the front, when WantsBody() said the
  // endpoint's resource is in the body (bounded: the front refuses larger
  // bodies with 413 before asking). Empty and has_body=false otherwise.
  absl::string_view body;
  bool has_body = false;
};

// The decision for one request.
struct AuthzResult {
  policy::Reason reason = policy::Reason::kInternalError;
  // The HTTP status of `reason` (policy::ReasonHttpStatus).
  int http_status = 500;
  // Human-readable explanation; never contains a secret or digest.
  std::string message;
  // The matched catalog endpoint, when one matched (its error_style and
  // local answer shape the response). Owned by the authorizer's catalog,
  // valid for the authorizer's lifetime.
  const policy::Endpoint* endpoint = nullptr;
  std::string token_id;         // when known
  std::string plan_id;          // when known
  int retry_after_seconds = 0;  // > 0: send Retry-After

  bool allowed() const { return reason == policy::Reason::kAllowed; }
};

// Called exactly once per Authorize() call.
using AuthorizeCallback = absl::AnyInvocable<void(AuthzResult) &&>;

// Decides requests. Thread-safe. Never blocks the calling thread: a decision
// that needs the authority (a cache miss, a revalidation, a resource lookup)
// completes later, on a thread that is not the caller's.
class Authorizer {
 public:
  virtual ~Authorizer() = default;

  // Decides `request`. `done` runs exactly once: inline, before Authorize()
  // returns, when the decision is taken from memory; otherwise later, from an
  // authority-client thread. `done` must not block.
  virtual void Authorize(const RequestView& request,
                         AuthorizeCallback done) = 0;

  // True when the endpoint that (method, target) would match takes its
  // resource from the JSON request body, so the front must buffer the body
  // (up to its limit) and pass it in RequestView::body. Pure, never blocks.
  virtual bool WantsBody(absl::string_view method,
                         absl::string_view target) const = 0;

  // Readiness for /readyz: synced with the authority and not stale.
  virtual bool Ready() const = 0;
};

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_AUTHORIZER_H_
