#include "bench/propagation/stats.h"

#include <algorithm>
#include <cmath>

#include "bench/common/percentile.h"

namespace pat::bench {
namespace {

double Percentile(const std::vector<double>& sorted, double q) {
  return NearestRank(absl::Span<const double>(sorted), q * 100);
}

double RoundMicros(double ms) { return std::round(ms * 1000.0) / 1000.0; }

}  // namespace

Summary Summarize(std::vector<double>& samples) {
  Summary s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.count = samples.size();
  s.min = samples.front();
  s.max = samples.back();
  s.p50 = Percentile(samples, 0.50);
  s.p99 = Percentile(samples, 0.99);
  s.p999 = Percentile(samples, 0.999);
  return s;
}

nlohmann::json SummaryJson(const Summary& s, bool with_p999, bool with_count) {
  nlohmann::json j = {{"p50", RoundMicros(s.p50)}, {"p99", RoundMicros(s.p99)}};
  if (with_p999) j["p999"] = RoundMicros(s.p999);
  j["max"] = RoundMicros(s.max);
  if (with_count) {
    j["min"] = RoundMicros(s.min);
    j["count"] = s.count;
  }
  return j;
}

}  // namespace pat::bench
