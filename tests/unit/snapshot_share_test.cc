// SnapshotShare (server/snapshot_share.h) with a scripted reader: which
// requests share a read, which start one, the bound on reads running at
// once, errors, deadlines, cancellation and the waiter limit. The database
// side is covered by tests/authority/snapshot_storm_test.cc.

#include "server/snapshot_share.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/authority_config.h"
#include "tests/support/status_matchers.h"

namespace pat::testing {
namespace {

using ::testing::StartsWith;

constexpr absl::Duration kWait = absl::Seconds(30);

// A database stand-in: each read takes the snapshot at the current head
// once it starts, then blocks until released (or fails when told to).
class ScriptedReader {
 public:
  absl::StatusOr<FeedSnapshot> Read() {
    absl::MutexLock lock(&mu_);
    ++started_;
    ++running_;
    max_running_ = std::max(max_running_, running_);
    FeedSnapshot snapshot;
    snapshot.revision = head_;
    const int64_t ticket = started_;
    auto released = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return released_ >= ticket;
    };
    mu_.Await(absl::Condition(&released));
    --running_;
    if (fail_) return absl::UnavailableError("database unavailable");
    return snapshot;
  }

  // Lets every read started so far finish (later ones block again).
  void ReleaseAll() {
    absl::MutexLock lock(&mu_);
    released_ = started_;
  }
  void SetHead(int64_t head) {
    absl::MutexLock lock(&mu_);
    head_ = head;
  }
  void SetFail(bool fail) {
    absl::MutexLock lock(&mu_);
    fail_ = fail;
  }
  bool WaitStarted(int n) {
    absl::MutexLock lock(&mu_);
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return started_ >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&ready), kWait);
  }
  int started() {
    absl::MutexLock lock(&mu_);
    return started_;
  }
  int max_running() {
    absl::MutexLock lock(&mu_);
    return max_running_;
  }

 private:
  absl::Mutex mu_;
  int64_t head_ ABSL_GUARDED_BY(mu_) = 0;
  bool fail_ ABSL_GUARDED_BY(mu_) = false;
  int started_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t released_ ABSL_GUARDED_BY(mu_) = 0;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  int max_running_ ABSL_GUARDED_BY(mu_) = 0;
};

struct Fixture {
  explicit Fixture(int max_reads, int max_waiters = 10000)
      : share([this] { return reader.Read(); },
              Options(max_reads, max_waiters, waiters)) {}

  static SnapshotShareOptions Options(int max_reads, int max_waiters,
                                      Gauge& waiters) {
    SnapshotShareOptions o;
    o.max_concurrent_reads = max_reads;
    o.max_waiters = max_waiters;
    o.cancel_check_interval = absl::Milliseconds(5);
    o.waiters = &waiters;
    return o;
  }

  bool WaitWaiters(int64_t n) {
    const absl::Time deadline = absl::Now() + kWait;
    while (waiters.value() != n) {
      if (absl::Now() >= deadline) return false;
      absl::SleepFor(absl::Milliseconds(1));
    }
    return true;
  }

  ScriptedReader reader;
  Gauge waiters;
  SnapshotShare share;
};

absl::StatusOr<SnapshotPtr> Get(SnapshotShare& share, int64_t head) {
  return share.Get(head, absl::Now() + kWait, [] { return false; });
}

// Runs Get(head) on its own thread.
class Request {
 public:
  Request(SnapshotShare& share, int64_t head)
      : thread_([this, &share, head] { result_ = Get(share, head); }) {}
  // Once: joins and hands over the result (the request no longer holds it).
  absl::StatusOr<SnapshotPtr> Result() {
    thread_.join();
    return std::move(result_);
  }

 private:
  absl::StatusOr<SnapshotPtr> result_ = absl::UnknownError("not run");
  std::thread thread_;
};

TEST(SnapshotShareTest, RequestsAtTheHeadOfARunningReadShareIt) {
  Fixture f(/*max_reads=*/2);
  f.reader.SetHead(7);
  std::vector<std::unique_ptr<Request>> requests;
  requests.push_back(std::make_unique<Request>(f.share, 7));
  ASSERT_TRUE(f.reader.WaitStarted(1));
  for (int i = 0; i < 50; ++i) {
    requests.push_back(std::make_unique<Request>(f.share, 7));
  }
  ASSERT_TRUE(f.WaitWaiters(50));
  f.reader.ReleaseAll();
  std::vector<absl::StatusOr<SnapshotPtr>> results;
  for (auto& r : requests) results.push_back(r->Result());
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  const SnapshotPtr first = *results[0];
  for (const absl::StatusOr<SnapshotPtr>& got : results) {
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->get(), first.get());
  }
  EXPECT_EQ(first->revision, 7);
  EXPECT_EQ(f.share.reads(), 1);
  EXPECT_EQ(f.share.shared(), 50);
  EXPECT_EQ(f.waiters.value(), 0);
}

TEST(SnapshotShareTest, AHeadAboveEveryRunningReadStartsAnotherRead) {
  Fixture f(/*max_reads=*/2);
  f.reader.SetHead(7);
  Request a(f.share, 7);
  ASSERT_TRUE(f.reader.WaitStarted(1));
  f.reader.SetHead(9);  // committed after read 1 began
  Request b(f.share, 9);
  ASSERT_TRUE(f.reader.WaitStarted(2));
  f.reader.ReleaseAll();
  EXPECT_EQ((*a.Result())->revision, 7);
  EXPECT_EQ((*b.Result())->revision, 9);
  EXPECT_EQ(f.share.reads(), 2);
  EXPECT_EQ(f.share.shared(), 0);
}

TEST(SnapshotShareTest, NeverAnswersBelowTheRequestedHead) {
  // Every head from 1 to 40, each asked once while reads run: every answer
  // covers its head, and no more than max_reads reads ever run at once.
  for (int max_reads : {1, 2, 3}) {
    Fixture f(max_reads);
    std::vector<std::unique_ptr<Request>> requests;
    std::vector<int64_t> heads;
    for (int64_t head = 1; head <= 40; ++head) {
      f.reader.SetHead(head);
      heads.push_back(head);
      requests.push_back(std::make_unique<Request>(f.share, head));
      if (head % 7 == 0) f.reader.ReleaseAll();
    }
    // Release until every request is answered.
    std::atomic<bool> stop{false};
    std::thread releaser([&] {
      while (!stop.load()) {
        f.reader.ReleaseAll();
        absl::SleepFor(absl::Milliseconds(1));
      }
    });
    for (size_t i = 0; i < requests.size(); ++i) {
      absl::StatusOr<SnapshotPtr> got = requests[i]->Result();
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_GE((*got)->revision, heads[i]) << "max_reads " << max_reads;
    }
    stop = true;
    releaser.join();
    EXPECT_LE(f.reader.max_running(), max_reads);
    EXPECT_EQ(f.share.reads() + f.share.shared(), 40);
    EXPECT_LE(f.share.reads(), 40);
  }
}

TEST(SnapshotShareTest, AFailedReadFailsItsJoinersAndIsNotCached) {
  Fixture f(/*max_reads=*/1);
  f.reader.SetHead(3);
  f.reader.SetFail(true);
  Request a(f.share, 3);
  ASSERT_TRUE(f.reader.WaitStarted(1));
  Request b(f.share, 3);
  ASSERT_TRUE(f.WaitWaiters(1));
  f.reader.ReleaseAll();
  EXPECT_THAT(a.Result().status(),
              StatusIs(absl::StatusCode::kUnavailable, StartsWith("database")));
  EXPECT_THAT(b.Result().status(),
              StatusIs(absl::StatusCode::kUnavailable, StartsWith("database")));
  f.reader.SetFail(false);
  f.reader.ReleaseAll();
  Request c(f.share, 3);
  ASSERT_TRUE(f.reader.WaitStarted(2));
  f.reader.ReleaseAll();
  EXPECT_EQ((*c.Result())->revision, 3);
  EXPECT_EQ(f.share.reads(), 2);
}

TEST(SnapshotShareTest, ACompletedSnapshotIsReusedOnlyWhileHeld) {
  Fixture f(/*max_reads=*/1);
  f.reader.SetHead(5);
  Request a(f.share, 5);
  ASSERT_TRUE(f.reader.WaitStarted(1));
  f.reader.ReleaseAll();
  SnapshotPtr held = *a.Result();
  // Held by a stream still sending it: reused for the same head.
  EXPECT_EQ(Get(f.share, 5)->get(), held.get());
  EXPECT_EQ(f.share.reads(), 1);
  held.reset();
  Request b(f.share, 5);
  ASSERT_TRUE(f.reader.WaitStarted(2));
  f.reader.ReleaseAll();
  EXPECT_TRUE(b.Result().ok());
  EXPECT_EQ(f.share.reads(), 2);
}

TEST(SnapshotShareTest, WaitersEndAtTheirDeadlineOrCancellation) {
  Fixture f(/*max_reads=*/1);
  f.reader.SetHead(1);
  Request a(f.share, 1);
  ASSERT_TRUE(f.reader.WaitStarted(1));
  f.reader.SetHead(2);
  // Head 2 is above the running read and no read slot is free: it waits.
  EXPECT_THAT(
      f.share.Get(2, absl::Now() + absl::Milliseconds(50), [] { return false; })
          .status(),
      StatusCodeIs(absl::StatusCode::kDeadlineExceeded));
  std::atomic<bool> cancelled{false};
  std::thread canceller([&] {
    f.WaitWaiters(1);
    cancelled = true;
  });
  EXPECT_THAT(
      f.share.Get(2, absl::Now() + kWait, [&] { return cancelled.load(); })
          .status(),
      StatusCodeIs(absl::StatusCode::kCancelled));
  canceller.join();
  EXPECT_EQ(f.waiters.value(), 0);
  f.reader.ReleaseAll();
  EXPECT_TRUE(a.Result().ok());
  EXPECT_EQ(f.share.reads(), 1);
}

TEST(SnapshotShareTest, WaitersBeyondTheLimitAreRefused) {
  Fixture f(/*max_reads=*/1, /*max_waiters=*/2);
  f.reader.SetHead(1);
  Request a(f.share, 1);
  ASSERT_TRUE(f.reader.WaitStarted(1));
  Request b(f.share, 1);
  Request c(f.share, 1);
  ASSERT_TRUE(f.WaitWaiters(2));
  EXPECT_THAT(Get(f.share, 1).status(),
              StatusCodeIs(absl::StatusCode::kResourceExhausted));
  f.reader.ReleaseAll();
  EXPECT_TRUE(a.Result().ok());
  EXPECT_TRUE(b.Result().ok());
  EXPECT_TRUE(c.Result().ok());
}

TEST(SnapshotShareTest, SnapshotReadsFlagBounds) {
  AuthorityConfig c;
  c.listen = "127.0.0.1:0";
  c.database_url = "postgresql://pat@127.0.0.1/pat";
  c.insecure = true;
  for (int bad : {0, -1, 1001}) {
    c.snapshot_reads = bad;
    EXPECT_THAT(ValidateAuthorityConfig(c),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         StartsWith("--snapshot_reads: ")))
        << bad;
  }
  for (int good : {1, 2, 1000}) {
    c.snapshot_reads = good;
    EXPECT_THAT(ValidateAuthorityConfig(c), IsOk()) << good;
  }
}

}  // namespace
}  // namespace pat::testing
