#include "server/access_checker.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/policy/policy.h"
#include "common/policy/reason.h"
#include "common/status_macros.h"
#include "server/plan_access.h"
#include "server/token_rules.h"

namespace pat {
namespace {

using token_rules::IsTchar;
using token_rules::kMaxIdLength;
using token_rules::Rfc3339;
using token_rules::ValidateTokenIdField;

// The store's resource directory as the decision engine sees it. Records the
// first storage error, so that a database failure is reported as an error
// and never as a denial.
class StoreResourceResolver final : public policy::ResourceResolver {
 public:
  explicit StoreResourceResolver(TokenStore& store) : store_(store) {}

  std::optional<policy::ResolvedResource> Resolve(
      ResourceKind kind, absl::string_view id) const override {
    // Ids longer than any stored one cannot exist: no query for them.
    if (id.empty() || id.size() > kMaxIdLength) return std::nullopt;
    absl::StatusOr<std::vector<Resource>> chain =
        store_.ResolveResource(kind, std::string(id));
    if (!chain.ok()) {
      if (!absl::IsNotFound(chain.status()) && error_.ok()) {
        error_ = chain.status();
      }
      return std::nullopt;
    }
    policy::ResolvedResource resolved;
    resolved.plan_id = chain->front().plan_id;
    for (size_t i = 1; i < chain->size(); ++i) {
      resolved.ancestors.emplace_back((*chain)[i].kind, (*chain)[i].id);
    }
    return resolved;
  }

  const absl::Status& error() const { return error_; }

 private:
  TokenStore& store_;
  // Decide runs on one thread; the resolver lives for one decision.
  mutable absl::Status error_;
};

absl::Status ValidateCheckInput(const CheckAccessParams& p) {
  PAT_RETURN_IF_ERROR(ValidateTokenIdField(p.token_id));
  if (p.method.empty()) return absl::InvalidArgumentError("method: required");
  if (p.method.size() > kMaxMethodLength ||
      !std::all_of(p.method.begin(), p.method.end(), IsTchar)) {
    return absl::InvalidArgumentError(
        absl::StrCat("method: must be an HTTP method (at most ",
                     kMaxMethodLength, " token characters, e.g. GET)"));
  }
  if (p.path.empty()) {
    return absl::InvalidArgumentError(
        "path: required (the request-target, e.g. /v1/files/KEY)");
  }
  return absl::OkStatus();
}

CheckAccessResult Denied(policy::Reason reason, absl::string_view detail) {
  CheckAccessResult result;
  result.allowed = false;
  result.reason = std::string(policy::ReasonCode(reason));
  result.detail = policy::DecisionMessage(reason, detail);
  return result;
}

// Rule 2: the token's state (the credential itself is not part of this
// question: the token is named by id). Empty when the state allows.
std::optional<CheckAccessResult> StateDenial(const Token& token,
                                             absl::Time now) {
  const policy::Reason state =
      policy::GrantStateReason(StatusAt(token, now), token.kind, token.kind);
  if (state == policy::Reason::kTokenRevoked) {
    return Denied(
        state,
        absl::StrCat("revoked at ", Rfc3339(token.revoke_time.value_or(now))));
  }
  if (state == policy::Reason::kTokenExpired) {
    return Denied(state,
                  absl::StrCat("expired at ", Rfc3339(token.expire_time)));
  }
  if (state != policy::Reason::kAllowed) return Denied(state, "");
  return std::nullopt;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AccessChecker>> AccessChecker::Create(
    const AccessCheckerConfig& /*config*/, ComponentDeps deps) {
  absl::StatusOr<policy::RouteMatcher> rest =
      policy::RouteMatcher::Default(TokenKind::kRestApi);
  absl::StatusOr<policy::RouteMatcher> npm =
      policy::RouteMatcher::Default(TokenKind::kNpmRegistry);
  if (!rest.ok() || !npm.ok()) {
    return absl::InternalError("the built-in endpoint catalog is unusable");
  }
  return std::unique_ptr<AccessChecker>(
      new AccessChecker(deps, *std::move(rest), *std::move(npm)));
}

absl::StatusOr<CheckAccessResult> AccessChecker::CheckAccess(
    const std::string& actor, const CheckAccessParams& p) {
  PAT_RETURN_IF_ERROR(
      AuthorizePlan(store_, actor, p.plan_id, TierRule::kRequired).status());
  PAT_RETURN_IF_ERROR(ValidateCheckInput(p));
  PAT_ASSIGN_OR_RETURN(Token token, store_.GetToken(p.plan_id, p.token_id));
  // Rule 1: the path, exactly as the sidecar checks it.
  const policy::TargetCheck target =
      policy::CheckTarget(p.path, policy::PathModeFor(token.kind));
  if (!target.ok()) return Denied(target.reason, target.detail);
  if (std::optional<CheckAccessResult> denied =
          StateDenial(token, clock_.Now())) {
    return *std::move(denied);
  }
  // Rules 3-5 with the catalog of the API the token is for.
  const policy::RouteMatcher& routes =
      token.kind == TokenKind::kNpmRegistry ? npm_routes_ : rest_routes_;
  const policy::GrantView grant = policy::GrantViewOf(token);
  StoreResourceResolver resolver(store_);
  policy::DecisionInput input;
  input.method = p.method;
  input.target = target.target;
  input.routes = &routes;
  input.grant = &grant;
  input.resolver = &resolver;
  input.api_kind = token.kind;
  const policy::Decision decision = policy::Decide(input);
  PAT_RETURN_IF_ERROR(resolver.error());
  if (!decision.allowed) return Denied(decision.reason, decision.detail);
  CheckAccessResult result;
  result.allowed = true;
  result.reason = std::string(policy::ReasonCode(policy::Reason::kAllowed));
  result.detail = decision.endpoint == nullptr
                      ? std::string("allowed")
                      : absl::StrCat("allowed: ", decision.endpoint->name, " (",
                                     decision.endpoint->method, " ",
                                     decision.endpoint->path_template, ")");
  return result;
}

}  // namespace pat
