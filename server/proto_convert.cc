#include "server/proto_convert.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/secret.h"
#include "common/status_macros.h"

namespace pat {
namespace {

// An unknown field mask path is echoed in the error only when it looks like
// a field name: short, [a-z0-9_.], no secret prefix. Anything else (a secret
// pasted into the wrong place, binary junk) is described, never echoed.
constexpr size_t kMaxEchoedPathBytes = 32;

std::string DescribeMaskPath(absl::string_view path) {
  bool echo = !path.empty() && path.size() <= kMaxEchoedPathBytes &&
              !absl::StrContains(path, kRestSecretPrefix) &&
              !absl::StrContains(path, kNpmSecretPrefix);
  for (char c : path) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_' &&
        c != '.') {
      echo = false;
    }
  }
  if (echo) return std::string(path);
  return absl::StrCat("(not shown, ", path.size(), " bytes)");
}

std::string Prefixed(absl::string_view prefix, absl::string_view field) {
  if (prefix.empty()) return std::string(field);
  return absl::StrCat(prefix, ".", field);
}

}  // namespace

// --- Messages: domain -> proto -----------------------------------------------

void PlanToProto(const Plan& plan, v1::Plan* out) {
  out->Clear();
  out->set_id(plan.id);
  out->set_name(plan.name);
  out->set_tier(PlanTierToProto(plan.tier));
  for (const std::string& admin : plan.admin_user_ids) {
    out->add_admin_user_ids(admin);
  }
}

void ResourceToProto(const Resource& resource, v1::Resource* out) {
  out->Clear();
  out->set_plan_id(resource.plan_id);
  out->set_kind(ResourceKindToProto(resource.kind));
  out->set_id(resource.id);
  out->set_parent_kind(ResourceKindToProto(resource.parent_kind));
  out->set_parent_id(resource.parent_id);
  out->set_name(resource.name);
}

void TokenResourceToProto(const TokenResource& resource,
                          v1::TokenResource* out) {
  out->Clear();
  out->set_kind(ResourceKindToProto(resource.kind));
  out->set_id(resource.id);
  out->set_link(resource.link);
}

void TokenToProto(const Token& token, TokenStatus status, v1::Token* out) {
  out->Clear();
  out->set_id(token.id);
  out->set_plan_id(token.plan_id);
  out->set_kind(TokenKindToProto(token.kind));
  out->set_name(token.name);
  out->set_description(token.description);
  for (const std::string& scope : token.scopes) out->add_scopes(scope);
  out->set_all_resources(token.all_resources);
  for (const TokenResource& r : token.resources) {
    TokenResourceToProto(r, out->add_resources());
  }
  out->set_status(TokenStatusToProto(status));
  out->set_created_by(token.created_by);
  TimeToProto(token.create_time, out->mutable_create_time());
  TimeToProto(token.expire_time, out->mutable_expire_time());
  out->set_lifetime_days(token.lifetime_days);
  if (token.revoke_time.has_value()) {
    TimeToProto(*token.revoke_time, out->mutable_revoke_time());
  }
  out->set_revoked_by(token.revoked_by);
  if (token.last_refresh_time.has_value()) {
    TimeToProto(*token.last_refresh_time, out->mutable_last_refresh_time());
  }
  if (token.last_used_time.has_value()) {
    TimeToProto(*token.last_used_time, out->mutable_last_used_time());
  }
  out->set_last_used_ip(token.last_used_ip);
}

void AuditEventToProto(const AuditEvent& event, v1::AuditEvent* out) {
  out->Clear();
  out->set_id(event.id);
  out->set_plan_id(event.plan_id);
  out->set_token_id(event.token_id);
  out->set_actor(event.actor);
  out->set_action(event.action);
  TimeToProto(event.time, out->mutable_time());
  out->set_details_json(event.details_json);
}

void GrantToProto(const Token& token, TokenStatus status, v1::Grant* out) {
  out->Clear();
  out->set_token_id(token.id);
  out->set_plan_id(token.plan_id);
  out->set_kind(TokenKindToProto(token.kind));
  for (const std::string& scope : token.scopes) out->add_scopes(scope);
  out->set_all_resources(token.all_resources);
  for (const TokenResource& r : token.resources) {
    TokenResourceToProto(r, out->add_resources());
  }
  out->set_status(TokenStatusToProto(status));
  TimeToProto(token.expire_time, out->mutable_expire_time());
  if (token.revoke_time.has_value()) {
    TimeToProto(*token.revoke_time, out->mutable_revoke_time());
  }
}

void GrantRecordToProto(const GrantRecord& grant, absl::Time now,
                        v1::GrantEvent* out) {
  const Token& token = grant.token;
  GrantToProto(token, StatusAt(token, now), out->mutable_grant());
  out->clear_secrets();
  for (const SecretRecord& secret : grant.secrets) {
    absl::Time end = secret.valid_until.value_or(token.expire_time);
    end = std::min(end, token.expire_time);
    if (token.revoke_time.has_value()) end = std::min(end, *token.revoke_time);
    v1::SecretState* state = out->add_secrets();
    state->set_secret_sha256(
        std::string(secret.digest.begin(), secret.digest.end()));
    TimeToProto(end, state->mutable_expire_time());
  }
}

// --- Messages: proto -> domain -----------------------------------------------

absl::StatusOr<Plan> PlanFromProto(const v1::Plan& plan,
                                   absl::string_view field) {
  Plan out;
  out.id = plan.id();
  out.name = plan.name();
  PAT_ASSIGN_OR_RETURN(out.tier,
                       PlanTierFromProto(plan.tier(), Prefixed(field, "tier")));
  out.admin_user_ids.assign(plan.admin_user_ids().begin(),
                            plan.admin_user_ids().end());
  return out;
}

absl::StatusOr<Resource> ResourceFromProto(const v1::Resource& resource,
                                           absl::string_view field) {
  Resource out;
  out.plan_id = resource.plan_id();
  PAT_ASSIGN_OR_RETURN(out.kind, ResourceKindFromProto(
                                     resource.kind(), Prefixed(field, "kind")));
  out.id = resource.id();
  PAT_ASSIGN_OR_RETURN(out.parent_kind,
                       ResourceKindFromProto(resource.parent_kind(),
                                             Prefixed(field, "parent_kind")));
  out.parent_id = resource.parent_id();
  out.name = resource.name();
  return out;
}

// --- Requests -> component parameters
// --------------------------------------------

absl::StatusOr<CreateTokenParams> CreateTokenParamsFromProto(
    const v1::CreateTokenRequest& request) {
  CreateTokenParams p;
  p.plan_id = request.plan_id();
  PAT_ASSIGN_OR_RETURN(p.kind, TokenKindFromProto(request.kind(), "kind"));
  p.name = request.name();
  p.description = request.description();
  p.expires_in_days = request.expires_in_days();
  p.scopes.assign(request.scopes().begin(), request.scopes().end());
  p.all_resources = request.all_resources();
  p.resource_links.assign(request.resource_links().begin(),
                          request.resource_links().end());
  p.request_id = request.request_id();
  return p;
}

absl::StatusOr<UpdateTokenParams> UpdateTokenParamsFromProto(
    const v1::UpdateTokenRequest& request) {
  UpdateTokenParams p;
  p.plan_id = request.plan_id();
  p.token_id = request.token_id();
  for (const std::string& path : request.update_mask().paths()) {
    if (path != "name" && path != "description" && path != "scopes" &&
        path != "resources") {
      return absl::InvalidArgumentError(
          absl::StrCat("update_mask: unknown path ", DescribeMaskPath(path),
                       " (allowed: name, description, scopes, resources)"));
    }
    p.update_mask.push_back(path);
  }
  p.name = request.name();
  p.description = request.description();
  p.scopes.assign(request.scopes().begin(), request.scopes().end());
  p.all_resources = request.all_resources();
  p.resource_links.assign(request.resource_links().begin(),
                          request.resource_links().end());
  return p;
}

absl::StatusOr<ListTokensParams> ListTokensParamsFromProto(
    const v1::ListTokensRequest& request) {
  ListTokensParams p;
  p.plan_id = request.plan_id();
  PAT_ASSIGN_OR_RETURN(p.kind, TokenKindFromProto(request.kind(), "kind"));
  for (int value : request.statuses()) {
    PAT_ASSIGN_OR_RETURN(TokenStatus status,
                         TokenStatusFromProto(value, "statuses"));
    if (status == TokenStatus::kUnspecified) {
      return absl::InvalidArgumentError(
          "statuses: TOKEN_STATUS_UNSPECIFIED is not a status");
    }
    p.statuses.push_back(status);
  }
  p.page_size = request.page_size();
  p.page_token = request.page_token();
  return p;
}

absl::StatusOr<CheckAccessParams> CheckAccessParamsFromProto(
    const v1::CheckAccessRequest& request) {
  CheckAccessParams p;
  p.plan_id = request.plan_id();
  p.token_id = request.token_id();
  p.method = request.method();
  p.path = request.path();
  return p;
}

absl::StatusOr<std::vector<UsageReport>> UsageReportsFromProto(
    const v1::ReportUsageRequest& request) {
  std::vector<UsageReport> out;
  out.reserve(request.records_size());
  for (int i = 0; i < request.records_size(); ++i) {
    const v1::UsageRecord& record = request.records(i);
    UsageReport r;
    r.token_id = record.token_id();
    if (record.has_last_used_time()) {
      PAT_ASSIGN_OR_RETURN(
          r.last_used_time,
          TimeFromProto(record.last_used_time(),
                        absl::StrCat("records[", i, "].last_used_time")));
    }
    r.client_ip = record.client_ip();
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace pat
