#ifndef PAT_BENCH_LOADGEN_LOAD_GENERATOR_H_
#define PAT_BENCH_LOADGEN_LOAD_GENERATOR_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bench/loadgen/request_file.h"
#include "bench/loadgen/run_stats.h"

// pat-loadgen's engine: HTTP/1.1 load over keep-alive connections, one
// request in flight per connection (no pipelining).
//
// Open loop (rate > 0), wrk2's semantics: connection i sends its k-th
// request at its intended time t0 + (i + k*N)/R (see schedule.h). When the
// previous answer arrives after that time the request goes out at once, and
// its latency is still measured from the intended time, so a stalled server
// shows up in the tail instead of silently slowing the generator down
// (coordinated omission). Closed loop (rate == 0): each connection sends its
// next request as soon as the previous one finished; latency is measured
// from the actual send.
//
// Timeline: t0 = start of the run; requests due (open loop) or sent (closed
// loop) before t0 + warmup are made but not recorded; the measured window is
// [t0 + warmup, t0 + warmup + duration). Nothing is sent after the window;
// requests in flight at its end finish (or time out) and are recorded.
//
// Request g overall (g = i + k*N) uses request line g mod L, so the mix is
// spread evenly over time. A connection is opened on first use and again
// after the server closed it (Connection: close, EOF) or after any error.
// A failed request (connect, write, read or timeout error) consumes its
// schedule slot, is counted by kind and has no latency. --timeout bounds
// each request from its actual send (connect included); it is checked every
// min(timeout/8, 50ms), at least every 1 ms.
//
// Threads: connection i belongs to thread i mod T; each thread runs its own
// io_context over its connections and records into its own RunStats, merged
// after all threads joined. Recording does not allocate (vectors reserved
// for the expected count); requests are pre-serialized.
namespace pat::bench::loadgen {

struct LoadConfig {
  std::string host;  // name or address, as given in --target
  std::string port;
  int connections = 16;
  double rate = 0;  // total requests/s; 0: closed loop
  absl::Duration duration = absl::Seconds(10);
  absl::Duration warmup = absl::Seconds(2);
  absl::Duration timeout = absl::Seconds(5);
  int threads = 1;

  bool closed_loop() const { return rate == 0; }
};

// Splits "host:port" ("[v6addr]:port" for IPv6 literals) into `host` and
// `port` of *config. The port must be 1-65535.
absl::Status ParseTarget(absl::string_view target, LoadConfig* config);

// The Host header value for `config`: host:port (IPv6 literals bracketed).
std::string HostHeader(const LoadConfig& config);

// INVALID_ARGUMENT naming the flag when the config cannot be run:
// connections >= 1, 1 <= threads <= connections, rate >= 0 (finite),
// duration > 0, warmup >= 0, timeout > 0, host and port set.
absl::Status ValidateConfig(const LoadConfig& config);

// Runs the load described by `config` (which must pass ValidateConfig)
// against `requests` (non-empty) and returns what was measured. Blocks
// for about warmup + duration (+ up to timeout for the last answers).
// UNAVAILABLE if the host does not resolve. Thread-compatible: distinct
// runs may proceed concurrently.
absl::StatusOr<RunStats> RunLoad(const LoadConfig& config,
                                 const std::vector<RequestTemplate>& requests);

}  // namespace pat::bench::loadgen

#endif  // PAT_BENCH_LOADGEN_LOAD_GENERATOR_H_
