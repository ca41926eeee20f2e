#ifndef PAT_BENCH_AUTHORITY_LATENCY_H_
#define PAT_BENCH_AUTHORITY_LATENCY_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pat::bench {

// Latency percentiles of one run, in microseconds. Percentiles use the
// nearest-rank definition (the smallest sample with at least p of the samples
// at or below it); all fields are 0 when there are no samples.
struct LatencySummary {
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double p999 = 0;
  double max = 0;
  double mean = 0;
  int64_t samples = 0;
};

// Summarizes `nanos` (one entry per call, in nanoseconds; sorted in place).
LatencySummary SummarizeLatencies(std::vector<int64_t>& nanos);

// Failed calls by error key: the gRPC code name ("NOT_FOUND") or a
// benchmark-defined key such as "VALIDATE_NOT_FOUND". Ordered so that the
// JSON and the summary are stable.
using ErrorCounts = std::map<std::string, int64_t>;

// Adds every count of `from` into `into`.
void MergeErrorCounts(const ErrorCounts& from, ErrorCounts& into);

// Sum of all counts.
int64_t TotalErrors(const ErrorCounts& errors);

}  // namespace pat::bench

#endif  // PAT_BENCH_AUTHORITY_LATENCY_H_
