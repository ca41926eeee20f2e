#ifndef PAT_SERVER_TOKEN_LIFECYCLE_H_
#define PAT_SERVER_TOKEN_LIFECYCLE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/domain.h"
#include "server/page_token_codec.h"
#include "server/token_store.h"
#include "server/token_types.h"

// The token lifecycle of pat.v1.TokenService (R1–R11, R14) except
// CheckAccess (AccessChecker), independent of gRPC. Every method validates
// its input (INVALID_ARGUMENT naming the field), checks the actor
// (UNAUTHENTICATED without one, PERMISSION_DENIED for a non-admin), the plan
// tier (FAILED_PRECONDITION; not for RevokeToken) and hides other plans'
// tokens (NOT_FOUND). The admin and tier checks of every write hold at its
// commit: they are re-checked in the write's transaction under a lock that
// UpsertPlan conflicts with, so a concurrent downgrade or admin removal is
// ordered wholly before or wholly after each create, edit, refresh and
// revoke. Thread-safe.
namespace pat {

struct TokenLifecycleConfig {
  // R9: how long the previous secret keeps working after a refresh.
  absl::Duration refresh_overlap = kRefreshOverlap;
};

class TokenLifecycle {
 public:
  // INVALID_ARGUMENT for a config outside its bounds.
  static absl::StatusOr<std::unique_ptr<TokenLifecycle>> Create(
      const TokenLifecycleConfig& config, ComponentDeps deps);

  TokenLifecycle(const TokenLifecycle&) = delete;
  TokenLifecycle& operator=(const TokenLifecycle&) = delete;

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

  // Current time of the injected clock (for the status a response shows).
  absl::Time Now() const { return clock_.Now(); }

 private:
  TokenLifecycle(const TokenLifecycleConfig& config, ComponentDeps deps);

  // Parses, validates and resolves links against the directory (R6).
  absl::StatusOr<std::vector<TokenResource>> ResolveLinks(
      const Plan& plan, TokenKind kind, bool all_resources,
      const std::vector<std::string>& links);

  const TokenLifecycleConfig config_;
  TokenStore& store_;
  const Clock& clock_;
  PageTokenCodec page_tokens_;
};

}  // namespace pat

#endif  // PAT_SERVER_TOKEN_LIFECYCLE_H_
