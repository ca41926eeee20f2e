#ifndef PAT_COMMON_METRICS_H_
#define PAT_COMMON_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

// A small Prometheus-text metrics registry, used by the authority and the
// sidecar (sidecar/metrics.h aliases it). Metric objects are created once
// (under a lock) and then updated lock-free on the hot path: callers keep the
// returned references, which stay valid for the registry's lifetime.
// Label values must never contain secrets.
namespace pat {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Fixed-bucket histogram of durations in seconds.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double seconds);
  // Cumulative counts per bucket (+Inf last), sum and count.
  std::vector<uint64_t> CumulativeCounts() const;
  double sum() const;
  uint64_t count() const;
  const std::vector<double>& upper_bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_nanos_{0};
};

// Latency buckets from 1 µs to 10 s.
std::vector<double> DefaultLatencyBuckets();

class MetricsRegistry {
 public:
  // Both out of line: Family is incomplete here.
  MetricsRegistry();
  ~MetricsRegistry();

  Counter& GetCounter(absl::string_view name, absl::string_view help,
                      const Labels& labels = {});
  Gauge& GetGauge(absl::string_view name, absl::string_view help,
                  const Labels& labels = {});
  Histogram& GetHistogram(
      absl::string_view name, absl::string_view help, const Labels& labels = {},
      std::vector<double> buckets = DefaultLatencyBuckets());
  // Runs before every render (outside the registry's lock), to refresh
  // gauges that are read from elsewhere (pool sizes, feed head). Whatever it
  // touches must outlive the registry or be removed with the registry.
  void AddCollector(std::function<void()> collector);
  // Prometheus text exposition format 0.0.4.
  std::string RenderPrometheus() const;

 private:
  struct Family;
  Family& GetFamily(absl::string_view name, absl::string_view help,
                    absl::string_view type) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Family>> families_ ABSL_GUARDED_BY(mu_);
  mutable absl::Mutex collectors_mu_;
  std::vector<std::function<void()>> collectors_ ABSL_GUARDED_BY(collectors_mu_);
};

}  // namespace pat

#endif  // PAT_COMMON_METRICS_H_
