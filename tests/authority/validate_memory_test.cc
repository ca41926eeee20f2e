// ValidateToken from memory (issue #11, server/validate_memory.h), on real
// PostgreSQL: answers come from the replica's memory once warm, a change
// made on this replica is seen by its very next ValidateToken, a change made
// on another replica reaches this one's memory through the feed, and with
// the feed gone every lookup reads the database.

#include "server/validate_memory.h"

#include <atomic>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
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
          [&](absl::Span<const Digest> digests)
              -> absl::StatusOr<std::vector<SecretAtHead>> {
            loads.fetch_add(1);
            absl::StatusOr<std::vector<SecretAtHead>> read =
                (*store)->LookupSecretsWithHead(digests);
            if (read.ok()) {
              for (SecretAtHead& a : *read) a.head += head_shift.load();
            }
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

// One statement for many digests: each answered with its own token (or
// none), duplicates included, all at the same head, equal to the
// single-digest read; the length bounds.
TEST_F(ValidateMemoryUnitTest, BatchedLookupAnswersEachDigestAtOneHead) {
  const v1::CreateTokenResponse a =
      MustCreate(h(), kAlice, MakeCreateRequest());
  const v1::CreateTokenResponse b =
      MustCreate(h(), kAlice, MakeCreateRequest());
  ASSERT_FALSE(HasFailure());
  absl::StatusOr<std::unique_ptr<DbPool>> pool =
      DbPool::Create(h().db().url(), 2, absl::Seconds(5));
  ASSERT_TRUE(pool.ok()) << pool.status();
  absl::StatusOr<std::unique_ptr<PgTokenStore>> store =
      PgTokenStore::Create(**pool);
  ASSERT_TRUE(store.ok()) << store.status();
  const Digest da = Sha256(a.secret());
  const Digest db = Sha256(b.secret());
  const Digest unknown = Sha256("figp_" + std::string(40, 'z'));
  const std::vector<Digest> digests = {da, unknown, db, da};
  absl::StatusOr<std::vector<SecretAtHead>> read =
      (*store)->LookupSecretsWithHead(digests);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 4u);
  ASSERT_TRUE((*read)[0].lookup.has_value());
  EXPECT_EQ((*read)[0].lookup->token.id, a.token().id());
  EXPECT_FALSE((*read)[1].lookup.has_value());
  ASSERT_TRUE((*read)[2].lookup.has_value());
  EXPECT_EQ((*read)[2].lookup->token.id, b.token().id());
  ASSERT_TRUE((*read)[3].lookup.has_value());
  EXPECT_EQ((*read)[3].lookup->token.id, a.token().id());
  for (const SecretAtHead& r : *read) EXPECT_EQ(r.head, (*read)[0].head);
  EXPECT_GE((*read)[0].head, 2);
  absl::StatusOr<SecretAtHead> single = (*store)->LookupSecretWithHead(db);
  ASSERT_TRUE(single.ok());
  ASSERT_TRUE(single->lookup.has_value());
  EXPECT_EQ(single->head, (*read)[0].head);
  EXPECT_EQ(single->lookup->token.scopes, (*read)[2].lookup->token.scopes);
  EXPECT_EQ(single->lookup->secret_valid_until,
            (*read)[2].lookup->secret_valid_until);
  // Only unknown digests: one row of nulls, the head still read.
  absl::StatusOr<std::vector<SecretAtHead>> none =
      (*store)->LookupSecretsWithHead(std::vector<Digest>{unknown, unknown});
  ASSERT_TRUE(none.ok()) << none.status();
  ASSERT_EQ(none->size(), 2u);
  EXPECT_FALSE((*none)[0].lookup.has_value());
  EXPECT_FALSE((*none)[1].lookup.has_value());
  EXPECT_EQ((*none)[0].head, (*read)[0].head);
  EXPECT_EQ((*store)->LookupSecretsWithHead({}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*store)
                ->LookupSecretsWithHead(std::vector<Digest>(
                    PgTokenStore::kMaxSecretsPerRead + 1, da))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// Misses that wait together are read in batches (memory off: every call is
// a miss): under 24 concurrent callers every answer is the caller's own
// token, or found=false for a digest no token has, and every call was
// answered by a batched read.
TEST_F(ValidateMemoryTest, ConcurrentMissesAreBatchedEachAnsweredWithItsOwn) {
  HarnessOptions options;
  options.metrics = true;
  options.validate_memory_entries = 0;
  std::unique_ptr<AuthorityHarness> off;
  ASSERT_NO_FATAL_FAILURE(off = AuthorityHarness::Start(options));
  ASSERT_NE(off, nullptr);
  ASSERT_NO_FATAL_FAILURE(SeedWorld(*off));
  std::vector<std::pair<std::string, std::string>> tokens;  // secret, id
  for (int i = 0; i < 40; ++i) {
    const v1::CreateTokenResponse c =
        MustCreate(*off, kAlice, MakeCreateRequest());
    ASSERT_FALSE(HasFailure());
    tokens.emplace_back(c.secret(), c.token().id());
  }
  constexpr int kThreads = 24;
  constexpr int kRounds = 3;
  std::atomic<int> wrong{0}, failed{0}, calls{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        for (size_t k = 0; k < tokens.size() + 1; ++k) {
          const size_t i =
              (k + static_cast<size_t>(t) * 7) % (tokens.size() + 1);
          const bool is_unknown = i == tokens.size();
          v1::ValidateTokenRequest req;
          req.set_secret_sha256(SecretDigestBytes(
              is_unknown ? absl::StrCat("figp_unknown_", t) : tokens[i].first));
          v1::ValidateTokenResponse resp;
          grpc::Status s = off->introspection().ValidateToken(
              AuthorityHarness::Ctx("").get(), req, &resp);
          calls.fetch_add(1);
          if (!s.ok()) {
            failed.fetch_add(1);
          } else if (is_unknown ? resp.found()
                                : (!resp.found() || resp.grant().token_id() !=
                                                        tokens[i].second)) {
            wrong.fetch_add(1);
          }
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  const int64_t batched = MetricValue(
      off->registry(), "pat_authority_validate_batched_calls_total");
  const int64_t batches =
      MetricValue(off->registry(), "pat_authority_validate_batches_total");
  EXPECT_EQ(batched, calls.load());
  EXPECT_GE(batches, 1);
  EXPECT_LE(batches, batched);
  std::cerr << calls.load() << " calls answered by " << batches
            << " batched reads\n";
}

}  // namespace
}  // namespace pat::testing
