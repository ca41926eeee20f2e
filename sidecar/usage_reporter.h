#ifndef PAT_SIDECAR_USAGE_REPORTER_H_
#define PAT_SIDECAR_USAGE_REPORTER_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "sidecar/authority_client.h"
#include "sidecar/metrics.h"

// Batches token usage (last-used time and client IP per token) in memory and
// reports it to the authority with ReportUsage (SPEC §7): never a write per
// request.
//
// Record() keeps one entry per token (the latest use wins) in one of 16
// shards. A background thread flushes every `flush_interval`, and early
// once `flush_records` tokens (or half of `max_count_keys` count keys) are
// pending, but never sooner than `min_flush_spacing` after the previous
// flush: however many tokens are in use, the authority gets at most one
// report per spacing from each sidecar. Memory is bounded: at most
// `max_records` tokens are pending; uses of further tokens are dropped (and
// counted) until the next flush. A failed report puts its records back
// (within the bound) for the next flush. Each ReportUsage call carries at
// most `max_batch` records.
//
// RecordAllowed() counts allowed requests per (token, endpoint, satisfying
// scopes, resources) key for the least-privilege report, in one map bounded
// by `max_count_keys`: requests of further keys are dropped and counted
// (pat_sidecar_usage_count_keys_dropped_total) until the next flush, which
// sends the counts with the records (ReportUsageWithCounts, at most
// `max_batch` of each per call) and
// puts them back, within the bound, when the authority fails.
//
// Thread-safe. Stop() (or the destructor) makes a final best-effort flush.
namespace pat::sidecar {

struct UsageReporterOptions {
  absl::Duration flush_interval = absl::Seconds(10);
  size_t flush_records = 10000;
  absl::Duration min_flush_spacing = absl::Seconds(1);
  size_t max_records = 100000;
  size_t max_batch = 1000;
  size_t max_count_keys = 10000;
  // Tests drive Flush() themselves.
  bool start_thread = true;
};

namespace internal {

// When the flush thread should flush next: at `next_interval`, or for an
// early flush that was requested (and is not suppressed by `backing_off`),
// at `earliest_early` if that is sooner. Pure.
absl::Time NextFlushTime(absl::Time next_interval, bool early_requested,
                         bool backing_off, absl::Time earliest_early);

}  // namespace internal

class UsageReporter {
 public:
  static constexpr int kShards = 16;

  // `client`, `clock` and `metrics` must outlive the reporter.
  static absl::StatusOr<std::unique_ptr<UsageReporter>> Create(
      AuthorityClient& client, const Clock& clock, MetricsRegistry& metrics,
      UsageReporterOptions options = {});
  ~UsageReporter();
  UsageReporter(const UsageReporter&) = delete;
  UsageReporter& operator=(const UsageReporter&) = delete;

  // Notes a use of `token_id` from `client_ip` now (by the clock). Cheap:
  // one shard lock, no allocation for a token already pending.
  void Record(absl::string_view token_id, absl::string_view client_ip);

  // Counts one allowed request of `facts`' key (facts.count is ignored).
  void RecordAllowed(UsageCountRecord facts);

  // Reports everything pending now. Flushes never overlap.
  absl::Status Flush();

  // Stops the thread and flushes once. Idempotent.
  void Stop();

  // Tokens pending.
  size_t pending() const { return pending_.load(std::memory_order_relaxed); }

 private:
  struct Use {
    absl::Time time;
    std::string client_ip;
  };
  struct Shard {
    absl::Mutex mu;
    absl::flat_hash_map<std::string, Use> uses ABSL_GUARDED_BY(mu);
  };

  UsageReporter(AuthorityClient& client, const Clock& clock,
                MetricsRegistry& metrics, UsageReporterOptions options);
  void Run();
  void RequestEarlyFlush();
  Shard& ShardFor(absl::string_view token_id);
  // Adds a use (keeping the later one); false when over the bound.
  bool Merge(absl::string_view token_id, absl::Time time,
             absl::string_view client_ip);

  // Adds `record` (with its count) to the pending counts; false (dropped)
  // when it is a new key over the bound.
  bool MergeCount(UsageCountRecord record);

  AuthorityClient& client_;
  const Clock& clock_;
  const UsageReporterOptions options_;
  Counter& dropped_;
  Counter& reported_;
  Counter& count_keys_dropped_;
  Counter& counts_reported_;

  absl::Mutex counts_mu_;
  absl::flat_hash_map<std::string, UsageCountRecord> counts_
      ABSL_GUARDED_BY(counts_mu_);

  std::unique_ptr<Shard[]> shards_;
  std::atomic<size_t> pending_{0};
  std::atomic<bool> flush_requested_{false};

  absl::Mutex flush_mu_;  // serializes Flush()

  absl::Mutex mu_;
  absl::CondVar wake_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_USAGE_REPORTER_H_
