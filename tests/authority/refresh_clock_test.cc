// R9 on a fake clock: the new expiration, the previous secret's 24-hour
// overlap, idempotent retries, and the "current + one previous" rule.

#include <string>

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

class RefreshClockTest : public SeededAuthorityTest {
 protected:
  // A 30-day REST token of plan A.
  v1::CreateTokenResponse Create(int days = 30) {
    v1::CreateTokenRequest req = MakeCreateRequest();
    req.set_expires_in_days(days);
    return MustCreate(h(), kAlice, req);
  }
  // The secret is presented and accepted now.
  void ExpectWorks(const std::string& secret, absl::Time secret_end) {
    v1::ValidateTokenResponse v = Validate(h(), secret);
    EXPECT_TRUE(v.found());
    EXPECT_EQ(v.grant().status(), v1::TOKEN_STATUS_ACTIVE);
    EXPECT_EQ(ToTime(v.secret_expire_time()), secret_end);
    EXPECT_TRUE(WorksAt(v, Now()));
  }
  // The secret is past its own end: the authority no longer knows it.
  void ExpectGone(const std::string& secret) {
    v1::ValidateTokenResponse v = Validate(h(), secret);
    EXPECT_FALSE(v.found())
        << "secret past its end still found, grant status "
        << v1::TokenStatus_Name(v.grant().status()) << ", secret_expire_time "
        << ToTime(v.secret_expire_time());
    EXPECT_FALSE(WorksAt(v, Now()));
  }
};

TEST_F(RefreshClockTest, PreviousSecretWorksForTwentyFourHours) {
  v1::CreateTokenResponse created = Create();
  ASSERT_FALSE(HasFailure());
  const std::string id = created.token().id();
  const std::string s0 = created.secret();
  ExpectWorks(s0, Now() + absl::Hours(24 * 30));

  clock().Advance(absl::Hours(24 * 5));
  const absl::Time t1 = Now();
  v1::RefreshTokenResponse r1 = MustRefresh(h(), kAlice, kPlanA, id);
  ASSERT_FALSE(HasFailure());
  const std::string s1 = r1.secret();
  ASSERT_FALSE(s1.empty());
  EXPECT_NE(s1, s0);
  EXPECT_EQ(ToTime(r1.token().expire_time()), t1 + absl::Hours(24 * 30));
  EXPECT_EQ(ToTime(r1.token().last_refresh_time()), t1);
  EXPECT_EQ(ToTime(r1.previous_secret_expire_time()), t1 + absl::Hours(24));
  EXPECT_EQ(ToTime(r1.token().create_time()),
            ToTime(created.token().create_time()));

  ExpectWorks(s0, t1 + absl::Hours(24));
  ExpectWorks(s1, t1 + absl::Hours(24 * 30));

  clock().Set(t1 + absl::Hours(23) + absl::Minutes(59));
  ExpectWorks(s0, t1 + absl::Hours(24));
  ExpectWorks(s1, t1 + absl::Hours(24 * 30));

  clock().Set(t1 + absl::Hours(24) - absl::Seconds(1));
  ExpectWorks(s0, t1 + absl::Hours(24));

  clock().Set(t1 + absl::Hours(24) + absl::Seconds(1));
  ExpectGone(s0);
  ExpectWorks(s1, t1 + absl::Hours(24 * 30));
  EXPECT_EQ(MustGet(h(), kAlice, kPlanA, id).status(), v1::TOKEN_STATUS_ACTIVE);

  // The new secret lives until the new expiration.
  clock().Set(t1 + absl::Hours(24 * 30) - absl::Seconds(1));
  ExpectWorks(s1, t1 + absl::Hours(24 * 30));
  clock().Set(t1 + absl::Hours(24 * 30));
  v1::ValidateTokenResponse v = Validate(h(), s1);
  EXPECT_EQ(v.grant().status(), v1::TOKEN_STATUS_EXPIRED);
  EXPECT_FALSE(WorksAt(v, Now()));
  EXPECT_EQ(MustGet(h(), kAlice, kPlanA, id).status(),
            v1::TOKEN_STATUS_EXPIRED);
}

TEST_F(RefreshClockTest, RetriedRefreshReplaysWithoutNewSecret) {
  v1::CreateTokenResponse created = Create();
  ASSERT_FALSE(HasFailure());
  const std::string id = created.token().id();
  clock().Advance(absl::Hours(24 * 3));
  const absl::Time t1 = Now();

  const std::string request_id = NewRequestId();
  v1::RefreshTokenResponse r1;
  ASSERT_THAT(RefreshToken(h(), kAlice, kPlanA, id, request_id, &r1), IsOk());
  ASSERT_FALSE(r1.replayed());
  ASSERT_FALSE(r1.secret().empty());

  // The client lost the answer and retries later.
  for (absl::Duration later : {absl::Seconds(1), absl::Hours(1)}) {
    clock().Set(t1 + later);
    v1::RefreshTokenResponse retry;
    ASSERT_THAT(RefreshToken(h(), kAlice, kPlanA, id, request_id, &retry),
                IsOk());
    EXPECT_TRUE(retry.replayed());
    EXPECT_TRUE(retry.secret().empty());
    EXPECT_EQ(retry.token().id(), id);
    // The retry did not refresh again: times are those of the first call.
    EXPECT_EQ(ToTime(retry.token().expire_time()), t1 + absl::Hours(24 * 30));
    EXPECT_EQ(ToTime(retry.token().last_refresh_time()), t1);
    EXPECT_EQ(ToTime(retry.previous_secret_expire_time()),
              t1 + absl::Hours(24));
  }
  EXPECT_EQ(
      CountActions(ListAllAuditEvents(h(), kAlice, kPlanA, id), "refresh"), 1);
  // Still exactly the original and the one new secret.
  ExpectWorks(created.secret(), t1 + absl::Hours(24));
  ExpectWorks(r1.secret(), t1 + absl::Hours(24 * 30));
  EXPECT_EQ(ToTime(MustGet(h(), kAlice, kPlanA, id).expire_time()),
            t1 + absl::Hours(24 * 30));
}

TEST_F(RefreshClockTest, SecondRefreshEndsTheFirstSecretImmediately) {
  v1::CreateTokenResponse created = Create();
  ASSERT_FALSE(HasFailure());
  const std::string id = created.token().id();
  const std::string s0 = created.secret();

  clock().Advance(absl::Hours(1));
  const absl::Time t1 = Now();
  v1::RefreshTokenResponse r1 = MustRefresh(h(), kAlice, kPlanA, id);
  clock().Advance(absl::Hours(1));
  const absl::Time t2 = Now();
  v1::RefreshTokenResponse r2 = MustRefresh(h(), kAlice, kPlanA, id);
  ASSERT_FALSE(HasFailure());
  const std::string s1 = r1.secret();
  const std::string s2 = r2.secret();
  EXPECT_NE(s2, s1);
  EXPECT_NE(s2, s0);
  EXPECT_EQ(ToTime(r2.previous_secret_expire_time()), t2 + absl::Hours(24));

  // s0 was within its overlap (until t1 + 24h) but is now two generations
  // old: it stops at once.
  EXPECT_FALSE(WorksAt(Validate(h(), s0), Now()));
  ExpectWorks(s1, t2 + absl::Hours(24));
  ExpectWorks(s2, t2 + absl::Hours(24 * 30));
  clock().Advance(absl::Seconds(1));
  ExpectGone(s0);

  // s1's overlap runs from the second refresh, not the first.
  clock().Set(t1 + absl::Hours(24) + absl::Seconds(1));
  ExpectWorks(s1, t2 + absl::Hours(24));
  clock().Set(t2 + absl::Hours(24) + absl::Seconds(1));
  ExpectGone(s1);
  ExpectGone(s0);
  ExpectWorks(s2, t2 + absl::Hours(24 * 30));
}

TEST_F(RefreshClockTest, NewExpirationIsRefreshTimePlusOriginalLifetime) {
  v1::CreateTokenResponse created = Create(/*days=*/1);
  ASSERT_FALSE(HasFailure());
  const std::string id = created.token().id();
  const absl::Time t0 = Now();

  clock().Set(t0 + absl::Hours(23));
  v1::RefreshTokenResponse r1 = MustRefresh(h(), kAlice, kPlanA, id);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(ToTime(r1.token().expire_time()), t0 + absl::Hours(47));
  EXPECT_EQ(r1.token().lifetime_days(), 1);

  // Past the original expiration: still active thanks to the refresh.
  clock().Set(t0 + absl::Hours(24) + absl::Seconds(1));
  EXPECT_EQ(MustGet(h(), kAlice, kPlanA, id).status(), v1::TOKEN_STATUS_ACTIVE);
  ExpectWorks(r1.secret(), t0 + absl::Hours(47));
  // The previous secret's 24 hours run from the refresh.
  ExpectWorks(created.secret(), t0 + absl::Hours(47));

  // The lifetime stays the original one on the next refresh too.
  clock().Set(t0 + absl::Hours(46));
  v1::RefreshTokenResponse r2 = MustRefresh(h(), kAlice, kPlanA, id);
  EXPECT_EQ(ToTime(r2.token().expire_time()), t0 + absl::Hours(70));
  EXPECT_EQ(r2.token().lifetime_days(), 1);
}

TEST_F(RefreshClockTest, NoRefreshFromTheExpirationInstantOn) {
  v1::CreateTokenResponse created = Create(/*days=*/2);
  ASSERT_FALSE(HasFailure());
  const std::string id = created.token().id();
  const absl::Time expire_time = ToTime(created.token().expire_time());

  clock().Set(expire_time);
  v1::RefreshTokenResponse resp;
  EXPECT_THAT(RefreshToken(h(), kAlice, kPlanA, id, NewRequestId(), &resp),
              StatusCodeIs(StatusCode::kFailedPrecondition));
  EXPECT_EQ(MustGet(h(), kAlice, kPlanA, id).status(),
            v1::TOKEN_STATUS_EXPIRED);
  EXPECT_EQ(
      CountActions(ListAllAuditEvents(h(), kAlice, kPlanA, id), "refresh"), 0);

  // One second earlier it would still have worked (fresh token).
  v1::CreateTokenResponse other = Create(/*days=*/2);
  clock().Set(ToTime(other.token().expire_time()) - absl::Seconds(1));
  EXPECT_THAT(RefreshToken(h(), kAlice, kPlanA, other.token().id(),
                           NewRequestId(), &resp),
              IsOk());
}

TEST_F(RefreshClockTest, RevokeEndsTheOverlapAtOnce) {
  v1::CreateTokenResponse created = Create();
  ASSERT_FALSE(HasFailure());
  const std::string id = created.token().id();
  clock().Advance(absl::Hours(2));
  v1::RefreshTokenResponse r1 = MustRefresh(h(), kAlice, kPlanA, id);
  clock().Advance(absl::Hours(1));
  MustRevoke(h(), kAlice, kPlanA, id);
  ASSERT_FALSE(HasFailure());

  for (absl::Duration later :
       {absl::ZeroDuration(), absl::Hours(1), absl::Hours(25)}) {
    clock().Advance(later);
    for (const std::string& secret : {created.secret(), r1.secret()}) {
      v1::ValidateTokenResponse v = Validate(h(), secret);
      EXPECT_FALSE(WorksAt(v, Now()));
      if (v.found()) {
        EXPECT_EQ(v.grant().status(), v1::TOKEN_STATUS_REVOKED);
      }
    }
  }
}

}  // namespace
}  // namespace pat::testing
