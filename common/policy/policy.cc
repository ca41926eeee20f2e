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

// Step 5 (R13) for a matched endpoint.
Decision CheckResource(const DecisionInput& input, const RouteMatch& match) {
  const Endpoint& endpoint = *match.endpoint;
  const ResourceSelector& selector = endpoint.resource;
  const GrantView& grant = *input.grant;

  absl::string_view id;
  std::string query_value;
  bool determinable = false;
  switch (selector.source) {
    case ResourceSource::kPath:
      if (selector.capture_index >= 0 &&
          selector.capture_index < match.param_count) {
        id = match.params[selector.capture_index];
        determinable = true;
      }
      break;
    case ResourceSource::kQuery:
      switch (
          FindQueryParam(input.target.query, selector.param, &query_value)) {
        case QueryParamLookup::kFound:
          id = query_value;
          determinable = true;
          break;
        case QueryParamLookup::kMissing:
          break;
        case QueryParamLookup::kDuplicate:
          return MakeDecision(Reason::kResourceNotAllowed,
                              absl::StrCat("query parameter ", selector.param,
                                           " appears more than once"),
                              &endpoint);
      }
      break;
    case ResourceSource::kUnscoped:
      return Allow(endpoint);
    case ResourceSource::kBodyJson:
      // Decided in body_resource.cc (not wired yet): fail closed.
      return MakeDecision(Reason::kResourceNotAllowed,
                          "the request body's resources cannot be checked",
                          &endpoint);
    case ResourceSource::kNone:
    case ResourceSource::kLookup:
    case ResourceSource::kBody:
      break;
  }

  if (!determinable) {
    if (grant.all_resources) return Allow(endpoint);
    return MakeDecision(
        Reason::kResourceNotAllowed,
        absl::StrCat("the resource of ", endpoint.name,
                     " cannot be determined from the request; only "
                     "all-resources tokens may call it"),
        &endpoint);
  }

  const std::optional<ResolvedResource> resolved =
      input.resolver == nullptr ? std::nullopt
                                : input.resolver->Resolve(selector.kind, id);
  if (!resolved.has_value() || resolved->plan_id.empty() ||
      resolved->plan_id != grant.plan_id) {
    // Same answer for unknown and other-plan resources: never reveal that
    // another plan's resource exists.
    return MakeDecision(
        Reason::kResourceNotAllowed,
        absl::StrCat(ResourceKindName(selector.kind), " ", QuoteId(id),
                     " is not a resource of the token's plan"),
        &endpoint);
  }
  if (grant.all_resources) return Allow(endpoint);
  if (OnList(grant, selector.kind, id)) return Allow(endpoint);
  for (const auto& [kind, ancestor_id] : resolved->ancestors) {
    if (OnList(grant, kind, ancestor_id)) return Allow(endpoint);
  }
  return MakeDecision(
      Reason::kResourceNotAllowed,
      absl::StrCat(ResourceKindName(selector.kind), " ", QuoteId(id),
                   " is not on the token's resource list, nor is any of "
                   "its ancestors"),
      &endpoint);
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
  const RouteMatch match = input.routes->Match(input.method, input.target.path);
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

Decision CheckAndDecide(absl::string_view raw_target, DecisionInput input) {
  const TargetCheck check = CheckTarget(raw_target);
  if (!check.ok()) {
    return MakeDecision(check.reason, std::string(check.detail));
  }
  input.target = check.target;
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

std::string ErrorBody(const Decision& decision) {
  return ErrorBody(decision.reason, decision.detail,
                   decision.endpoint != nullptr ? decision.endpoint->error_style
                                                : ErrorStyle::kA);
}

}  // namespace pat::policy
