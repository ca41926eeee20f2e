#include "bench/loadgen/latency.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "bench/common/percentile.h"

namespace pat::bench::loadgen {
namespace {

// Percentiles are handled as integers in units of 1e-6 percent.
constexpr int64_t kUnitsPerPercent = 1000000;
constexpr int64_t kUnitsAll = 100 * kUnitsPerPercent;

double NsToUs(int64_t ns) { return static_cast<double>(ns) / 1000.0; }

}  // namespace

int64_t PercentileNs(absl::Span<const int64_t> sorted, double percentile) {
  return NearestRank(sorted, percentile);
}

std::vector<double> PercentileCurvePoints() {
  std::vector<double> points;
  for (int p = 0; p <= 80; p += 10) points.push_back(p);
  // m * 10 so that 2.5, 1.5 and 1.2 stay integers.
  constexpr int64_t kMantissasTimes10[] = {100, 80, 60, 50, 40,
                                           30,  25, 20, 15, 12};
  int64_t scale = kUnitsPerPercent / 10;  // units of (m * 10) at d = 0
  for (int d = 0; d <= 4; ++d, scale /= 10) {
    for (int64_t m : kMantissasTimes10) {
      const int64_t units = kUnitsAll - m * scale;
      points.push_back(static_cast<double>(units) / kUnitsPerPercent);
    }
  }
  points.push_back(100);
  return points;
}

LatencySummary SummarizeLatencies(std::vector<int64_t>& samples_ns) {
  LatencySummary s;
  s.count = samples_ns.size();
  if (samples_ns.empty()) return s;
  std::sort(samples_ns.begin(), samples_ns.end());
  const absl::Span<const int64_t> sorted(samples_ns);
  long double sum = 0;
  for (int64_t v : sorted) sum += v;
  s.min_us = NsToUs(sorted.front());
  s.max_us = NsToUs(sorted.back());
  s.mean_us = static_cast<double>(sum / sorted.size()) / 1000.0;
  s.p50_us = NsToUs(PercentileNs(sorted, 50));
  s.p75_us = NsToUs(PercentileNs(sorted, 75));
  s.p90_us = NsToUs(PercentileNs(sorted, 90));
  s.p99_us = NsToUs(PercentileNs(sorted, 99));
  s.p999_us = NsToUs(PercentileNs(sorted, 99.9));
  s.p9999_us = NsToUs(PercentileNs(sorted, 99.99));
  for (double p : PercentileCurvePoints()) {
    s.curve.emplace_back(p, NsToUs(PercentileNs(sorted, p)));
  }
  return s;
}

}  // namespace pat::bench::loadgen
