// The used-only cache mode end to end (docs/cache-modes.md): real HTTP
// through an in-process sidecar with --cache_mode=used to a real authority
// on PostgreSQL. Start-up holds no grant; a token's first request costs one
// ValidateToken; revoke, edit and refresh reach a held token through the
// feed, and a token not held is answered by the authority as it is now.

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_support.h"

namespace pat::testing {
namespace {

constexpr absl::Duration kBound = absl::Seconds(5);
constexpr char kFileA1[] = "/v1/files/FILEA1";

class UsedCacheE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SidecarStackOptions options;
    options.cache_mode = "used";
    env_ = E2eEnv::Start(options);
    ASSERT_NE(env_, nullptr);
  }
  E2eEnv& env() { return *env_; }
  uint64_t Validations() {
    return env()
        .sidecar()
        .metrics()
        .GetCounter("pat_sidecar_authority_rpcs_total", "",
                    {{"method", "ValidateToken"}})
        .value();
  }
  // Polls until `secret` gets `status` (bounded by kBound).
  bool EventuallyStatus(const std::string& secret, int status) {
    const absl::Time deadline = absl::Now() + kBound;
    while (absl::Now() < deadline) {
      if (env().Get(kFileA1, secret).status == status) return true;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return false;
  }
  std::unique_ptr<E2eEnv> env_;
};

TEST_F(UsedCacheE2eTest, HeldAndUnheldTokensFollowTheAuthority) {
  std::vector<IssuedToken> tokens;
  for (int i = 0; i < 20; ++i) tokens.push_back(env().Create({"files:read"}));
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(env().sidecar().grants().size(), 0u);

  const IssuedToken& held = tokens[0];
  const uint64_t before = Validations();
  ExpectForwarded(env().Get(kFileA1, held.secret));
  ExpectForwarded(env().Get(kFileA1, held.secret));
  EXPECT_EQ(Validations(), before + 1) << "one ValidateToken per token";
  EXPECT_EQ(env().sidecar().grants().size(), 1u);

  // Edit of the held token: reaches it through the feed.
  v1::UpdateTokenRequest u = MakeUpdateRequest(kPlanA, held.id, {"scopes"});
  u.add_scopes("webhooks:write");
  MustUpdate(env().h(), kAlice, u);
  ASSERT_FALSE(HasFailure());
  EXPECT_TRUE(EventuallyStatus(held.secret, 403));
  ExpectDenied(env().Get(kFileA1, held.secret), 403, "scope_missing");

  // Revoke of the held token and of one never presented.
  const IssuedToken& cold = tokens[1];
  MustRevoke(env().h(), kAlice, kPlanA, held.id);
  MustRevoke(env().h(), kAlice, kPlanA, cold.id);
  ASSERT_FALSE(HasFailure());
  EXPECT_TRUE(EventuallyStatus(held.secret, 401));
  ExpectDenied(env().Get(kFileA1, held.secret), 401, "token_revoked");
  ExpectDenied(env().Get(kFileA1, cold.secret), 401, "token_revoked");

  // Refresh of a held token: the new secret is held from the event.
  const IssuedToken& warm = tokens[2];
  ExpectForwarded(env().Get(kFileA1, warm.secret));
  const v1::RefreshTokenResponse refreshed =
      MustRefresh(env().h(), kAlice, kPlanA, warm.id);
  ASSERT_FALSE(HasFailure());
  EXPECT_TRUE(EventuallyStatus(refreshed.secret(), 200));
  ExpectForwarded(env().Get(kFileA1, warm.secret));  // in its overlap
  const uint64_t after_refresh = Validations();
  ExpectForwarded(env().Get(kFileA1, refreshed.secret()));
  EXPECT_EQ(Validations(), after_refresh);

  // A restarted sidecar starts empty and serves the same answers.
  SidecarStackOptions options;
  options.cache_mode = "used";
  std::unique_ptr<SidecarStack> restarted =
      SidecarStack::Start(env().h(), options);
  ASSERT_NE(restarted, nullptr);
  EXPECT_EQ(restarted->grants().size(), 0u);
  EXPECT_EQ(HttpGet(restarted->port(), kFileA1, Bearer(held.secret)).status,
            401);
  EXPECT_EQ(
      HttpGet(restarted->port(), kFileA1, Bearer(tokens[5].secret)).status,
      200);
}

}  // namespace
}  // namespace pat::testing
