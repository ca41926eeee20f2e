#ifndef PAT_BENCH_LOADGEN_LATENCY_H_
#define PAT_BENCH_LOADGEN_LATENCY_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/types/span.h"

// Latency statistics over recorded samples (nanoseconds). Percentiles use
// the nearest-rank definition: the p-th percentile of n sorted samples is
// the ceil(p/100 * n)-th smallest (the smallest for p = 0), so every
// reported value is a latency that was actually observed. Percentiles are
// resolved to 1e-6 of a percent. Pure functions; no shared state.
namespace pat::bench::loadgen {

// The p-th percentile (0 <= p <= 100) of `sorted` (ascending, non-empty).
int64_t PercentileNs(absl::Span<const int64_t> sorted, double percentile);

// The percentiles of the latency curve: 0, 10, ..., 80, then towards the
// tail 100 - m * 10^-d for m in {10, 8, 6, 5, 4, 3, 2.5, 2, 1.5, 1.2} and
// d = 0..4 (90, 92, 94, 95, 96, 97, 97.5, 98, 98.5, 98.8, 99, 99.2, ...,
// 99.9, ..., 99.99, ..., 99.999, ..., 99.99988), then 100: 60 ascending
// points.
std::vector<double> PercentileCurvePoints();

struct LatencySummary {
  uint64_t count = 0;
  // All in microseconds (ns / 1000); zero when count == 0.
  double min_us = 0;
  double mean_us = 0;
  double p50_us = 0;
  double p75_us = 0;
  double p90_us = 0;
  double p99_us = 0;
  double p999_us = 0;
  double p9999_us = 0;
  double max_us = 0;
  // (percentile, latency_us) for each of PercentileCurvePoints(); empty when
  // count == 0.
  std::vector<std::pair<double, double>> curve;
};

// Sorts `samples_ns` in place and summarizes them.
LatencySummary SummarizeLatencies(std::vector<int64_t>& samples_ns);

}  // namespace pat::bench::loadgen

#endif  // PAT_BENCH_LOADGEN_LATENCY_H_
