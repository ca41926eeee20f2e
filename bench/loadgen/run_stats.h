#ifndef PAT_BENCH_LOADGEN_RUN_STATS_H_
#define PAT_BENCH_LOADGEN_RUN_STATS_H_

#include <array>
#include <cstdint>
#include <vector>

// What one run (or one thread's share of it) observed in the measured
// window. Not thread-safe: each generator thread fills its own RunStats;
// they are merged after the threads have joined.
namespace pat::bench::loadgen {

struct ErrorCounts {
  uint64_t connect = 0;  // TCP connect failed
  uint64_t write = 0;    // writing the request failed
  uint64_t read = 0;     // reading/parsing the response failed (incl. EOF)
  uint64_t timeout = 0;  // no complete response within --timeout

  uint64_t total() const { return connect + write + read + timeout; }
};

struct RunStats {
  // Requests attempted: every schedule slot (open loop) or send (closed
  // loop) in the measured window, including those that failed, so
  // requests_sent == responses + errors.total() once every request has
  // finished.
  uint64_t requests_sent = 0;
  uint64_t responses = 0;  // complete responses, any status
  ErrorCounts errors;
  // Open loop: slots due in the measured window that were never attempted
  // because the run ended while their connection was behind schedule.
  uint64_t unsent = 0;
  // Responses per status code (the parser accepts exactly 3 digits).
  std::array<uint64_t, 1000> status{};
  // One latency per response, in ns, in completion order.
  std::vector<int64_t> latencies_ns;

  // Adds `other` into this (latencies appended).
  void MergeFrom(const RunStats& other) {
    requests_sent += other.requests_sent;
    responses += other.responses;
    errors.connect += other.errors.connect;
    errors.write += other.errors.write;
    errors.read += other.errors.read;
    errors.timeout += other.errors.timeout;
    unsent += other.unsent;
    for (size_t i = 0; i < status.size(); ++i) status[i] += other.status[i];
    latencies_ns.insert(latencies_ns.end(), other.latencies_ns.begin(),
                        other.latencies_ns.end());
  }
};

}  // namespace pat::bench::loadgen

#endif  // PAT_BENCH_LOADGEN_RUN_STATS_H_
