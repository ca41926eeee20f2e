#include "bench/decision/latency.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bench/common/percentile.h"

namespace pat::bench {
namespace {

// Index of the nearest-rank q-quantile among n samples (n > 0).
size_t RankIndex(double q, size_t n) { return NearestRankIndex(q * 100, n); }

}  // namespace

std::vector<uint32_t>& ThreadSamples(int thread_index) {
  // Leaked on purpose: reused by every run, never destroyed at exit.
  static auto* const slots = new std::array<std::vector<uint32_t>, kMaxThreads>;
  if (thread_index < 0 || thread_index >= kMaxThreads) {
    std::fprintf(stderr, "pat_decision_bench: at most %d threads\n",
                 kMaxThreads);
    std::abort();
  }
  return (*slots)[thread_index];
}

std::vector<uint32_t>& PrepareSamples(const benchmark::State& state) {
  std::vector<uint32_t>& samples = ThreadSamples(state.thread_index());
  samples.clear();
  samples.reserve(static_cast<size_t>(state.max_iterations));
  return samples;
}

Percentiles ComputePercentiles(std::vector<uint32_t>& samples) {
  Percentiles p;
  p.count = samples.size();
  if (samples.empty()) return p;
  const size_t n = samples.size();
  // Successive selections on the shrinking upper part: O(n) in total.
  const size_t i50 = RankIndex(0.50, n);
  const size_t i99 = RankIndex(0.99, n);
  const size_t i999 = RankIndex(0.999, n);
  std::nth_element(samples.begin(), samples.begin() + i50, samples.end());
  p.p50 = samples[i50];
  std::nth_element(samples.begin() + i50, samples.begin() + i99, samples.end());
  p.p99 = samples[i99];
  std::nth_element(samples.begin() + i99, samples.begin() + i999,
                   samples.end());
  p.p999 = samples[i999];
  p.max = *std::max_element(samples.begin() + i999, samples.end());
  return p;
}

void ReportLatency(benchmark::State& state) {
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() != 0) return;
  std::vector<uint32_t>& merged = ThreadSamples(0);
  for (int t = 1; t < state.threads(); ++t) {
    const std::vector<uint32_t>& other = ThreadSamples(t);
    merged.insert(merged.end(), other.begin(), other.end());
  }
  const Percentiles p = ComputePercentiles(merged);
  state.counters["p50_ns"] = p.p50;
  state.counters["p99_ns"] = p.p99;
  state.counters["p999_ns"] = p.p999;
  state.counters["max_ns"] = p.max;
}

}  // namespace pat::bench
