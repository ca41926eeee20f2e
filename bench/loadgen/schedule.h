#ifndef PAT_BENCH_LOADGEN_SCHEDULE_H_
#define PAT_BENCH_LOADGEN_SCHEDULE_H_

#include <chrono>
#include <cstdint>

// The open-loop schedule (wrk2's): with a total rate of R requests/s spread
// over N connections, connection i (0 <= i < N) sends its k-th request
// (k >= 0) at
//
//   t0 + i/R + k*N/R
//
// i.e. the run's g-th request overall, g = i + k*N, is due at t0 + g/R: the
// sends are evenly spaced across connections, each connection sending every
// N/R seconds. Immutable; safe to share between threads.
namespace pat::bench::loadgen {

class Schedule {
 public:
  // `rate` > 0 requests/s in total, `connections` >= 1.
  Schedule(double rate, int connections);

  // The global index g = connection + k * connections.
  int64_t GlobalIndex(int connection, int64_t k) const {
    return connection + k * connections_;
  }

  // When the g-th request is due, relative to t0 (rounded to the nearest ns).
  std::chrono::nanoseconds OffsetOfGlobal(int64_t g) const;

  // When connection `connection`'s k-th request is due, relative to t0.
  std::chrono::nanoseconds Offset(int connection, int64_t k) const {
    return OffsetOfGlobal(GlobalIndex(connection, k));
  }

  // The first k whose Offset(connection, k) >= `offset` (0 if offset <= 0).
  int64_t FirstAtOrAfter(int connection, std::chrono::nanoseconds offset) const;

  double rate() const { return rate_; }
  int connections() const { return connections_; }

 private:
  double rate_;
  int connections_;
  double ns_per_request_;
};

}  // namespace pat::bench::loadgen

#endif  // PAT_BENCH_LOADGEN_SCHEDULE_H_
