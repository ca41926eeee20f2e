// The used-only cache mode (--cache_mode=used, docs/cache-modes.md) over real
// gRPC against the scripted authority (fake_authority.h): start-up reads the
// directory only; a token's first request costs one ValidateToken; events
// update held tokens at once and are only recorded for others; an answer an
// event may have changed is never used; the held set is bounded; a resync
// drops what was held.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/secret.h"
#include "gtest/gtest.h"
#include "tests/sidecar/fake_authority.h"

namespace pat::sidecar {
namespace {

using ::pat::sidecar::testing::GrantSpec;
using ::pat::sidecar::testing::Harness;
using ::pat::sidecar::testing::kStart;
using ::pat::sidecar::testing::MakeGrant;
using ::pat::sidecar::testing::MakeResource;

const absl::Time kFar = kStart + absl::Hours(24 * 90);

Harness::Options UsedMode(int64_t max_grants = 50000) {
  Harness::Options o;
  o.cache_mode = "used";
  o.cache_max_grants = max_grants;
  return o;
}

std::string NewSecret() { return GenerateSecret(TokenKind::kRestApi); }

void ExpectDenied(const AuthzResult& r, int status, absl::string_view reason) {
  EXPECT_FALSE(r.allowed());
  EXPECT_EQ(r.http_status, status)
      << policy::ReasonCode(r.reason) << " " << r.message;
  EXPECT_EQ(policy::ReasonCode(r.reason), reason) << r.message;
}

void ExpectAllowed(const AuthzResult& r) {
  EXPECT_TRUE(r.allowed()) << policy::ReasonCode(r.reason) << " " << r.message;
}

class UsedCacheTest : public ::testing::Test {
 protected:
  UsedCacheTest() : h(UsedMode()) {
    h.fake.PutResource(MakeResource("plan_1", v1::RESOURCE_KIND_FILE, "KEY1"));
  }
  int64_t Put(const GrantSpec& spec, const std::string& secret) {
    return h.fake.PutGrant(MakeGrant(spec), {{secret, kFar}});
  }
  uint64_t Counter(absl::string_view name) { return h.CounterValue(name); }
  Harness h;
};

TEST_F(UsedCacheTest, StartsFromTheDirectoryAloneAndFetchesOnFirstUse) {
  std::vector<std::string> secrets;
  for (int i = 0; i < 50; ++i) {
    secrets.push_back(NewSecret());
    Put(GrantSpec().Id(absl::StrCat("tok_", i)), secrets.back());
  }
  h.StartSynced();
  EXPECT_EQ(h.fake.directory_only_requests(), 1);
  EXPECT_EQ(h.grants->size(), 0u) << "no grant is held before it is used";
  EXPECT_EQ(h.directory->size(), 1u) << "the directory is in the snapshot";
  ExpectAllowed(h.Bearer(secrets[7]));
  EXPECT_EQ(h.fake.validate_calls(), 1);
  ExpectAllowed(h.Bearer(secrets[7]));
  ExpectAllowed(h.Bearer(secrets[7]));
  EXPECT_EQ(h.fake.validate_calls(), 1) << "a held token costs nothing";
  EXPECT_EQ(h.grants->size(), 1u);
}

TEST_F(UsedCacheTest, EventsChangeAHeldTokenAtOnce) {
  const std::string secret = NewSecret();
  GrantSpec spec = GrantSpec().Id("tok_h").Scopes({"file_content:read"});
  Put(spec, secret);
  h.fake.PutResource(MakeResource("plan_1", v1::RESOURCE_KIND_PROJECT, "P1"));
  h.StartSynced();
  ExpectAllowed(h.Bearer(secret));
  ASSERT_EQ(h.fake.validate_calls(), 1);

  // Edit: scopes.
  spec.scopes = {"projects:read"};
  ASSERT_TRUE(h.WaitRevision(Put(spec, secret)));
  ExpectDenied(h.Bearer(secret), 403, "scope_missing");
  ExpectAllowed(h.Bearer(secret, "/v1/projects/P1/files"));

  // Refresh: the event lists the new secret, held at once.
  const std::string next = NewSecret();
  ASSERT_TRUE(h.WaitRevision(h.fake.PutGrant(
      MakeGrant(spec), {{secret, kStart + absl::Hours(24)}, {next, kFar}})));
  ExpectAllowed(h.Bearer(next, "/v1/projects/P1/files"));
  ExpectAllowed(h.Bearer(secret, "/v1/projects/P1/files"));

  // Revoke: every secret at once.
  spec.status = v1::TOKEN_STATUS_REVOKED;
  ASSERT_TRUE(h.WaitRevision(h.fake.PutGrant(
      MakeGrant(spec), {{secret, kStart + absl::Hours(24)}, {next, kFar}})));
  ExpectDenied(h.Bearer(secret, "/v1/projects/P1/files"), 401, "token_revoked");
  ExpectDenied(h.Bearer(next, "/v1/projects/P1/files"), 401, "token_revoked");
  EXPECT_EQ(h.fake.validate_calls(), 1) << "held: no ValidateToken at all";
  EXPECT_EQ(Counter("pat_sidecar_cache_events_not_held_total"), 0u);
}

TEST_F(UsedCacheTest, EventsForTokensNotHeldAreRecordedNotApplied) {
  const std::string secret = NewSecret();
  GrantSpec spec = GrantSpec().Id("tok_n");
  Put(spec, secret);
  h.StartSynced();
  spec.status = v1::TOKEN_STATUS_REVOKED;
  ASSERT_TRUE(h.WaitRevision(Put(spec, secret)));
  EXPECT_EQ(h.grants->size(), 0u);
  EXPECT_EQ(Counter("pat_sidecar_cache_events_not_held_total"), 1u);
  ExpectDenied(h.Bearer(secret), 401, "token_revoked");
  EXPECT_EQ(h.fake.validate_calls(), 1);
  ExpectDenied(h.Bearer(secret), 401, "token_revoked");
  EXPECT_EQ(h.fake.validate_calls(), 1) << "the revoked answer is held";
}

// The race the ledger exists for: the authority answered from a state taken
// before a revoke whose event the sidecar has already applied (and, not
// holding the token, ignored). The answer is asked again, never used.
TEST_F(UsedCacheTest, AnAnswerOlderThanAnEventForItsTokenIsNeverUsed) {
  const std::string secret = NewSecret();
  GrantSpec spec = GrantSpec().Id("tok_race");
  const int64_t created = Put(spec, secret);
  h.StartSynced();
  // The authority still answers "active as of `created`" ...
  h.fake.SetValidateAnswer(secret, MakeGrant(spec), kFar);
  h.fake.PinValidateRevision(created);
  // ... while the revoke's event has reached the sidecar.
  GrantSpec revoked = spec;
  revoked.status = v1::TOKEN_STATUS_REVOKED;
  ASSERT_TRUE(h.WaitRevision(Put(revoked, secret)));
  const AuthzResult r = h.Bearer(secret);
  ExpectDenied(r, 503, "authority_unavailable");
  EXPECT_EQ(h.fake.validate_calls(), PatAuthorizer::kAnswerAttempts);
  EXPECT_EQ(Counter("pat_sidecar_cache_answers_asked_again_total"),
            static_cast<uint64_t>(PatAuthorizer::kAnswerAttempts));
  EXPECT_EQ(h.grants->size(), 0u);

  // An answer as old, for a token no later event touched, is kept.
  const std::string quiet = NewSecret();
  GrantSpec other = GrantSpec().Id("tok_quiet");
  h.fake.SetValidateAnswer(quiet, MakeGrant(other), kFar);
  ExpectAllowed(h.Bearer(quiet));
  EXPECT_EQ(h.grants->size(), 1u);

  // Once the authority has caught up, the revoke is what is answered.
  h.fake.PinValidateRevision(-1);
  h.fake.SetValidateAnswer(secret, MakeGrant(revoked), kFar);
  ExpectDenied(h.Bearer(secret), 401, "token_revoked");
}

TEST_F(UsedCacheTest, UnknownDigestsAreForgottenWhenAnEventNamesThem) {
  const std::string secret = NewSecret();
  h.StartSynced();
  ExpectDenied(h.Bearer(secret), 401, "token_unknown");
  ExpectDenied(h.Bearer(secret), 401, "token_unknown");
  EXPECT_EQ(h.fake.validate_calls(), 1) << "unknown is remembered";
  // The token is created (not held: only the unknown entry goes).
  ASSERT_TRUE(h.WaitRevision(Put(GrantSpec().Id("tok_new"), secret)));
  EXPECT_EQ(h.grants->negative_size(), 0u);
  ExpectAllowed(h.Bearer(secret));
  EXPECT_EQ(h.fake.validate_calls(), 2);
}

TEST(UsedCacheBoundTest, HeldGrantsStayWithinTheBound) {
  Harness h(UsedMode(/*max_grants=*/8));
  h.fake.PutResource(MakeResource("plan_1", v1::RESOURCE_KIND_FILE, "KEY1"));
  std::vector<std::string> secrets;
  for (int i = 0; i < 40; ++i) {
    secrets.push_back(NewSecret());
    h.fake.PutGrant(MakeGrant(GrantSpec().Id(absl::StrCat("tok_", i))),
                    {{secrets.back(), kFar}});
  }
  h.StartSynced();
  for (const std::string& s : secrets) {
    ExpectAllowed(h.Bearer(s));
    EXPECT_LE(h.grants->size(), 8u);
  }
  EXPECT_EQ(h.CounterValue("pat_sidecar_cache_evictions_total"), 32u);
  // Evicted ones are fetched again.
  for (const std::string& s : secrets) ExpectAllowed(h.Bearer(s));
  EXPECT_GT(h.fake.validate_calls(), 40);
}

TEST_F(UsedCacheTest, AResyncDropsEverythingHeld) {
  const std::string secret = NewSecret();
  GrantSpec spec = GrantSpec().Id("tok_g");
  Put(spec, secret);
  h.StartSynced();
  ExpectAllowed(h.Bearer(secret));
  ASSERT_EQ(h.grants->size(), 1u);
  // A revoke lost on the open stream, then an event that shows the gap.
  GrantSpec revoked = spec;
  revoked.status = v1::TOKEN_STATUS_REVOKED;
  h.fake.PutGrant(MakeGrant(revoked), {{secret, kFar}}, /*deliver=*/false);
  const int64_t after = h.fake.PutResource(
      MakeResource("plan_1", v1::RESOURCE_KIND_FILE, "KEY2"));
  ASSERT_TRUE(testing::WaitFor([&] { return h.watcher->resyncs() >= 1; }));
  ASSERT_TRUE(h.WaitRevision(after));
  ASSERT_TRUE(testing::WaitFor([&] { return h.grants->size() == 0; }));
  EXPECT_EQ(h.fake.directory_only_requests(), 2);
  ExpectDenied(h.Bearer(secret), 401, "token_revoked");
  EXPECT_EQ(h.fake.validate_calls(), 2);
}

}  // namespace
}  // namespace pat::sidecar
