#include "server/token_manager.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/policy/policy.h"
#include "common/policy/reason.h"
#include "common/resource_link.h"
#include "common/scopes.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "server/token_rules.h"

namespace pat {
namespace {

using json = nlohmann::json;

constexpr absl::string_view kTokenIdPrefix = "tok_";
constexpr int kTokenIdRandomLength = 22;

using token_rules::kMaxPlanNameLength;
using token_rules::kSystemActor;
using token_rules::TruncateToMicros;
using token_rules::ValidateText;
using token_rules::ValidateId;
using token_rules::ValidateRequestId;
using token_rules::ValidateTokenIdField;
using token_rules::Rfc3339;
using token_rules::TokenJson;
using token_rules::ParamsDigest;
using token_rules::PermissionDenied;
using token_rules::StatusError;
using token_rules::ResourceRank;
using token_rules::IsIpLiteral;
using token_rules::TierForbidsTokens;
using token_rules::CheckPlanAccess;

}  // namespace

TokenManager::TokenManager(TokenStore& store, const Clock& clock)
    : store_(store),
      clock_(clock),
      rest_routes_(policy::RouteMatcher::Default(TokenKind::kRestApi)),
      npm_routes_(policy::RouteMatcher::Default(TokenKind::kNpmRegistry)) {}

bool IsValidTokenId(absl::string_view id) {
  if (!absl::ConsumePrefix(&id, kTokenIdPrefix)) return false;
  return id.size() == kTokenIdRandomLength &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return absl::ascii_isalnum(static_cast<unsigned char>(c));
         });
}

std::string NewTokenId() {
  return absl::StrCat(kTokenIdPrefix, RandomBase62(kTokenIdRandomLength));
}

absl::StatusOr<Plan> TokenManager::AuthorizePlan(const std::string& actor,
                                                 const std::string& plan_id,
                                                 TierRule tier_rule) {
  if (actor.empty()) {
    return absl::UnauthenticatedError("no actor: x-pat-actor is required");
  }
  PAT_RETURN_IF_ERROR(ValidateId("plan_id", plan_id));
  absl::StatusOr<Plan> plan = store_.GetPlan(plan_id);
  if (absl::IsNotFound(plan.status())) return PermissionDenied();
  if (!plan.ok()) return plan.status();
  PAT_RETURN_IF_ERROR(CheckPlanAccess(actor, *plan, tier_rule));
  return plan;
}

namespace {

// The re-check of R1/R2 that the store runs under the plan row's lock.
PlanCheckFn PlanCheckAtWrite(std::string actor, TierRule tier_rule) {
  return [actor = std::move(actor), tier_rule](const Plan& locked) {
    return CheckPlanAccess(actor, locked, tier_rule);
  };
}

// R10: revoking ends every secret now; revoking a revoked token changes
// nothing.
TokenMutation RevokeMutation(const Token& current, const std::string& actor,
                             absl::Time now, absl::string_view reason) {
  TokenMutation m;
  if (current.revoke_time.has_value()) return m;  // unchanged
  m.changed = true;
  m.action = "revoke";
  m.updated = current;
  m.updated.revoke_time = now;
  m.updated.revoked_by = actor;
  m.end_all_secrets = true;
  json details = {
      {"before",
       {{"status", std::string(TokenStatusName(StatusAt(current, now)))}}},
      {"after", {{"status", "revoked"}}}};
  if (!reason.empty()) details["reason"] = std::string(reason);
  m.audit_details_json = details.dump();
  return m;
}

// R1: a plan whose tier no longer allows plan access tokens keeps none: the
// downgrade revokes every live token in its own transaction (a revoke that a
// later upgrade does not undo).
PlanSweep TierDowngradeSweep(absl::Time now) {
  PlanSweep sweep;
  sweep.applies = [](const Plan& plan) { return !TierAllowsTokens(plan.tier); };
  sweep.actor = std::string(kSystemActor);
  sweep.mutate = [now](const Token& current) -> absl::StatusOr<TokenMutation> {
    return RevokeMutation(current, std::string(kSystemActor), now,
                          "plan tier no longer supports plan access tokens");
  };
  return sweep;
}

}  // namespace

absl::StatusOr<std::vector<TokenResource>> TokenManager::ResolveLinks(
    const Plan& plan, TokenKind kind, bool all_resources,
    const std::vector<std::string>& links) {
  if (all_resources) {
    if (!links.empty()) {
      return absl::InvalidArgumentError(
          "resource_links: must be empty when all_resources is set");
    }
    return std::vector<TokenResource>{};
  }
  if (links.empty()) {
    return absl::InvalidArgumentError(
        "resource_links: at least one link is required unless all_resources "
        "is set");
  }
  if (links.size() > kMaxResourceLinks) {
    return absl::InvalidArgumentError(
        absl::StrCat("resource_links: at most ", kMaxResourceLinks, " links"));
  }
  std::vector<TokenResource> out;
  std::set<std::pair<ResourceKind, std::string>> seen;
  for (size_t i = 0; i < links.size(); ++i) {
    const std::string field = absl::StrCat("resource_links[", i, "]");
    absl::StatusOr<ParsedLink> parsed = ParseResourceLink(links[i], kind);
    if (!parsed.ok()) {
      absl::string_view msg = parsed.status().message();
      absl::ConsumePrefix(&msg, "resource_links: ");
      return absl::InvalidArgumentError(absl::StrCat(field, ": ", msg));
    }
    if (!parsed->org_id.empty() && parsed->org_id != plan.id) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": belongs to another organization"));
    }
    absl::StatusOr<Resource> res = store_.GetResource(parsed->kind, parsed->id);
    if (absl::IsNotFound(res.status()) ||
        (res.ok() && res->plan_id != plan.id)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": no such ", ResourceKindName(parsed->kind),
                       " in this organization"));
    }
    if (!res.ok()) return res.status();
    if (!seen.insert({parsed->kind, parsed->id}).second) continue;
    out.push_back({parsed->kind, parsed->id,
                   CanonicalLink(parsed->kind, parsed->id, plan.id)});
  }
  return out;
}

absl::StatusOr<std::vector<Plan>> TokenManager::ListPlans(
    const std::string& actor) {
  if (actor.empty()) {
    return absl::UnauthenticatedError("no actor: x-pat-actor is required");
  }
  return store_.ListPlansAdministeredBy(actor);
}

absl::StatusOr<CreateTokenResult> TokenManager::CreateToken(
    const std::string& actor, const CreateTokenParams& p) {
  PAT_ASSIGN_OR_RETURN(Plan plan,
                       AuthorizePlan(actor, p.plan_id, TierRule::kRequired));
  if (p.kind != TokenKind::kRestApi && p.kind != TokenKind::kNpmRegistry) {
    return absl::InvalidArgumentError(
        "kind: must be TOKEN_KIND_REST_API or TOKEN_KIND_NPM_REGISTRY");
  }
  PAT_RETURN_IF_ERROR(ValidateText("name", p.name, 1, kMaxNameLength));
  PAT_RETURN_IF_ERROR(
      ValidateText("description", p.description, 0, kMaxDescriptionLength));
  if (p.expires_in_days < 1 || p.expires_in_days > kMaxExpiresInDays) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expires_in_days: must be between 1 and ", kMaxExpiresInDays));
  }
  PAT_ASSIGN_OR_RETURN(std::vector<std::string> scopes,
                       NormalizeScopes(p.kind, p.scopes));
  PAT_RETURN_IF_ERROR(ValidateRequestId(p.request_id));
  PAT_ASSIGN_OR_RETURN(
      std::vector<TokenResource> resources,
      ResolveLinks(plan, p.kind, p.all_resources, p.resource_links));

  const absl::Time now = TruncateToMicros(clock_.Now());
  NewToken nt;
  Token& t = nt.token;
  t.id = NewTokenId();
  t.plan_id = plan.id;
  t.kind = p.kind;
  t.name = p.name;
  t.description = p.description;
  t.scopes = std::move(scopes);
  t.all_resources = p.all_resources;
  t.resources = std::move(resources);
  t.created_by = actor;
  t.create_time = now;
  t.lifetime_days = p.expires_in_days;
  t.expire_time = now + absl::Hours(24) * p.expires_in_days;
  std::string secret = GenerateSecret(p.kind);
  nt.secret_digest = Sha256(secret);
  nt.actor = actor;
  nt.audit_details_json = json{{"after", TokenJson(t)}}.dump();

  IdempotencyKey key;
  if (!p.request_id.empty()) {
    key.request_id = p.request_id;
    key.operation = "create";
    std::vector<std::string> parts = {std::string(TokenKindName(p.kind)),
                                      p.name,
                                      p.description,
                                      absl::StrCat(p.expires_in_days),
                                      absl::StrJoin(t.scopes, " "),
                                      p.all_resources ? "all" : "selected"};
    for (const TokenResource& r : t.resources) parts.push_back(r.link);
    key.params_digest = ParamsDigest(parts);
  }
  PAT_ASSIGN_OR_RETURN(
      CreateOutcome outcome,
      store_.CreateToken(nt, key,
                         PlanCheckAtWrite(actor, TierRule::kRequired)));
  CreateTokenResult result;
  result.token = std::move(outcome.token);
  result.replayed = outcome.replayed;
  if (!outcome.replayed) result.secret = std::move(secret);
  return result;
}

absl::StatusOr<Token> TokenManager::UpdateToken(const std::string& actor,
                                                const UpdateTokenParams& p) {
  PAT_ASSIGN_OR_RETURN(Plan plan,
                       AuthorizePlan(actor, p.plan_id, TierRule::kRequired));
  PAT_RETURN_IF_ERROR(ValidateTokenIdField(p.token_id));
  if (p.update_mask.empty()) {
    return absl::InvalidArgumentError(
        "update_mask: required (name, description, scopes, resources)");
  }
  bool set_name = false, set_description = false, set_scopes = false,
       set_resources = false;
  for (const std::string& path : p.update_mask) {
    bool* flag = path == "name"          ? &set_name
                 : path == "description" ? &set_description
                 : path == "scopes"      ? &set_scopes
                 : path == "resources"   ? &set_resources
                                         : nullptr;
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "update_mask: unknown or immutable path ", QuoteForError(path),
          " (allowed: name, description, scopes, resources)"));
    }
    *flag = true;
  }
  if (set_name) {
    PAT_RETURN_IF_ERROR(ValidateText("name", p.name, 1, kMaxNameLength));
  }
  if (set_description) {
    PAT_RETURN_IF_ERROR(
        ValidateText("description", p.description, 0, kMaxDescriptionLength));
  }
  // The kind never changes, so it can be read before the locked mutation;
  // link resolution needs the directory and must not run inside it.
  PAT_ASSIGN_OR_RETURN(Token before, store_.GetToken(p.plan_id, p.token_id));
  std::vector<std::string> scopes;
  if (set_scopes) {
    PAT_ASSIGN_OR_RETURN(scopes, NormalizeScopes(before.kind, p.scopes));
  }
  std::vector<TokenResource> resources;
  if (set_resources) {
    PAT_ASSIGN_OR_RETURN(
        resources,
        ResolveLinks(plan, before.kind, p.all_resources, p.resource_links));
  }
  const absl::Time now = TruncateToMicros(clock_.Now());
  MutationFn fn = [&](const Token& current) -> absl::StatusOr<TokenMutation> {
    const TokenStatus status = StatusAt(current, now);
    if (status != TokenStatus::kActive) {
      return absl::FailedPreconditionError(
          absl::StrCat(StatusError(status), "; it cannot be edited"));
    }
    TokenMutation m;
    m.updated = current;
    if (set_name) m.updated.name = p.name;
    if (set_description) m.updated.description = p.description;
    if (set_scopes) m.updated.scopes = scopes;
    if (set_resources) {
      m.updated.all_resources = p.all_resources;
      m.updated.resources = resources;
    }
    json before_j = TokenJson(current), after_j = TokenJson(m.updated);
    m.changed = before_j != after_j;
    m.action = "update";
    json b, a;
    for (const char* f :
         {"name", "description", "scopes", "all_resources", "resources"}) {
      if (before_j[f] != after_j[f]) {
        b[f] = before_j[f];
        a[f] = after_j[f];
      }
    }
    m.audit_details_json = json{
        {"update_mask", p.update_mask},
        {"before", b},
        {"after", a}}.dump();
    return m;
  };
  PAT_ASSIGN_OR_RETURN(
      MutationOutcome out,
      store_.MutateToken(p.plan_id, p.token_id, actor, now, IdempotencyKey{},
                         PlanCheckAtWrite(actor, TierRule::kRequired), fn));
  return out.token;
}

absl::StatusOr<RefreshTokenResult> TokenManager::RefreshToken(
    const std::string& actor, const std::string& plan_id,
    const std::string& token_id, const std::string& request_id) {
  PAT_RETURN_IF_ERROR(
      AuthorizePlan(actor, plan_id, TierRule::kRequired).status());
  PAT_RETURN_IF_ERROR(ValidateTokenIdField(token_id));
  PAT_RETURN_IF_ERROR(ValidateRequestId(request_id));
  const absl::Time now = TruncateToMicros(clock_.Now());
  PAT_ASSIGN_OR_RETURN(Token current_view, store_.GetToken(plan_id, token_id));
  std::string secret = GenerateSecret(current_view.kind);
  const Digest digest = Sha256(secret);
  MutationFn fn = [&](const Token& current) -> absl::StatusOr<TokenMutation> {
    const TokenStatus status = StatusAt(current, now);
    if (status != TokenStatus::kActive) {
      return absl::FailedPreconditionError(absl::StrCat(
          StatusError(status), "; only an active token can be refreshed"));
    }
    TokenMutation m;
    m.changed = true;
    m.action = "refresh";
    m.updated = current;
    m.updated.expire_time = now + absl::Hours(24) * current.lifetime_days;
    m.updated.last_refresh_time = now;
    m.new_secret_digest = digest;
    m.previous_secret_valid_until = now + kRefreshOverlap;
    m.audit_details_json =
        json{{"before", {{"expire_time", Rfc3339(current.expire_time)}}},
             {"after", {{"expire_time", Rfc3339(m.updated.expire_time)}}},
             {"previous_secret_expire_time",
              Rfc3339(m.previous_secret_valid_until)}}
            .dump();
    return m;
  };
  IdempotencyKey key;
  if (!request_id.empty()) {
    key.request_id = request_id;
    key.operation = "refresh";
    key.params_digest = ParamsDigest({"refresh", token_id});
  }
  PAT_ASSIGN_OR_RETURN(
      MutationOutcome out,
      store_.MutateToken(plan_id, token_id, actor, now, key,
                         PlanCheckAtWrite(actor, TierRule::kRequired), fn));
  RefreshTokenResult result;
  result.token = std::move(out.token);
  result.replayed = out.replayed;
  if (out.previous_secret_expire_time.has_value()) {
    result.previous_secret_expire_time = *out.previous_secret_expire_time;
  }
  if (!out.replayed) result.secret = std::move(secret);
  return result;
}

absl::StatusOr<Token> TokenManager::RevokeToken(const std::string& actor,
                                                const std::string& plan_id,
                                                const std::string& token_id) {
  // Revoking never needs the tier: a token still live on a plan whose tier
  // no longer allows tokens (e.g. one a race left before writes re-checked
  // the tier) must be revocable, and revoking one the downgrade already
  // revoked is the usual no-op. An unknown token on such a plan is R1's
  // FAILED_PRECONDITION.
  PAT_ASSIGN_OR_RETURN(Plan plan,
                       AuthorizePlan(actor, plan_id, TierRule::kNotRequired));
  PAT_RETURN_IF_ERROR(ValidateTokenIdField(token_id));
  const absl::Time now = TruncateToMicros(clock_.Now());
  // The tier under the plan's lock, set by the check of the last attempt.
  PlanTier locked_tier = plan.tier;
  PlanCheckFn check = [&](const Plan& locked) -> absl::Status {
    PAT_RETURN_IF_ERROR(CheckPlanAccess(actor, locked, TierRule::kNotRequired));
    locked_tier = locked.tier;
    return absl::OkStatus();
  };
  MutationFn fn = [&](const Token& current) -> absl::StatusOr<TokenMutation> {
    return RevokeMutation(current, actor, now, "");
  };
  absl::StatusOr<MutationOutcome> out = store_.MutateToken(
      plan_id, token_id, actor, now, IdempotencyKey{}, check, fn);
  if (absl::IsNotFound(out.status()) && !TierAllowsTokens(locked_tier)) {
    return TierForbidsTokens(locked_tier);
  }
  if (!out.ok()) return out.status();
  return std::move(out->token);
}

absl::StatusOr<Plan> TokenManager::UpsertPlan(const Plan& plan) {
  PAT_RETURN_IF_ERROR(ValidateId("plan.id", plan.id));
  PAT_RETURN_IF_ERROR(
      ValidateText("plan.name", plan.name, 1, kMaxPlanNameLength));
  if (plan.tier == PlanTier::kUnspecified) {
    return absl::InvalidArgumentError("plan.tier: required");
  }
  for (const std::string& admin : plan.admin_user_ids) {
    PAT_RETURN_IF_ERROR(ValidateId("plan.admin_user_ids", admin));
  }
  const absl::Time now = TruncateToMicros(clock_.Now());
  PAT_RETURN_IF_ERROR(store_.UpsertPlan(plan, now, TierDowngradeSweep(now)));
  return store_.GetPlan(plan.id);
}

absl::StatusOr<Resource> TokenManager::UpsertResource(const Resource& r) {
  PAT_RETURN_IF_ERROR(ValidateId("resource.plan_id", r.plan_id));
  if (r.kind == ResourceKind::kUnspecified) {
    return absl::InvalidArgumentError("resource.kind: required");
  }
  PAT_RETURN_IF_ERROR(ValidateId("resource.id", r.id));
  if ((r.kind == ResourceKind::kNpmScope) != absl::StartsWith(r.id, "@")) {
    return absl::InvalidArgumentError(
        "resource.id: npm scopes, and only they, start with '@'");
  }
  PAT_RETURN_IF_ERROR(ValidateText("resource.name", r.name, 0, 256));
  if (r.parent_kind != ResourceKind::kUnspecified || !r.parent_id.empty()) {
    PAT_RETURN_IF_ERROR(ValidateId("resource.parent_id", r.parent_id));
    if (ResourceRank(r.kind) == 0 ||
        ResourceRank(r.parent_kind) <= ResourceRank(r.kind)) {
      return absl::InvalidArgumentError(
          "resource.parent_kind: a parent must be a project, team or "
          "workspace above the resource (file < project < team < workspace)");
    }
  }
  PAT_RETURN_IF_ERROR(store_.UpsertResource(r));
  return store_.GetResource(r.kind, r.id);
}

absl::Status TokenManager::DeleteResource(ResourceKind kind,
                                          const std::string& id) {
  if (kind == ResourceKind::kUnspecified) {
    return absl::InvalidArgumentError("kind: required");
  }
  PAT_RETURN_IF_ERROR(ValidateId("id", id));
  return store_.DeleteResource(kind, id);
}

absl::StatusOr<FeedSnapshot> TokenManager::ReadFeedSnapshot() {
  return store_.ReadFeedSnapshot(clock_.Now(), kSnapshotKeepExpired);
}

absl::StatusOr<FeedPosition> TokenManager::GetFeedPosition(int64_t since) {
  if (since < 0) {
    return absl::InvalidArgumentError("since_revision: must not be negative");
  }
  return store_.GetFeedPosition(since);
}

absl::StatusOr<std::vector<FeedEventRow>> TokenManager::ReadFeedEvents(
    int64_t after, int limit) {
  return store_.ReadFeedEvents(after, limit);
}

absl::StatusOr<std::vector<Resource>> TokenManager::ResolveResource(
    ResourceKind kind, const std::string& id) {
  if (kind == ResourceKind::kUnspecified) {
    return absl::InvalidArgumentError("kind: required");
  }
  // An id the directory cannot hold is simply not in it: answer as for any
  // unknown resource, so that sidecars cache the miss and deny (R13).
  if (id.empty()) return absl::InvalidArgumentError("id: required");
  if (!ValidateId("id", id).ok()) {
    return absl::NotFoundError("resource not found");
  }
  return store_.ResolveResource(kind, id);
}

absl::Status TokenManager::ReportUsage(std::vector<UsageReport> reports) {
  if (reports.size() > static_cast<size_t>(kMaxUsageRecords)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "records: at most ", kMaxUsageRecords, " records per call"));
  }
  const absl::Time now = TruncateToMicros(clock_.Now());
  for (size_t i = 0; i < reports.size(); ++i) {
    UsageReport& r = reports[i];
    const std::string field = absl::StrCat("records[", i, "]");
    if (!IsValidTokenId(r.token_id)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".token_id: malformed"));
    }
    if (r.last_used_time == absl::InfinitePast() ||
        r.last_used_time == absl::InfiniteFuture()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".last_used_time: required"));
    }
    if (!r.client_ip.empty() &&
        (r.client_ip.size() > static_cast<size_t>(kMaxClientIpLength) ||
         !IsIpLiteral(r.client_ip))) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".client_ip: must be an IPv4 or IPv6 address of at most ",
          kMaxClientIpLength, " characters"));
    }
    // A sidecar's clock ahead of ours must not push last-used into the
    // future, where greatest() would keep it.
    r.last_used_time = std::min(TruncateToMicros(r.last_used_time), now);
  }
  return store_.RecordUsage(reports).status();
}

}  // namespace pat
