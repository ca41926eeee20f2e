#include "bench/loadgen/schedule.h"

#include <cmath>

namespace pat::bench::loadgen {

Schedule::Schedule(double rate, int connections)
    : rate_(rate), connections_(connections), ns_per_request_(1e9 / rate) {}

std::chrono::nanoseconds Schedule::OffsetOfGlobal(int64_t g) const {
  return std::chrono::nanoseconds(
      std::llround(static_cast<double>(g) * ns_per_request_));
}

int64_t Schedule::FirstAtOrAfter(int connection,
                                 std::chrono::nanoseconds offset) const {
  if (offset.count() <= 0) return 0;
  // Estimate, then correct for rounding in either direction.
  const double g = static_cast<double>(offset.count()) / ns_per_request_;
  int64_t k = static_cast<int64_t>(
      std::floor((g - connection) / static_cast<double>(connections_)));
  if (k < 0) k = 0;
  while (k > 0 && Offset(connection, k - 1) >= offset) --k;
  while (Offset(connection, k) < offset) ++k;
  return k;
}

}  // namespace pat::bench::loadgen
