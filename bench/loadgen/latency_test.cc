#include "bench/loadgen/latency.h"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pat::bench::loadgen {
namespace {

using ::testing::Contains;
using ::testing::DoubleEq;

std::vector<int64_t> OneTo(int64_t n) {
  std::vector<int64_t> v(n);
  std::iota(v.begin(), v.end(), 1);
  return v;
}

TEST(LatencyTest, NearestRankPercentiles) {
  const std::vector<int64_t> hundred = OneTo(100);
  EXPECT_EQ(PercentileNs(hundred, 0), 1);
  EXPECT_EQ(PercentileNs(hundred, 1), 1);
  EXPECT_EQ(PercentileNs(hundred, 1.5), 2);
  EXPECT_EQ(PercentileNs(hundred, 50), 50);
  EXPECT_EQ(PercentileNs(hundred, 50.001), 51);
  EXPECT_EQ(PercentileNs(hundred, 99), 99);
  EXPECT_EQ(PercentileNs(hundred, 99.9), 100);
  EXPECT_EQ(PercentileNs(hundred, 100), 100);

  const std::vector<int64_t> thousand = OneTo(1000);
  EXPECT_EQ(PercentileNs(thousand, 99.9), 999);
  EXPECT_EQ(PercentileNs(thousand, 99.99), 1000);
  EXPECT_EQ(PercentileNs(thousand, 75), 750);

  const std::vector<int64_t> four = {10, 20, 30, 40};
  EXPECT_EQ(PercentileNs(four, 25), 10);
  EXPECT_EQ(PercentileNs(four, 26), 20);
  EXPECT_EQ(PercentileNs(four, 75), 30);
  EXPECT_EQ(PercentileNs(four, 90), 40);

  const std::vector<int64_t> one = {7};
  EXPECT_EQ(PercentileNs(one, 0), 7);
  EXPECT_EQ(PercentileNs(one, 99.999), 7);
}

TEST(LatencyTest, PercentileCurveIsAscendingAndLogSpacedTowardsTheTail) {
  const std::vector<double> points = PercentileCurvePoints();
  EXPECT_EQ(points.size(), 60u);
  EXPECT_TRUE(std::is_sorted(points.begin(), points.end()));
  EXPECT_EQ(std::adjacent_find(points.begin(), points.end()), points.end());
  EXPECT_EQ(points.front(), 0);
  EXPECT_EQ(points.back(), 100);
  for (double p :
       {10.0, 50.0, 90.0, 95.0, 97.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999}) {
    EXPECT_THAT(points, Contains(DoubleEq(p))) << p;
  }
  // Each decade of the tail has as many points as the one before.
  const auto count_between = [&](double lo, double hi) {
    return std::count_if(points.begin(), points.end(),
                         [&](double p) { return p >= lo && p < hi; });
  };
  EXPECT_EQ(count_between(90, 99), 10);
  EXPECT_EQ(count_between(99, 99.9), 10);
  EXPECT_EQ(count_between(99.9, 99.99), 10);
  EXPECT_EQ(count_between(99.99, 99.999), 10);
}

TEST(LatencyTest, SummarizesKnownData) {
  std::vector<int64_t> samples;
  for (int64_t i = 1; i <= 10000; ++i) samples.push_back(i * 1000);  // i us
  std::shuffle(samples.begin(), samples.end(), std::mt19937(42));
  const LatencySummary s = SummarizeLatencies(samples);
  EXPECT_TRUE(std::is_sorted(samples.begin(), samples.end()));
  EXPECT_EQ(s.count, 10000u);
  EXPECT_DOUBLE_EQ(s.min_us, 1);
  EXPECT_DOUBLE_EQ(s.max_us, 10000);
  EXPECT_DOUBLE_EQ(s.mean_us, 5000.5);
  EXPECT_DOUBLE_EQ(s.p50_us, 5000);
  EXPECT_DOUBLE_EQ(s.p75_us, 7500);
  EXPECT_DOUBLE_EQ(s.p90_us, 9000);
  EXPECT_DOUBLE_EQ(s.p99_us, 9900);
  EXPECT_DOUBLE_EQ(s.p999_us, 9990);
  EXPECT_DOUBLE_EQ(s.p9999_us, 9999);
  ASSERT_EQ(s.curve.size(), 60u);
  EXPECT_DOUBLE_EQ(s.curve.front().second, 1);
  EXPECT_DOUBLE_EQ(s.curve.back().second, 10000);
  for (size_t i = 1; i < s.curve.size(); ++i) {
    EXPECT_GE(s.curve[i].second, s.curve[i - 1].second);
  }
}

TEST(LatencyTest, SubMicrosecondPrecisionIsKept) {
  std::vector<int64_t> samples = {1500, 2250};
  const LatencySummary s = SummarizeLatencies(samples);
  EXPECT_DOUBLE_EQ(s.min_us, 1.5);
  EXPECT_DOUBLE_EQ(s.max_us, 2.25);
  EXPECT_DOUBLE_EQ(s.mean_us, 1.875);
}

TEST(LatencyTest, EmptyHasNoCurve) {
  std::vector<int64_t> samples;
  const LatencySummary s = SummarizeLatencies(samples);
  EXPECT_EQ(s.count, 0u);
  EXPECT_TRUE(s.curve.empty());
}

}  // namespace
}  // namespace pat::bench::loadgen
