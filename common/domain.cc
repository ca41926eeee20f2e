#include "common/domain.h"

#include <cstddef>

namespace pat {

namespace {

// One table per enum: the stable name of every value but kUnspecified. Both
// directions (Name and FromName) read it.
template <typename Enum>
struct NamedValue {
  Enum value;
  absl::string_view name;
};

constexpr NamedValue<PlanTier> kPlanTiers[] = {
    {PlanTier::kStarter, "starter"},
    {PlanTier::kProfessional, "professional"},
    {PlanTier::kOrganization, "organization"},
    {PlanTier::kEnterprise, "enterprise"},
};
constexpr NamedValue<TokenKind> kTokenKinds[] = {
    {TokenKind::kRestApi, "rest_api"},
    {TokenKind::kNpmRegistry, "npm_registry"},
};
constexpr NamedValue<TokenStatus> kTokenStatuses[] = {
    {TokenStatus::kActive, "active"},
    {TokenStatus::kExpired, "expired"},
    {TokenStatus::kRevoked, "revoked"},
};
constexpr NamedValue<ResourceKind> kResourceKinds[] = {
    {ResourceKind::kFile, "file"},
    {ResourceKind::kProject, "project"},
    {ResourceKind::kTeam, "team"},
    {ResourceKind::kWorkspace, "workspace"},
    {ResourceKind::kNpmScope, "npm_scope"},
};

template <typename Enum, size_t N>
absl::string_view NameIn(const NamedValue<Enum> (&table)[N], Enum value) {
  for (const NamedValue<Enum>& row : table) {
    if (row.value == value) return row.name;
  }
  return "unspecified";
}

template <typename Enum, size_t N>
Enum ValueIn(const NamedValue<Enum> (&table)[N], absl::string_view name) {
  for (const NamedValue<Enum>& row : table) {
    if (row.name == name) return row.value;
  }
  return Enum::kUnspecified;
}

}  // namespace

absl::string_view PlanTierName(PlanTier t) { return NameIn(kPlanTiers, t); }
absl::string_view TokenKindName(TokenKind k) { return NameIn(kTokenKinds, k); }
absl::string_view TokenStatusName(TokenStatus s) {
  return NameIn(kTokenStatuses, s);
}
absl::string_view ResourceKindName(ResourceKind k) {
  return NameIn(kResourceKinds, k);
}

PlanTier PlanTierFromName(absl::string_view name) {
  return ValueIn(kPlanTiers, name);
}
TokenKind TokenKindFromName(absl::string_view name) {
  return ValueIn(kTokenKinds, name);
}
TokenStatus TokenStatusFromName(absl::string_view name) {
  return ValueIn(kTokenStatuses, name);
}
ResourceKind ResourceKindFromName(absl::string_view name) {
  return ValueIn(kResourceKinds, name);
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
