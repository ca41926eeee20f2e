// Shared snapshots (issue #11): WatchGrants streams that need a snapshot at
// the same time share database reads, so a start-up storm of sidecars never
// needs more database connections than --snapshot_reads and queues instead
// of failing with "database connection pool exhausted"; every stream still
// gets a complete snapshot and then every event after it (no gap).

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pat/v1/pat.grpc.pb.h"
#include "pqxx/pqxx"
#include "tests/support/authority_harness.h"
#include "tests/support/fixtures.h"
#include "tests/support/wait_for.h"

namespace pat::testing {
namespace {

namespace v1 = ::pat::v1;

// Bound of every wait on a condition (never a timing assertion): 120 s, or
// PAT_STORM_WAIT_SECONDS (for storms measured by hand with
// PAT_STORM_TOKENS; docs/capacity.md).
const absl::Duration kWait = [] {
  int seconds = 0;
  const char* env = std::getenv("PAT_STORM_WAIT_SECONDS");
  if (env != nullptr && absl::SimpleAtoi(env, &seconds) && seconds > 0) {
    return absl::Seconds(seconds);
  }
  return absl::Seconds(120);
}();
// The start-up storm: streams from since_revision 0 against this many
// tokens, through a pool of kPoolSize connections.
constexpr int kStreams = 200;
constexpr int kBulkTokens = 4000;
constexpr int kPoolSize = 4;
constexpr int kStreamsPerChannel = 25;

// kBulkTokens, or PAT_STORM_TOKENS when set (for measuring larger storms
// by hand; docs/capacity.md).
int BulkTokens() {
  int n = 0;
  const char* env = std::getenv("PAT_STORM_TOKENS");
  if (env != nullptr && absl::SimpleAtoi(env, &n) && n > 0) return n;
  return kBulkTokens;
}

// One WatchGrants stream from since_revision 0, read by its own thread;
// keeps counts and revisions, not messages (200 streams x thousands of
// events). `watched` is the token whose grant status is recorded.
class CountingWatcher {
 public:
  CountingWatcher(v1::IntrospectionService::Stub& stub, std::string watched)
      : watched_(std::move(watched)) {
    ctx_.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    reader_ = stub.WatchGrants(&ctx_, v1::WatchGrantsRequest());
    thread_ = std::thread([this] { ReadAll(); });
  }
  ~CountingWatcher() {
    ctx_.TryCancel();
    thread_.join();
  }

  struct View {
    bool ended = false;
    grpc::Status status;
    int64_t synced = -1;  // -1 until synced_revision arrives
    int snapshot_grants = 0;
    int snapshot_plans = 0;
    bool snapshot_consistent = true;  // every snapshot event at `synced`
    v1::TokenStatus snapshot_status = v1::TOKEN_STATUS_UNSPECIFIED;
    std::vector<int64_t> live;  // revisions of live events
    v1::TokenStatus live_status = v1::TOKEN_STATUS_UNSPECIFIED;
  };

  // Waits until `done(view)` holds or the stream ends; the view then.
  template <typename Pred>
  View WaitFor(Pred done) {
    absl::MutexLock lock(&mu_);
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return view_.ended || done(view_);
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), kWait);
    return view_;
  }

 private:
  void ReadAll() {
    v1::WatchGrantsResponse m;
    int64_t snapshot_revision = -1;
    while (reader_->Read(&m)) {
      absl::MutexLock lock(&mu_);
      if (m.has_synced_revision()) {
        view_.synced = m.synced_revision();
        if (snapshot_revision >= 0 && snapshot_revision != view_.synced) {
          view_.snapshot_consistent = false;
        }
        continue;
      }
      if (!m.has_event()) continue;
      const v1::GrantEvent& e = m.event();
      const bool watched = e.has_grant() && e.grant().token_id() == watched_;
      if (view_.synced < 0) {
        if (!m.snapshot()) view_.snapshot_consistent = false;
        if (snapshot_revision >= 0 && e.revision() != snapshot_revision) {
          view_.snapshot_consistent = false;
        }
        snapshot_revision = e.revision();
        view_.snapshot_grants += e.has_grant();
        view_.snapshot_plans += e.has_plan_upserted();
        if (watched) view_.snapshot_status = e.grant().status();
      } else {
        view_.live.push_back(e.revision());
        if (watched) view_.live_status = e.grant().status();
      }
    }
    grpc::Status status = reader_->Finish();
    absl::MutexLock lock(&mu_);
    view_.status = std::move(status);
    view_.ended = true;
  }

  const std::string watched_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::WatchGrantsResponse>> reader_;
  std::thread thread_;
  absl::Mutex mu_;
  View view_ ABSL_GUARDED_BY(mu_);
};

// Distinct channels (and so connections), as distinct sidecars would have.
std::vector<std::shared_ptr<grpc::Channel>> Channels(AuthorityHarness& h,
                                                     int n) {
  std::vector<std::shared_ptr<grpc::Channel>> out;
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("pat.test.channel", i);
    out.push_back(grpc::CreateCustomChannel(
        h.target(), grpc::InsecureChannelCredentials(), args));
  }
  return out;
}

TEST(SnapshotStormTest, StartUpStormSharesReadsAndLosesNoEvent) {
  HarnessOptions options;
  options.db_pool_size = kPoolSize;
  // A pool that queues a connection request for longer would only hide
  // the storm: with shared reads nothing waits for a connection that long.
  options.db_acquire_timeout = absl::Seconds(2);
  options.metrics = true;
  std::unique_ptr<AuthorityHarness> h = AuthorityHarness::Start(options);
  ASSERT_NE(h, nullptr);
  SeedWorld(*h);
  const int bulk_tokens = BulkTokens();
  BulkInsertTokens(*h, bulk_tokens);
  const v1::CreateTokenResponse created =
      MustCreate(*h, kAlice, MakeCreateRequest(kPlanA));
  ASSERT_FALSE(HasFailure());
  const std::string revoked_id = created.token().id();
  const int expected_grants = bulk_tokens + 1;
  const int expected_plans = static_cast<int>(CountRows(*h, "plans"));
  const int64_t reads_before =
      MetricValue(h->registry(), "pat_authority_snapshot_reads_total");

  std::vector<std::shared_ptr<grpc::Channel>> channels =
      Channels(*h, kStreams / kStreamsPerChannel);
  std::vector<std::unique_ptr<v1::IntrospectionService::Stub>> stubs;
  for (auto& c : channels)
    stubs.push_back(v1::IntrospectionService::NewStub(c));
  std::vector<std::unique_ptr<CountingWatcher>> watchers;
  const absl::Time storm_start = absl::Now();
  for (int i = 0; i < kStreams / 2; ++i) {
    watchers.push_back(std::make_unique<CountingWatcher>(
        *stubs[i % stubs.size()], revoked_id));
  }
  // A revoke committed in the middle of the storm: half the streams have
  // started, some snapshots may already be taken and sent.
  const v1::Token revoked = MustRevoke(*h, kAlice, kPlanA, revoked_id);
  ASSERT_FALSE(HasFailure());
  const int64_t revoke_revision = [&] {
    pqxx::connection conn(h->db().url());
    pqxx::read_transaction txn(conn);
    return txn.exec1("SELECT revision FROM feed_head")[0].as<int64_t>();
  }();
  for (int i = kStreams / 2; i < kStreams; ++i) {
    watchers.push_back(std::make_unique<CountingWatcher>(
        *stubs[i % stubs.size()], revoked_id));
  }

  int errors = 0;
  for (size_t i = 0; i < watchers.size(); ++i) {
    // Live and current: synced, and the revoke applied (from the snapshot
    // or as a live event).
    const CountingWatcher::View v =
        watchers[i]->WaitFor([&](const CountingWatcher::View& v) {
          return v.synced >= 0 &&
                 (v.synced >= revoke_revision ||
                  (!v.live.empty() && v.live.back() >= revoke_revision));
        });
    if (v.ended) {
      ++errors;
      ADD_FAILURE() << "stream " << i << " ended: " << v.status.error_code()
                    << " " << v.status.error_message();
      continue;
    }
    ASSERT_GE(v.synced, 0) << "stream " << i << " never synced";
    EXPECT_TRUE(v.snapshot_consistent) << "stream " << i;
    EXPECT_EQ(v.snapshot_grants, expected_grants) << "stream " << i;
    EXPECT_EQ(v.snapshot_plans, expected_plans) << "stream " << i;
    EXPECT_TRUE(Contiguous(v.live, v.synced))
        << "stream " << i << " has a gap after " << v.synced;
    if (v.synced >= revoke_revision) {
      EXPECT_EQ(v.snapshot_status, v1::TOKEN_STATUS_REVOKED) << "stream " << i;
    } else {
      EXPECT_EQ(v.live_status, v1::TOKEN_STATUS_REVOKED) << "stream " << i;
    }
  }
  EXPECT_EQ(errors, 0);
  // Reported, never asserted (no timing assertions).
  const double all_live_s = absl::ToDoubleSeconds(absl::Now() - storm_start);
  const int64_t reads =
      MetricValue(h->registry(), "pat_authority_snapshot_reads_total") -
      reads_before;
  const int64_t shared =
      MetricValue(h->registry(), "pat_authority_snapshot_shared_total");
  // Reads are bounded by how often the head moves during the storm (once,
  // the revoke) and how many reads run at once, not by the stream count.
  EXPECT_GE(reads, 1);
  EXPECT_LE(reads, 6);
  EXPECT_EQ(reads + shared, kStreams);
  EXPECT_EQ(MetricValue(h->registry(), "pat_authority_db_pool_timeouts_total"),
            0);
  std::printf(
      "storm: %d streams, %d grants, pool %d: %lld snapshot reads, %lld "
      "shared, all live and revoked in %.2f s\n",
      kStreams, expected_grants, kPoolSize, static_cast<long long>(reads),
      static_cast<long long>(shared), all_live_s);
}

// Backends of the test database waiting for a lock.
int64_t LockWaiters(AuthorityHarness& h) {
  pqxx::connection conn(h.db().url());
  pqxx::nontransaction nt(conn);
  return nt
      .exec1(
          "SELECT count(*) FROM pg_stat_activity WHERE datname = "
          "current_database() AND wait_event_type = 'Lock'")[0]
      .as<int64_t>();
}

// A stream that joins a snapshot read taken at revision R gets the events
// R + 1, ... committed while that read was still running, exactly once and
// in order, like the stream that runs the read; a stream that asks after
// those commits never gets the older snapshot.
TEST(SnapshotStormTest, JoinedStreamGetsEventsCommittedDuringTheRead) {
  HarnessOptions options;
  options.metrics = true;
  std::unique_ptr<AuthorityHarness> h = AuthorityHarness::Start(options);
  ASSERT_NE(h, nullptr);
  SeedWorld(*h);
  ASSERT_FALSE(HasFailure());
  MetricsRegistry& m = h->registry();
  const int64_t reads_before =
      MetricValue(m, "pat_authority_snapshot_reads_total");
  const int64_t shared_before =
      MetricValue(m, "pat_authority_snapshot_shared_total");

  // Holds the snapshot read after it has taken its REPEATABLE READ
  // snapshot (it reads token_secrets last) until `lock` commits.
  pqxx::connection locker(h->db().url());
  auto lock = std::make_unique<pqxx::work>(locker);
  lock->exec("LOCK TABLE token_secrets IN ACCESS EXCLUSIVE MODE");

  const int64_t r = FeedHeadNow(*h);
  CountingWatcher leader(h->introspection(), "");
  ASSERT_TRUE(WaitFor([&] { return LockWaiters(*h) == 1; }, kWait));
  CountingWatcher joiner(h->introspection(), "");
  ASSERT_TRUE(WaitFor(
      [&] { return MetricValue(m, "pat_authority_snapshot_waiters") == 1; },
      kWait));

  // Three events committed while the read (at r) is still running.
  UpsertResource(*h, kPlanA, v1::RESOURCE_KIND_FILE, "FILEA3",
                 v1::RESOURCE_KIND_PROJECT, "projA");
  UpsertResource(*h, kPlanA, v1::RESOURCE_KIND_FILE, "FILEA4",
                 v1::RESOURCE_KIND_PROJECT, "projA");
  UpsertResource(*h, kPlanA, v1::RESOURCE_KIND_FILE, "FILEA5",
                 v1::RESOURCE_KIND_PROJECT, "projA");
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(FeedHeadNow(*h), r + 3);
  // Asked after those commits: must not be served the read at r.
  CountingWatcher late(h->introspection(), "");
  ASSERT_TRUE(WaitFor([&] { return LockWaiters(*h) == 2; }, kWait));
  lock->commit();
  lock.reset();

  for (CountingWatcher* w : {&leader, &joiner}) {
    const CountingWatcher::View v = w->WaitFor([&](const auto& v) {
      return !v.live.empty() && v.live.back() >= r + 3;
    });
    ASSERT_FALSE(v.ended) << v.status.error_message();
    EXPECT_EQ(v.synced, r);
    EXPECT_TRUE(v.snapshot_consistent);
    EXPECT_EQ(v.live, (std::vector<int64_t>{r + 1, r + 2, r + 3}));
  }
  const CountingWatcher::View v =
      late.WaitFor([](const auto& v) { return v.synced >= 0; });
  ASSERT_FALSE(v.ended) << v.status.error_message();
  EXPECT_EQ(v.synced, r + 3);
  EXPECT_TRUE(v.live.empty());
  // The leader's and the late stream's reads; the joiner shared the first.
  EXPECT_EQ(MetricValue(m, "pat_authority_snapshot_reads_total") - reads_before,
            2);
  EXPECT_EQ(
      MetricValue(m, "pat_authority_snapshot_shared_total") - shared_before, 1);
  EXPECT_EQ(MetricValue(m, "pat_authority_snapshot_waiters"), 0);
}

}  // namespace
}  // namespace pat::testing
