// Threat checklist #3 (commit outcome unknown): the authority's database
// connection runs through a TcpFaultProxy that forwards a lifecycle
// transaction's COMMIT and then cuts the connection as soon as PostgreSQL
// answers, before the answer reaches the authority. So the write has
// committed and the authority cannot know. For every lifecycle write
// (create, refresh, update, revoke):
//  * the RPC fails UNAVAILABLE and says the outcome is unknown;
//  * the write did commit (exactly once);
//  * the client's retry (same request_id where the RPC has one) returns the
//    original result: the same token, `replayed`, no second secret, exactly
//    one token row and one audit event of the action.
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/authority_harness.h"
#include "tests/support/fixtures.h"
#include "tests/support/sidecar_harness.h"
#include "tests/support/tcp_fault_proxy.h"

namespace pat::testing {
namespace {

// Statements of every lifecycle write (and of nothing else: feed reads and
// directory writes do not audit).
constexpr char kLifecycleWrite[] = "INSERT INTO audit_events";

int PortOf(const std::string& url) {
  const size_t at = url.find('@');
  const size_t colon = url.find(':', at == std::string::npos ? 0 : at);
  return std::stoi(url.substr(colon + 1));
}

class CommitUnknownTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HarnessOptions options;
    options.database_url_filter = [this](const std::string& url) {
      proxy_ = TcpFaultProxy::Start(PortOf(url));
      return proxy_ == nullptr ? url : proxy_->ProxiedUrl(url);
    };
    harness_ = AuthorityHarness::Start(options);
    ASSERT_NE(harness_, nullptr);
    ASSERT_NE(proxy_, nullptr);
    SeedWorld(*harness_);
    ASSERT_FALSE(HasFailure());
  }

  AuthorityHarness& h() { return *harness_; }

  // Rows of `table` for `token_id` (direct connection, not proxied).
  int64_t Rows(absl::string_view table, absl::string_view token_id,
               absl::string_view extra = "") {
    pqxx::connection conn(h().db().url());
    pqxx::read_transaction txn(conn);
    return txn
        .exec_params1(absl::StrCat("SELECT count(*) FROM ", table,
                                   " WHERE token_id = $1", extra),
                      std::string(token_id))[0]
        .as<int64_t>();
  }

  // The RPC failed as an in-doubt commit must.
  static void ExpectOutcomeUnknown(const grpc::Status& s) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
        << s.error_message();
    EXPECT_TRUE(absl::StrContains(s.error_message(), "outcome"))
        << s.error_message();
    EXPECT_FALSE(ContainsSecretShape(s.error_message()));
  }

  void ArmCut() {
    cuts_before_ = proxy_->commits_cut();
    proxy_->CutAfterCommit(1, kLifecycleWrite);
  }
  void ExpectCutHappened() {
    EXPECT_EQ(proxy_->commits_cut(), cuts_before_ + 1);
  }

  std::unique_ptr<TcpFaultProxy> proxy_;
  std::unique_ptr<AuthorityHarness> harness_;
  int cuts_before_ = 0;
};

TEST_F(CommitUnknownTest, CreateRetryWithSameRequestIdReturnsTheOriginal) {
  const v1::CreateTokenRequest req = MakeCreateRequest();
  const int64_t tokens_before = CountRows(h(), "tokens");
  ArmCut();
  v1::CreateTokenResponse lost;
  ExpectOutcomeUnknown(CreateToken(h(), kAlice, req, &lost));
  ExpectCutHappened();
  // It committed: one new token row, with its secret, audit and grant event.
  ASSERT_EQ(CountRows(h(), "tokens"), tokens_before + 1);
  std::string token_id;
  {
    pqxx::connection conn(h().db().url());
    pqxx::read_transaction txn(conn);
    token_id = txn.exec_params1(
                      "SELECT token_id FROM idempotency "
                      "WHERE request_id = $1",
                      req.request_id())[0]
                   .as<std::string>();
  }
  EXPECT_EQ(Rows("token_secrets", token_id), 1);
  EXPECT_EQ(Rows("audit_events", token_id, " AND action = 'create'"), 1);

  for (int retry = 0; retry < 2; ++retry) {
    v1::CreateTokenResponse resp;
    ASSERT_TRUE(CreateToken(h(), kAlice, req, &resp).ok());
    EXPECT_EQ(resp.token().id(), token_id);
    EXPECT_TRUE(resp.replayed());
    EXPECT_TRUE(resp.secret().empty()) << "a secret is shown at most once";
  }
  EXPECT_EQ(CountRows(h(), "tokens"), tokens_before + 1);
  EXPECT_EQ(Rows("token_secrets", token_id), 1);
  EXPECT_EQ(Rows("audit_events", token_id, " AND action = 'create'"), 1);
  // The client can still get a usable secret: refresh.
  v1::RefreshTokenResponse refreshed =
      MustRefresh(h(), kAlice, kPlanA, token_id);
  EXPECT_FALSE(refreshed.secret().empty());
}

TEST_F(CommitUnknownTest, RefreshRetryWithSameRequestIdReturnsTheOriginal) {
  const v1::CreateTokenResponse created =
      MustCreate(h(), kAlice, MakeCreateRequest());
  ASSERT_FALSE(HasFailure());
  const std::string id = created.token().id();
  const std::string request_id = NewRequestId();
  ArmCut();
  v1::RefreshTokenResponse lost;
  ExpectOutcomeUnknown(
      RefreshToken(h(), kAlice, kPlanA, id, request_id, &lost));
  ExpectCutHappened();
  ASSERT_EQ(Rows("token_secrets", id), 2) << "the refresh committed";
  ASSERT_EQ(Rows("audit_events", id, " AND action = 'refresh'"), 1);

  for (int retry = 0; retry < 2; ++retry) {
    v1::RefreshTokenResponse resp;
    ASSERT_TRUE(RefreshToken(h(), kAlice, kPlanA, id, request_id, &resp).ok());
    EXPECT_EQ(resp.token().id(), id);
    EXPECT_TRUE(resp.replayed());
    EXPECT_TRUE(resp.secret().empty()) << "a secret is shown at most once";
  }
  EXPECT_EQ(Rows("token_secrets", id), 2);
  EXPECT_EQ(Rows("audit_events", id, " AND action = 'refresh'"), 1);
}

TEST_F(CommitUnknownTest, UpdateRetriedIsAppliedOnce) {
  const v1::CreateTokenResponse created =
      MustCreate(h(), kAlice, MakeCreateRequest());
  ASSERT_FALSE(HasFailure());
  const std::string id = created.token().id();
  v1::UpdateTokenRequest req = MakeUpdateRequest(kPlanA, id, {"name"});
  req.set_name("renamed under a cut");
  ArmCut();
  v1::Token lost;
  ExpectOutcomeUnknown(UpdateToken(h(), kAlice, req, &lost));
  ExpectCutHappened();
  EXPECT_EQ(Rows("audit_events", id, " AND action = 'update'"), 1);
  const v1::Token retried = MustUpdate(h(), kAlice, req);
  EXPECT_EQ(retried.name(), "renamed under a cut");
  EXPECT_EQ(Rows("audit_events", id, " AND action = 'update'"), 1)
      << "the retry of an applied update changes nothing";
}

TEST_F(CommitUnknownTest, RevokeRetriedIsOkWithOneRevokeAudit) {
  const v1::CreateTokenResponse created =
      MustCreate(h(), kAlice, MakeCreateRequest());
  ASSERT_FALSE(HasFailure());
  const std::string id = created.token().id();
  ArmCut();
  v1::Token lost;
  ExpectOutcomeUnknown(RevokeToken(h(), kAlice, kPlanA, id, &lost));
  ExpectCutHappened();
  EXPECT_EQ(Rows("audit_events", id, " AND action = 'revoke'"), 1);

  const v1::Token revoked = MustRevoke(h(), kAlice, kPlanA, id);
  EXPECT_EQ(revoked.status(), v1::TOKEN_STATUS_REVOKED);
  EXPECT_EQ(Rows("audit_events", id, " AND action = 'revoke'"), 1);
  // The secret no longer validates.
  const v1::ValidateTokenResponse v = Validate(h(), created.secret());
  EXPECT_FALSE(WorksAt(v, h().clock().Now()));
}

}  // namespace
}  // namespace pat::testing
