#include "common/domain.h"

namespace pat {

absl::string_view PlanTierName(PlanTier t) {
  switch (t) {
    case PlanTier::kStarter: return "starter";
    case PlanTier::kProfessional: return "professional";
    case PlanTier::kOrganization: return "organization";
    case PlanTier::kEnterprise: return "enterprise";
    case PlanTier::kUnspecified: break;
  }
  return "unspecified";
}

absl::string_view TokenKindName(TokenKind k) {
  switch (k) {
    case TokenKind::kRestApi: return "rest_api";
    case TokenKind::kNpmRegistry: return "npm_registry";
    case TokenKind::kUnspecified: break;
  }
  return "unspecified";
}

absl::string_view TokenStatusName(TokenStatus s) {
  switch (s) {
    case TokenStatus::kActive: return "active";
    case TokenStatus::kExpired: return "expired";
    case TokenStatus::kRevoked: return "revoked";
    case TokenStatus::kUnspecified: break;
  }
  return "unspecified";
}

absl::string_view ResourceKindName(ResourceKind k) {
  switch (k) {
    case ResourceKind::kFile: return "file";
    case ResourceKind::kProject: return "project";
    case ResourceKind::kTeam: return "team";
    case ResourceKind::kWorkspace: return "workspace";
    case ResourceKind::kNpmScope: return "npm_scope";
    case ResourceKind::kUnspecified: break;
  }
  return "unspecified";
}

PlanTier PlanTierFromName(absl::string_view name) {
  for (PlanTier t : {PlanTier::kStarter, PlanTier::kProfessional,
                     PlanTier::kOrganization, PlanTier::kEnterprise}) {
    if (PlanTierName(t) == name) return t;
  }
  return PlanTier::kUnspecified;
}

TokenKind TokenKindFromName(absl::string_view name) {
  for (TokenKind k : {TokenKind::kRestApi, TokenKind::kNpmRegistry}) {
    if (TokenKindName(k) == name) return k;
  }
  return TokenKind::kUnspecified;
}

ResourceKind ResourceKindFromName(absl::string_view name) {
  for (ResourceKind k : {ResourceKind::kFile, ResourceKind::kProject,
                         ResourceKind::kTeam, ResourceKind::kWorkspace,
                         ResourceKind::kNpmScope}) {
    if (ResourceKindName(k) == name) return k;
  }
  return ResourceKind::kUnspecified;
}

bool TierAllowsTokens(PlanTier tier) {
  return tier == PlanTier::kOrganization || tier == PlanTier::kEnterprise;
}

TokenStatus StatusAt(const Token& token, absl::Time now) {
  if (token.revoke_time.has_value()) return TokenStatus::kRevoked;
  if (now >= token.expire_time) return TokenStatus::kExpired;
  return TokenStatus::kActive;
}

}  // namespace pat
