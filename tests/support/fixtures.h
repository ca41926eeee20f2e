#ifndef PAT_TESTS_SUPPORT_FIXTURES_H_
#define PAT_TESTS_SUPPORT_FIXTURES_H_

// Shared seeding and RPC helpers for the authority tests (tests/authority).
//
// The seeded world (SeedWorld):
//   plan A "1111111111" ORGANIZATION, admins {alice}
//     workspace wsA <- team teamA <- project projA <- files FILEA1, FILEA2
//     npm scope @acme
//   plan B "2222222222" ENTERPRISE, admins {bob}
//     workspace wsB <- team teamB <- project projB <- file FILEB1
//   plan S "3333333333" STARTER, admins {sam}
// "mallory" administers nothing.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pat/v1/pat.pb.h"
#include "tests/support/authority_harness.h"

namespace pat::testing {

inline constexpr char kPlanA[] = "1111111111";
inline constexpr char kPlanB[] = "2222222222";
inline constexpr char kPlanS[] = "3333333333";
// A plan id no directory entry has.
inline constexpr char kUnknownPlan[] = "9999999999";

inline constexpr char kAlice[] = "alice";      // admin of A
inline constexpr char kBob[] = "bob";          // admin of B
inline constexpr char kSam[] = "sam";          // admin of S (STARTER)
inline constexpr char kMallory[] = "mallory";  // admin of nothing
inline constexpr char kNoActor[] = "";

// Links to the seeded resources, as a user would paste them.
inline constexpr char kLinkFileA1[] = "https://figma.com/design/FILEA1";
inline constexpr char kLinkFileA2[] = "https://figma.com/design/FILEA2";
inline constexpr char kLinkProjectA[] =
    "https://figma.com/files/1111111111/project/projA";
inline constexpr char kLinkTeamA[] =
    "https://figma.com/files/1111111111/team/teamA";
inline constexpr char kLinkWorkspaceA[] =
    "https://figma.com/files/1111111111/workspace/wsA";
inline constexpr char kLinkFileB1[] = "https://figma.com/design/FILEB1";
inline constexpr char kLinkProjectB[] =
    "https://figma.com/files/2222222222/project/projB";
inline constexpr char kNpmScopeA[] = "@acme";

// Their canonical forms (R6).
inline constexpr char kCanonicalFileA1[] =
    "https://www.figma.com/design/FILEA1";
inline constexpr char kCanonicalFileA2[] =
    "https://www.figma.com/design/FILEA2";
inline constexpr char kCanonicalProjectA[] =
    "https://www.figma.com/files/1111111111/project/projA";
inline constexpr char kCanonicalTeamA[] =
    "https://www.figma.com/files/1111111111/team/teamA";
inline constexpr char kCanonicalWorkspaceA[] =
    "https://www.figma.com/files/1111111111/workspace/wsA";

// Well-formed ("tok_" + 22 base62) token ids that no token has.
inline constexpr char kUnknownTokenId[] = "tok_0123456789abcdefABCDEF";
inline constexpr char kUnknownTokenId2[] = "tok_ZZZZZZZZZZZZZZZZZZZZZZ";

// Directory writes (DirectoryService). Non-fatal failures on error.
void UpsertPlan(AuthorityHarness& h, absl::string_view id,
                pat::v1::PlanTier tier, const std::vector<std::string>& admins);
void UpsertResource(
    AuthorityHarness& h, absl::string_view plan_id, pat::v1::ResourceKind kind,
    absl::string_view id,
    pat::v1::ResourceKind parent_kind = pat::v1::RESOURCE_KIND_UNSPECIFIED,
    absl::string_view parent_id = "");

// Seeds plans A, B, S and their directories (see the top of this file).
void SeedWorld(AuthorityHarness& h);

// A fresh idempotency key, unique within the process.
std::string NewRequestId();

// A valid CreateTokenRequest: name "ci token", description "for tests",
// 30 days, scopes {files:read} (REST) or {packages:read} (npm),
// all_resources, a fresh request_id.
pat::v1::CreateTokenRequest MakeCreateRequest(
    absl::string_view plan_id = kPlanA,
    pat::v1::TokenKind kind = pat::v1::TOKEN_KIND_REST_API);
// The same with a selected-resources list instead of all_resources.
pat::v1::CreateTokenRequest MakeCreateRequestWithLinks(
    absl::string_view plan_id, const std::vector<std::string>& links,
    pat::v1::TokenKind kind = pat::v1::TOKEN_KIND_REST_API);

// An UpdateTokenRequest with the given mask paths and nothing else set.
pat::v1::UpdateTokenRequest MakeUpdateRequest(
    absl::string_view plan_id, absl::string_view token_id,
    const std::vector<std::string>& mask_paths);

// Plain RPC wrappers (each with a fresh AuthorityHarness::Ctx(actor)).
grpc::Status CreateToken(AuthorityHarness& h, absl::string_view actor,
                         const pat::v1::CreateTokenRequest& req,
                         pat::v1::CreateTokenResponse* resp);
grpc::Status GetToken(AuthorityHarness& h, absl::string_view actor,
                      absl::string_view plan_id, absl::string_view token_id,
                      pat::v1::Token* resp);
grpc::Status ListTokens(AuthorityHarness& h, absl::string_view actor,
                        const pat::v1::ListTokensRequest& req,
                        pat::v1::ListTokensResponse* resp);
grpc::Status UpdateToken(AuthorityHarness& h, absl::string_view actor,
                         const pat::v1::UpdateTokenRequest& req,
                         pat::v1::Token* resp);
grpc::Status RefreshToken(AuthorityHarness& h, absl::string_view actor,
                          absl::string_view plan_id, absl::string_view token_id,
                          absl::string_view request_id,
                          pat::v1::RefreshTokenResponse* resp);
grpc::Status RevokeToken(AuthorityHarness& h, absl::string_view actor,
                         absl::string_view plan_id, absl::string_view token_id,
                         pat::v1::Token* resp);
grpc::Status ListAuditEvents(AuthorityHarness& h, absl::string_view actor,
                             const pat::v1::ListAuditEventsRequest& req,
                             pat::v1::ListAuditEventsResponse* resp);

// Wrappers that expect success (non-fatal failure otherwise, returning a
// default-constructed response; check HasFailure() after setup steps).
pat::v1::CreateTokenResponse MustCreate(AuthorityHarness& h,
                                        absl::string_view actor,
                                        const pat::v1::CreateTokenRequest& req);
pat::v1::Token MustGet(AuthorityHarness& h, absl::string_view actor,
                       absl::string_view plan_id, absl::string_view token_id);
// Refresh with a fresh request_id.
pat::v1::RefreshTokenResponse MustRefresh(AuthorityHarness& h,
                                          absl::string_view actor,
                                          absl::string_view plan_id,
                                          absl::string_view token_id);
pat::v1::Token MustRevoke(AuthorityHarness& h, absl::string_view actor,
                          absl::string_view plan_id,
                          absl::string_view token_id);
pat::v1::Token MustUpdate(AuthorityHarness& h, absl::string_view actor,
                          const pat::v1::UpdateTokenRequest& req);

// Every token of a plan (optionally of one kind / statuses), walking pages.
std::vector<pat::v1::Token> ListAllTokens(
    AuthorityHarness& h, absl::string_view actor, absl::string_view plan_id,
    pat::v1::TokenKind kind = pat::v1::TOKEN_KIND_UNSPECIFIED,
    const std::vector<pat::v1::TokenStatus>& statuses = {});
// Every audit event of a plan (optionally of one token), walking pages.
std::vector<pat::v1::AuditEvent> ListAllAuditEvents(
    AuthorityHarness& h, absl::string_view actor, absl::string_view plan_id,
    absl::string_view token_id = "");
// How many of `events` have `action`.
int CountActions(const std::vector<pat::v1::AuditEvent>& events,
                 absl::string_view action);

// IntrospectionService.ValidateToken with the SHA-256 of `secret`.
pat::v1::ValidateTokenResponse Validate(AuthorityHarness& h,
                                        absl::string_view secret);
// SHA-256 of `secret` as raw bytes (the ValidateToken request field).
std::string SecretDigestBytes(absl::string_view secret);
// True when ValidateToken says the secret works at `now`: found, grant status
// ACTIVE and the secret's own end strictly after `now`.
bool WorksAt(const pat::v1::ValidateTokenResponse& v, absl::Time now);
// The secret without its kind prefix ("pat_rest_" / "pat_npm_").
std::string SecretBody(absl::string_view secret);

absl::Time ToTime(const google::protobuf::Timestamp& ts);

// Direct database access (libpqxx) for white-box checks.
int64_t CountRows(AuthorityHarness& h, absl::string_view table);
// Inserts `n` active tokens of plan A (ids BulkTokenId(1..n), one current
// secret each) in one statement, bypassing the feed (a snapshot carries
// them; no event does).
void BulkInsertTokens(AuthorityHarness& h, int n);
std::string BulkTokenId(int i);
// The committed feed head.
int64_t FeedHeadNow(AuthorityHarness& h);
// Whether `live` is exactly after + 1, after + 2, ..., in order (a watch's
// live revisions after `after`: no gap, no repeat).
bool Contiguous(const std::vector<int64_t>& live, int64_t after);
// Every row of every table outside the system schemas, as
// "<schema>.<table>: <row as text>", sorted.
std::vector<std::string> DumpDatabase(AuthorityHarness& h);

// One TokenService RPC addressed to a plan (and, for most, a token), for
// table-driven authorization tests. Requests are otherwise valid: Update sets
// mask {name}, Refresh a fresh request_id, CheckAccess "GET /v1/files/FILEA1".
struct PlanRpc {
  std::string name;
  bool takes_token_id = false;
  std::function<grpc::Status(AuthorityHarness& h, const std::string& actor,
                             const std::string& plan_id,
                             const std::string& token_id)>
      call;
};
// CreateToken, ListTokens, ListAuditEvents (whole plan), GetToken,
// UpdateToken, RefreshToken, RevokeToken, ListAuditEvents (token_id),
// CheckAccess.
std::vector<PlanRpc> AllPlanRpcs();
// Only those that take a token id.
std::vector<PlanRpc> TokenRpcs();

// A fresh harness with SeedWorld applied.
class SeededAuthorityTest : public ::testing::Test {
 protected:
  void SetUp() override;
  AuthorityHarness& h() { return *harness_; }
  FakeClock& clock() { return harness_->clock(); }
  absl::Time Now() { return harness_->clock().Now(); }

  std::unique_ptr<AuthorityHarness> harness_;
};

}  // namespace pat::testing

#endif  // PAT_TESTS_SUPPORT_FIXTURES_H_
