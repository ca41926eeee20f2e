// ValidateToken from memory (issue #11, server/validate_memory.h), on real
// PostgreSQL: answers come from the replica's memory once warm, a change
// made on this replica is seen by its very next ValidateToken, a change made
// on another replica reaches this one's memory through the feed, and with
// the feed gone every lookup reads the database.

#include "server/validate_memory.h"

#include <atomic>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pat/v1/pat.grpc.pb.h"
#include "server/authority_config.h"
#include "server/authority_server.h"
#include "server/db_pool.h"
#include "server/grant_feed.h"
#include "server/pg_token_store.h"
#include "tests/support/fixtures.h"

namespace pat::testing {
namespace {

namespace v1 = ::pat::v1;

constexpr absl::Duration kWait = absl::Seconds(10);

constexpr char kMemory[] =
    "pat_authority_validate_lookups_total{source=\"memory\"}";
constexpr char kDatabase[] =
    "pat_authority_validate_lookups_total{source=\"database\"}";

v1::ValidateTokenResponse ValidateOn(v1::IntrospectionService::Stub& stub,
                                     absl::string_view secret) {
  v1::ValidateTokenRequest req;
  req.set_secret_sha256(SecretDigestBytes(secret));
  v1::ValidateTokenResponse resp;
  grpc::Status s =
      stub.ValidateToken(AuthorityHarness::Ctx("").get(), req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp;
}

class ValidateMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HarnessOptions options;
    options.metrics = true;
    ASSERT_NO_FATAL_FAILURE(harness_ = AuthorityHarness::Start(options));
    ASSERT_NE(harness_, nullptr);
    ASSERT_NO_FATAL_FAILURE(SeedWorld(*harness_));
  }
  AuthorityHarness& h() { return *harness_; }
  int64_t Hits() { return MetricValue(h().registry(), kMemory); }
  int64_t Reads() { return MetricValue(h().registry(), kDatabase); }

  // Validates `secret` until an answer comes from memory (the view has
  // applied the writes before it). False after kWait.
  bool WarmUntilServedFromMemory(absl::string_view secret) {
    const absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      const int64_t hits = Hits();
      Validate(h(), secret);
      if (Hits() > hits) return true;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  }

  std::unique_ptr<AuthorityHarness> harness_;
};

TEST_F(ValidateMemoryTest, WarmLookupsDoNotReadTheDatabase) {
  ASSERT_EQ(Hits(), 0);
  ASSERT_EQ(Reads(), 0);
  const v1::CreateTokenResponse created =
      MustCreate(h(), kAlice, MakeCreateRequest());
  ASSERT_FALSE(HasFailure());
  const v1::ValidateTokenResponse first = Validate(h(), created.secret());
  ASSERT_TRUE(first.found());
  EXPECT_EQ(Reads(), 1);
  ASSERT_TRUE(WarmUntilServedFromMemory(created.secret()));
  const int64_t reads = Reads();
  const int64_t hits = Hits();
  for (int i = 0; i < 50; ++i) {
    const v1::ValidateTokenResponse v = Validate(h(), created.secret());
    ASSERT_TRUE(v.found());
    EXPECT_EQ(v.SerializeAsString(), first.SerializeAsString())
        << "memory answered differently from the database";
  }
  EXPECT_EQ(Reads(), reads);
  EXPECT_EQ(Hits(), hits + 50);
  // Unknown digests are remembered too (a sidecar's cold miss costs one read).
  const std::string unknown = "figp_" + std::string(40, 'a');
  EXPECT_FALSE(Validate(h(), unknown).found());
  EXPECT_EQ(Reads(), reads + 1);
  ASSERT_TRUE(WarmUntilServedFromMemory(unknown));
  const int64_t warm_reads = Reads();
  EXPECT_FALSE(Validate(h(), unknown).found());
  EXPECT_EQ(Reads(), warm_reads);
}

// Read-your-writes: a revoke, an edit or a refresh that returned OK on this
// replica is what its next ValidateToken answers, with the old answer warm
// in memory. Repeated: the feed's event races with the next lookup.
TEST_F(ValidateMemoryTest, ChangesOnThisReplicaAreSeenByTheNextLookup) {
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    const v1::CreateTokenResponse created =
        MustCreate(h(), kAlice, MakeCreateRequest());
    ASSERT_FALSE(HasFailure());
    const std::string id = created.token().id();
    ASSERT_TRUE(WarmUntilServedFromMemory(created.secret()));

    v1::UpdateTokenRequest u = MakeUpdateRequest(kPlanA, id, {"scopes"});
    u.add_scopes("files:read");
    u.add_scopes("webhooks:write");
    MustUpdate(h(), kAlice, u);
    ASSERT_FALSE(HasFailure());
    v1::ValidateTokenResponse v = Validate(h(), created.secret());
    EXPECT_THAT(v.grant().scopes(), ::testing::UnorderedElementsAre(
                                        "files:read", "webhooks:write"));

    ASSERT_TRUE(WarmUntilServedFromMemory(created.secret()));
    const v1::RefreshTokenResponse refreshed =
        MustRefresh(h(), kAlice, kPlanA, id);
    ASSERT_FALSE(HasFailure());
    v = Validate(h(), created.secret());
    ASSERT_TRUE(v.found());
    EXPECT_EQ(ToTime(v.secret_expire_time()),
              ToTime(refreshed.previous_secret_expire_time()))
        << "the previous secret must end with its overlap at once";
    EXPECT_TRUE(Validate(h(), refreshed.secret()).found());

    ASSERT_TRUE(WarmUntilServedFromMemory(refreshed.secret()));
    MustRevoke(h(), kAlice, kPlanA, id);
    ASSERT_FALSE(HasFailure());
    EXPECT_EQ(Validate(h(), refreshed.secret()).grant().status(),
              v1::TOKEN_STATUS_REVOKED);
    EXPECT_EQ(Validate(h(), created.secret()).grant().status(),
              v1::TOKEN_STATUS_REVOKED);
  }
}

// A second replica on the same database: its changes reach this replica's
// memory by the feed (and only by it: this replica committed nothing).
TEST_F(ValidateMemoryTest, ChangesOnAnotherReplicaReachMemoryByTheFeed) {
  AuthorityConfig raw;
  raw.listen = "127.0.0.1:0";
  raw.database_url = h().db().url();
  raw.insecure = true;
  absl::StatusOr<AuthorityConfig> config = ValidateAuthorityConfig(raw);
  ASSERT_TRUE(config.ok()) << config.status();
  MetricsRegistry other_registry;
  AuthorityMetrics other_metrics(other_registry);
  absl::StatusOr<std::unique_ptr<AuthorityServer>> other =
      AuthorityServer::Create(*config, h().clock(), &other_metrics);
  ASSERT_TRUE(other.ok()) << other.status();
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*other)->port()),
                          grpc::InsecureChannelCredentials());
  auto other_tokens = v1::TokenService::NewStub(channel);
  auto other_introspection = v1::IntrospectionService::NewStub(channel);

  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    // Created on this replica, warm in its memory.
    const v1::CreateTokenResponse created =
        MustCreate(h(), kAlice, MakeCreateRequest());
    ASSERT_FALSE(HasFailure());
    ASSERT_TRUE(WarmUntilServedFromMemory(created.secret()));

    // Revoked on the other replica.
    v1::RevokeTokenRequest revoke;
    revoke.set_plan_id(kPlanA);
    revoke.set_token_id(created.token().id());
    v1::Token revoked;
    ASSERT_TRUE(
        other_tokens
            ->RevokeToken(AuthorityHarness::Ctx(kAlice).get(), revoke, &revoked)
            .ok());
    EXPECT_EQ(
        ValidateOn(*other_introspection, created.secret()).grant().status(),
        v1::TOKEN_STATUS_REVOKED);
    // This replica's memory learns it from the feed, within the bound.
    const absl::Time deadline = absl::Now() + kWait;
    v1::TokenStatus status = v1::TOKEN_STATUS_ACTIVE;
    while (absl::Now() < deadline) {
      status = Validate(h(), created.secret()).grant().status();
      if (status == v1::TOKEN_STATUS_REVOKED) break;
      absl::SleepFor(absl::Milliseconds(5));
    }
    ASSERT_EQ(status, v1::TOKEN_STATUS_REVOKED);
    // And from then on never answers otherwise, from memory.
    ASSERT_TRUE(WarmUntilServedFromMemory(created.secret()));
    for (int i = 0; i < 20; ++i) {
      EXPECT_EQ(Validate(h(), created.secret()).grant().status(),
                v1::TOKEN_STATUS_REVOKED);
    }
  }
  (*other)->Shutdown(absl::Seconds(1));
  (*other)->Wait();
}

TEST_F(ValidateMemoryTest, OffReadsTheDatabaseEveryTime) {
  HarnessOptions options;
  options.metrics = true;
  options.validate_memory_entries = 0;
  std::unique_ptr<AuthorityHarness> off;
  ASSERT_NO_FATAL_FAILURE(off = AuthorityHarness::Start(options));
  ASSERT_NE(off, nullptr);
  ASSERT_NO_FATAL_FAILURE(SeedWorld(*off));
  const v1::CreateTokenResponse created =
      MustCreate(*off, kAlice, MakeCreateRequest());
  ASSERT_FALSE(HasFailure());
  for (int i = 0; i < 5; ++i) {
    const v1::ValidateTokenResponse v = Validate(*off, created.secret());
    EXPECT_TRUE(v.found());
    // The database read's head, not "unknown" (used-only sidecars need it).
    EXPECT_GT(v.revision(), 0);
  }
  EXPECT_EQ(MetricValue(off->registry(), kMemory), 0);
  EXPECT_EQ(MetricValue(off->registry(), kDatabase), 0);
}

// ValidateMemory over its own hub and loader: a stale read is never kept,
// and once the hub stops every lookup reads the database.
class ValidateMemoryUnitTest : public SeededAuthorityTest {};

TEST_F(ValidateMemoryUnitTest, StaleReadsAreNotKeptAndAStoppedFeedFallsBack) {
  const v1::CreateTokenResponse created =
      MustCreate(h(), kAlice, MakeCreateRequest());
  ASSERT_FALSE(HasFailure());
  absl::StatusOr<std::unique_ptr<DbPool>> pool =
      DbPool::Create(h().db().url(), 2, absl::Seconds(5));
  ASSERT_TRUE(pool.ok()) << pool.status();
  absl::StatusOr<std::unique_ptr<PgTokenStore>> store =
      PgTokenStore::Create(**pool);
  ASSERT_TRUE(store.ok()) << store.status();
  FeedHubOptions hub_options;
  hub_options.database_url = h().db().url();
  absl::StatusOr<std::unique_ptr<FeedHub>> hub =
      FeedHub::Start(hub_options, h().clock());
  ASSERT_TRUE(hub.ok()) << hub.status();
  std::atomic<int> loads{0};
  std::atomic<int64_t> head_shift{0};
  absl::StatusOr<std::unique_ptr<ValidateMemory>> memory =
      ValidateMemory::Start(
          {},
          [&](const Digest& digest) -> absl::StatusOr<SecretAtHead> {
            loads.fetch_add(1);
            absl::StatusOr<SecretAtHead> read =
                (*store)->LookupSecretWithHead(digest);
            if (read.ok()) read->head += head_shift.load();
            return read;
          },
          [] { return int64_t{0}; }, **hub);
  ASSERT_TRUE(memory.ok()) << memory.status();
  const Digest digest = Sha256(created.secret());
  // The read reflects the feed head: the token's create is in it.
  absl::StatusOr<SecretAtHead> direct = (*store)->LookupSecretWithHead(digest);
  ASSERT_TRUE(direct.ok());
  ASSERT_TRUE(direct->lookup.has_value());
  EXPECT_EQ(direct->lookup->token.id, created.token().id());
  EXPECT_GE(direct->head, 1);
  EXPECT_EQ(direct->head, (*memory)->view().applied());

  // A read stamped below the applied revision is answered but not kept.
  head_shift.store(-1);
  ASSERT_TRUE((*memory)->LookupSecret(digest).ok());
  ASSERT_TRUE((*memory)->LookupSecret(digest).ok());
  EXPECT_EQ(loads.load(), 2);
  EXPECT_FALSE((*memory)->view().Find(digest).has_value());

  // A read at the head is kept and served.
  head_shift.store(0);
  ASSERT_TRUE((*memory)->LookupSecret(digest).ok());
  EXPECT_EQ(loads.load(), 3);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*memory)->LookupSecret(digest).ok());
  EXPECT_EQ(loads.load(), 3);

  // The feed stops: no answer from memory any more.
  (*hub)->Stop();
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline) {
    const int before = loads.load();
    ASSERT_TRUE((*memory)->LookupSecret(digest).ok());
    if (loads.load() > before) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  const int after_stop = loads.load();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*memory)->LookupSecret(digest).ok());
  EXPECT_EQ(loads.load(), after_stop + 5);
  memory->reset();
}

}  // namespace
}  // namespace pat::testing
