// The grant change feed end to end (SPEC §6; threat checklist #8, #12, #13):
// WatchGrants snapshots, the synced marker, live events in revision order,
// resumes, heartbeats, listener failures, commit order, fan-out; and the other
// sidecar RPCs, ResolveResource and ReportUsage.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pat/v1/pat.grpc.pb.h"
#include "pqxx/pqxx"
#include "server/authority_config.h"
#include "server/authority_server.h"
#include "server/grant_feed.h"
#include "server/token_types.h"
#include "tests/support/authority_harness.h"
#include "tests/support/fixtures.h"
#include "tests/support/status_matchers.h"

namespace pat::testing {
namespace {

namespace v1 = ::pat::v1;
using ::absl::StatusCode;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Bound of every wait on a condition (never a timing assertion: a healthy
// run meets each condition in milliseconds).
constexpr absl::Duration kWait = absl::Seconds(60);

using Messages = std::vector<v1::WatchGrantsResponse>;

// One WatchGrants stream, read by its own thread into a list.
class Watcher {
 public:
  Watcher(v1::IntrospectionService::Stub& stub, int64_t since,
          bool directory_only = false) {
    ctx_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(10)));
    v1::WatchGrantsRequest request;
    request.set_since_revision(since);
    request.set_directory_only(directory_only);
    reader_ = stub.WatchGrants(&ctx_, request);
    thread_ = std::thread([this] { ReadAll(); });
  }
  ~Watcher() {
    ctx_.TryCancel();
    thread_.join();
  }

  // Waits until `done(messages)` holds or the stream ends; true if it held.
  bool WaitFor(const std::function<bool(const Messages&)>& done,
               absl::Duration timeout = kWait) {
    absl::MutexLock lock(&mu_);
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return ended_ || done(messages_);
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    return done(messages_);
  }

  // Waits for the end of the stream; its status (DEADLINE_EXCEEDED if it
  // has not ended within the bound).
  grpc::Status WaitForEnd() {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(&ended_), kWait)) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "not ended");
    }
    return status_;
  }

  Messages messages() {
    absl::MutexLock lock(&mu_);
    return messages_;
  }

 private:
  void ReadAll() {
    v1::WatchGrantsResponse message;
    while (reader_->Read(&message)) {
      absl::MutexLock lock(&mu_);
      messages_.push_back(message);
    }
    grpc::Status status = reader_->Finish();
    absl::MutexLock lock(&mu_);
    status_ = std::move(status);
    ended_ = true;
  }

  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::WatchGrantsResponse>> reader_;
  std::thread thread_;
  absl::Mutex mu_;
  Messages messages_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

// --- Views of a message list ------------------------------------------------

// Index of the synced marker, or -1.
int SyncedIndex(const Messages& m) {
  for (size_t i = 0; i < m.size(); ++i) {
    if (m[i].has_synced_revision()) return static_cast<int>(i);
  }
  return -1;
}

bool Synced(const Messages& m) { return SyncedIndex(m) >= 0; }

int64_t SyncedRevision(const Messages& m) {
  const int i = SyncedIndex(m);
  return i < 0 ? -1 : m[i].synced_revision();
}

// Events before the synced marker.
std::vector<v1::WatchGrantsResponse> SnapshotMessages(const Messages& m) {
  const int synced = SyncedIndex(m);
  std::vector<v1::WatchGrantsResponse> out;
  for (int i = 0; i < synced; ++i) out.push_back(m[i]);
  return out;
}

// Events after the synced marker (heartbeats left out).
std::vector<v1::GrantEvent> LiveEvents(const Messages& m) {
  std::vector<v1::GrantEvent> out;
  const int synced = SyncedIndex(m);
  if (synced < 0) return out;
  for (size_t i = synced + 1; i < m.size(); ++i) {
    if (m[i].has_event()) out.push_back(m[i].event());
  }
  return out;
}

std::vector<int64_t> Revisions(const std::vector<v1::GrantEvent>& events) {
  std::vector<int64_t> out;
  for (const v1::GrantEvent& e : events) out.push_back(e.revision());
  return out;
}

// after + 1, ..., after + n.
std::vector<int64_t> Range(int64_t after, int n) {
  std::vector<int64_t> out;
  for (int i = 1; i <= n; ++i) out.push_back(after + i);
  return out;
}

std::function<bool(const Messages&)> HasLiveEvents(size_t n) {
  return [n](const Messages& m) { return LiveEvents(m).size() >= n; };
}

int CountHeartbeats(const Messages& m) {
  int n = 0;
  for (const v1::WatchGrantsResponse& r : m) n += r.has_heartbeat_revision();
  return n;
}

// --- Database helpers -------------------------------------------------------

int64_t FeedHead(AuthorityHarness& h) {
  pqxx::connection conn(h.db().url());
  pqxx::read_transaction txn(conn);
  return txn.exec1("SELECT revision FROM feed_head")[0].as<int64_t>();
}

// Terminates the feed listeners connected to the harness's database; how
// many were terminated.
int KillListeners(AuthorityHarness& h) {
  pqxx::connection conn(h.db().url());
  pqxx::nontransaction nt(conn);
  pqxx::result r = nt.exec_params(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
      "application_name = $1 AND datname = current_database()",
      std::string(kFeedListenerApplicationName));
  int killed = 0;
  for (const pqxx::row& row : r) killed += row[0].as<bool>();
  return killed;
}

int64_t CountListeners(AuthorityHarness& h) {
  pqxx::connection conn(h.db().url());
  pqxx::nontransaction nt(conn);
  return nt
      .exec_params1(
          "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 "
          "AND datname = current_database()",
          std::string(kFeedListenerApplicationName))[0]
      .as<int64_t>();
}

// Polls `condition` (a database state no notification exists for) until it
// holds or the bound passes.
bool PollUntil(const std::function<bool()>& condition) {
  const absl::Time deadline = absl::Now() + kWait;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

// A second authority replica on the harness's database (its feed hub starts
// at the feed head of that moment).
std::unique_ptr<AuthorityServer> StartReplica(AuthorityHarness& h) {
  AuthorityConfig raw;
  raw.listen = "127.0.0.1:0";
  raw.database_url = h.db().url();
  raw.insecure = true;
  absl::StatusOr<AuthorityConfig> config = ValidateAuthorityConfig(raw);
  EXPECT_TRUE(config.ok()) << config.status();
  if (!config.ok()) return nullptr;
  absl::StatusOr<std::unique_ptr<AuthorityServer>> server =
      AuthorityServer::Create(*config, h.clock());
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

std::unique_ptr<v1::IntrospectionService::Stub> StubFor(
    const AuthorityServer& server) {
  return v1::IntrospectionService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", server.port()),
                          grpc::InsecureChannelCredentials()));
}

// The grant events of `token_id` among `events`.
std::vector<v1::GrantEvent> GrantsOf(const std::vector<v1::GrantEvent>& events,
                                     const std::string& token_id) {
  std::vector<v1::GrantEvent> out;
  for (const v1::GrantEvent& e : events) {
    if (e.has_grant() && e.grant().token_id() == token_id) out.push_back(e);
  }
  return out;
}

class FeedTest : public SeededAuthorityTest {
 protected:
  std::unique_ptr<Watcher> Watch(int64_t since = 0) {
    return std::make_unique<Watcher>(h().introspection(), since);
  }

  // A fresh all-resources REST token of plan A.
  v1::CreateTokenResponse NewToken() {
    return MustCreate(h(), kAlice, MakeCreateRequest(kPlanA));
  }
};

// ---------------------------------------------------------------------------

TEST_F(FeedTest, SnapshotThenSyncedThenLiveEventsInOrder) {
  v1::CreateTokenResponse selected = MustCreate(
      h(), kAlice, MakeCreateRequestWithLinks(kPlanA, {kLinkProjectA}));
  v1::CreateTokenResponse revoked = NewToken();
  MustRevoke(h(), kAlice, kPlanA, revoked.token().id());
  ASSERT_FALSE(HasFailure());
  const int64_t head = FeedHead(h());

  std::unique_ptr<Watcher> w = Watch();
  ASSERT_TRUE(w->WaitFor(Synced));
  Messages m = w->messages();
  EXPECT_EQ(SyncedRevision(m), head);

  // The snapshot: every message an event of revision `head`, marked.
  std::set<std::string> plans;
  std::set<std::string> resources_seen;
  std::map<std::string, v1::GrantEvent> grants;
  for (const v1::WatchGrantsResponse& r : SnapshotMessages(m)) {
    ASSERT_TRUE(r.has_event());
    EXPECT_TRUE(r.snapshot());
    EXPECT_EQ(r.event().revision(), head);
    const v1::GrantEvent& e = r.event();
    if (e.has_plan_upserted()) plans.insert(e.plan_upserted().id());
    if (e.has_resource_upserted()) {
      const v1::Resource& res = e.resource_upserted();
      if (!res.parent_id().empty()) {
        EXPECT_TRUE(resources_seen.contains(res.parent_id()))
            << res.id() << " before its parent " << res.parent_id();
      }
      resources_seen.insert(res.id());
    }
    if (e.has_grant()) grants[e.grant().token_id()] = e;
  }
  EXPECT_EQ(plans, (std::set<std::string>{kPlanA, kPlanB, kPlanS}));
  EXPECT_EQ(
      resources_seen,
      (std::set<std::string>{"wsA", "teamA", "projA", "FILEA1", "FILEA2",
                             kNpmScopeA, "wsB", "teamB", "projB", "FILEB1"}));
  ASSERT_TRUE(grants.contains(selected.token().id()));
  ASSERT_TRUE(grants.contains(revoked.token().id()));
  const v1::GrantEvent& g = grants[selected.token().id()];
  EXPECT_EQ(g.grant().status(), v1::TOKEN_STATUS_ACTIVE);
  EXPECT_EQ(g.grant().plan_id(), kPlanA);
  EXPECT_FALSE(g.grant().all_resources());
  ASSERT_EQ(g.grant().resources_size(), 1);
  EXPECT_EQ(g.grant().resources(0).id(), "projA");
  ASSERT_EQ(g.secrets_size(), 1);
  EXPECT_EQ(g.secrets(0).secret_sha256(), SecretDigestBytes(selected.secret()));
  EXPECT_EQ(ToTime(g.secrets(0).expire_time()),
            ToTime(selected.token().expire_time()));
  EXPECT_EQ(grants[revoked.token().id()].grant().status(),
            v1::TOKEN_STATUS_REVOKED);

  // Live: one event per change, in revision order, not marked snapshot.
  v1::UpdateTokenRequest rename =
      MakeUpdateRequest(kPlanA, selected.token().id(), {"name"});
  rename.set_name("renamed");
  MustUpdate(h(), kAlice, rename);
  UpsertResource(h(), kPlanA, v1::RESOURCE_KIND_FILE, "FILEA3",
                 v1::RESOURCE_KIND_PROJECT, "projA");
  v1::DeleteResourceRequest del;
  del.set_kind(v1::RESOURCE_KIND_FILE);
  del.set_id("FILEA3");
  v1::DeleteResourceResponse deleted;
  ASSERT_THAT(h().directory().DeleteResource(AuthorityHarness::Ctx("").get(),
                                             del, &deleted),
              IsOk());
  UpsertPlan(h(), kPlanB, v1::PLAN_TIER_ENTERPRISE, {kBob, "bert"});
  ASSERT_FALSE(HasFailure());

  ASSERT_TRUE(w->WaitFor(HasLiveEvents(4)));
  m = w->messages();
  std::vector<v1::GrantEvent> live = LiveEvents(m);
  EXPECT_EQ(Revisions(live), Range(head, 4));
  for (size_t i = SyncedIndex(m) + 1; i < m.size(); ++i) {
    EXPECT_FALSE(m[i].snapshot());
  }
  ASSERT_EQ(live.size(), 4u);
  EXPECT_EQ(live[0].grant().token_id(), selected.token().id());
  EXPECT_EQ(live[0].secrets(0).secret_sha256(),
            SecretDigestBytes(selected.secret()));
  EXPECT_EQ(live[1].resource_upserted().id(), "FILEA3");
  EXPECT_EQ(live[1].resource_upserted().parent_id(), "projA");
  EXPECT_EQ(live[1].resource_upserted().parent_kind(),
            v1::RESOURCE_KIND_PROJECT);
  EXPECT_EQ(live[2].resource_deleted().id(), "FILEA3");
  EXPECT_EQ(live[2].resource_deleted().plan_id(), kPlanA);
  EXPECT_EQ(live[3].plan_upserted().id(), kPlanB);
  EXPECT_EQ(live[3].plan_upserted().tier(), v1::PLAN_TIER_ENTERPRISE);
  // The events hold no secret, only digests.
  for (const v1::GrantEvent& e : live) {
    EXPECT_THAT(e.SerializeAsString(),
                ::testing::Not(HasSubstr(selected.secret())));
  }
}

TEST_F(FeedTest, ResumeGetsExactlyTheMissedEvents) {
  int64_t synced = 0;
  {
    std::unique_ptr<Watcher> first = Watch();
    ASSERT_TRUE(first->WaitFor(Synced));
    synced = SyncedRevision(first->messages());
  }
  // Missed while disconnected: create, refresh, revoke, a directory change.
  v1::CreateTokenResponse created = NewToken();
  MustRefresh(h(), kAlice, kPlanA, created.token().id());
  MustRevoke(h(), kAlice, kPlanA, created.token().id());
  UpsertResource(h(), kPlanA, v1::RESOURCE_KIND_FILE, "FILEA9",
                 v1::RESOURCE_KIND_PROJECT, "projA");
  ASSERT_FALSE(HasFailure());

  std::unique_ptr<Watcher> resumed = Watch(synced);
  ASSERT_TRUE(resumed->WaitFor(HasLiveEvents(4)));
  Messages m = resumed->messages();
  // No snapshot: the marker first, at the resume point.
  ASSERT_EQ(SyncedIndex(m), 0);
  EXPECT_EQ(SyncedRevision(m), synced);
  EXPECT_EQ(Revisions(LiveEvents(m)), Range(synced, 4));
  for (const v1::WatchGrantsResponse& r : m) EXPECT_FALSE(r.snapshot());
  std::vector<v1::GrantEvent> live = LiveEvents(m);
  EXPECT_EQ(live[0].grant().status(), v1::TOKEN_STATUS_ACTIVE);
  EXPECT_EQ(live[1].secrets_size(), 2);  // refreshed: previous + current
  EXPECT_EQ(live[2].grant().status(), v1::TOKEN_STATUS_REVOKED);
  EXPECT_EQ(live[3].resource_upserted().id(), "FILEA9");

  // And it stays live.
  MustRevoke(h(), kAlice, kPlanA, NewToken().token().id());
  ASSERT_TRUE(resumed->WaitFor(HasLiveEvents(6)));
  EXPECT_EQ(Revisions(LiveEvents(resumed->messages())), Range(synced, 6));
}

TEST_F(FeedTest, ReplicaResumesFromTheDatabaseAndSnapshotsWhenHistoryIsGone) {
  const int64_t before = FeedHead(h());
  for (int i = 0; i < 3; ++i) NewToken();
  ASSERT_FALSE(HasFailure());
  // A replica started now holds none of those events in memory.
  std::unique_ptr<AuthorityServer> replica = StartReplica(h());
  ASSERT_NE(replica, nullptr);
  auto stub = StubFor(*replica);
  {
    Watcher w(*stub, before);
    ASSERT_TRUE(w.WaitFor(HasLiveEvents(3)));
    EXPECT_EQ(SyncedIndex(w.messages()), 0);
    EXPECT_EQ(Revisions(LiveEvents(w.messages())), Range(before, 3));
  }
  // History pruned past the resume point: a snapshot instead.
  {
    pqxx::connection conn(h().db().url());
    pqxx::work txn(conn);
    txn.exec_params("DELETE FROM grant_events WHERE revision <= $1",
                    before + 1);
    txn.commit();
  }
  const int64_t head = FeedHead(h());
  {
    Watcher w(*stub, before);
    ASSERT_TRUE(w.WaitFor(Synced));
    Messages m = w.messages();
    EXPECT_EQ(SyncedRevision(m), head);
    EXPECT_FALSE(SnapshotMessages(m).empty());
    for (const v1::WatchGrantsResponse& r : SnapshotMessages(m)) {
      EXPECT_TRUE(r.snapshot());
    }
  }
  // A revision the database never reached (e.g. restored from a backup).
  {
    Watcher w(*stub, head + 1000);
    ASSERT_TRUE(w.WaitFor(Synced));
    EXPECT_EQ(SyncedRevision(w.messages()), head);
    EXPECT_GT(SyncedIndex(w.messages()), 0);
  }
  replica->Shutdown(absl::ZeroDuration());
  replica->Wait();
}

TEST_F(FeedTest, NegativeSinceRevisionIsInvalid) {
  Watcher w(h().introspection(), -1);
  EXPECT_THAT(w.WaitForEnd(), StatusIs(StatusCode::kInvalidArgument,
                                       HasSubstr("since_revision")));
}

TEST_F(FeedTest, HeartbeatsArriveWhileNothingChanges) {
  std::unique_ptr<Watcher> w = Watch();
  ASSERT_TRUE(w->WaitFor(
      [](const Messages& m) { return Synced(m) && CountHeartbeats(m) >= 2; }));
  const Messages m = w->messages();
  for (const v1::WatchGrantsResponse& r : m) {
    if (r.has_heartbeat_revision()) {
      EXPECT_EQ(r.heartbeat_revision(), SyncedRevision(m));
    }
  }
  // A heartbeat carries the revision of the last event sent.
  MustRevoke(h(), kAlice, kPlanA, NewToken().token().id());
  const int64_t last = FeedHead(h());
  ASSERT_TRUE(w->WaitFor([last](const Messages& m) {
    return !m.empty() && m.back().has_heartbeat_revision() &&
           m.back().heartbeat_revision() == last;
  }));
}

TEST_F(FeedTest, ListenerKilledDuringBurstLosesNoRevocation) {
  constexpr int kTokens = 50;
  std::vector<std::string> ids;
  for (int i = 0; i < kTokens; ++i) ids.push_back(NewToken().token().id());
  ASSERT_FALSE(HasFailure());
  std::vector<std::unique_ptr<Watcher>> watchers;
  for (int i = 0; i < 3; ++i) watchers.push_back(Watch());
  for (auto& w : watchers) ASSERT_TRUE(w->WaitFor(Synced));
  ASSERT_EQ(CountListeners(h()), 1);

  for (int i = 0; i < kTokens; ++i) {
    if (i == 10) {
      // NOTIFYs sent while the listener is gone are lost for good; the poll
      // after the reconnect must find the revocations anyway.
      ASSERT_EQ(KillListeners(h()), 1);
    }
    MustRevoke(h(), kAlice, kPlanA, ids[i]);
  }
  ASSERT_FALSE(HasFailure());

  const std::set<std::string> all(ids.begin(), ids.end());
  for (auto& w : watchers) {
    auto revoked_all = [&all](const Messages& m) {
      std::set<std::string> revoked;
      for (const v1::GrantEvent& e : LiveEvents(m)) {
        if (e.has_grant() && e.grant().status() == v1::TOKEN_STATUS_REVOKED) {
          revoked.insert(e.grant().token_id());
        }
      }
      return revoked == all;
    };
    ASSERT_TRUE(w->WaitFor(revoked_all));
    const Messages m = w->messages();
    EXPECT_EQ(Revisions(LiveEvents(m)), Range(SyncedRevision(m), kTokens));
  }
  // The listener is back.
  EXPECT_TRUE(PollUntil([&] { return CountListeners(h()) == 1; }));
}

TEST_F(FeedTest, RevisionsArriveInOrderWhenTheFirstWriterCommitsLast) {
  std::unique_ptr<Watcher> w = Watch();
  ASSERT_TRUE(w->WaitFor(Synced));
  const int64_t synced = SyncedRevision(w->messages());

  // Writer 1 takes revision synced + 1 and keeps its transaction open.
  pqxx::connection c1(h().db().url());
  pqxx::work t1(c1);
  const int64_t r1 = t1.exec1(
                           "SELECT pat_append_event('plan', 'p1', "
                           "'{\"id\":\"7000000001\",\"name\":\"one\",\"tier\":"
                           "\"enterprise\"}')")[0]
                         .as<int64_t>();
  EXPECT_EQ(r1, synced + 1);

  // Writer 2 asks for the next revision and wants to commit first: it cannot,
  // because the feed head's row lock makes it wait for writer 1. That wait
  // is what keeps a reader from ever passing an uncommitted revision.
  std::atomic<int64_t> r2{0};
  std::thread writer2([&] {
    pqxx::connection c2(h().db().url());
    pqxx::work t2(c2);
    r2 = t2.exec1(
               "SELECT pat_append_event('plan', 'p2', "
               "'{\"id\":\"7000000002\",\"name\":\"two\",\"tier\":"
               "\"enterprise\"}')")[0]
             .as<int64_t>();
    t2.commit();
  });
  ASSERT_TRUE(PollUntil([&] {
    pqxx::connection c(h().db().url());
    pqxx::nontransaction nt(c);
    return nt.exec1(
                 "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                 "current_database() AND wait_event_type = 'Lock'")[0]
               .as<int64_t>() == 1;
  }));
  // Meanwhile the watcher keeps going (a heartbeat at the old revision) and
  // has received nothing past it.
  const int heartbeats = CountHeartbeats(w->messages());
  ASSERT_TRUE(w->WaitFor([heartbeats](const Messages& m) {
    return CountHeartbeats(m) > heartbeats;
  }));
  EXPECT_TRUE(LiveEvents(w->messages()).empty());
  EXPECT_EQ(w->messages().back().heartbeat_revision(), synced);

  t1.commit();
  writer2.join();
  EXPECT_EQ(r2.load(), synced + 2);
  ASSERT_TRUE(w->WaitFor(HasLiveEvents(2)));
  std::vector<v1::GrantEvent> live = LiveEvents(w->messages());
  EXPECT_EQ(Revisions(live), Range(synced, 2));
  EXPECT_EQ(live[0].plan_upserted().id(), "7000000001");
  EXPECT_EQ(live[1].plan_upserted().id(), "7000000002");
}

// The used-only sidecar cache mode's stream: a snapshot of plans and
// resources only, then the synced marker and every live event, grant events
// included; ValidateToken says which revision its answer reflects.
TEST_F(FeedTest, DirectoryOnlySnapshotThenEveryLiveEvent) {
  v1::CreateTokenResponse first = NewToken();
  ASSERT_FALSE(HasFailure());
  const int64_t head = FeedHead(h());
  Watcher w(h().introspection(), 0, /*directory_only=*/true);
  ASSERT_TRUE(w.WaitFor(Synced));
  Messages m = w.messages();
  EXPECT_EQ(SyncedRevision(m), head);
  int plans = 0;
  int resources = 0;
  for (const v1::WatchGrantsResponse& r : SnapshotMessages(m)) {
    ASSERT_TRUE(r.has_event());
    EXPECT_TRUE(r.snapshot());
    EXPECT_FALSE(r.event().has_grant()) << "a grant in a directory snapshot";
    EXPECT_EQ(r.event().secrets_size(), 0);
    plans += r.event().has_plan_upserted();
    resources += r.event().has_resource_upserted();
  }
  EXPECT_EQ(plans, 3);
  EXPECT_EQ(resources, 10);

  // ValidateToken's revision: at least the head that holds the token.
  v1::ValidateTokenResponse v = Validate(h(), first.secret());
  ASSERT_TRUE(v.found());
  EXPECT_GE(v.revision(), head);
  v1::CreateTokenResponse second = NewToken();
  MustRevoke(h(), kAlice, kPlanA, second.token().id());
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(w.WaitFor(HasLiveEvents(2)));
  const std::vector<v1::GrantEvent> live = LiveEvents(w.messages());
  ASSERT_EQ(Revisions(live), Range(head, 2));
  EXPECT_EQ(live[0].grant().token_id(), second.token().id());
  EXPECT_EQ(live[1].grant().status(), v1::TOKEN_STATUS_REVOKED);
  v = Validate(h(), second.secret());
  EXPECT_EQ(v.grant().status(), v1::TOKEN_STATUS_REVOKED);
  EXPECT_GE(v.revision(), head + 2) << "a read-your-writes answer after the "
                                       "revoke reflects the revoke's revision";
  const v1::ValidateTokenResponse unknown =
      Validate(h(), "figp_" + std::string(40, 'b'));
  EXPECT_FALSE(unknown.found());
  EXPECT_GE(unknown.revision(), head + 2) << "not-found answers carry it too";
}

TEST_F(FeedTest, HundredWatchersShareOneDatabaseReader) {
  constexpr int kWatchers = 100;
  constexpr int kEvents = 20;
  std::vector<std::string> ids;
  for (int i = 0; i < kEvents; ++i) ids.push_back(NewToken().token().id());
  ASSERT_FALSE(HasFailure());
  std::vector<std::unique_ptr<Watcher>> watchers;
  for (int i = 0; i < kWatchers; ++i) watchers.push_back(Watch());
  for (auto& w : watchers) ASSERT_TRUE(w->WaitFor(Synced));

  const int64_t reads_before = FeedHub::TotalEventReads();
  for (const std::string& id : ids) MustRevoke(h(), kAlice, kPlanA, id);
  ASSERT_FALSE(HasFailure());
  for (auto& w : watchers) {
    ASSERT_TRUE(w->WaitFor(HasLiveEvents(kEvents)));
    const Messages m = w->messages();
    EXPECT_EQ(Revisions(LiveEvents(m)), Range(SyncedRevision(m), kEvents));
  }
  const int64_t reads = FeedHub::TotalEventReads() - reads_before;
  RecordProperty("event_reads", static_cast<int>(reads));
  // One reader per process: a read per wake-up or poll, not per watcher.
  // Reading per watcher would take at least kWatchers * kEvents / batch
  // reads, and in practice one per watcher and event.
  EXPECT_LT(reads, kWatchers * kEvents / 4) << reads << " event reads";
}

TEST_F(FeedTest, RevokeIsARevokedGrantWhoseSecretsAllEndByTheRevoke) {
  std::unique_ptr<Watcher> w = Watch();
  ASSERT_TRUE(w->WaitFor(Synced));
  v1::CreateTokenResponse created = NewToken();
  clock().Advance(absl::Hours(1));
  v1::RefreshTokenResponse refreshed =
      MustRefresh(h(), kAlice, kPlanA, created.token().id());
  clock().Advance(absl::Hours(1));
  v1::Token revoked = MustRevoke(h(), kAlice, kPlanA, created.token().id());
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(w->WaitFor(HasLiveEvents(3)));

  std::vector<v1::GrantEvent> grants =
      GrantsOf(LiveEvents(w->messages()), created.token().id());
  ASSERT_EQ(grants.size(), 3u);
  // After the refresh: the previous secret ends 24 h after it, the new one
  // at the new expiry.
  ASSERT_EQ(grants[1].secrets_size(), 2);
  std::map<std::string, absl::Time> ends;
  for (const v1::SecretState& s : grants[1].secrets()) {
    ends[s.secret_sha256()] = ToTime(s.expire_time());
  }
  EXPECT_EQ(ends[SecretDigestBytes(created.secret())],
            ToTime(refreshed.previous_secret_expire_time()));
  EXPECT_EQ(ends[SecretDigestBytes(refreshed.secret())],
            ToTime(refreshed.token().expire_time()));

  const v1::GrantEvent& last = grants[2];
  EXPECT_EQ(last.grant().status(), v1::TOKEN_STATUS_REVOKED);
  ASSERT_TRUE(last.grant().has_revoke_time());
  const absl::Time revoke_time = ToTime(last.grant().revoke_time());
  EXPECT_EQ(revoke_time, ToTime(revoked.revoke_time()));
  ASSERT_EQ(last.secrets_size(), 2);
  for (const v1::SecretState& s : last.secrets()) {
    EXPECT_LE(ToTime(s.expire_time()), revoke_time);
  }
}

TEST_F(FeedTest, ShutdownEndsWatchersWithUnavailable) {
  std::unique_ptr<AuthorityServer> replica = StartReplica(h());
  ASSERT_NE(replica, nullptr);
  auto stub = StubFor(*replica);
  Watcher w(*stub, 0);
  ASSERT_TRUE(w.WaitFor(Synced));
  replica->Shutdown(absl::Seconds(30));
  EXPECT_THAT(w.WaitForEnd(),
              StatusIs(StatusCode::kUnavailable, HasSubstr("since_revision")));
  replica->Wait();
}

TEST_F(FeedTest, PruningKeepsTheNewestEventAndResumesBecomeSnapshots) {
  for (int i = 0; i < 3; ++i) NewToken();
  ASSERT_FALSE(HasFailure());
  const int64_t head = FeedHead(h());
  ASSERT_GT(CountRows(h(), "grant_events"), 1);
  // A hub that keeps nothing: its first prune removes all but the newest.
  FeedHubOptions options;
  options.database_url = h().db().url();
  options.retention = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<FeedHub>> hub =
      FeedHub::Start(options, clock());
  ASSERT_TRUE(hub.ok()) << hub.status();
  EXPECT_TRUE(PollUntil([&] { return CountRows(h(), "grant_events") == 1; }));
  hub->reset();
  EXPECT_EQ(FeedHead(h()), head);

  // A replica (whose memory holds none of it) cannot resume from before the
  // pruned history: a snapshot; from just before the newest event it resumes.
  std::unique_ptr<AuthorityServer> replica = StartReplica(h());
  ASSERT_NE(replica, nullptr);
  auto stub = StubFor(*replica);
  {
    Watcher w(*stub, head - 2);
    ASSERT_TRUE(w.WaitFor(Synced));
    EXPECT_GT(SyncedIndex(w.messages()), 0);
    EXPECT_EQ(SyncedRevision(w.messages()), head);
  }
  {
    Watcher w(*stub, head - 1);
    ASSERT_TRUE(w.WaitFor(HasLiveEvents(1)));
    EXPECT_EQ(SyncedIndex(w.messages()), 0);
    EXPECT_EQ(Revisions(LiveEvents(w.messages())), Range(head - 1, 1));
  }
  replica->Shutdown(absl::ZeroDuration());
  replica->Wait();
}

// --- ResolveResource --------------------------------------------------------

TEST_F(FeedTest, ResolveResourceReturnsTheChainToTheRoot) {
  v1::ResolveResourceRequest req;
  req.set_kind(v1::RESOURCE_KIND_FILE);
  req.set_id("FILEA1");
  v1::ResolveResourceResponse resp;
  ASSERT_THAT(h().introspection().ResolveResource(
                  AuthorityHarness::Ctx("").get(), req, &resp),
              IsOk());
  EXPECT_EQ(resp.plan_id(), kPlanA);
  std::vector<std::pair<int, std::string>> chain;
  for (const v1::Resource& r : resp.chain()) {
    chain.emplace_back(r.kind(), r.id());
    EXPECT_EQ(r.plan_id(), kPlanA);
  }
  EXPECT_THAT(
      chain,
      ElementsAre(
          std::pair<int, std::string>(v1::RESOURCE_KIND_FILE, "FILEA1"),
          std::pair<int, std::string>(v1::RESOURCE_KIND_PROJECT, "projA"),
          std::pair<int, std::string>(v1::RESOURCE_KIND_TEAM, "teamA"),
          std::pair<int, std::string>(v1::RESOURCE_KIND_WORKSPACE, "wsA")));
  EXPECT_EQ(resp.chain(0).parent_id(), "projA");
  EXPECT_EQ(resp.chain(3).parent_id(), "");

  req.set_kind(v1::RESOURCE_KIND_NPM_SCOPE);
  req.set_id(kNpmScopeA);
  ASSERT_THAT(h().introspection().ResolveResource(
                  AuthorityHarness::Ctx("").get(), req, &resp),
              IsOk());
  ASSERT_EQ(resp.chain_size(), 1);
  EXPECT_EQ(resp.chain(0).id(), kNpmScopeA);

  for (const auto& [kind, id] :
       std::vector<std::pair<v1::ResourceKind, std::string>>{
           {v1::RESOURCE_KIND_FILE, "NOPE"},
           {v1::RESOURCE_KIND_PROJECT, "FILEA1"},  // a file, not a project
       }) {
    req.set_kind(kind);
    req.set_id(id);
    EXPECT_THAT(h().introspection().ResolveResource(
                    AuthorityHarness::Ctx("").get(), req, &resp),
                StatusCodeIs(StatusCode::kNotFound))
        << id;
  }
  req.set_kind(v1::RESOURCE_KIND_UNSPECIFIED);
  req.set_id("FILEA1");
  EXPECT_THAT(h().introspection().ResolveResource(
                  AuthorityHarness::Ctx("").get(), req, &resp),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("kind")));
  req.set_kind(v1::RESOURCE_KIND_FILE);
  req.set_id("");
  EXPECT_THAT(h().introspection().ResolveResource(
                  AuthorityHarness::Ctx("").get(), req, &resp),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("id")));
}

// --- ReportUsage ------------------------------------------------------------

v1::UsageRecord Usage(const std::string& token_id, absl::Time t,
                      const std::string& ip) {
  v1::UsageRecord r;
  r.set_token_id(token_id);
  r.mutable_last_used_time()->set_seconds(absl::ToUnixSeconds(t));
  r.set_client_ip(ip);
  return r;
}

TEST_F(FeedTest, ReportUsageSetsLastUsedWithoutAuditOrFeedEvents) {
  v1::CreateTokenResponse created = NewToken();
  ASSERT_FALSE(HasFailure());
  const std::string id = created.token().id();
  EXPECT_FALSE(MustGet(h(), kAlice, kPlanA, id).has_last_used_time());
  const int64_t audit_before = CountRows(h(), "audit_events");
  const int64_t head_before = FeedHead(h());

  auto report = [&](const std::vector<v1::UsageRecord>& records) {
    v1::ReportUsageRequest req;
    for (const v1::UsageRecord& r : records) *req.add_records() = r;
    v1::ReportUsageResponse resp;
    return h().introspection().ReportUsage(AuthorityHarness::Ctx("").get(), req,
                                           &resp);
  };
  const absl::Time t1 =
      absl::FromUnixSeconds(absl::ToUnixSeconds(Now())) - absl::Minutes(10);
  // Unknown tokens are ignored; the latest report of a token wins.
  ASSERT_THAT(report({Usage(kUnknownTokenId, t1, "198.51.100.1"),
                      Usage(id, t1 - absl::Minutes(1), "198.51.100.2"),
                      Usage(id, t1, "203.0.113.7")}),
              IsOk());
  v1::Token got = MustGet(h(), kAlice, kPlanA, id);
  ASSERT_TRUE(got.has_last_used_time());
  EXPECT_EQ(ToTime(got.last_used_time()), t1);
  EXPECT_EQ(got.last_used_ip(), "203.0.113.7");

  // An older report changes nothing; a newer one (IPv6) wins.
  ASSERT_THAT(report({Usage(id, t1 - absl::Minutes(5), "192.0.2.1")}), IsOk());
  got = MustGet(h(), kAlice, kPlanA, id);
  EXPECT_EQ(ToTime(got.last_used_time()), t1);
  EXPECT_EQ(got.last_used_ip(), "203.0.113.7");
  ASSERT_THAT(report({Usage(id, t1 + absl::Minutes(5), "2001:db8::1")}),
              IsOk());
  got = MustGet(h(), kAlice, kPlanA, id);
  EXPECT_EQ(ToTime(got.last_used_time()), t1 + absl::Minutes(5));
  EXPECT_EQ(got.last_used_ip(), "2001:db8::1");
  // A time after the authority's now is recorded as now.
  ASSERT_THAT(report({Usage(id, Now() + absl::Hours(48), "")}), IsOk());
  got = MustGet(h(), kAlice, kPlanA, id);
  EXPECT_EQ(ToTime(got.last_used_time()), Now());
  EXPECT_EQ(got.last_used_ip(), "2001:db8::1");

  EXPECT_EQ(CountRows(h(), "audit_events"), audit_before);
  EXPECT_EQ(FeedHead(h()), head_before);

  // Refused: bad IPs, malformed ids, a missing time, too many records.
  EXPECT_THAT(report({Usage(id, t1, "not-an-ip")}),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("records[0].client_ip")));
  EXPECT_THAT(report({Usage(id, t1, std::string(65, '1'))}),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("records[0].client_ip")));
  EXPECT_THAT(
      report({Usage(id, t1, ""), Usage("tok_x", t1, "")}),
      StatusIs(StatusCode::kInvalidArgument, HasSubstr("records[1].token_id")));
  v1::UsageRecord no_time;
  no_time.set_token_id(id);
  EXPECT_THAT(report({no_time}),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("records[0].last_used_time")));
  EXPECT_THAT(report(std::vector<v1::UsageRecord>(kMaxUsageRecords + 1,
                                                  Usage(id, t1, ""))),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("records")));
  got = MustGet(h(), kAlice, kPlanA, id);
  EXPECT_EQ(ToTime(got.last_used_time()), Now());
}

}  // namespace
}  // namespace pat::testing
