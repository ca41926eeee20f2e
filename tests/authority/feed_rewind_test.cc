// The feed head going backwards (issue #12, docs/failover.md): after a
// failover to a standby that lacked commits, the database's feed_head is
// below the revisions the authority's FeedHub has read. The hub must notice
// at its reconnect, never serve the lost history from memory, send watchers
// positioned on the lost history to a snapshot, and deliver the new
// history's events. The failover is simulated on one database: the lost
// events are deleted, feed_head set back, and the feed listener terminated
// (it reconnects as it would to a promoted standby). The real two-cluster
// drill is tests/failover/failover_drill.py.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pat/v1/pat.grpc.pb.h"
#include "pqxx/pqxx"
#include "server/grant_feed.h"
#include "tests/support/authority_harness.h"
#include "tests/support/fixtures.h"

namespace pat::testing {
namespace {

namespace v1 = ::pat::v1;

constexpr absl::Duration kWait = absl::Seconds(60);
using Messages = std::vector<v1::WatchGrantsResponse>;

// One WatchGrants stream, read by its own thread into a list.
class Stream {
 public:
  Stream(v1::IntrospectionService::Stub& stub, int64_t since) {
    ctx_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(5)));
    v1::WatchGrantsRequest request;
    request.set_since_revision(since);
    reader_ = stub.WatchGrants(&ctx_, request);
    thread_ = std::thread([this] { ReadAll(); });
  }
  ~Stream() {
    ctx_.TryCancel();
    thread_.join();
  }
  // Waits until `done(messages)` holds or the stream ends; true if it held.
  bool WaitFor(const std::function<bool(const Messages&)>& done) {
    absl::MutexLock lock(&mu_);
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return ended_ || done(messages_);
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), kWait);
    return done(messages_);
  }
  // The stream's status once ended (DEADLINE_EXCEEDED if it did not end).
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

int SyncedIndex(const Messages& m) {
  for (size_t i = 0; i < m.size(); ++i) {
    if (m[i].has_synced_revision()) return static_cast<int>(i);
  }
  return -1;
}

bool Synced(const Messages& m) { return SyncedIndex(m) >= 0; }

// Events after the synced marker.
std::vector<v1::GrantEvent> LiveEvents(const Messages& m) {
  std::vector<v1::GrantEvent> out;
  const int synced = SyncedIndex(m);
  if (synced < 0) return out;
  for (size_t i = synced + 1; i < m.size(); ++i) {
    if (m[i].has_event()) out.push_back(m[i].event());
  }
  return out;
}

std::function<bool(const Messages&)> HasLiveEvents(size_t n) {
  return [n](const Messages& m) { return LiveEvents(m).size() >= n; };
}

class FeedRewindTest : public SeededAuthorityTest {
 protected:
  std::unique_ptr<Stream> Watch(int64_t since) {
    return std::make_unique<Stream>(h().introspection(), since);
  }
  std::string NewTokenId() {
    return MustCreate(h(), kAlice, MakeCreateRequest(kPlanA)).token().id();
  }
  // The database loses every feed event after `head` (as a promoted standby
  // that never received them), and the feed listener's connection breaks.
  void RewindFeedTo(int64_t head) {
    pqxx::connection conn(h().db().url());
    {
      pqxx::work txn(conn);
      txn.exec_params("DELETE FROM grant_events WHERE revision > $1", head);
      txn.exec_params("UPDATE feed_head SET revision = $1 WHERE id = 1", head);
      txn.commit();
    }
    pqxx::nontransaction nt(conn);
    nt.exec_params(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
        "application_name = $1 AND datname = current_database()",
        std::string(kFeedListenerApplicationName));
  }
};

TEST_F(FeedRewindTest, LostHistoryIsNeverServedAndWatchersResnapshot) {
  std::unique_ptr<Stream> before = Watch(0);
  ASSERT_TRUE(before->WaitFor(Synced));
  const int64_t head =
      before->messages()[SyncedIndex(before->messages())].synced_revision();
  for (int i = 0; i < 3; ++i) NewTokenId();
  ASSERT_TRUE(before->WaitFor(HasLiveEvents(3)));
  const int64_t old_end = LiveEvents(before->messages()).back().revision();
  ASSERT_EQ(old_end, head + 3);

  RewindFeedTo(head);

  // A watcher on the lost history is ended so that its client resyncs.
  EXPECT_EQ(before->WaitForEnd().error_code(), grpc::StatusCode::ABORTED);
  // Resuming from the lost history gives a snapshot at the new head...
  std::unique_ptr<Stream> lost = Watch(old_end);
  ASSERT_TRUE(lost->WaitFor(Synced));
  const Messages m = lost->messages();
  EXPECT_EQ(m[SyncedIndex(m)].synced_revision(), head);
  ASSERT_GT(SyncedIndex(m), 0);
  EXPECT_TRUE(m[0].snapshot());
  // ...and every watcher then gets the new history, never the old events.
  std::unique_ptr<Stream> resumed = Watch(head);
  ASSERT_TRUE(resumed->WaitFor(Synced));
  const std::string fresh = NewTokenId();
  for (Stream* s : {lost.get(), resumed.get()}) {
    ASSERT_TRUE(s->WaitFor(HasLiveEvents(1)));
    const std::vector<v1::GrantEvent> live = LiveEvents(s->messages());
    ASSERT_EQ(live.size(), 1u);
    EXPECT_EQ(live[0].revision(), head + 1);
    ASSERT_TRUE(live[0].has_grant());
    EXPECT_EQ(live[0].grant().token_id(), fresh);
  }
}

}  // namespace
}  // namespace pat::testing
