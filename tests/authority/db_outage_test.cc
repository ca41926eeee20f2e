// PostgreSQL unreachable under load, then back (threat checklist #4), two
// ways: (a) a real `pg_ctl restart -m fast` of a private cluster; (b) every
// database connection of the authority (pool and feed listener) through a
// TcpFaultProxy that cuts them all and refuses new ones for
// PAT_OUTAGE_SECONDS (default 2), then accepts again.
//  * during the outage every RPC fails UNAVAILABLE (never hangs past its
//    deadline, never INTERNAL);
//  * an in-process pat-sidecar (production wiring) keeps serving its cached
//    grants: kept tokens are forwarded, revoked ones denied token_revoked;
//  * after the outage the same authority (no restart) serves RPCs again and
//    its feed resumes: every revoke acked before, during or after the outage
//    is revoked in the database and denied by the sidecar, and tokens
//    created after it are allowed.
#include <atomic>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"
#include "tests/support/authority_harness.h"
#include "tests/support/fixtures.h"
#include "tests/support/private_cluster.h"
#include "tests/support/sidecar_harness.h"
#include "tests/support/tcp_fault_proxy.h"

namespace pat::testing {
namespace {

constexpr char kFileA1[] = "/v1/files/FILEA1";

int PortOf(const std::string& url) {
  const size_t at = url.find('@');
  const size_t colon = url.find(':', at == std::string::npos ? 0 : at);
  return std::stoi(url.substr(colon + 1));
}

absl::Duration OutageLength() {
  const char* v = std::getenv("PAT_OUTAGE_SECONDS");
  return absl::Seconds(v == nullptr ? 2 : std::max(1, std::atoi(v)));
}

struct Issued {
  std::string id;
  std::string secret;
};

// Background lifecycle traffic: create a token, revoke every other one.
class Load {
 public:
  // `warm` runs after each create, before the revoke (the sidecar caches
  // the token as allowed, so a later revoke must reach it by the feed).
  Load(AuthorityHarness& h, std::function<void(const Issued&)> warm)
      : h_(h), warm_(std::move(warm)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Load() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  int ok() const { return ok_; }
  int failed() const { return failed_; }
  std::map<grpc::StatusCode, int> failure_codes() {
    absl::MutexLock lock(&mu_);
    return codes_;
  }
  std::vector<Issued> acked_revokes() {
    absl::MutexLock lock(&mu_);
    return revoked_;
  }
  std::vector<Issued> kept() {
    absl::MutexLock lock(&mu_);
    return kept_;
  }

 private:
  void Record(const grpc::Status& s) {
    if (s.ok()) {
      ++ok_;
      return;
    }
    ++failed_;
    absl::MutexLock lock(&mu_);
    ++codes_[s.error_code()];
  }

  void Run() {
    for (int i = 0; !stop_; ++i) {
      h_.clock().Advance(absl::Milliseconds(200));  // under the rate limit
      v1::CreateTokenResponse created;
      const grpc::Status c =
          CreateToken(h_, kAlice, MakeCreateRequest(), &created);
      Record(c);
      if (!c.ok()) {
        absl::SleepFor(absl::Milliseconds(5));  // pacing, not a sync
        continue;
      }
      Issued t{created.token().id(), created.secret()};
      warm_(t);
      if (i % 2 == 1) {
        absl::MutexLock lock(&mu_);
        kept_.push_back(t);
        continue;
      }
      v1::Token revoked;
      const grpc::Status r = RevokeToken(h_, kAlice, kPlanA, t.id, &revoked);
      Record(r);
      absl::MutexLock lock(&mu_);
      (r.ok() ? revoked_ : unsure_).push_back(t);
    }
  }

  AuthorityHarness& h_;
  const std::function<void(const Issued&)> warm_;
  std::atomic<bool> stop_{false};
  std::atomic<int> ok_{0};
  std::atomic<int> failed_{0};
  absl::Mutex mu_;
  std::map<grpc::StatusCode, int> codes_ ABSL_GUARDED_BY(mu_);
  std::vector<Issued> revoked_ ABSL_GUARDED_BY(mu_);
  std::vector<Issued> kept_ ABSL_GUARDED_BY(mu_);
  std::vector<Issued> unsure_ ABSL_GUARDED_BY(mu_);  // revoke failed
  std::thread thread_;
};

std::string Reason(const HttpResponse& r) {
  return r.Json().is_object() ? r.Json().value("reason", "") : "";
}

// The drill: load runs, `outage()` takes the database away and returns
// once it may come back (it must leave it reachable), the sidecar is
// checked all the while, then recovery and the acked revokes are checked.
void OutageDrill(AuthorityHarness& h, const std::function<void()>& outage) {
  SeedWorld(h);
  ASSERT_FALSE(::testing::Test::HasFailure());
  SidecarStackOptions sidecar_options;
  sidecar_options.staleness_bound = absl::Hours(1);  // the clock advances
  auto sidecar = SidecarStack::Start(h, sidecar_options);
  ASSERT_NE(sidecar, nullptr);

  // Before: one kept and one revoked token, both settled at the sidecar.
  const v1::CreateTokenResponse kept =
      MustCreate(h, kAlice, MakeCreateRequest());
  const v1::CreateTokenResponse gone =
      MustCreate(h, kAlice, MakeCreateRequest());
  ASSERT_FALSE(::testing::Test::HasFailure());
  auto get = [&](const std::string& secret) {
    return HttpGet(sidecar->port(), kFileA1, Bearer(secret));
  };
  ASSERT_EQ(get(gone.secret()).status, 200);
  MustRevoke(h, kAlice, kPlanA, gone.token().id());
  ASSERT_TRUE(WaitFor([&] { return get(gone.secret()).status == 401; },
                      absl::Seconds(15)));
  ASSERT_EQ(get(kept.secret()).status, 200);

  std::atomic<int> warm_misses{0};
  Load load(h, [&](const Issued& t) {
    if (get(t.secret).status != 200) ++warm_misses;
  });
  ASSERT_TRUE(WaitFor([&] { return load.ok() >= 6; }, absl::Seconds(20)));

  // The sidecar decides from its cache while the database is away.
  std::atomic<bool> outage_over{false};
  std::atomic<int> cache_checks{0};
  std::atomic<int> cache_wrong{0};
  std::thread checker([&] {
    while (!outage_over) {
      const HttpResponse k = get(kept.secret());
      const HttpResponse g = get(gone.secret());
      ++cache_checks;
      if (k.status != 200 || g.status != 401 || Reason(g) != "token_revoked") {
        ++cache_wrong;
      }
      absl::SleepFor(absl::Milliseconds(20));  // pacing, not a sync
    }
  });
  const int failed_before = load.failed();
  outage();
  outage_over = true;
  checker.join();
  EXPECT_GT(cache_checks.load(), 0);
  EXPECT_EQ(cache_wrong.load(), 0) << "of " << cache_checks.load();
  EXPECT_GT(load.failed(), failed_before) << "no RPC saw the outage";

  // After: the same authority serves again.
  const int ok_at_end = load.ok();
  ASSERT_TRUE(
      WaitFor([&] { return load.ok() >= ok_at_end + 6; }, absl::Seconds(30)))
      << "the authority did not recover";
  load.Stop();
  for (const auto& [code, n] : load.failure_codes()) {
    EXPECT_EQ(code, grpc::StatusCode::UNAVAILABLE)
        << n << " RPCs failed " << code;
  }
  std::cout << "outage: " << load.ok() << " RPCs OK, " << load.failed()
            << " UNAVAILABLE; " << warm_misses
            << " fresh tokens not allowed at once by the sidecar; "
            << cache_checks << " cache checks during the outage\n";

  // No acked revoke lost: revoked in the database and at the sidecar.
  const std::vector<Issued> revoked = load.acked_revokes();
  ASSERT_FALSE(revoked.empty());
  {
    pqxx::connection conn(h.db().url());
    pqxx::read_transaction txn(conn);
    for (const Issued& t : revoked) {
      EXPECT_FALSE(
          txn.exec_params1("SELECT revoke_time FROM tokens WHERE id = $1",
                           t.id)[0]
              .is_null())
          << t.id;
    }
  }
  for (const Issued& t : revoked) {
    EXPECT_TRUE(
        WaitFor([&] { return get(t.secret).status == 401; }, absl::Seconds(15)))
        << t.id << " acked revoked, still allowed by the sidecar";
  }
  for (const Issued& t : load.kept()) {
    EXPECT_TRUE(
        WaitFor([&] { return get(t.secret).status == 200; }, absl::Seconds(15)))
        << t.id;
  }
  // The feed resumed: a revoke after the outage reaches the sidecar.
  const v1::CreateTokenResponse late =
      MustCreate(h, kAlice, MakeCreateRequest());
  ASSERT_EQ(get(late.secret()).status, 200);  // cached as allowed
  MustRevoke(h, kAlice, kPlanA, late.token().id());
  EXPECT_TRUE(WaitFor([&] { return get(late.secret()).status == 401; },
                      absl::Seconds(15)));
  EXPECT_EQ(get(kept.secret()).status, 200);
}

// Through the proxy: every connection cut, new ones refused for
// PAT_OUTAGE_SECONDS.
TEST(DbOutageTest, ConnectionsCutAndRefused) {
  std::unique_ptr<TcpFaultProxy> proxy;
  HarnessOptions options;
  options.database_url_filter = [&](const std::string& url) {
    proxy = TcpFaultProxy::Start(PortOf(url));
    return proxy == nullptr ? url : proxy->ProxiedUrl(url);
  };
  auto harness = AuthorityHarness::Start(options);
  ASSERT_NE(harness, nullptr);
  ASSERT_NE(proxy, nullptr);
  OutageDrill(*harness, [&] {
    proxy->Refuse(true);
    proxy->CutAll();
    const absl::Time end = absl::Now() + OutageLength();
    WaitFor([&] { return absl::Now() >= end; }, OutageLength() * 2);
    proxy->Refuse(false);
  });
}

// A real `pg_ctl restart -m fast` of a private cluster under load.
TEST(DbOutageTest, PostgresRestartedFast) {
  auto cluster = PrivateCluster::Start({});
  ASSERT_NE(cluster, nullptr);
  cluster->UseForTestDatabases();
  auto harness = AuthorityHarness::Start();
  ASSERT_NE(harness, nullptr);
  OutageDrill(*harness, [&] { cluster->RestartFast(); });
}

}  // namespace
}  // namespace pat::testing
