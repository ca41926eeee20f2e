// Authorization holds at the write (issue #12): the tier (R1) and admin (R2)
// checks of every lifecycle write are re-checked in the write's own
// transaction under a lock on the plan row, which UpsertPlan takes
// exclusively. A downgrade or an admin removal racing a create, edit,
// refresh or revoke is therefore ordered wholly before or wholly after it.
//
// Every interleaving is forced, not hoped for: a store decorator runs a hook
// inside the first writer's transaction (right after its plan lock), the hook
// starts the second writer on another thread and waits (polling
// pg_stat_activity with a deadline) until PostgreSQL reports it blocked on a
// lock; only then does the first writer go on. A free-running stress test
// then checks the same invariants with real, unforced concurrency, using the
// change feed's revisions (which commit in order) as the commit order.
//
// PAT_RACE_REPEAT (default 8) sets the repetitions of each interleaving.
#include <atomic>
#include <cstdlib>
#include <functional>
#include <latch>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "server/db_pool.h"
#include "server/pg_token_store.h"
#include "server/token_components.h"
#include "tests/support/forwarding_token_store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_database.h"

namespace pat {
namespace {

using ::pat::testing::IsOk;
using ::pat::testing::StatusCodeIs;

int Repeat() {
  int n = 8;
  const char* env = std::getenv("PAT_RACE_REPEAT");
  if (env != nullptr && absl::SimpleAtoi(env, &n) && n > 0) return n;
  return 8;
}

// Runs a one-shot hook inside the transaction of the next write that locks a
// plan: CreateToken/MutateToken when their plan check is called, UpsertPlan
// when its sweep decision is asked. Both happen while the plan row is locked.
class InterleavingStore final : public pat::testing::ForwardingTokenStore {
 public:
  using Hook = std::function<void()>;
  using ForwardingTokenStore::ForwardingTokenStore;

  void OnNextTokenWrite(Hook hook) {
    absl::MutexLock lock(&mu_);
    write_hook_ = std::move(hook);
  }
  void OnNextPlanWrite(Hook hook) {
    absl::MutexLock lock(&mu_);
    plan_hook_ = std::move(hook);
  }

  absl::StatusOr<CreateOutcome> CreateToken(const NewToken& token,
                                            const IdempotencyKey& key,
                                            const PlanCheckFn& check) override {
    return base().CreateToken(token, key, Wrap(check));
  }
  absl::StatusOr<MutationOutcome> MutateToken(
      const std::string& plan_id, const std::string& token_id,
      const std::string& actor, absl::Time now, const IdempotencyKey& key,
      const PlanCheckFn& check, const MutationFn& fn) override {
    return base().MutateToken(plan_id, token_id, actor, now, key, Wrap(check),
                              fn);
  }
  absl::Status UpsertPlan(const Plan& plan, absl::Time now,
                          const PlanSweep& sweep) override {
    PlanSweep wrapped = sweep;
    wrapped.applies = [this, applies = sweep.applies](const Plan& p) {
      Take(plan_hook_)();
      return applies && applies(p);
    };
    return base().UpsertPlan(plan, now, wrapped);
  }

 private:
  PlanCheckFn Wrap(const PlanCheckFn& check) {
    return [this, check](const Plan& locked) {
      Take(write_hook_)();
      return check(locked);
    };
  }
  Hook Take(Hook& slot) {
    absl::MutexLock lock(&mu_);
    Hook h = std::move(slot);
    slot = nullptr;
    return h ? h : [] {};
  }

  absl::Mutex mu_;
  Hook write_hook_ ABSL_GUARDED_BY(mu_);
  Hook plan_hook_ ABSL_GUARDED_BY(mu_);
};

enum class Op { kCreate, kUpdate, kRefresh, kRevoke };
enum class Change { kDowngrade, kAdminRemoval };
enum class Order { kOpFirst, kChangeFirst };

std::string OpName(Op op) {
  switch (op) {
    case Op::kCreate:
      return "create";
    case Op::kUpdate:
      return "update";
    case Op::kRefresh:
      return "refresh";
    case Op::kRevoke:
      return "revoke";
  }
  return "?";
}

class PlanRaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = pat::testing::TestDatabase::Create();
    ASSERT_THAT(db, IsOk());
    db_ = std::move(*db);
    auto pool = DbPool::Create(db_->url(), 16, absl::Seconds(5));
    ASSERT_THAT(pool, IsOk());
    pool_ = std::move(*pool);
    auto store = PgTokenStore::Create(*pool_);
    ASSERT_THAT(store, IsOk());
    pg_store_ = std::move(*store);
    store_ = std::make_unique<InterleavingStore>(*pg_store_);
    auto components = TokenComponents::Create(*store_, clock_);
    ASSERT_THAT(components, IsOk());
    components_ = std::move(*components);
    observer_ = std::make_unique<pqxx::connection>(db_->url());
  }

  std::string NewPlan(PlanTier tier = PlanTier::kOrganization) {
    const std::string id = absl::StrCat(7000000000 + next_plan_++);
    EXPECT_THAT(
        components_.directory->UpsertPlan(Plan{id, "Race", tier, {"alice"}}),
        IsOk());
    return id;
  }

  CreateTokenParams CreateParams(const std::string& plan_id) {
    CreateTokenParams p;
    p.plan_id = plan_id;
    p.kind = TokenKind::kRestApi;
    p.name = "ci";
    p.expires_in_days = 30;
    p.scopes = {"file_content:read"};
    p.all_resources = true;
    return p;
  }

  absl::Status RunOp(Op op, const std::string& plan_id,
                     const std::string& token_id) {
    switch (op) {
      case Op::kCreate:
        return components_.lifecycle
            ->CreateToken("alice", CreateParams(plan_id))
            .status();
      case Op::kUpdate: {
        UpdateTokenParams u;
        u.plan_id = plan_id;
        u.token_id = token_id;
        u.update_mask = {"name"};
        u.name = "renamed";
        return components_.lifecycle->UpdateToken("alice", u).status();
      }
      case Op::kRefresh:
        return components_.lifecycle
            ->RefreshToken("alice", plan_id, token_id, "")
            .status();
      case Op::kRevoke:
        return components_.lifecycle->RevokeToken("alice", plan_id, token_id)
            .status();
    }
    return absl::InternalError("unknown op");
  }

  absl::Status RunChange(Change change, const std::string& plan_id) {
    Plan p{plan_id, "Race", PlanTier::kOrganization, {"alice"}};
    if (change == Change::kDowngrade) p.tier = PlanTier::kStarter;
    if (change == Change::kAdminRemoval) p.admin_user_ids = {"bob"};
    return components_.directory->UpsertPlan(p).status();
  }

  // Polls until some backend of the test database waits on a lock (the
  // second writer reached the plan lock held by the first). Deadline 20 s.
  bool WaitUntilSomeoneBlocksOnALock() {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      pqxx::nontransaction nt(*observer_);
      pqxx::result r = nt.exec(
          "SELECT count(*) FROM pg_stat_activity WHERE datname = "
          "current_database() AND wait_event_type = 'Lock'");
      if (r[0][0].as<int64_t>() > 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  }

  int64_t LiveTokens(const std::string& plan_id) {
    pqxx::nontransaction nt(*observer_);
    return nt
        .exec_params(
            "SELECT count(*) FROM tokens WHERE plan_id = $1 AND "
            "revoke_time IS NULL",
            plan_id)[0][0]
        .as<int64_t>();
  }

  int64_t Count(const std::string& sql, const std::string& arg) {
    pqxx::nontransaction nt(*observer_);
    return nt.exec_params(sql, arg)[0][0].as<int64_t>();
  }

  // One forced interleaving of `op` and `change`; checks statuses and the
  // invariants of the final state.
  void RunInterleaving(Op op, Change change, Order order) {
    const std::string plan_id = NewPlan();
    std::string token_id;
    if (op != Op::kCreate) {
      auto created =
          components_.lifecycle->CreateToken("alice", CreateParams(plan_id));
      ASSERT_THAT(created, IsOk());
      token_id = created->token.id;
    }
    const int64_t tokens_before =
        Count("SELECT count(*) FROM tokens WHERE plan_id = $1", plan_id);
    const int64_t audits_by_alice_before = Count(
        "SELECT count(*) FROM audit_events WHERE plan_id = $1 AND "
        "actor = 'alice'",
        plan_id);

    absl::Status op_status, change_status;
    std::thread second;
    bool blocked = false;
    auto start_second_and_wait = [&](std::function<void()> run) {
      second = std::thread(std::move(run));
      blocked = WaitUntilSomeoneBlocksOnALock();
    };
    if (order == Order::kOpFirst) {
      store_->OnNextTokenWrite([&] {
        start_second_and_wait(
            [&] { change_status = RunChange(change, plan_id); });
      });
      op_status = RunOp(op, plan_id, token_id);
    } else {
      store_->OnNextPlanWrite([&] {
        start_second_and_wait(
            [&] { op_status = RunOp(op, plan_id, token_id); });
      });
      change_status = RunChange(change, plan_id);
    }
    ASSERT_TRUE(second.joinable()) << "the hook never ran";
    second.join();
    ASSERT_TRUE(blocked) << "the second writer never waited for the plan lock";
    ASSERT_THAT(change_status, IsOk());

    if (order == Order::kOpFirst) {
      EXPECT_THAT(op_status, IsOk());
    } else if (change == Change::kAdminRemoval) {
      EXPECT_THAT(op_status, StatusCodeIs(absl::StatusCode::kPermissionDenied));
    } else if (op == Op::kRevoke) {
      // The downgrade revoked it; revoking again is the usual no-op.
      EXPECT_THAT(op_status, IsOk());
    } else {
      EXPECT_THAT(op_status,
                  StatusCodeIs(absl::StatusCode::kFailedPrecondition));
    }

    if (change == Change::kDowngrade) {
      // R1: no live token on a plan whose tier forbids tokens, ever.
      EXPECT_EQ(LiveTokens(plan_id), 0);
      // And a live token there stays revocable: revoke of every token works.
      pqxx::result ids =
          pqxx::nontransaction(*observer_)
              .exec_params("SELECT id FROM tokens WHERE plan_id = $1", plan_id);
      for (const pqxx::row& row : ids) {
        auto revoked = components_.lifecycle->RevokeToken(
            "alice", plan_id, row[0].as<std::string>());
        ASSERT_THAT(revoked, IsOk());
        EXPECT_TRUE(revoked->revoke_time.has_value());
      }
    } else if (order == Order::kChangeFirst) {
      // R2: a removed admin changed nothing after the removal committed.
      EXPECT_EQ(
          Count("SELECT count(*) FROM tokens WHERE plan_id = $1", plan_id),
          tokens_before);
      EXPECT_EQ(Count("SELECT count(*) FROM audit_events WHERE plan_id = $1 "
                      "AND actor = 'alice'",
                      plan_id),
                audits_by_alice_before);
    }
    // Every token has its create audit event and its grant events.
    EXPECT_EQ(Count("SELECT count(*) FROM tokens t WHERE plan_id = $1 AND "
                    "NOT EXISTS (SELECT 1 FROM audit_events a WHERE "
                    "a.token_id = t.id AND a.action = 'create') ",
                    plan_id),
              0);
  }

  int next_plan_ = 0;
  FakeClock clock_;
  std::unique_ptr<pat::testing::TestDatabase> db_;
  std::unique_ptr<DbPool> pool_;
  std::unique_ptr<PgTokenStore> pg_store_;
  std::unique_ptr<InterleavingStore> store_;
  TokenComponents components_;
  std::unique_ptr<pqxx::connection> observer_;
};

// The class: every lifecycle write × {downgrade, admin removal} × both
// orders, each repeated.
TEST_F(PlanRaceTest, EveryWriteIsOrderedAgainstDowngradeAndAdminRemoval) {
  const int repeat = Repeat();
  for (Op op : {Op::kCreate, Op::kUpdate, Op::kRefresh, Op::kRevoke}) {
    for (Change change : {Change::kDowngrade, Change::kAdminRemoval}) {
      for (Order order : {Order::kOpFirst, Order::kChangeFirst}) {
        for (int i = 0; i < repeat; ++i) {
          SCOPED_TRACE(absl::StrCat(
              OpName(op),
              change == Change::kDowngrade ? " vs downgrade"
                                           : " vs admin removal",
              order == Order::kOpFirst ? ", write first" : ", change first",
              " #", i));
          RunInterleaving(op, change, order);
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

// The reported case: a create with 100 resource links whose plan is
// downgraded while it is in flight.
TEST_F(PlanRaceTest, CreateWithHundredLinksThenDowngradeLeavesNoLiveToken) {
  const std::string plan_id = NewPlan();
  std::vector<std::string> links;
  for (int i = 0; i < kMaxResourceLinks; ++i) {
    Resource r;
    r.plan_id = plan_id;
    r.kind = ResourceKind::kFile;
    r.id = absl::StrCat("F", plan_id, "x", i);
    ASSERT_THAT(components_.directory->UpsertResource(r), IsOk());
    links.push_back(absl::StrCat("https://figma.com/design/", r.id));
  }
  CreateTokenParams p = CreateParams(plan_id);
  p.all_resources = false;
  p.resource_links = links;
  absl::Status change_status;
  std::thread downgrade;
  bool blocked = false;
  store_->OnNextTokenWrite([&] {
    downgrade = std::thread(
        [&] { change_status = RunChange(Change::kDowngrade, plan_id); });
    blocked = WaitUntilSomeoneBlocksOnALock();
  });
  auto created = components_.lifecycle->CreateToken("alice", p);
  ASSERT_TRUE(downgrade.joinable());
  downgrade.join();
  ASSERT_TRUE(blocked);
  ASSERT_THAT(created, IsOk());
  ASSERT_THAT(change_status, IsOk());
  EXPECT_EQ(LiveTokens(plan_id), 0);
  auto got = store_->GetToken(plan_id, created->token.id);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->revoked_by, "system");
  EXPECT_TRUE(got->resources.size() == links.size());
}

// Revoke works on a STARTER plan: for a token left live there (rows from
// before this fix; planted with SQL, as no RPC can create one any more),
// revoking it succeeds, and revoking it again is a no-op; anything else on
// the plan is FAILED_PRECONDITION (R1).
TEST_F(PlanRaceTest, RevokeWorksForALiveTokenOnAStarterPlan) {
  const std::string plan_id = NewPlan();
  auto created =
      components_.lifecycle->CreateToken("alice", CreateParams(plan_id));
  ASSERT_THAT(created, IsOk());
  {
    // The state the old race left: tier STARTER, token live.
    pqxx::work w(*observer_);
    w.exec_params("UPDATE plans SET tier = 'starter' WHERE id = $1", plan_id);
    w.commit();
  }
  ASSERT_EQ(LiveTokens(plan_id), 1);
  EXPECT_THAT(
      components_.lifecycle->GetToken("alice", plan_id, created->token.id),
      StatusCodeIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(components_.lifecycle->RefreshToken("alice", plan_id,
                                                  created->token.id, ""),
              StatusCodeIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(
      components_.lifecycle->RevokeToken("bob", plan_id, created->token.id),
      StatusCodeIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(components_.lifecycle->RevokeToken("alice", plan_id,
                                                 "tok_0123456789abcdefABCDEF"),
              StatusCodeIs(absl::StatusCode::kFailedPrecondition));
  auto revoked =
      components_.lifecycle->RevokeToken("alice", plan_id, created->token.id);
  ASSERT_THAT(revoked, IsOk());
  EXPECT_EQ(revoked->revoked_by, "alice");
  EXPECT_EQ(LiveTokens(plan_id), 0);
  auto again =
      components_.lifecycle->RevokeToken("alice", plan_id, created->token.id);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->revoke_time, revoked->revoke_time);
  // The revoke reached the feed: its last grant event carries the revoke.
  EXPECT_EQ(Count("SELECT count(*) FROM grant_events WHERE key = $1 AND "
                  "payload->>'revoke_time_us' IS NOT NULL",
                  created->token.id),
            1);
}

// Unforced concurrency: creates and refreshes from several threads while the
// plan is downgraded (or its admin removed) at a random point. The feed's
// revisions commit in order, so they are the commit order: no token may have
// been created after the change, and after a downgrade none is live.
TEST_F(PlanRaceTest, FreeRunningWritersNeverOutliveADowngradeOrRemoval) {
  const int rounds = Repeat() * 2;
  constexpr int kWriters = 6;
  for (int round = 0; round < rounds; ++round) {
    const Change change =
        round % 2 == 0 ? Change::kDowngrade : Change::kAdminRemoval;
    SCOPED_TRACE(absl::StrCat("round ", round));
    const std::string plan_id = NewPlan();
    auto seed =
        components_.lifecycle->CreateToken("alice", CreateParams(plan_id));
    ASSERT_THAT(seed, IsOk());
    std::latch start(kWriters + 1);
    std::atomic<bool> changed{false};
    std::atomic<int> unexpected{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
      threads.emplace_back([&, w] {
        start.arrive_and_wait();
        for (int k = 0; k < 6; ++k) {
          const bool after = changed.load();
          absl::Status s = w % 2 == 0
                               ? RunOp(Op::kCreate, plan_id, "")
                               : RunOp(Op::kRefresh, plan_id, seed->token.id);
          const bool allowed_failure =
              absl::IsFailedPrecondition(s) || absl::IsPermissionDenied(s);
          if (!(s.ok() || allowed_failure) || (after && s.ok())) ++unexpected;
        }
      });
    }
    threads.emplace_back([&] {
      start.arrive_and_wait();
      EXPECT_THAT(RunChange(change, plan_id), IsOk());
      changed = true;
    });
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(unexpected.load(), 0);
    // Revision of the change's plan event (the last plan event of the plan).
    const int64_t change_rev = Count(
        "SELECT max(revision) FROM grant_events WHERE type = 'plan' AND "
        "key = $1",
        plan_id);
    // Tokens whose first grant event (their create) committed after it.
    EXPECT_EQ(Count("SELECT count(*) FROM tokens t WHERE t.plan_id = $1 AND "
                    "(SELECT min(revision) FROM grant_events g WHERE "
                    "g.type = 'grant' AND g.key = t.id) > " +
                        std::to_string(change_rev),
                    plan_id),
              0);
    // No audited change by the removed admin (or on the downgraded plan,
    // other than the sweep's) committed after it either: their grant events
    // all precede the change, except the sweep's revokes.
    if (change == Change::kDowngrade) {
      EXPECT_EQ(LiveTokens(plan_id), 0);
    } else {
      EXPECT_EQ(Count("SELECT count(*) FROM grant_events g JOIN tokens t ON "
                      "t.id = g.key WHERE g.type = 'grant' AND "
                      "t.plan_id = $1 AND g.revision > " +
                          std::to_string(change_rev),
                      plan_id),
                0);
    }
  }
}

}  // namespace
}  // namespace pat
