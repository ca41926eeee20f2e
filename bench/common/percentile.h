#ifndef PAT_BENCH_COMMON_PERCENTILE_H_
#define PAT_BENCH_COMMON_PERCENTILE_H_

#include <cstddef>

#include "absl/types/span.h"

// Nearest-rank percentiles, shared by every benchmark program: the p-th
// percentile of n samples is the smallest sample with at least p% of the
// samples at or below it (1-based rank ceil(p/100 * n), at least 1), so every
// reported value was actually observed.
namespace pat::bench {

// 0-based index of the `percentile` (clamped to [0, 100]) among n > 0 sorted
// samples. Exact for percentiles given to 1e-6 (99.999 does not round up).
size_t NearestRankIndex(double percentile, size_t n);

// The `percentile` of `sorted` (ascending, non-empty).
template <typename T>
T NearestRank(absl::Span<const T> sorted, double percentile) {
  return sorted[NearestRankIndex(percentile, sorted.size())];
}

}  // namespace pat::bench

#endif  // PAT_BENCH_COMMON_PERCENTILE_H_
