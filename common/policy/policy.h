#ifndef PAT_COMMON_POLICY_POLICY_H_
#define PAT_COMMON_POLICY_POLICY_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/domain.h"
#include "common/policy/catalog.h"
#include "common/policy/path.h"
#include "common/policy/reason.h"
#include "common/policy/route_matcher.h"

// The sidecar's decision engine (SPEC §7 steps 3-5, R12, R13), pure and
// allocation-free on the allow path (apart from what a ResourceResolver
// returns). Steps 1 (CheckTarget, path.h) and 2 (credential extraction and
// grant lookup) happen before Decide; GrantStateReason() and Deny() cover the
// reasons of step 2.
namespace pat::policy {

// A plan resource as the directory knows it.
struct ResolvedResource {
  std::string plan_id;
  // The resource's ancestors, nearest first (file -> project -> team ->
  // workspace); the resource itself is not included.
  std::vector<std::pair<ResourceKind, std::string>> ancestors;
};

// The caller's view of the resource directory (the sidecar's cache, or the
// authority's database for CheckAccess).
class ResourceResolver {
 public:
  virtual ~ResourceResolver() = default;
  // The plan and ancestors of resource (kind, id); nullopt when unknown.
  // Must be thread-safe if Decide is called concurrently.
  virtual std::optional<ResolvedResource> Resolve(
      ResourceKind kind, absl::string_view id) const = 0;
};

// What Decide needs to know about an already-validated, usable token. Views
// only: the caller keeps the data alive during the call.
struct GrantView {
  absl::string_view token_id;
  absl::string_view plan_id;
  TokenKind kind = TokenKind::kUnspecified;
  absl::Span<const std::string> scopes;
  bool all_resources = false;
  absl::Span<const TokenResource> resources;  // the selected list
};

// A view of a domain Token (which must outlive the view).
GrantView GrantViewOf(const Token& token);

struct DecisionInput {
  absl::string_view method;  // exact request method ("GET")
  Target target;             // accepted by CheckTarget
  // Required (non-null).
  const RouteMatcher* routes = nullptr;
  const GrantView* grant = nullptr;
  // May be null: then every determinable resource is denied (it cannot be
  // shown to belong to the plan).
  const ResourceResolver* resolver = nullptr;
  // The API this engine guards; when set and different from grant->kind the
  // decision is token_kind_mismatch (defense in depth; step 2 checks it too).
  TokenKind api_kind = TokenKind::kUnspecified;
  // The buffered request body, for endpoints whose resource is in it
  // (Endpoint::resource.reads_body(), see NeedsBody). has_body=false for such
  // an endpoint is a denial (fail closed), for every token.
  absl::string_view body;
  bool has_body = false;
};

struct Decision {
  bool allowed = false;
  int http_status = 0;
  Reason reason = Reason::kEndpointUnknown;
  // Explanation for logs, error bodies and CheckAccess. Contains at most the
  // endpoint name, scope names and a resource id taken from a canonical path.
  std::string detail;
  // The matched catalog endpoint, when one matched.
  const Endpoint* endpoint = nullptr;
};

// SPEC §7 steps 3-5 (plus the api_kind check above), first failure wins:
//  3. endpoint: no catalog route for method + path -> 403 endpoint_unknown;
//     route with plan_tokens=no -> 403 endpoint_not_supported (whatever the
//     token's scopes);
//  4. scope: the grant holds none of the endpoint's scopes -> 403
//     scope_missing;
//  5. resource (R13) -> 403 resource_not_allowed unless:
//     - determinable resources (path, query or json selector; EVERY resource
//       a json body names) that the resolver knows and that belong to
//       grant->plan_id, and the grant has all_resources or lists the resource
//       or one of its ancestors (same kind and id);
//     - a plan named by query/body (plan:FIELD) that is grant->plan_id, for
//       an all_resources grant;
//     - unscoped (any grant);
//     - undeterminable (none, lookup, body, or a query selector none of whose
//       parameters is present) and the grant has all_resources.
//     Ambiguous or malformed query/body resources (request_resources.h) are
//     denied for everyone.
// Allowed: 200 "allowed".
// Preconditions: input.routes and input.grant are non-null.
Decision Decide(const DecisionInput& input);

// CheckTarget(raw_target, PathModeFor(api_kind, or grant kind if unset))
// (step 1), then Decide with the accepted target (input.target is ignored).
// For CheckAccess-style callers.
Decision CheckAndDecide(absl::string_view raw_target, DecisionInput input);

// True when (method, target) matches an endpoint whose resource is in the
// JSON body (json: selector): the front must buffer the body (bounded) and
// pass it as DecisionInput::body. `target` is the raw request-target; false
// when it is refused by CheckTarget(target, mode) or matches nothing. Pure,
// cheap (no allocation unless the path has escapes).
bool NeedsBody(const RouteMatcher& routes, absl::string_view method,
               absl::string_view target, PathMode mode);

// A denial (or kAllowed) with the reason's HTTP status.
Decision MakeDecision(Reason reason, std::string detail = {},
                      const Endpoint* endpoint = nullptr);

// Step 2 helper: the reason for a grant found for the presented secret, given
// its status and kind and the kind of API being called. kAllowed when usable.
// Order: revoked, expired, kind mismatch (an unspecified status is treated as
// unknown).
Reason GrantStateReason(TokenStatus status, TokenKind token_kind,
                        TokenKind api_kind);

// The human-readable message of a decision: ReasonMessage(reason), plus
// ": <detail>" when there is a detail. This is the "err" of ErrorBody.
std::string DecisionMessage(Reason reason, absl::string_view detail);

// The JSON error body of a refusal:
//   {"status":N,"err":"<message>","reason":"<code>"}
// where message is ReasonMessage plus ": <detail>" when there is a detail.
// Style kB / kAB add "error":true and "message":"<message>" so vendor
// B-style clients parse it too; kNpm adds "error":"<message>", the field the
// npm CLI prints. This is the one renderer for every refusal the sidecar
// sends, front reasons included: the front passes the matched endpoint's
// error_style, or DefaultErrorStyle(api) when no endpoint matched.
std::string ErrorBody(Reason reason, absl::string_view detail,
                      ErrorStyle style = ErrorStyle::kA);
// ErrorBody(decision.reason, decision.detail, the endpoint's style or
// `default_style` when the decision has no endpoint).
std::string ErrorBody(const Decision& decision,
                      ErrorStyle default_style = ErrorStyle::kA);

}  // namespace pat::policy

#endif  // PAT_COMMON_POLICY_POLICY_H_
