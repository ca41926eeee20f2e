// Concurrent lifecycle operations on one token (threat checklist: races
// between refresh and revoke, double refresh, concurrent idempotent retries).
// Threads start together on a std::latch; no sleeps, no timing assertions.

#include <functional>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pat/v1/pat.pb.h"
#include "tests/support/fixtures.h"
#include "tests/support/status_matchers.h"

namespace pat::testing {
namespace {

namespace v1 = ::pat::v1;
using ::absl::StatusCode;
using ::testing::AnyOf;

constexpr int kRefreshRevokeIterations = 200;
constexpr int kIterations = 60;

// Runs every function on its own thread, all released at once.
void RunTogether(const std::vector<std::function<void()>>& fns) {
  std::latch start(static_cast<std::ptrdiff_t>(fns.size()));
  std::vector<std::thread> threads;
  threads.reserve(fns.size());
  for (const std::function<void()>& fn : fns) {
    threads.emplace_back([&start, &fn] {
      start.arrive_and_wait();
      fn();
    });
  }
  for (std::thread& t : threads) t.join();
}

class RaceTest : public SeededAuthorityTest {
 protected:
  // The secret is refused now: unknown, or known and not ACTIVE, or past its
  // own end. When known, a revoked token reads REVOKED.
  void ExpectRefusedAsRevoked(const std::string& secret,
                              const std::string& what) {
    v1::ValidateTokenResponse v = Validate(h(), secret);
    EXPECT_FALSE(WorksAt(v, Now())) << what << " still works after revoke";
    if (v.found()) {
      EXPECT_EQ(v.grant().status(), v1::TOKEN_STATUS_REVOKED) << what;
    }
  }
};

TEST_F(RaceTest, RefreshRacingRevokeNeverLeavesAWorkingSecret) {
  int refresh_won = 0;
  int refresh_lost = 0;
  for (int i = 0; i < kRefreshRevokeIterations; ++i) {
    SCOPED_TRACE(absl::StrCat("iteration ", i));
    v1::CreateTokenResponse created =
        MustCreate(h(), kAlice, MakeCreateRequest());
    ASSERT_FALSE(HasFailure());
    const std::string id = created.token().id();

    grpc::Status refresh_status;
    grpc::Status revoke_status;
    v1::RefreshTokenResponse refreshed;
    v1::Token revoked;
    const std::string request_id = NewRequestId();
    RunTogether({
        [&] {
          refresh_status =
              RefreshToken(h(), kAlice, kPlanA, id, request_id, &refreshed);
        },
        [&] { revoke_status = RevokeToken(h(), kAlice, kPlanA, id, &revoked); },
    });

    ASSERT_THAT(revoke_status, IsOk());
    EXPECT_EQ(revoked.status(), v1::TOKEN_STATUS_REVOKED);
    EXPECT_THAT(refresh_status,
                AnyOf(IsOk(), StatusCodeIs(StatusCode::kFailedPrecondition)));

    ExpectRefusedAsRevoked(created.secret(), "original secret");
    if (refresh_status.ok()) {
      ++refresh_won;
      // The refresh was serialized before the revoke.
      EXPECT_EQ(refreshed.token().status(), v1::TOKEN_STATUS_ACTIVE);
      ASSERT_FALSE(refreshed.secret().empty());
      ExpectRefusedAsRevoked(refreshed.secret(), "refreshed secret");
    } else {
      ++refresh_lost;
    }
    EXPECT_EQ(MustGet(h(), kAlice, kPlanA, id).status(),
              v1::TOKEN_STATUS_REVOKED);
    // A retry of the refresh after the revoke must not hand out a working
    // secret either.
    v1::RefreshTokenResponse retried;
    grpc::Status retry_status =
        RefreshToken(h(), kAlice, kPlanA, id, request_id, &retried);
    if (retry_status.ok() && !retried.secret().empty()) {
      ExpectRefusedAsRevoked(retried.secret(), "secret from a retried refresh");
    }
    if (HasFailure()) break;  // one broken iteration tells the story
  }
  // Informational: how the interleavings fell.
  RecordProperty("refresh_before_revoke", refresh_won);
  RecordProperty("refresh_after_revoke", refresh_lost);
}

TEST_F(RaceTest, ConcurrentRefreshesKeepOnlyCurrentAndOnePrevious) {
  int both_succeeded = 0;
  for (int i = 0; i < kIterations; ++i) {
    SCOPED_TRACE(absl::StrCat("iteration ", i));
    v1::CreateTokenResponse created =
        MustCreate(h(), kAlice, MakeCreateRequest());
    ASSERT_FALSE(HasFailure());
    const std::string id = created.token().id();
    clock().Advance(absl::Minutes(1));
    const absl::Time refresh_time = Now();

    grpc::Status st[2];
    v1::RefreshTokenResponse resp[2];
    RunTogether({
        [&] {
          st[0] =
              RefreshToken(h(), kAlice, kPlanA, id, NewRequestId(), &resp[0]);
        },
        [&] {
          st[1] =
              RefreshToken(h(), kAlice, kPlanA, id, NewRequestId(), &resp[1]);
        },
    });
    std::vector<std::string> new_secrets;
    for (int k = 0; k < 2; ++k) {
      // Both may succeed (serialized on the token). ABORTED is tolerated as
      // an exhausted-retries outcome, never anything else.
      EXPECT_THAT(st[k], AnyOf(IsOk(), StatusCodeIs(StatusCode::kAborted)));
      if (st[k].ok()) {
        EXPECT_FALSE(resp[k].replayed());
        ASSERT_FALSE(resp[k].secret().empty());
        EXPECT_EQ(ToTime(resp[k].previous_secret_expire_time()),
                  refresh_time + absl::Hours(24));
        new_secrets.push_back(resp[k].secret());
      }
    }
    ASSERT_FALSE(new_secrets.empty()) << "neither refresh succeeded";

    // The original secret's overlap never extends past refresh + 24h.
    v1::ValidateTokenResponse v0 = Validate(h(), created.secret());
    if (v0.found() && v0.has_secret_expire_time()) {
      EXPECT_LE(ToTime(v0.secret_expire_time()),
                refresh_time + absl::Hours(24));
    }
    std::vector<std::string> all = new_secrets;
    all.push_back(created.secret());
    int working = 0;
    int current = 0;
    for (const std::string& s : all) {
      v1::ValidateTokenResponse v = Validate(h(), s);
      if (!WorksAt(v, Now())) continue;
      ++working;
      if (ToTime(v.secret_expire_time()) ==
          refresh_time + absl::Hours(24 * 30)) {
        ++current;
      }
    }
    EXPECT_LE(working, 2) << "more than current + one previous secret work";
    EXPECT_EQ(current, 1) << "exactly one secret is the current one";
    if (new_secrets.size() == 2) {
      ++both_succeeded;
      // Two refreshes: the original is two generations old and stops; both
      // new secrets work (current and previous).
      EXPECT_FALSE(WorksAt(v0, Now())) << "original survived two refreshes";
      EXPECT_EQ(working, 2);
    }
    EXPECT_EQ(
        CountActions(ListAllAuditEvents(h(), kAlice, kPlanA, id), "refresh"),
        static_cast<int>(new_secrets.size()));

    // After the overlap only the current secret is left.
    clock().Advance(absl::Hours(24) + absl::Seconds(1));
    int still_working = 0;
    for (const std::string& s : all) {
      if (WorksAt(Validate(h(), s), Now())) ++still_working;
    }
    EXPECT_EQ(still_working, 1);
    if (HasFailure()) break;
  }
  RecordProperty("both_refreshes_succeeded", both_succeeded);
}

TEST_F(RaceTest, ConcurrentRetriesOfOneRefreshIssueOneSecret) {
  for (int i = 0; i < kIterations; ++i) {
    SCOPED_TRACE(absl::StrCat("iteration ", i));
    v1::CreateTokenResponse created =
        MustCreate(h(), kAlice, MakeCreateRequest());
    ASSERT_FALSE(HasFailure());
    const std::string id = created.token().id();
    const std::string request_id = NewRequestId();

    grpc::Status st[3];
    v1::RefreshTokenResponse resp[3];
    std::vector<std::function<void()>> fns;
    for (int k = 0; k < 3; ++k) {
      fns.push_back([&, k] {
        st[k] = RefreshToken(h(), kAlice, kPlanA, id, request_id, &resp[k]);
      });
    }
    RunTogether(fns);

    int issued = 0;
    for (int k = 0; k < 3; ++k) {
      ASSERT_THAT(st[k], IsOk()) << "attempt " << k;
      EXPECT_EQ(resp[k].token().id(), id);
      if (resp[k].replayed()) {
        EXPECT_TRUE(resp[k].secret().empty());
      } else {
        ++issued;
        EXPECT_FALSE(resp[k].secret().empty());
      }
      EXPECT_EQ(ToTime(resp[k].token().expire_time()),
                ToTime(resp[0].token().expire_time()));
    }
    EXPECT_EQ(issued, 1) << "one request_id, one secret";
    EXPECT_EQ(
        CountActions(ListAllAuditEvents(h(), kAlice, kPlanA, id), "refresh"),
        1);
    if (HasFailure()) break;
  }
}

TEST_F(RaceTest, ConcurrentRetriesOfOneCreateMakeOneToken) {
  for (int i = 0; i < kIterations; ++i) {
    SCOPED_TRACE(absl::StrCat("iteration ", i));
    const int64_t before = CountRows(h(), "tokens");
    const v1::CreateTokenRequest req = MakeCreateRequest();
    grpc::Status st[3];
    v1::CreateTokenResponse resp[3];
    std::vector<std::function<void()>> fns;
    for (int k = 0; k < 3; ++k) {
      fns.push_back(
          [&, k] { st[k] = CreateToken(h(), kAlice, req, &resp[k]); });
    }
    RunTogether(fns);

    int issued = 0;
    for (int k = 0; k < 3; ++k) {
      ASSERT_THAT(st[k], IsOk()) << "attempt " << k;
      EXPECT_EQ(resp[k].token().id(), resp[0].token().id());
      if (!resp[k].replayed()) {
        ++issued;
        EXPECT_FALSE(resp[k].secret().empty());
      } else {
        EXPECT_TRUE(resp[k].secret().empty());
      }
    }
    EXPECT_EQ(issued, 1);
    EXPECT_EQ(CountRows(h(), "tokens"), before + 1);
    if (HasFailure()) break;
  }
}

TEST_F(RaceTest, ConcurrentRevokesAgreeOnOneRevocation) {
  for (int i = 0; i < kIterations; ++i) {
    SCOPED_TRACE(absl::StrCat("iteration ", i));
    v1::CreateTokenResponse created =
        MustCreate(h(), kAlice, MakeCreateRequest());
    ASSERT_FALSE(HasFailure());
    const std::string id = created.token().id();
    clock().Advance(absl::Seconds(1));
    grpc::Status st[2];
    v1::Token resp[2];
    RunTogether({
        [&] { st[0] = RevokeToken(h(), kAlice, kPlanA, id, &resp[0]); },
        [&] { st[1] = RevokeToken(h(), kAlice, kPlanA, id, &resp[1]); },
    });
    ASSERT_THAT(st[0], IsOk());
    ASSERT_THAT(st[1], IsOk());
    EXPECT_EQ(resp[0].status(), v1::TOKEN_STATUS_REVOKED);
    EXPECT_EQ(resp[1].status(), v1::TOKEN_STATUS_REVOKED);
    EXPECT_EQ(ToTime(resp[0].revoke_time()), ToTime(resp[1].revoke_time()));
    EXPECT_EQ(
        CountActions(ListAllAuditEvents(h(), kAlice, kPlanA, id), "revoke"), 1);
    ExpectRefusedAsRevoked(created.secret(), "original secret");
    if (HasFailure()) break;
  }
}

TEST_F(RaceTest, EditRacingRevokeCannotReviveTheToken) {
  for (int i = 0; i < kIterations; ++i) {
    SCOPED_TRACE(absl::StrCat("iteration ", i));
    v1::CreateTokenResponse created =
        MustCreate(h(), kAlice, MakeCreateRequest());
    ASSERT_FALSE(HasFailure());
    const std::string id = created.token().id();
    grpc::Status update_status;
    grpc::Status revoke_status;
    v1::Token updated;
    v1::Token revoked;
    v1::UpdateTokenRequest u = MakeUpdateRequest(kPlanA, id, {"scopes"});
    u.add_scopes("files:read");
    u.add_scopes("webhooks:write");
    RunTogether({
        [&] { update_status = UpdateToken(h(), kAlice, u, &updated); },
        [&] { revoke_status = RevokeToken(h(), kAlice, kPlanA, id, &revoked); },
    });
    ASSERT_THAT(revoke_status, IsOk());
    EXPECT_THAT(update_status,
                AnyOf(IsOk(), StatusCodeIs(StatusCode::kFailedPrecondition)));
    v1::Token now = MustGet(h(), kAlice, kPlanA, id);
    EXPECT_EQ(now.status(), v1::TOKEN_STATUS_REVOKED);
    EXPECT_TRUE(now.has_revoke_time());
    ExpectRefusedAsRevoked(created.secret(), "original secret");
    if (HasFailure()) break;
  }
}

}  // namespace
}  // namespace pat::testing
