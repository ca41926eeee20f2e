#ifndef PAT_SERVER_TOKEN_MANAGER_H_
#define PAT_SERVER_TOKEN_MANAGER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/domain.h"
#include "common/policy/route_matcher.h"
#include "common/secret.h"
#include "server/token_store.h"

// The token lifecycle's rules (R1–R11, R14), independent of gRPC. Every method
// validates its input (INVALID_ARGUMENT naming the field), checks the actor
// (UNAUTHENTICATED without one, PERMISSION_DENIED for a non-admin), the plan
// tier (FAILED_PRECONDITION; not for RevokeToken) and hides other plans'
// tokens (NOT_FOUND). The admin and tier checks of every write hold at its
// commit: they are re-checked in the write's transaction under a lock that
// UpsertPlan conflicts with, so a concurrent downgrade or admin removal is
// ordered wholly before or wholly after each create, edit, refresh and
// revoke.
// Thread-safe; holds references to the store and clock, which must outlive it.
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
};

// Whether an operation needs a tier that allows plan access tokens (R1).
// Revoking does not: a live token is always revocable.
enum class TierRule { kRequired, kNotRequired };

class TokenManager {
 public:
  TokenManager(TokenStore& store, const Clock& clock);

  // `actor` is the authenticated user id; empty means none.
  absl::StatusOr<std::vector<Plan>> ListPlans(const std::string& actor);
  absl::StatusOr<CreateTokenResult> CreateToken(const std::string& actor,
                                                const CreateTokenParams& p);
  absl::StatusOr<Token> GetToken(const std::string& actor,
                                 const std::string& plan_id,
                                 const std::string& token_id);
  absl::StatusOr<TokenPage> ListTokens(const std::string& actor,
                                       const ListTokensParams& p);
  absl::StatusOr<Token> UpdateToken(const std::string& actor,
                                    const UpdateTokenParams& p);
  absl::StatusOr<RefreshTokenResult> RefreshToken(
      const std::string& actor, const std::string& plan_id,
      const std::string& token_id, const std::string& request_id);
  absl::StatusOr<Token> RevokeToken(const std::string& actor,
                                    const std::string& plan_id,
                                    const std::string& token_id);
  absl::StatusOr<AuditPage> ListAuditEvents(const std::string& actor,
                                            const std::string& plan_id,
                                            const std::string& token_id,
                                            int page_size,
                                            const std::string& page_token);

  // Directory (platform callers; no actor).
  absl::StatusOr<Plan> UpsertPlan(const Plan& plan);
  absl::StatusOr<Resource> UpsertResource(const Resource& resource);
  absl::Status DeleteResource(ResourceKind kind, const std::string& id);

  // What the sidecar would decide for this token, method and path (SPEC §7
  // rules 1, the token's state from rule 2, then 3-5), using the built-in
  // catalog of the token's kind and the resource directory. Authorized like
  // GetToken (R2): a token of another plan is NOT_FOUND. INVALID_ARGUMENT for
  // an empty or non-token method or an empty path; a non-canonical path is
  // the decision path_invalid, not an error.
  absl::StatusOr<CheckAccessResult> CheckAccess(const std::string& actor,
                                                const CheckAccessParams& p);

  // Introspection: the token holding a secret with this digest.
  absl::StatusOr<ValidateResult> ValidateToken(absl::string_view digest_bytes);

  // Introspection (sidecars; no actor).
  // The snapshot a new feed watcher starts from (see TokenStore), with tokens
  // expired less than kSnapshotKeepExpired ago.
  absl::StatusOr<FeedSnapshot> ReadFeedSnapshot();
  absl::StatusOr<FeedPosition> GetFeedPosition(int64_t since);
  absl::StatusOr<std::vector<FeedEventRow>> ReadFeedEvents(int64_t after,
                                                           int limit);
  // The resource first, then its ancestors to the root. INVALID_ARGUMENT for
  // an unspecified kind or a malformed id; NOT_FOUND for an unknown resource.
  absl::StatusOr<std::vector<Resource>> ResolveResource(ResourceKind kind,
                                                        const std::string& id);
  // At most kMaxUsageRecords records (INVALID_ARGUMENT beyond), each with a
  // well-formed token id, a last-used time and an empty or IPv4/IPv6 client
  // IP of at most kMaxClientIpLength characters (INVALID_ARGUMENT naming the
  // record otherwise). Times after now are recorded as now. Unknown tokens
  // are ignored.
  absl::Status ReportUsage(std::vector<UsageReport> reports);

  // Current time of the injected clock.
  absl::Time Now() const { return clock_.Now(); }

 private:
  // Checks actor, plan existence, admin membership and (per `tier_rule`)
  // tier, on the plan as last committed. Writes re-check the same rules in
  // their own transaction under the plan row's lock (PlanCheckFn).
  absl::StatusOr<Plan> AuthorizePlan(const std::string& actor,
                                     const std::string& plan_id,
                                     TierRule tier_rule);
  // Parses, validates and resolves links against the directory (R6).
  absl::StatusOr<std::vector<TokenResource>> ResolveLinks(
      const Plan& plan, TokenKind kind, bool all_resources,
      const std::vector<std::string>& links);

  // The replicas' shared page-token signing key, fetched once.
  absl::StatusOr<std::string> PageTokenKey();
  absl::StatusOr<std::string> EncodePageToken(absl::string_view cursor,
                                              absl::string_view tag);
  absl::StatusOr<std::string> DecodePageToken(absl::string_view token,
                                              absl::string_view tag);

  TokenStore& store_;
  const Clock& clock_;
  // The built-in catalogs (CheckAccess). Immutable after construction.
  absl::StatusOr<policy::RouteMatcher> rest_routes_;
  absl::StatusOr<policy::RouteMatcher> npm_routes_;
  absl::Mutex key_mu_;
  std::string page_token_key_ ABSL_GUARDED_BY(key_mu_);
};

// Token ids: "tok_" followed by 22 base62 characters.
bool IsValidTokenId(absl::string_view id);
std::string NewTokenId();

}  // namespace pat

#endif  // PAT_SERVER_TOKEN_MANAGER_H_
