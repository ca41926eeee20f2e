#include "bench/loadgen/schedule.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace pat::bench::loadgen {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

TEST(ScheduleTest, ConnectionsAreOffsetAndSendEveryNOverR) {
  const Schedule s(/*rate=*/100, /*connections=*/4);  // 10 ms apart overall
  EXPECT_EQ(s.Offset(0, 0), milliseconds(0));
  EXPECT_EQ(s.Offset(1, 0), milliseconds(10));
  EXPECT_EQ(s.Offset(3, 0), milliseconds(30));
  EXPECT_EQ(s.Offset(0, 1), milliseconds(40));  // N/R = 40 ms per connection
  EXPECT_EQ(s.Offset(2, 5), milliseconds(220));
  EXPECT_EQ(s.GlobalIndex(2, 5), 22);
}

TEST(ScheduleTest, RoundsToTheNearestNanosecond) {
  const Schedule s(/*rate=*/3, /*connections=*/1);
  EXPECT_EQ(s.Offset(0, 1), nanoseconds(333333333));
  EXPECT_EQ(s.Offset(0, 2), nanoseconds(666666667));
  EXPECT_EQ(s.Offset(0, 3), nanoseconds(1000000000));
}

TEST(ScheduleTest, AllConnectionsTogetherAreEvenlySpaced) {
  const Schedule s(/*rate=*/1000, /*connections=*/7);
  std::vector<nanoseconds> times;
  for (int i = 0; i < 7; ++i) {
    for (int64_t k = 0; k < 100; ++k) times.push_back(s.Offset(i, k));
  }
  std::sort(times.begin(), times.end());
  for (size_t j = 0; j < times.size(); ++j) {
    EXPECT_EQ(times[j], milliseconds(j)) << j;
  }
}

TEST(ScheduleTest, FirstAtOrAfter) {
  const Schedule s(/*rate=*/100, /*connections=*/4);  // conn 1: 10, 50, 90 ms
  EXPECT_EQ(s.FirstAtOrAfter(1, nanoseconds(-5)), 0);
  EXPECT_EQ(s.FirstAtOrAfter(1, milliseconds(0)), 0);
  EXPECT_EQ(s.FirstAtOrAfter(1, milliseconds(10)), 0);
  EXPECT_EQ(s.FirstAtOrAfter(1, milliseconds(11)), 1);
  EXPECT_EQ(s.FirstAtOrAfter(1, milliseconds(50)), 1);
  EXPECT_EQ(s.FirstAtOrAfter(1, nanoseconds(50000001)), 2);

  // Against brute force, with a rate that does not divide 1e9.
  const Schedule odd(/*rate=*/777.7, /*connections=*/13);
  for (int i : {0, 5, 12}) {
    for (int64_t ns = 0; ns < 200000000; ns += 1234567) {
      int64_t k = 0;
      while (odd.Offset(i, k) < nanoseconds(ns)) ++k;
      ASSERT_EQ(odd.FirstAtOrAfter(i, nanoseconds(ns)), k) << i << " " << ns;
    }
  }
}

}  // namespace
}  // namespace pat::bench::loadgen
