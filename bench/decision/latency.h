#ifndef PAT_BENCH_DECISION_LATENCY_H_
#define PAT_BENCH_DECISION_LATENCY_H_

#include <cstdint>
#include <ctime>
#include <vector>

#include "benchmark/benchmark.h"

// Per-call latency samples for the decision benchmarks.
//
// Timer: clock_gettime(CLOCK_MONOTONIC), which glibc answers from the vDSO
// (no system call) when the kernel's clocksource is "tsc" (it is on the
// benchmark VMs; check /sys/devices/system/clocksource/clocksource0/
// current_clocksource). It needs no calibration, is monotonic across cores
// and costs about 20 ns per read; BM_ClockOverhead measures the cost of two
// back-to-back reads, which is the bias included in every sample. rdtsc
// would be cheaper but needs calibration against this clock and an
// invariant TSC, for a gain well below the SPEC's 1 µs / 3 µs targets.
namespace pat::bench {

// Monotonic nanoseconds. Inline so the measured region holds only the vDSO
// call.
inline uint64_t NowNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

// A sample in nanoseconds, saturated to 32 bits (4.29 s) to halve the
// memory of runs with tens of millions of iterations.
inline uint32_t SampleOf(uint64_t begin, uint64_t end) {
  const uint64_t d = end - begin;
  return d > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(d);
}

// The sample vector of thread `thread_index` of the running benchmark.
// Slots are reused from run to run; each thread touches only its own slot
// during the timed loop, and thread 0 reads the others only after the loop
// (Google Benchmark's end-of-loop barrier orders those accesses). Aborts if
// thread_index >= kMaxThreads.
inline constexpr int kMaxThreads = 8;
std::vector<uint32_t>& ThreadSamples(int thread_index);

// Clears this thread's slot and reserves room for the run's iterations, so
// push_back never reallocates inside the timed loop. Call before the loop.
std::vector<uint32_t>& PrepareSamples(const benchmark::State& state);

struct Percentiles {
  double p50 = 0;
  double p99 = 0;
  double p999 = 0;
  double max = 0;
  uint64_t count = 0;
};

// Nearest-rank percentiles of `samples` (reordered in place; O(n)).
Percentiles ComputePercentiles(std::vector<uint32_t>& samples);

// After the timed loop: on thread 0, merges every thread's samples of this
// run and sets the user counters p50_ns, p99_ns, p999_ns and max_ns (other
// threads set none, so Google Benchmark's per-thread sum is thread 0's
// value). Every thread sets items processed (summed by the library).
void ReportLatency(benchmark::State& state);

}  // namespace pat::bench

#endif  // PAT_BENCH_DECISION_LATENCY_H_
