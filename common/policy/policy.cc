#include "common/policy/policy.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/domain.h"
#include "common/policy/catalog.h"
#include "common/policy/path.h"
#include "common/policy/reason.h"
#include "common/policy/request_resources.h"
#include "common/policy/route_matcher.h"
#include "nlohmann/json.hpp"

namespace pat::policy {
namespace {

constexpr size_t kMaxQuotedBytes = 64;

// A resource id for a detail string: C-escaped, at most 64 bytes of it.
std::string QuoteId(absl::string_view id) {
  std::string out = absl::CHexEscape(id.substr(0, kMaxQuotedBytes));
  if (id.size() > kMaxQuotedBytes) out.append("...");
  return out;
}

bool HoldsAnyScope(const GrantView& grant, const Endpoint& endpoint) {
  for (const std::string& needed : endpoint.scopes) {
    for (const std::string& held : grant.scopes) {
      if (held == needed) return true;
    }
  }
  return false;
}

bool OnList(const GrantView& grant, ResourceKind kind, absl::string_view id) {
  for (const TokenResource& r : grant.resources) {
    if (r.kind == kind && r.id == id) return true;
  }
  return false;
}

Decision Allow(const Endpoint& endpoint) {
  return MakeDecision(Reason::kAllowed, {}, &endpoint);
}

Decision Deny(const Endpoint& endpoint, std::string detail) {
  return MakeDecision(Reason::kResourceNotAllowed, std::move(detail),
                      &endpoint);
}

Decision Undeterminable(const GrantView& grant, const Endpoint& endpoint) {
  if (grant.all_resources) return Allow(endpoint);
  return Deny(endpoint,
              absl::StrCat("the resource of ", endpoint.name,
                           " cannot be determined from the request; only "
                           "all-resources tokens may call it"));
}

// R13 for one resource (kind, id). `what` names it in details: the quoted id
// for path and query values, a description for body values (never echoed).
Decision CheckOne(const DecisionInput& input, const Endpoint& endpoint,
                  ResourceKind kind, absl::string_view id,
                  absl::string_view what) {
  const GrantView& grant = *input.grant;
  const std::optional<ResolvedResource> resolved =
      input.resolver == nullptr ? std::nullopt
                                : input.resolver->Resolve(kind, id);
  if (!resolved.has_value() || resolved->plan_id.empty() ||
      resolved->plan_id != grant.plan_id) {
    // Same answer for unknown and other-plan resources: never reveal that
    // another plan's resource exists.
    return Deny(endpoint, absl::StrCat(ResourceKindName(kind), " ", what,
                                       " is not a resource of the token's "
                                       "plan"));
  }
  if (grant.all_resources) return Allow(endpoint);
  if (OnList(grant, kind, id)) return Allow(endpoint);
  for (const auto& [ancestor_kind, ancestor_id] : resolved->ancestors) {
    if (OnList(grant, ancestor_kind, ancestor_id)) return Allow(endpoint);
  }
  return Deny(endpoint, absl::StrCat(ResourceKindName(kind), " ", what,
                                     " is not on the token's resource list, "
                                     "nor is any of its ancestors"));
}

// R13 for what a query:/json: selector found.
Decision CheckNamed(const DecisionInput& input, const Endpoint& endpoint,
                    const RequestResources& named, bool from_body) {
  const GrantView& grant = *input.grant;
  switch (named.status) {
    case RequestResources::Status::kInvalid:
      return Deny(endpoint, std::string(named.problem));
    case RequestResources::Status::kAbsent:
      return Undeterminable(grant, endpoint);
    case RequestResources::Status::kNamed:
      break;
  }
  if (named.names_plan) {
    // The whole plan: it must be the token's own, and only all-resources
    // tokens cover a whole plan.
    if (named.plan_id != grant.plan_id) {
      return Deny(endpoint,
                  "the plan named by the request is not the "
                  "token's plan");
    }
    if (!grant.all_resources) {
      return Deny(endpoint,
                  "the request names the whole plan; only "
                  "all-resources tokens may");
    }
    return Allow(endpoint);
  }
  const std::string field =
      named.ref != nullptr ? FormatResourceRef(*named.ref) : std::string();
  for (const NamedResource& r : named.resources) {
    const std::string what =
        from_body ? absl::StrCat("named by the request body (", field, ")")
                  : QuoteId(r.id);
    Decision d = CheckOne(input, endpoint, r.kind, r.id, what);
    if (!d.allowed) return d;
  }
  return Allow(endpoint);
}

// Step 5 (R13) for a matched endpoint.
Decision CheckResource(const DecisionInput& input, const RouteMatch& match) {
  const Endpoint& endpoint = *match.endpoint;
  const ResourceSelector& selector = endpoint.resource;
  switch (selector.source) {
    case ResourceSource::kPath: {
      if (selector.capture_index < 0 ||
          selector.capture_index >= match.param_count) {
        return Undeterminable(*input.grant, endpoint);
      }
      const absl::string_view id = match.params[selector.capture_index];
      return CheckOne(input, endpoint, selector.kind, id, QuoteId(id));
    }
    case ResourceSource::kQuery:
      return CheckNamed(input, endpoint,
                        FromQuery(selector, input.target.query),
                        /*from_body=*/false);
    case ResourceSource::kBodyJson:
      if (!input.has_body) {
        return Deny(endpoint, absl::StrCat("the resource of ", endpoint.name,
                                           " is in the request body, which "
                                           "was not provided"));
      }
      return CheckNamed(input, endpoint, FromJsonBody(selector, input.body),
                        /*from_body=*/true);
    case ResourceSource::kUnscoped:
      return Allow(endpoint);
    case ResourceSource::kNone:
    case ResourceSource::kLookup:
    case ResourceSource::kBody:
      break;
  }
  return Undeterminable(*input.grant, endpoint);
}

}  // namespace

GrantView GrantViewOf(const Token& token) {
  GrantView view;
  view.token_id = token.id;
  view.plan_id = token.plan_id;
  view.kind = token.kind;
  view.scopes = token.scopes;
  view.all_resources = token.all_resources;
  view.resources = token.resources;
  return view;
}

Decision MakeDecision(Reason reason, std::string detail,
                      const Endpoint* endpoint) {
  Decision d;
  d.allowed = reason == Reason::kAllowed;
  d.http_status = ReasonHttpStatus(reason);
  d.reason = reason;
  d.detail = std::move(detail);
  d.endpoint = endpoint;
  return d;
}

Decision Decide(const DecisionInput& input) {
  const GrantView& grant = *input.grant;
  if (input.api_kind != TokenKind::kUnspecified &&
      grant.kind != input.api_kind) {
    return MakeDecision(
        Reason::kTokenKindMismatch,
        absl::StrCat("a ", TokenKindName(grant.kind), " token cannot call the ",
                     TokenKindName(input.api_kind), " API"));
  }

  // Step 3: endpoint.
  // On the decision form: "/%40b/x" is decided as "/@b/x" (path.h).
  const RouteMatch match =
      input.routes->Match(input.method, input.target.decision_path());
  if (match.endpoint == nullptr) {
    return MakeDecision(
        Reason::kEndpointUnknown,
        match.path_matched
            ? "the catalog lists this path for other methods only"
            : "no catalog entry for this method and path");
  }
  const Endpoint& endpoint = *match.endpoint;
  if (!endpoint.plan_tokens) {
    return MakeDecision(
        Reason::kEndpointNotSupported,
        absl::StrCat(endpoint.name, " is not available to plan access tokens"),
        &endpoint);
  }

  // Step 4: scope.
  if (!HoldsAnyScope(grant, endpoint)) {
    return MakeDecision(Reason::kScopeMissing,
                        absl::StrCat(endpoint.name, " requires one of: ",
                                     absl::StrJoin(endpoint.scopes, ", ")),
                        &endpoint);
  }

  // Step 5: resource.
  return CheckResource(input, match);
}

bool NeedsBody(const RouteMatcher& routes, absl::string_view method,
               absl::string_view target, PathMode mode) {
  const TargetCheck check = CheckTarget(target, mode);
  if (!check.ok()) return false;
  const RouteMatch match = routes.Match(method, check.target.decision_path());
  return match.endpoint != nullptr && match.endpoint->resource.reads_body();
}

Decision CheckAndDecide(absl::string_view raw_target, DecisionInput input) {
  TargetCheck check = CheckTarget(
      raw_target, PathModeFor(input.api_kind != TokenKind::kUnspecified
                                  ? input.api_kind
                                  : input.grant->kind));
  if (!check.ok()) {
    return MakeDecision(check.reason, std::string(check.detail));
  }
  input.target = std::move(check.target);
  return Decide(input);
}

Reason GrantStateReason(TokenStatus status, TokenKind token_kind,
                        TokenKind api_kind) {
  switch (status) {
    case TokenStatus::kRevoked:
      return Reason::kTokenRevoked;
    case TokenStatus::kExpired:
      return Reason::kTokenExpired;
    case TokenStatus::kActive:
      if (api_kind != TokenKind::kUnspecified && token_kind != api_kind) {
        return Reason::kTokenKindMismatch;
      }
      return Reason::kAllowed;
    case TokenStatus::kUnspecified:
      break;
  }
  return Reason::kTokenUnknown;
}

std::string DecisionMessage(Reason reason, absl::string_view detail) {
  std::string message(ReasonMessage(reason));
  if (!detail.empty()) absl::StrAppend(&message, ": ", detail);
  return message;
}

std::string ErrorBody(Reason reason, absl::string_view detail,
                      ErrorStyle style) {
  const std::string message = DecisionMessage(reason, detail);
  nlohmann::ordered_json body;
  body["status"] = ReasonHttpStatus(reason);
  body["err"] = message;
  body["reason"] = std::string(ReasonCode(reason));
  switch (style) {
    case ErrorStyle::kA:
      break;
    case ErrorStyle::kB:
    case ErrorStyle::kAB:
      body["error"] = true;
      body["message"] = message;
      break;
    case ErrorStyle::kNpm:
      body["error"] = message;  // what the npm CLI prints
      break;
  }
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ErrorBody(const Decision& decision, ErrorStyle default_style) {
  return ErrorBody(decision.reason, decision.detail,
                   decision.endpoint != nullptr ? decision.endpoint->error_style
                                                : default_style);
}

}  // namespace pat::policy
