// Threat checklist #1 (PG write fails randomly) and #39 (audit write fails):
// lifecycle RPCs from several threads through a store decorator that fails
// 20% of store calls (half before forwarding, half after: applied but
// reported UNAVAILABLE), with PostgreSQL triggers that also make 5% of the
// audit inserts and 5% of the feed inserts fail inside the transaction.
// Invariants, checked in SQL after the run:
//   - no token row without its create audit event and a grant event, and
//     every token has exactly as many grant events as audit events (each
//     change writes one of each in one transaction);
//   - every RPC is done whole or is an error: tokens in the database ==
//     creates that returned OK + creates applied-but-failed (the decorator's
//     "after" faults), and every revoke that returned OK left the token
//     revoked.
// PAT_FAULT_SOAK_OPS sets the number of RPCs (default 1500; e.g. 10000 for
// the checklist's full count).
#include <atomic>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "server/db_pool.h"
#include "server/pg_token_store.h"
#include "server/token_components.h"
#include "tests/support/fault_injecting_token_store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_database.h"

namespace pat {
namespace {

using ::pat::testing::FaultInjectingTokenStore;
using ::pat::testing::IsOk;

constexpr char kPlan[] = "8000000001";

int SoakOps() {
  int n = 1500;
  const char* env = std::getenv("PAT_FAULT_SOAK_OPS");
  if (env != nullptr && absl::SimpleAtoi(env, &n) && n > 0) return n;
  return 1500;
}

bool IsExpectedError(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:         // injected by the decorator
    case absl::StatusCode::kInternal:            // a trigger's raised error
    case absl::StatusCode::kFailedPrecondition:  // edit/refresh of revoked
    case absl::StatusCode::kAborted:             // conflict retries spent
      return true;
    default:
      return false;
  }
}

TEST(StoreFaultSoakTest, EveryRpcIsWholeOrAnErrorUnderTwentyPercentFaults) {
  auto db = pat::testing::TestDatabase::Create();
  ASSERT_THAT(db, IsOk());
  auto pool = DbPool::Create((*db)->url(), 8, absl::Seconds(5));
  ASSERT_THAT(pool, IsOk());
  auto pg = PgTokenStore::Create(**pool);
  ASSERT_THAT(pg, IsOk());
  FaultInjectingTokenStore faults(**pg, {});
  FakeClock clock;
  auto components = TokenComponents::Create(faults, clock);
  ASSERT_THAT(components, IsOk());
  TokenLifecycle& lifecycle = *components->lifecycle;
  ASSERT_THAT(components->directory->UpsertPlan(
                  Plan{kPlan, "Soak", PlanTier::kEnterprise, {"alice"}}),
              IsOk());
  {
    pqxx::connection c((*db)->url());
    pqxx::work w(c);
    w.exec(
        "CREATE FUNCTION pat_test_fault() RETURNS trigger AS $$ BEGIN "
        "IF random() < 0.05 THEN RAISE EXCEPTION 'injected % fault', "
        "TG_TABLE_NAME; END IF; RETURN NEW; END $$ LANGUAGE plpgsql");
    w.exec(
        "CREATE TRIGGER pat_test_audit_fault BEFORE INSERT ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION pat_test_fault()");
    w.exec(
        "CREATE TRIGGER pat_test_feed_fault BEFORE INSERT ON grant_events "
        "FOR EACH ROW EXECUTE FUNCTION pat_test_fault()");
    w.commit();
  }
  faults.set_failure_rate(0.2);

  const int ops = SoakOps();
  constexpr int kThreads = 4;
  std::atomic<int> next{0};
  std::atomic<int> ok_creates{0};
  std::atomic<int> ok_total{0};
  absl::Mutex mu;
  std::vector<std::string> tokens;      // guarded by mu
  std::set<std::string> revoked_ok;     // guarded by mu
  std::vector<std::string> unexpected;  // guarded by mu

  auto worker = [&] {
    absl::BitGen gen;
    while (next.fetch_add(1) < ops) {
      std::string target;
      {
        absl::MutexLock lock(&mu);
        if (!tokens.empty()) {
          target = tokens[absl::Uniform<size_t>(gen, 0, tokens.size())];
        }
      }
      const int pick = target.empty() ? 0 : absl::Uniform(gen, 0, 10);
      absl::Status s;
      if (pick < 4) {
        CreateTokenParams p;
        p.plan_id = kPlan;
        p.kind = TokenKind::kRestApi;
        p.name = "soak";
        p.expires_in_days = 30;
        p.scopes = {"file_content:read"};
        p.all_resources = true;
        auto r = lifecycle.CreateToken("alice", p);
        s = r.status();
        if (r.ok()) {
          ++ok_creates;
          absl::MutexLock lock(&mu);
          tokens.push_back(r->token.id);
        }
      } else if (pick < 6) {
        UpdateTokenParams u;
        u.plan_id = kPlan;
        u.token_id = target;
        u.update_mask = {"name"};
        u.name = absl::StrCat("n", absl::Uniform(gen, 0, 1000000));
        s = lifecycle.UpdateToken("alice", u).status();
      } else if (pick < 8) {
        s = lifecycle.RefreshToken("alice", kPlan, target, "").status();
      } else {
        s = lifecycle.RevokeToken("alice", kPlan, target).status();
        if (s.ok()) {
          absl::MutexLock lock(&mu);
          revoked_ok.insert(target);
        }
      }
      if (s.ok()) {
        ++ok_total;
      } else if (!IsExpectedError(s)) {
        absl::MutexLock lock(&mu);
        unexpected.push_back(s.ToString());
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();

  absl::MutexLock lock(&mu);
  EXPECT_THAT(unexpected, ::testing::IsEmpty());
  EXPECT_GT(faults.injected(), ops / 10) << "faults were not injected";
  EXPECT_GT(ok_total.load(), ops / 4) << "too few RPCs succeeded to test";

  pqxx::connection c((*db)->url());
  pqxx::nontransaction nt(c);
  auto count = [&](const std::string& sql) {
    return nt.exec(sql)[0][0].as<int64_t>();
  };
  // Done whole or an error: exactly the creates reported OK, plus those the
  // decorator applied and then failed, exist.
  EXPECT_EQ(count("SELECT count(*) FROM tokens"),
            ok_creates.load() + faults.creates_applied_but_failed());
  // No token row without its create audit event and a grant event.
  EXPECT_EQ(count("SELECT count(*) FROM tokens t WHERE NOT EXISTS (SELECT 1 "
                  "FROM audit_events a WHERE a.token_id = t.id AND "
                  "a.action = 'create')"),
            0);
  EXPECT_EQ(count("SELECT count(*) FROM tokens t WHERE NOT EXISTS (SELECT 1 "
                  "FROM grant_events g WHERE g.type = 'grant' AND "
                  "g.key = t.id)"),
            0);
  // Each change wrote one audit event and one grant event, or neither.
  EXPECT_EQ(count("SELECT count(*) FROM tokens t WHERE (SELECT count(*) FROM "
                  "audit_events a WHERE a.token_id = t.id) <> (SELECT "
                  "count(*) FROM grant_events g WHERE g.type = 'grant' AND "
                  "g.key = t.id)"),
            0);
  // Every secret belongs to a token (no orphans from a half create).
  EXPECT_EQ(count("SELECT count(*) FROM token_secrets s WHERE NOT EXISTS "
                  "(SELECT 1 FROM tokens t WHERE t.id = s.token_id)"),
            0);
  // A revoke that returned OK is never undone.
  for (const std::string& id : revoked_ok) {
    pqxx::result r = nt.exec_params(
        "SELECT revoke_time IS NOT NULL FROM tokens WHERE id = $1", id);
    ASSERT_EQ(r.size(), 1u) << id;
    EXPECT_TRUE(r[0][0].as<bool>()) << id << " was revoked (OK) but is live";
  }
}

}  // namespace
}  // namespace pat
