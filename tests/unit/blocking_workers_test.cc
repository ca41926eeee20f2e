// BlockingWorkers: the bounded hand-off from gRPC callback reactors to
// threads that may wait on the database.

#include "server/blocking_workers.h"

#include <atomic>
#include <memory>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace pat {
namespace {

TEST(BlockingWorkersTest, RejectsBadSizes) {
  EXPECT_EQ(BlockingWorkers::Create(0, 4).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BlockingWorkers::Create(1001, 4).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BlockingWorkers::Create(2, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BlockingWorkersTest, QueueIsBoundedWhileEveryThreadIsBusy) {
  auto workers = BlockingWorkers::Create(2, 3);
  ASSERT_TRUE(workers.ok());
  absl::Notification release;
  std::atomic<int> started{0};
  std::atomic<int> ran{0};
  absl::Notification both_started;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE((*workers)->TrySubmit([&] {
      if (started.fetch_add(1) == 1) both_started.Notify();
      release.WaitForNotification();
      ran.fetch_add(1);
    }));
  }
  both_started.WaitForNotification();
  // Both threads wait: three more queue, the fourth is refused.
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE((*workers)->TrySubmit([&] { ran.fetch_add(1); })) << i;
  }
  EXPECT_EQ((*workers)->queued(), 3u);
  EXPECT_FALSE((*workers)->TrySubmit([&] { ran.fetch_add(100); }));
  release.Notify();
  // Stop runs every accepted task before it returns.
  (*workers)->Stop();
  EXPECT_EQ(ran.load(), 5);
  EXPECT_FALSE((*workers)->TrySubmit([&] { ran.fetch_add(100); }));
  EXPECT_EQ(ran.load(), 5);
}

TEST(BlockingWorkersTest, DestructorRunsAcceptedTasks) {
  std::atomic<int> ran{0};
  {
    auto workers = BlockingWorkers::Create(1, 1000);
    ASSERT_TRUE(workers.ok());
    for (int i = 0; i < 500; ++i) {
      ASSERT_TRUE((*workers)->TrySubmit([&] { ran.fetch_add(1); }));
    }
  }
  EXPECT_EQ(ran.load(), 500);
}

}  // namespace
}  // namespace pat
