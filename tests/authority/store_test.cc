// Storage-level tests against a real PostgreSQL: revision ordering of the
// change feed, atomicity of lifecycle changes with their audit and feed
// events, connection-pool limits and recovery from broken connections.
#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "common/secret.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "server/db_pool.h"
#include "server/migrations.h"
#include "server/pg_token_store.h"
#include "server/token_components.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_database.h"

namespace pat {
namespace {

using ::pat::testing::IsOk;
using ::pat::testing::StatusIs;
using ::testing::HasSubstr;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = pat::testing::TestDatabase::Create();
    ASSERT_THAT(db, IsOk());
    db_ = std::move(*db);
    auto pool = DbPool::Create(db_->url(), 4, absl::Milliseconds(500));
    ASSERT_THAT(pool, IsOk());
    pool_ = std::move(*pool);
    auto store = PgTokenStore::Create(*pool_);
    ASSERT_THAT(store, IsOk());
    store_ = std::move(*store);
    auto components = TokenComponents::Create(*store_, clock_);
    ASSERT_THAT(components, IsOk());
    components_ = std::move(*components);
    ASSERT_THAT(components_.directory->UpsertPlan(Plan{
                    "1111111111", "Acme", PlanTier::kOrganization, {"alice"}}),
                IsOk());
  }

  int64_t Count(const std::string& table) {
    pqxx::connection c(db_->url());
    pqxx::work w(c);
    return w.exec(absl::StrCat("SELECT count(*) FROM ", table))[0][0]
        .as<int64_t>();
  }

  CreateTokenParams Params() {
    CreateTokenParams p;
    p.plan_id = "1111111111";
    p.kind = TokenKind::kRestApi;
    p.name = "ci";
    p.expires_in_days = 30;
    p.scopes = {"file_content:read"};
    p.all_resources = true;
    return p;
  }

  FakeClock clock_;
  std::unique_ptr<pat::testing::TestDatabase> db_;
  std::unique_ptr<DbPool> pool_;
  std::unique_ptr<PgTokenStore> store_;
  TokenComponents components_;
};

// Two transactions append feed events; the one that takes a revision first
// commits last. The second must not be able to commit (or even obtain its
// revision) before the first commits, so a reader that has seen revision N
// can never later find a newly committed revision below N.
TEST_F(StoreTest, RevisionsCommitInRevisionOrder) {
  const int64_t base = Count("grant_events");  // SetUp's plan event
  pqxx::connection c1(db_->url());
  pqxx::work t1(c1);
  const int64_t r1 =
      t1.exec("SELECT pat_append_event('test', 'first', '{}')")[0][0]
          .as<int64_t>();
  const int pid1 = c1.backendpid();

  std::atomic<int64_t> r2{0};
  std::atomic<int> pid2{0};
  std::thread second([&] {
    pqxx::connection c2(db_->url());
    pid2 = c2.backendpid();
    pqxx::work t2(c2);
    r2 = t2.exec("SELECT pat_append_event('test', 'second', '{}')")[0][0]
             .as<int64_t>();
    t2.commit();
  });

  // Wait (bounded) until the second transaction is blocked on a lock held by
  // the first: that is the state being tested, not a timing guess.
  pqxx::connection observer(db_->url());
  bool blocked = false;
  for (int i = 0; i < 2000 && !blocked; ++i) {
    pqxx::nontransaction nt(observer);
    pqxx::result r = nt.exec_params(
        "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND "
        "wait_event_type = 'Lock' AND $2 = ANY(pg_blocking_pids(pid))",
        pid2.load(), pid1);
    blocked = !r.empty();
    if (!blocked) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(blocked) << "second writer was never blocked by the first";
  EXPECT_EQ(r2.load(), 0) << "second writer obtained a revision while the "
                             "first was uncommitted";
  {
    pqxx::nontransaction reader(observer);
    EXPECT_EQ(reader.exec("SELECT max(revision) FROM grant_events")[0][0]
                  .as<int64_t>(),
              base);
  }
  t1.commit();
  second.join();
  EXPECT_EQ(r2.load(), r1 + 1);
  pqxx::nontransaction reader(observer);
  pqxx::result all = reader.exec_params(
      "SELECT revision, key FROM grant_events WHERE revision > $1 "
      "ORDER BY revision",
      base);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0][1].as<std::string>(), "first");
  EXPECT_EQ(all[1][1].as<std::string>(), "second");
}

TEST_F(StoreTest, EveryChangeWritesTokenAuditAndFeedEventTogether) {
  const int64_t events0 = Count("grant_events");
  auto created = components_.lifecycle->CreateToken("alice", Params());
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(Count("tokens"), 1);
  EXPECT_EQ(Count("token_secrets"), 1);
  EXPECT_EQ(Count("audit_events"), 1);
  EXPECT_EQ(Count("grant_events"), events0 + 1);
  ASSERT_THAT(components_.lifecycle->RevokeToken("alice", "1111111111",
                                                 created->token.id),
              IsOk());
  EXPECT_EQ(Count("audit_events"), 2);
  EXPECT_EQ(Count("grant_events"), events0 + 2);
  // Revoking again changes nothing and writes nothing.
  ASSERT_THAT(components_.lifecycle->RevokeToken("alice", "1111111111",
                                                 created->token.id),
              IsOk());
  EXPECT_EQ(Count("audit_events"), 2);
  EXPECT_EQ(Count("grant_events"), events0 + 2);
}

// Threat 39: a change that cannot be audited does not happen.
TEST_F(StoreTest, FailingAuditWriteLeavesNoChange) {
  {
    pqxx::connection c(db_->url());
    pqxx::work w(c);
    w.exec(
        "CREATE FUNCTION fail_audit() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit sink down'; END $$");
    w.exec(
        "CREATE TRIGGER fail_audit BEFORE INSERT ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION fail_audit()");
    w.commit();
  }
  const int64_t events0 = Count("grant_events");
  auto created = components_.lifecycle->CreateToken("alice", Params());
  EXPECT_THAT(created, StatusIs(absl::StatusCode::kInternal,
                                HasSubstr("storage error")));
  EXPECT_THAT(std::string(created.status().message()),
              ::testing::Not(HasSubstr("audit sink down")));
  EXPECT_EQ(Count("tokens"), 0);
  EXPECT_EQ(Count("token_secrets"), 0);
  EXPECT_EQ(Count("grant_events"), events0);
}

TEST_F(StoreTest, PoolExhaustionFailsFastWithUnavailable) {
  auto small = DbPool::Create(db_->url(), 1, absl::Milliseconds(50));
  ASSERT_THAT(small, IsOk());
  auto held = (*small)->Acquire();
  ASSERT_THAT(held, IsOk());
  EXPECT_THAT((*small)->Acquire(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("exhausted")));
  EXPECT_EQ((*small)->leased_connections(), 1);
}

TEST_F(StoreTest, RecoversFromConnectionsKilledByTheServer) {
  auto created = components_.lifecycle->CreateToken("alice", Params());
  ASSERT_THAT(created, IsOk());
  {
    pqxx::connection c(db_->url());
    pqxx::nontransaction nt(c);
    nt.exec_params(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = $1 AND pid <> pg_backend_pid()",
        db_->name());
  }
  // Every pooled connection is now dead; the store reconnects (and
  // re-prepares LookupSecret's statement on the new connections).
  for (int i = 0; i < 6; ++i) {
    EXPECT_THAT(components_.lifecycle->GetToken("alice", "1111111111",
                                                created->token.id),
                IsOk());
    auto found = store_->LookupSecret(Sha256(created->secret));
    ASSERT_THAT(found, IsOk());
    EXPECT_EQ(found->token.id, created->token.id);
  }
}

// LookupSecret is a prepared autocommit statement: it finds the current
// secret, answers NOT_FOUND for an unknown digest, and keeps working on a
// connection after the statement was prepared (the second call reuses it).
TEST_F(StoreTest, LookupSecretFindsCurrentSecretOnly) {
  auto created = components_.lifecycle->CreateToken("alice", Params());
  ASSERT_THAT(created, IsOk());
  for (int i = 0; i < 3; ++i) {
    auto found = store_->LookupSecret(Sha256(created->secret));
    ASSERT_THAT(found, IsOk());
    EXPECT_EQ(found->token.id, created->token.id);
    EXPECT_EQ(found->token.expire_time, created->token.expire_time);
    EXPECT_FALSE(found->secret_valid_until.has_value());
  }
  EXPECT_THAT(
      store_->LookupSecret(Sha256("pat_rest_not-a-token")),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("unknown secret")));
}

// Migration 4: pat_us gives the UTC epoch whatever the session's time zone,
// and is inlined by the planner (the call no longer appears in the plan).
TEST_F(StoreTest, PatUsIsTimeZoneIndependentAndInlined) {
  pqxx::connection c(db_->url());
  pqxx::nontransaction nt(c);
  for (const char* zone : {"UTC", "America/New_York", "Asia/Kolkata"}) {
    nt.exec(absl::StrCat("SET TimeZone = '", zone, "'"));
    EXPECT_EQ(nt.exec("SELECT pat_us('2026-03-08 06:59:59.123456+00')")[0][0]
                  .as<int64_t>(),
              int64_t{1772953199123456})
        << zone;
    EXPECT_EQ(
        nt.exec("SELECT pat_us(pat_ts(1772953199123456))")[0][0].as<int64_t>(),
        int64_t{1772953199123456})
        << zone;
  }
  std::string plan;
  for (const auto& row :
       nt.exec("EXPLAIN (VERBOSE) SELECT pat_us(expire_time) FROM tokens")) {
    plan += row[0].as<std::string>();
  }
  EXPECT_THAT(plan, ::testing::Not(HasSubstr("pat_us(")));
}

TEST_F(StoreTest, ConcurrentCreatesWithOneRequestIdMakeOneToken) {
  CreateTokenParams p = Params();
  p.request_id = "req-42";
  std::vector<std::thread> threads;
  std::atomic<int> fresh{0}, replayed{0};
  absl::Notification go;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      go.WaitForNotification();
      auto r = components_.lifecycle->CreateToken("alice", p);
      if (!r.ok()) return;
      (r->replayed ? replayed : fresh)++;
      if (r->replayed) {
        EXPECT_TRUE(r->secret.empty());
      }
    });
  }
  go.Notify();
  for (auto& t : threads) t.join();
  EXPECT_EQ(fresh.load(), 1);
  EXPECT_EQ(replayed.load(), 3);
  EXPECT_EQ(Count("tokens"), 1);
}

TEST_F(StoreTest, MigrationsAreIdempotentAndSafeConcurrently) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      if (!ApplyMigrations(db_->url()).ok()) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Count("schema_migrations"), LatestSchemaVersion());
}

TEST_F(StoreTest, StoreRefusesAnUnmigratedDatabase) {
  pqxx::connection c(db_->url());
  pqxx::work w(c);
  w.exec("DROP TABLE feed_head CASCADE");
  w.commit();
  auto pool = DbPool::Create(db_->url(), 1, absl::Seconds(1));
  ASSERT_THAT(pool, IsOk());
  EXPECT_THAT(
      PgTokenStore::Create(**pool),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("migrate")));
}

}  // namespace
}  // namespace pat
