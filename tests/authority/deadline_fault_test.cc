// RPC deadlines reach the database (threat checklist #2, #39 second half):
//  * an audit write that hangs (a trigger sleeping 60 s, or the audit table
//    locked by another session): every lifecycle RPC with a 1 s deadline
//    fails DEADLINE_EXCEEDED, PostgreSQL itself stops the statement (no
//    authority backend is left running it), the pool connection comes back
//    (more hanging RPCs than the pool has connections, then normal ones
//    succeed) and nothing was written;
//  * 25 ms ± 50 % (PAT_LATENCY_MS) on every packet each way between the
//    authority and PostgreSQL (TcpFaultProxy) with 1 s RPC deadlines: every RPC
//    is OK or DEADLINE_EXCEEDED/UNAVAILABLE; each request_id, retried after the
//    latency is gone, resolves to exactly one token: the replay of the one
//    that committed (the in-doubt case) or a new one when nothing had.
//    PAT_LATENCY_OPS (default 24) sets the number of creates;
//  * the network stalls (bytes held, connections open): RPCs fail
//    DEADLINE_EXCEEDED, the stuck sockets are shut down by the watchdog,
//    nothing is written, and the authority serves once the network flows.
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "server/db_watchdog.h"
#include "tests/support/authority_harness.h"
#include "tests/support/fixtures.h"
#include "tests/support/sidecar_harness.h"
#include "tests/support/tcp_fault_proxy.h"

namespace pat::testing {
namespace {

constexpr absl::Duration kRpcDeadline = absl::Seconds(1);
constexpr int kPoolSize = 2;

int PortOf(const std::string& url) {
  const size_t at = url.find('@');
  const size_t colon = url.find(':', at == std::string::npos ? 0 : at);
  return std::stoi(url.substr(colon + 1));
}

std::unique_ptr<grpc::ClientContext> ShortCtx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("x-pat-actor", kAlice);
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + kRpcDeadline));
  return ctx;
}

void Exec(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::nontransaction nt(conn);
  nt.exec(sql);
}

int64_t Scalar(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::nontransaction nt(conn);
  return nt.exec1(sql)[0].as<int64_t>();
}

class HangingAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HarnessOptions options;
    options.db_pool_size = kPoolSize;
    harness_ = AuthorityHarness::Start(options);
    ASSERT_NE(harness_, nullptr);
    SeedWorld(*harness_);
    ASSERT_FALSE(HasFailure());
    token_ = MustCreate(h(), kAlice, MakeCreateRequest());
    ASSERT_FALSE(HasFailure());
  }

  AuthorityHarness& h() { return *harness_; }
  const std::string& url() { return h().db().url(); }

  // Backends of the authority in this database still running a statement
  // (other than those of `exclude_app`).
  int64_t ActiveAuthorityStatements() {
    if (observer_ == nullptr) {
      observer_ = std::make_unique<pqxx::connection>(url());
    }
    pqxx::nontransaction nt(*observer_);
    return nt
        .exec1(absl::StrCat(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = "
            "current_database() AND pid <> pg_backend_pid() AND state = "
            "'active' "
            "AND application_name NOT IN ('pat-feed-listener', "
            "'pat-test-lock')"))[0]
        .as<int64_t>();
  }

  // One round of every lifecycle RPC with a 1 s deadline: each fails
  // DEADLINE_EXCEEDED and PostgreSQL is not left running its statement.
  void ExpectEveryWriteTimesOut() {
    struct Op {
      const char* name;
      std::function<grpc::Status()> call;
    };
    const std::string id = token_.token().id();
    const std::vector<Op> ops = {
        {"create",
         [&] {
           v1::CreateTokenResponse r;
           return h().tokens().CreateToken(ShortCtx().get(),
                                           MakeCreateRequest(), &r);
         }},
        {"refresh",
         [&] {
           v1::RefreshTokenRequest req;
           req.set_plan_id(kPlanA);
           req.set_token_id(id);
           req.set_request_id(NewRequestId());
           v1::RefreshTokenResponse r;
           return h().tokens().RefreshToken(ShortCtx().get(), req, &r);
         }},
        {"update",
         [&] {
           v1::UpdateTokenRequest req = MakeUpdateRequest(kPlanA, id, {"name"});
           req.set_name("renamed while audit hangs");
           v1::Token r;
           return h().tokens().UpdateToken(ShortCtx().get(), req, &r);
         }},
        {"revoke",
         [&] {
           v1::RevokeTokenRequest req;
           req.set_plan_id(kPlanA);
           req.set_token_id(id);
           v1::Token r;
           return h().tokens().RevokeToken(ShortCtx().get(), req, &r);
         }},
    };
    // More hanging RPCs (4) than pool connections (2): a connection not
    // returned would make the later ones fail (pool exhausted).
    static_assert(kPoolSize < 4);
    {
      for (const Op& op : ops) {
        const grpc::Status s = op.call();
        EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
            << op.name << ": " << s.error_message();
        EXPECT_TRUE(WaitFor([&] { return ActiveAuthorityStatements() == 0; },
                            absl::Seconds(10)))
            << op.name << ": PostgreSQL still runs the statement: the "
            << "deadline did not reach the database";
      }
    }
  }

  void ExpectNothingWritten() {
    const std::string id = token_.token().id();
    EXPECT_EQ(CountRows(h(), "tokens"), 1);
    EXPECT_EQ(CountRows(h(), "token_secrets"), 1);
    EXPECT_EQ(CountRows(h(), "audit_events"), 1);  // the create
    const v1::Token now = MustGet(h(), kAlice, kPlanA, id);
    EXPECT_EQ(now.status(), v1::TOKEN_STATUS_ACTIVE);
    EXPECT_EQ(now.name(), token_.token().name());
  }

  // After the fault: the same authority serves writes again.
  void ExpectWritesWorkAgain() {
    const std::string id = token_.token().id();
    MustRefresh(h(), kAlice, kPlanA, id);
    MustCreate(h(), kAlice, MakeCreateRequest());
    EXPECT_EQ(MustRevoke(h(), kAlice, kPlanA, id).status(),
              v1::TOKEN_STATUS_REVOKED);
    EXPECT_EQ(
        CountActions(ListAllAuditEvents(h(), kAlice, kPlanA, id), "revoke"), 1);
  }

  std::unique_ptr<AuthorityHarness> harness_;
  std::unique_ptr<pqxx::connection> observer_;
  v1::CreateTokenResponse token_;
};

TEST_F(HangingAuditTest, SleepingAuditTriggerTimesOutAndWritesNothing) {
  Exec(url(),
       "CREATE FUNCTION pat_test_hang() RETURNS trigger LANGUAGE plpgsql AS "
       "$$ BEGIN PERFORM pg_sleep(60); RETURN NEW; END $$; "
       "CREATE TRIGGER pat_test_hang BEFORE INSERT ON audit_events "
       "FOR EACH ROW EXECUTE FUNCTION pat_test_hang()");
  ExpectEveryWriteTimesOut();
  Exec(url(), "DROP TRIGGER pat_test_hang ON audit_events");
  ExpectNothingWritten();
  ExpectWritesWorkAgain();
}

TEST_F(HangingAuditTest, LockedAuditTableTimesOutAndWritesNothing) {
  pqxx::connection locker(url() + (url().find('?') == std::string::npos
                                       ? "?application_name=pat-test-lock"
                                       : "&application_name=pat-test-lock"));
  auto lock = std::make_unique<pqxx::work>(locker);
  lock->exec("LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE");
  ExpectEveryWriteTimesOut();
  lock->commit();
  lock.reset();
  ExpectNothingWritten();
  ExpectWritesWorkAgain();
}

absl::Duration LatencyPerPacket() {
  const char* v = std::getenv("PAT_LATENCY_MS");
  return absl::Milliseconds(v == nullptr ? 25 : std::max(1, std::atoi(v)));
}

int LatencyOps() {
  const char* v = std::getenv("PAT_LATENCY_OPS");
  return v == nullptr ? 24 : std::max(1, std::atoi(v));
}

TEST(LatencyJitterTest, DeadlineExceededCreatesResolveByRequestId) {
  std::unique_ptr<TcpFaultProxy> proxy;
  HarnessOptions options;
  options.database_url_filter = [&](const std::string& url) {
    proxy = TcpFaultProxy::Start(PortOf(url));
    return proxy == nullptr ? url : proxy->ProxiedUrl(url);
  };
  auto harness = AuthorityHarness::Start(options);
  ASSERT_NE(harness, nullptr);
  ASSERT_NE(proxy, nullptr);
  AuthorityHarness& h = *harness;
  SeedWorld(h);
  ASSERT_FALSE(::testing::Test::HasFailure());

  // Per packet and direction; an RPC is some 20 round trips (its reads,
  // BEGIN, the statements, COMMIT, NOTIFY), so about the 1 s deadline.
  const absl::Duration latency = LatencyPerPacket();
  proxy->SetLatency(latency, latency / 2);
  const int ops = LatencyOps();
  struct Outcome {
    v1::CreateTokenRequest req;
    grpc::StatusCode code = grpc::StatusCode::OK;
    std::string token_id;  // when OK
  };
  std::vector<Outcome> outcomes(ops);
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < ops; i = next++) {
        Outcome& o = outcomes[i];
        o.req = MakeCreateRequest();
        h.clock().Advance(absl::Milliseconds(100));  // under the rate limit
        v1::CreateTokenResponse resp;
        const grpc::Status s =
            h.tokens().CreateToken(ShortCtx().get(), o.req, &resp);
        o.code = s.error_code();
        if (s.ok()) o.token_id = resp.token().id();
      }
    });
  }
  for (auto& t : threads) t.join();
  proxy->SetLatency(absl::ZeroDuration(), absl::ZeroDuration());

  // The committed token of each request_id, as the database has it now.
  std::map<std::string, std::string> committed;
  {
    pqxx::connection conn(h.db().url());
    pqxx::read_transaction txn(conn);
    for (const pqxx::row& r :
         txn.exec("SELECT request_id, token_id FROM idempotency")) {
      committed[r[0].as<std::string>()] = r[1].as<std::string>();
    }
  }
  int ok = 0, failed = 0, in_doubt = 0;
  for (const Outcome& o : outcomes) {
    const auto it = committed.find(o.req.request_id());
    if (o.code == grpc::StatusCode::OK) {
      ++ok;
      ASSERT_NE(it, committed.end());
      EXPECT_EQ(it->second, o.token_id);
      continue;
    }
    ++failed;
    EXPECT_THAT(o.code, ::testing::AnyOf(grpc::StatusCode::DEADLINE_EXCEEDED,
                                         grpc::StatusCode::UNAVAILABLE))
        << o.code;
    v1::CreateTokenResponse retry;
    h.clock().Advance(absl::Milliseconds(100));
    ASSERT_TRUE(CreateToken(h, kAlice, o.req, &retry).ok());
    if (it != committed.end()) {
      ++in_doubt;  // committed although the client was told it failed
      EXPECT_TRUE(retry.replayed());
      EXPECT_EQ(retry.token().id(), it->second);
      EXPECT_TRUE(retry.secret().empty());
    } else {
      EXPECT_FALSE(retry.replayed());
      EXPECT_FALSE(retry.secret().empty());
    }
  }
  std::cout << "latency " << latency
            << " ± 50 % per packet, 1 s deadlines: " << ok << " OK, " << failed
            << " failed (" << in_doubt
            << " of them committed: in doubt, resolved by request_id)\n";
  // Exactly one token per request_id, each with its audit and grant event.
  EXPECT_EQ(CountRows(h, "tokens"), ops);
  EXPECT_EQ(CountRows(h, "idempotency"), ops);
  EXPECT_EQ(Scalar(h.db().url(),
                   "SELECT count(*) FROM tokens t WHERE NOT EXISTS (SELECT 1 "
                   "FROM audit_events a WHERE a.token_id = t.id AND a.action "
                   "= 'create') OR NOT EXISTS (SELECT 1 FROM grant_events g "
                   "WHERE g.key = t.id)"),
            0);
}

// The network between the authority and PostgreSQL stalls (the proxy holds
// every byte, connections stay open: statement_timeout cannot act, the
// server never sees the statements). RPCs with 1 s deadlines fail
// DEADLINE_EXCEEDED, the authority's watchdog shuts the stuck sockets down
// (its threads and pool connections are freed), nothing is written, and once
// the network flows again the same authority serves.
TEST(StalledNetworkTest, StuckRoundTripsAreAbandonedAtTheDeadline) {
  std::unique_ptr<TcpFaultProxy> proxy;
  HarnessOptions options;
  options.db_pool_size = kPoolSize;
  options.database_url_filter = [&](const std::string& url) {
    proxy = TcpFaultProxy::Start(PortOf(url));
    return proxy == nullptr ? url : proxy->ProxiedUrl(url);
  };
  auto harness = AuthorityHarness::Start(options);
  ASSERT_NE(harness, nullptr);
  ASSERT_NE(proxy, nullptr);
  AuthorityHarness& h = *harness;
  SeedWorld(h);
  const v1::CreateTokenResponse token =
      MustCreate(h, kAlice, MakeCreateRequest());
  ASSERT_FALSE(::testing::Test::HasFailure());
  const int64_t tokens = CountRows(h, "tokens");
  const int64_t audits = CountRows(h, "audit_events");

  const int64_t fired_before = DbSocketWatchdog::fired();
  proxy->Stall(true);
  // Four stuck RPCs, twice the pool: each must give its connection up.
  for (int i = 0; i < 2; ++i) {
    v1::CreateTokenResponse c;
    const grpc::Status create =
        h.tokens().CreateToken(ShortCtx().get(), MakeCreateRequest(), &c);
    EXPECT_EQ(create.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
        << create.error_message();
    v1::RevokeTokenRequest rr;
    rr.set_plan_id(kPlanA);
    rr.set_token_id(token.token().id());
    v1::Token r;
    const grpc::Status revoke =
        h.tokens().RevokeToken(ShortCtx().get(), rr, &r);
    EXPECT_EQ(revoke.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
        << revoke.error_message();
  }
  EXPECT_TRUE(WaitFor([&] { return DbSocketWatchdog::fired() > fired_before; },
                      absl::Seconds(10)))
      << "no stuck database round trip was abandoned";
  proxy->Stall(false);
  EXPECT_EQ(CountRows(h, "tokens"), tokens);
  EXPECT_EQ(CountRows(h, "audit_events"), audits);
  EXPECT_EQ(MustGet(h, kAlice, kPlanA, token.token().id()).status(),
            v1::TOKEN_STATUS_ACTIVE);
  v1::CreateTokenResponse after;
  EXPECT_TRUE(WaitFor(
      [&] { return CreateToken(h, kAlice, MakeCreateRequest(), &after).ok(); },
      absl::Seconds(15)));
  EXPECT_EQ(MustRevoke(h, kAlice, kPlanA, token.token().id()).status(),
            v1::TOKEN_STATUS_REVOKED);
}

}  // namespace
}  // namespace pat::testing
