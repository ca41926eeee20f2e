#include "bench/authority/latency.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "bench/common/percentile.h"

namespace pat::bench {
namespace {

int64_t RankOf(const std::vector<int64_t>& sorted, double p) {
  return NearestRank(absl::Span<const int64_t>(sorted), p * 100);
}

double Micros(double nanos) { return std::round(nanos / 100.0) / 10.0; }

}  // namespace

LatencySummary SummarizeLatencies(std::vector<int64_t>& nanos) {
  LatencySummary s;
  if (nanos.empty()) return s;
  std::sort(nanos.begin(), nanos.end());
  long double sum = 0;
  for (int64_t v : nanos) sum += v;
  s.samples = static_cast<int64_t>(nanos.size());
  s.p50 = Micros(RankOf(nanos, 0.50));
  s.p90 = Micros(RankOf(nanos, 0.90));
  s.p99 = Micros(RankOf(nanos, 0.99));
  s.p999 = Micros(RankOf(nanos, 0.999));
  s.max = Micros(nanos.back());
  s.mean = Micros(static_cast<double>(sum / nanos.size()));
  return s;
}

void MergeErrorCounts(const ErrorCounts& from, ErrorCounts& into) {
  for (const auto& [key, n] : from) into[key] += n;
}

int64_t TotalErrors(const ErrorCounts& errors) {
  int64_t total = 0;
  for (const auto& [key, n] : errors) total += n;
  return total;
}

}  // namespace pat::bench
