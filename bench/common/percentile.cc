#include "bench/common/percentile.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace pat::bench {
namespace {

// Percentiles are handled as integers in units of 1e-6 percent, so that
// e.g. 99.9% of 1000 samples is rank 999 and not 1000 by rounding.
constexpr int64_t kUnitsPerPercent = 1000000;
constexpr int64_t kUnitsAll = 100 * kUnitsPerPercent;

}  // namespace

size_t NearestRankIndex(double percentile, size_t n) {
  int64_t units = std::llround(percentile * kUnitsPerPercent);
  units = std::clamp<int64_t>(units, 0, kUnitsAll);
  // rank = ceil(units * n / kUnitsAll), at least 1.
  auto rank = static_cast<uint64_t>(
      (static_cast<unsigned __int128>(units) * n + (kUnitsAll - 1)) /
      kUnitsAll);
  if (rank == 0) rank = 1;
  return static_cast<size_t>(std::min<uint64_t>(rank, n) - 1);
}

}  // namespace pat::bench
