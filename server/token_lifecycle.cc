#include "server/token_lifecycle.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/resource_link.h"
#include "common/scopes.h"
#include "common/secret.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "server/plan_access.h"
#include "server/token_rules.h"

// TokenLifecycle's writes: create, edit, refresh, revoke. The reads are in
// token_lifecycle_reads.cc.
namespace pat {
namespace {

using json = nlohmann::json;

using token_rules::CheckPlanAccess;
using token_rules::ParamsDigest;
using token_rules::RevokeMutation;
using token_rules::Rfc3339;
using token_rules::StatusError;
using token_rules::TierForbidsTokens;
using token_rules::TokenJson;
using token_rules::TruncateToMicros;
using token_rules::ValidateRequestId;
using token_rules::ValidateText;
using token_rules::ValidateTokenIdField;

// The fields an UpdateToken's mask names.
struct EditFields {
  bool name = false;
  bool description = false;
  bool scopes = false;
  bool resources = false;
};

absl::StatusOr<EditFields> ParseUpdateMask(
    const std::vector<std::string>& mask) {
  if (mask.empty()) {
    return absl::InvalidArgumentError(
        "update_mask: required (name, description, scopes, resources)");
  }
  EditFields f;
  for (const std::string& path : mask) {
    bool* flag = path == "name"          ? &f.name
                 : path == "description" ? &f.description
                 : path == "scopes"      ? &f.scopes
                 : path == "resources"   ? &f.resources
                                         : nullptr;
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "update_mask: unknown or immutable path ", QuoteForError(path),
          " (allowed: name, description, scopes, resources)"));
    }
    *flag = true;
  }
  return f;
}

// R7: the edit of an active token, audited with the changed fields only.
absl::StatusOr<TokenMutation> EditMutation(
    const Token& current, const UpdateTokenParams& p, const EditFields& f,
    const std::vector<std::string>& scopes,
    const std::vector<TokenResource>& resources, absl::Time now) {
  const TokenStatus status = StatusAt(current, now);
  if (status != TokenStatus::kActive) {
    return absl::FailedPreconditionError(
        absl::StrCat(StatusError(status), "; it cannot be edited"));
  }
  TokenMutation m;
  m.updated = current;
  if (f.name) m.updated.name = p.name;
  if (f.description) m.updated.description = p.description;
  if (f.scopes) m.updated.scopes = scopes;
  if (f.resources) {
    m.updated.all_resources = p.all_resources;
    m.updated.resources = resources;
  }
  json before_j = TokenJson(current), after_j = TokenJson(m.updated);
  m.changed = before_j != after_j;
  m.action = "update";
  json b, a;
  for (const char* field :
       {"name", "description", "scopes", "all_resources", "resources"}) {
    if (before_j[field] != after_j[field]) {
      b[field] = before_j[field];
      a[field] = after_j[field];
    }
  }
  m.audit_details_json =
      json{{"update_mask", p.update_mask}, {"before", b}, {"after", a}}.dump();
  return m;
}

// The idempotency key of a create: a retry must name the same token.
IdempotencyKey CreateKey(const CreateTokenParams& p, const Token& t) {
  IdempotencyKey key;
  if (p.request_id.empty()) return key;
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
  return key;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TokenLifecycle>> TokenLifecycle::Create(
    const TokenLifecycleConfig& config, ComponentDeps deps) {
  if (config.refresh_overlap <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("refresh_overlap: must be positive");
  }
  return std::unique_ptr<TokenLifecycle>(new TokenLifecycle(config, deps));
}

TokenLifecycle::TokenLifecycle(const TokenLifecycleConfig& config,
                               ComponentDeps deps)
    : config_(config),
      store_(deps.store),
      clock_(deps.clock),
      page_tokens_(deps.store) {}

absl::StatusOr<std::vector<TokenResource>> TokenLifecycle::ResolveLinks(
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

absl::StatusOr<CreateTokenResult> TokenLifecycle::CreateToken(
    const std::string& actor, const CreateTokenParams& p) {
  PAT_ASSIGN_OR_RETURN(
      Plan plan, AuthorizePlan(store_, actor, p.plan_id, TierRule::kRequired));
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

  const IdempotencyKey key = CreateKey(p, t);
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

absl::StatusOr<Token> TokenLifecycle::UpdateToken(const std::string& actor,
                                                  const UpdateTokenParams& p) {
  PAT_ASSIGN_OR_RETURN(
      Plan plan, AuthorizePlan(store_, actor, p.plan_id, TierRule::kRequired));
  PAT_RETURN_IF_ERROR(ValidateTokenIdField(p.token_id));
  PAT_ASSIGN_OR_RETURN(EditFields fields, ParseUpdateMask(p.update_mask));
  if (fields.name) {
    PAT_RETURN_IF_ERROR(ValidateText("name", p.name, 1, kMaxNameLength));
  }
  if (fields.description) {
    PAT_RETURN_IF_ERROR(
        ValidateText("description", p.description, 0, kMaxDescriptionLength));
  }
  // The kind never changes, so it can be read before the locked mutation;
  // link resolution needs the directory and must not run inside it.
  PAT_ASSIGN_OR_RETURN(Token before, store_.GetToken(p.plan_id, p.token_id));
  std::vector<std::string> scopes;
  if (fields.scopes) {
    PAT_ASSIGN_OR_RETURN(scopes, NormalizeScopes(before.kind, p.scopes));
  }
  std::vector<TokenResource> resources;
  if (fields.resources) {
    PAT_ASSIGN_OR_RETURN(
        resources,
        ResolveLinks(plan, before.kind, p.all_resources, p.resource_links));
  }
  const absl::Time now = TruncateToMicros(clock_.Now());
  MutationFn fn = [&](const Token& current) {
    return EditMutation(current, p, fields, scopes, resources, now);
  };
  PAT_ASSIGN_OR_RETURN(
      MutationOutcome out,
      store_.MutateToken(p.plan_id, p.token_id, actor, now, IdempotencyKey{},
                         PlanCheckAtWrite(actor, TierRule::kRequired), fn));
  return out.token;
}

absl::StatusOr<RefreshTokenResult> TokenLifecycle::RefreshToken(
    const std::string& actor, const std::string& plan_id,
    const std::string& token_id, const std::string& request_id) {
  PAT_RETURN_IF_ERROR(
      AuthorizePlan(store_, actor, plan_id, TierRule::kRequired).status());
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
    m.previous_secret_valid_until = now + config_.refresh_overlap;
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

absl::StatusOr<Token> TokenLifecycle::RevokeToken(const std::string& actor,
                                                  const std::string& plan_id,
                                                  const std::string& token_id) {
  // Revoking never needs the tier: a token still live on a plan whose tier
  // no longer allows tokens (e.g. one a race left before writes re-checked
  // the tier) must be revocable, and revoking one the downgrade already
  // revoked is the usual no-op. An unknown token on such a plan is R1's
  // FAILED_PRECONDITION.
  PAT_ASSIGN_OR_RETURN(
      Plan plan, AuthorizePlan(store_, actor, plan_id, TierRule::kNotRequired));
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

}  // namespace pat
