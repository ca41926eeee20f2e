#include "common/clock.h"

#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace pat {
namespace {

TEST(FakeClockTest, StartsAtTheDefaultInstant) {
  FakeClock clock;
  // 2026-01-01T00:00:00Z.
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(1767225600));
  EXPECT_EQ(clock.Now(), clock.Now());
}

TEST(FakeClockTest, StartsAtAGivenInstant) {
  const absl::Time start = absl::FromUnixSeconds(1000);
  FakeClock clock(start);
  EXPECT_EQ(clock.Now(), start);
}

TEST(FakeClockTest, AdvanceMovesForwardOnlyWhenTold) {
  FakeClock clock;
  const absl::Time start = clock.Now();
  clock.Advance(absl::Hours(24));
  EXPECT_EQ(clock.Now(), start + absl::Hours(24));
  clock.Advance(absl::Nanoseconds(1));
  EXPECT_EQ(clock.Now(), start + absl::Hours(24) + absl::Nanoseconds(1));
  clock.Advance(absl::ZeroDuration());
  EXPECT_EQ(clock.Now(), start + absl::Hours(24) + absl::Nanoseconds(1));
  clock.Advance(-absl::Hours(1));
  EXPECT_EQ(clock.Now(), start + absl::Hours(23) + absl::Nanoseconds(1));
}

TEST(FakeClockTest, SetJumpsToAnInstant) {
  FakeClock clock;
  const absl::Time t = absl::FromUnixSeconds(2000000000);
  clock.Set(t);
  EXPECT_EQ(clock.Now(), t);
  clock.Set(absl::UnixEpoch());
  EXPECT_EQ(clock.Now(), absl::UnixEpoch());
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ(clock.Now(), absl::UnixEpoch() + absl::Seconds(5));
}

TEST(FakeClockTest, UsableThroughTheInterface) {
  FakeClock fake;
  const Clock& clock = fake;
  const absl::Time before = clock.Now();
  fake.Advance(absl::Minutes(3));
  EXPECT_EQ(clock.Now() - before, absl::Minutes(3));
}

TEST(FakeClockTest, ConcurrentAdvancesAreNotLost) {
  FakeClock clock;
  const absl::Time start = clock.Now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&clock] {
      for (int i = 0; i < 1000; ++i) {
        clock.Advance(absl::Seconds(1));
        (void)clock.Now();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(clock.Now(), start + absl::Seconds(4000));
}

TEST(RealClockTest, TracksWallTime) {
  RealClock clock;
  const absl::Time before = absl::Now();
  const absl::Time now = clock.Now();
  const absl::Time after = absl::Now();
  EXPECT_LE(before, now);
  EXPECT_LE(now, after);
}

}  // namespace
}  // namespace pat
