#ifndef PAT_COMMON_DOMAIN_H_
#define PAT_COMMON_DOMAIN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

// Domain types shared by the authority and the sidecar. No gRPC or protobuf
// types here: conversion happens at the service edge.
namespace pat {

enum class PlanTier { kUnspecified, kStarter, kProfessional, kOrganization, kEnterprise };
enum class TokenKind { kUnspecified, kRestApi, kNpmRegistry };
enum class TokenStatus { kUnspecified, kActive, kExpired, kRevoked };
enum class ResourceKind { kUnspecified, kFile, kProject, kTeam, kWorkspace, kNpmScope };

// Stable lower-case names, used in the database, audit details and logs.
absl::string_view PlanTierName(PlanTier t);
absl::string_view TokenKindName(TokenKind k);
absl::string_view TokenStatusName(TokenStatus s);
absl::string_view ResourceKindName(ResourceKind k);
// Inverse of the *Name functions; kUnspecified for anything else.
PlanTier PlanTierFromName(absl::string_view name);
TokenKind TokenKindFromName(absl::string_view name);
TokenStatus TokenStatusFromName(absl::string_view name);
ResourceKind ResourceKindFromName(absl::string_view name);

// R1: only these tiers may hold plan access tokens.
bool TierAllowsTokens(PlanTier tier);

struct Plan {
  std::string id;
  std::string name;
  PlanTier tier = PlanTier::kUnspecified;
  std::vector<std::string> admin_user_ids;
};

// An entry of a plan's resource directory.
struct Resource {
  std::string plan_id;
  ResourceKind kind = ResourceKind::kUnspecified;
  std::string id;
  ResourceKind parent_kind = ResourceKind::kUnspecified;
  std::string parent_id;
  std::string name;
};

// A resource on a token's allowlist, in canonical form.
struct TokenResource {
  ResourceKind kind = ResourceKind::kUnspecified;
  std::string id;
  std::string link;
  friend bool operator==(const TokenResource&, const TokenResource&) = default;
};

struct Token {
  std::string id;
  std::string plan_id;
  TokenKind kind = TokenKind::kUnspecified;
  std::string name;
  std::string description;
  std::vector<std::string> scopes;  // sorted, unique
  bool all_resources = false;
  std::vector<TokenResource> resources;
  std::string created_by;
  absl::Time create_time = absl::InfinitePast();
  absl::Time expire_time = absl::InfinitePast();
  int lifetime_days = 0;
  std::optional<absl::Time> revoke_time;
  std::string revoked_by;
  std::optional<absl::Time> last_refresh_time;
  std::optional<absl::Time> last_used_time;
  std::string last_used_ip;
};

// R10/R11: revoked wins over expired; expired from the expiration instant on.
TokenStatus StatusAt(const Token& token, absl::Time now);

struct AuditEvent {
  int64_t id = 0;
  std::string plan_id;
  std::string token_id;
  std::string actor;
  std::string action;  // create, update, refresh, revoke
  absl::Time time = absl::InfinitePast();
  std::string details_json;
};

}  // namespace pat

#endif  // PAT_COMMON_DOMAIN_H_
