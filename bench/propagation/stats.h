#ifndef PAT_BENCH_PROPAGATION_STATS_H_
#define PAT_BENCH_PROPAGATION_STATS_H_

#include <cstddef>
#include <vector>

#include "nlohmann/json.hpp"

namespace pat::bench {

// Order statistics of a sample of durations in milliseconds. Percentiles use
// the nearest-rank method (the smallest value with at least p% of the sample
// at or below it), so every reported value was actually observed. An empty
// sample reports zeros and count 0.
struct Summary {
  size_t count = 0;
  double min = 0;
  double p50 = 0;
  double p99 = 0;
  double p999 = 0;
  double max = 0;
};

// Sorts `samples` in place and summarizes them.
Summary Summarize(std::vector<double>& samples);

// {"p50", "p99", "max"} plus, when `with_p999`, "p999", and, when
// `with_count`, "count" and "min" (values rounded to microseconds).
nlohmann::json SummaryJson(const Summary& s, bool with_p999, bool with_count);

}  // namespace pat::bench

#endif  // PAT_BENCH_PROPAGATION_STATS_H_
