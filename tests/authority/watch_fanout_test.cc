// WatchGrants on the callback API (issue #11): every live event is
// serialized once for all streams; a slow consumer is bounded by the
// replica's event buffer (--watch_buffer_events) and ends RESOURCE_EXHAUSTED
// with a resume revision it can reconnect with, without a snapshot and with
// no gap; a client that stops reading is cancelled after the grace; and
// neither slows the streams that keep up.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pat/v1/pat.grpc.pb.h"
#include "tests/support/authority_harness.h"
#include "tests/support/fixtures.h"
#include "tests/support/wait_for.h"

namespace pat::testing {
namespace {

namespace v1 = ::pat::v1;

// Bound of every wait on a condition (never a timing assertion).
constexpr absl::Duration kWait = absl::Seconds(120);
// Far more event bytes than one stream's HTTP/2 window (BDP probing off).
constexpr int kBurst = 2000;
// Small enough that the stalled stream falls out of it, large enough that a
// reading stream on a loaded machine never does.
constexpr int kBuffer = 400;

// A channel whose stream windows do not grow: a client that stops reading
// stops the server's writes after about 64 KiB.
std::shared_ptr<grpc::Channel> FixedWindowChannel(AuthorityHarness& h,
                                                  int tag) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt("pat.test.channel", tag);
  return grpc::CreateCustomChannel(h.target(),
                                   grpc::InsecureChannelCredentials(), args);
}

// One stream read by its own thread while `reading` (the test can pause
// it); records revisions of live events.
class Watch {
 public:
  Watch(std::shared_ptr<grpc::Channel> channel, int64_t since)
      : stub_(v1::IntrospectionService::NewStub(channel)) {
    ctx_.set_deadline(absl::ToChronoTime(absl::Now() + 2 * kWait));
    v1::WatchGrantsRequest request;
    request.set_since_revision(since);
    reader_ = stub_->WatchGrants(&ctx_, request);
    thread_ = std::thread([this] { ReadAll(); });
  }
  ~Watch() {
    ctx_.TryCancel();
    SetReading(true);
    thread_.join();
  }

  void SetReading(bool reading) {
    absl::MutexLock lock(&mu_);
    reading_ = reading;
  }
  // Waits until the stream has synced and then reached `revision`, or
  // ended; whether it reached it.
  bool WaitForRevision(int64_t revision) {
    absl::MutexLock lock(&mu_);
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return ended_ || (synced_ >= 0 && last_ >= revision);
    };
    mu_.AwaitWithTimeout(absl::Condition(&done), kWait);
    return synced_ >= 0 && last_ >= revision;
  }
  // Waits for the end of the stream; its status.
  grpc::Status WaitForEnd() {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&ended_), kWait);
    return status_;
  }
  bool ended() {
    absl::MutexLock lock(&mu_);
    return ended_;
  }
  int64_t synced() {
    absl::MutexLock lock(&mu_);
    return synced_;
  }
  int snapshot_events() {
    absl::MutexLock lock(&mu_);
    return snapshot_events_;
  }
  // The live revisions, in arrival order.
  std::vector<int64_t> live() {
    absl::MutexLock lock(&mu_);
    return live_;
  }
  std::string resume_metadata() {
    absl::MutexLock lock(&mu_);
    return resume_;
  }

 private:
  void ReadAll() {
    v1::WatchGrantsResponse m;
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(&reading_));
      }
      if (!reader_->Read(&m)) break;
      absl::MutexLock lock(&mu_);
      if (m.has_synced_revision()) {
        synced_ = m.synced_revision();
        last_ = synced_;
      } else if (m.has_event() && m.snapshot()) {
        ++snapshot_events_;
      } else if (m.has_event()) {
        live_.push_back(m.event().revision());
        last_ = m.event().revision();
      }
    }
    grpc::Status status = reader_->Finish();
    absl::MutexLock lock(&mu_);
    auto it = ctx_.GetServerTrailingMetadata().find("pat-resume-revision");
    if (it != ctx_.GetServerTrailingMetadata().end()) {
      resume_ = std::string(it->second.data(), it->second.size());
    }
    status_ = std::move(status);
    ended_ = true;
  }

  std::unique_ptr<v1::IntrospectionService::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::WatchGrantsResponse>> reader_;
  std::thread thread_;
  absl::Mutex mu_;
  bool reading_ ABSL_GUARDED_BY(mu_) = true;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  int64_t synced_ ABSL_GUARDED_BY(mu_) = -1;
  int64_t last_ ABSL_GUARDED_BY(mu_) = -1;
  int snapshot_events_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<int64_t> live_ ABSL_GUARDED_BY(mu_);
  std::string resume_ ABSL_GUARDED_BY(mu_);
};

// Revokes BulkTokenId(first..first + n - 1) from four threads: n feed
// events. Whether every revoke returned OK.
bool RevokeBulk(AuthorityHarness& h, int first, int n) {
  std::atomic<int> next{first};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < first + n; i = next++) {
        v1::Token revoked;
        if (!RevokeToken(h, kAlice, kPlanA, BulkTokenId(i), &revoked).ok()) {
          ++failed;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return failed.load() == 0;
}

struct World {
  std::unique_ptr<AuthorityHarness> h;
  int64_t head = 0;  // after seeding
};

World StartWorld(absl::Duration evict_grace) {
  HarnessOptions options;
  options.metrics = true;
  options.watch_buffer_events = kBuffer;
  options.watch_evict_grace = evict_grace;
  World w;
  w.h = AuthorityHarness::Start(options);
  if (w.h == nullptr) return w;
  SeedWorld(*w.h);
  BulkInsertTokens(*w.h, 2 * kBurst);
  w.head = FeedHeadNow(*w.h);
  return w;
}

TEST(WatchFanoutTest, SlowConsumerEndsWithResumeRevisionAndResumesWithoutGap) {
  World w = StartWorld(absl::Seconds(600));
  ASSERT_NE(w.h, nullptr);
  AuthorityHarness& h = *w.h;
  auto slow_channel = FixedWindowChannel(h, 1);
  auto fast_channel = FixedWindowChannel(h, 2);
  Watch slow(slow_channel, w.head);
  Watch fast(fast_channel, w.head);
  ASSERT_TRUE(slow.WaitForRevision(w.head));
  ASSERT_TRUE(fast.WaitForRevision(w.head));
  slow.SetReading(false);

  ASSERT_TRUE(RevokeBulk(h, 1, kBurst));
  const int64_t head = FeedHeadNow(h);
  ASSERT_EQ(head, w.head + kBurst);
  // The stream that keeps up gets every event while the slow one stalls.
  ASSERT_TRUE(fast.WaitForRevision(head));
  EXPECT_FALSE(fast.ended());
  EXPECT_TRUE(Contiguous(fast.live(), w.head));

  slow.SetReading(true);
  const grpc::Status ended = slow.WaitForEnd();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << ended.error_message();
  const std::vector<int64_t> got = slow.live();
  ASSERT_FALSE(got.empty());
  EXPECT_TRUE(Contiguous(got, w.head));
  EXPECT_LT(got.back(), head);  // it did fall behind
  // The resume revision is the last event the client received.
  int64_t resume = -1;
  ASSERT_TRUE(absl::SimpleAtoi(slow.resume_metadata(), &resume))
      << "metadata: '" << slow.resume_metadata() << "'";
  EXPECT_EQ(resume, got.back());
  EXPECT_EQ(MetricValue(h.registry(), "pat_authority_watch_evictions_total"),
            1);

  // Reconnecting with it resumes: no snapshot, every later event once.
  Watch resumed(slow_channel, resume);
  ASSERT_TRUE(resumed.WaitForRevision(head));
  EXPECT_EQ(resumed.synced(), resume);
  EXPECT_EQ(resumed.snapshot_events(), 0);
  EXPECT_TRUE(Contiguous(resumed.live(), resume));
  EXPECT_EQ(resumed.live().size(), static_cast<size_t>(head - resume));
  EXPECT_FALSE(resumed.ended());
  EXPECT_FALSE(fast.ended());
}

TEST(WatchFanoutTest, ClientThatStopsReadingIsCancelledAfterTheGrace) {
  World w = StartWorld(absl::Milliseconds(500));
  ASSERT_NE(w.h, nullptr);
  AuthorityHarness& h = *w.h;
  Watch stuck(FixedWindowChannel(h, 1), w.head);
  Watch fast(FixedWindowChannel(h, 2), w.head);
  ASSERT_TRUE(stuck.WaitForRevision(w.head));
  ASSERT_TRUE(fast.WaitForRevision(w.head));
  stuck.SetReading(false);
  ASSERT_EQ(MetricValue(h.registry(), "pat_authority_watchers"), 2);

  ASSERT_TRUE(RevokeBulk(h, 1, kBurst));
  const int64_t head = FeedHeadNow(h);
  ASSERT_TRUE(fast.WaitForRevision(head));
  // The server gives up on the stuck stream without the client reading.
  EXPECT_TRUE(WaitFor(
      [&] { return MetricValue(h.registry(), "pat_authority_watchers") == 1; },
      kWait));
  EXPECT_EQ(MetricValue(h.registry(), "pat_authority_watch_evictions_total"),
            1);
  stuck.SetReading(true);
  EXPECT_EQ(stuck.WaitForEnd().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_FALSE(fast.ended());
  EXPECT_TRUE(Contiguous(fast.live(), w.head));
}

TEST(WatchFanoutTest, EachEventIsSerializedOnceForEveryStream) {
  World w = StartWorld(absl::Seconds(5));
  ASSERT_NE(w.h, nullptr);
  AuthorityHarness& h = *w.h;
  constexpr int kStreams = 20;
  constexpr int kEvents = 50;
  std::vector<std::unique_ptr<Watch>> watches;
  for (int i = 0; i < kStreams; ++i) {
    watches.push_back(std::make_unique<Watch>(h.channel(), w.head));
  }
  for (auto& watch : watches) ASSERT_TRUE(watch->WaitForRevision(w.head));
  const int64_t serialized_before =
      MetricValue(h.registry(), "pat_authority_watch_events_serialized_total");
  const int64_t sent_before =
      MetricValue(h.registry(), "pat_authority_watch_events_sent_total");

  ASSERT_TRUE(RevokeBulk(h, 1, kEvents));
  const int64_t head = FeedHeadNow(h);
  ASSERT_EQ(head, w.head + kEvents);
  for (auto& watch : watches) {
    ASSERT_TRUE(watch->WaitForRevision(head));
    EXPECT_TRUE(Contiguous(watch->live(), w.head));
  }
  EXPECT_EQ(
      MetricValue(h.registry(), "pat_authority_watch_events_serialized_total") -
          serialized_before,
      kEvents);
  EXPECT_EQ(MetricValue(h.registry(), "pat_authority_watch_events_sent_total") -
                sent_before,
            kStreams * kEvents);
}

}  // namespace
}  // namespace pat::testing
