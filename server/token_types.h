#ifndef PAT_SERVER_TOKEN_TYPES_H_
#define PAT_SERVER_TOKEN_TYPES_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/domain.h"
#include "server/token_store.h"

// The typed values the authority's components (TokenLifecycle,
// PlanDirectory, TokenIntrospection, AccessChecker) take and return, their
// limits, and what every component is built from. No logic.
namespace pat {

inline constexpr int kMaxNameLength = 128;
inline constexpr int kMaxDescriptionLength = 1024;
inline constexpr int kMaxExpiresInDays = 365;
inline constexpr int kMaxResourceLinks = 100;
inline constexpr int kMaxScopes = 64;
inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 1000;
inline constexpr absl::Duration kRefreshOverlap = absl::Hours(24);
// Feed snapshots keep tokens that expired less than this long ago (and every
// revoked token that is not yet that long expired).
inline constexpr absl::Duration kSnapshotKeepExpired = absl::Hours(24 * 7);
// ReportUsage: records per call, and the longest client IP accepted.
inline constexpr int kMaxUsageRecords = 10000;
inline constexpr int kMaxClientIpLength = 64;
// CheckAccess: the longest method accepted.
inline constexpr int kMaxMethodLength = 32;

struct CreateTokenParams {
  std::string plan_id;
  TokenKind kind = TokenKind::kUnspecified;
  std::string name;
  std::string description;
  int expires_in_days = 0;
  std::vector<std::string> scopes;
  bool all_resources = false;
  std::vector<std::string> resource_links;
  std::string request_id;
};

struct CreateTokenResult {
  Token token;
  std::string secret;  // empty when replayed
  bool replayed = false;
};

struct UpdateTokenParams {
  std::string plan_id;
  std::string token_id;
  std::vector<std::string> update_mask;  // name, description, scopes, resources
  std::string name;
  std::string description;
  std::vector<std::string> scopes;
  bool all_resources = false;
  std::vector<std::string> resource_links;
};

struct RefreshTokenResult {
  Token token;
  std::string secret;  // empty when replayed
  absl::Time previous_secret_expire_time = absl::InfinitePast();
  bool replayed = false;
};

struct ListTokensParams {
  std::string plan_id;
  TokenKind kind = TokenKind::kUnspecified;
  std::vector<TokenStatus> statuses;
  int page_size = 0;
  std::string page_token;
};

struct TokenPage {
  std::vector<Token> tokens;
  std::string next_page_token;
};

struct AuditPage {
  std::vector<AuditEvent> events;
  std::string next_page_token;
};

struct CheckAccessParams {
  std::string plan_id;
  std::string token_id;
  std::string method;  // exact, as an HTTP client sends it ("GET")
  std::string path;    // the request-target: path and optional query
};

// The sidecar's decision for a token, a method and a path, explained.
struct CheckAccessResult {
  bool allowed = false;
  std::string reason;  // the sidecar's reason code; "allowed" when allowed
  std::string detail;  // human-readable
};

struct ValidateResult {
  bool found = false;
  Token token;
  TokenStatus status = TokenStatus::kUnspecified;
  // When the presented secret stops working (token expiry for the current
  // secret, end of the overlap for a previous one, the revoke time if revoked).
  absl::Time secret_expire_time = absl::InfinitePast();
  // The feed revision the answer reflects (0: unknown). Set for found and
  // not-found answers alike.
  int64_t revision = 0;
};

// Whether an operation needs a tier that allows plan access tokens (R1).
// Revoking does not: a live token is always revocable.
enum class TierRule { kRequired, kNotRequired };

// What every component is built from. Both must outlive the component.
struct ComponentDeps {
  TokenStore& store;
  const Clock& clock;
};

// Token ids: "tok_" followed by 22 base62 characters (server/token_rules.cc).
bool IsValidTokenId(absl::string_view id);
std::string NewTokenId();

}  // namespace pat

#endif  // PAT_SERVER_TOKEN_TYPES_H_
