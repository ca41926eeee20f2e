#ifndef PAT_SERVER_AUTHORITY_METRICS_H_
#define PAT_SERVER_AUTHORITY_METRICS_H_

#include <array>
#include <atomic>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics.h"

// The authority's metrics (served on --admin_listen /metrics). Every series
// is created here, at start, with bounded labels: service and method names
// come from the registered services only, codes from the 17 gRPC codes,
// actions from a fixed list. No label or value ever holds a secret, a digest,
// a token id, a plan id or an actor.
//
//   pat_authority_rpcs_total{service,method,code}            counter
//   pat_authority_rpc_duration_seconds{service,method}       histogram
//   pat_authority_access_log_dropped_total                   counter
//       access-log lines dropped because stderr did not keep up
//       (server/log_line_writer.h)
//   pat_authority_db_pool_size / _open / _in_use             gauges
//   pat_authority_db_pool_wait_seconds                       histogram
//   pat_authority_db_pool_timeouts_total                     counter
//   pat_authority_feed_head_revision                         gauge
//   pat_authority_feed_listener_live                         gauge (0/1)
//   pat_authority_feed_wakeups_total{cause="notify"|"poll"}  counter
//   pat_authority_feed_listen_receiving                      gauge (0/1)
//   pat_authority_feed_listen_probes_total{result="received"|"missed"|"unsent"}
//                                                            counter
//   pat_authority_watchers                                   gauge
//   pat_authority_watch_events_sent_total                    counter
//   pat_authority_watch_evictions_total                      counter
//   pat_authority_watch_events_serialized_total              counter
//   pat_authority_snapshots_total                            counter
//   pat_authority_snapshot_duration_seconds                  histogram
//   pat_authority_snapshot_reads_total                       counter
//   pat_authority_snapshot_shared_total                      counter
//   pat_authority_snapshot_waiters                           gauge
//   pat_authority_validate_lookups_total{source="memory"|"database"}
//                                                            counter
//       ValidateToken secret lookups answered from memory or read from the
//       database (server/validate_memory.h)
//   pat_authority_validate_memory_entries                    gauge
//   pat_authority_validate_batches_total                     counter
//   pat_authority_validate_batched_calls_total               counter
//       ValidateToken calls that missed memory, and the batched reads that
//       answered them (server/validate_batcher.h)
//   pat_authority_lifecycle_actions_total{action}            counter
//       action: create, update, refresh, revoke
//   pat_authority_rate_limited_total{limit="actor"|"caller"}  counter
//       TokenService requests refused RESOURCE_EXHAUSTED by a rate limit
//   pat_authority_ready                                      gauge (0/1)
//   pat_authority_database_up                                gauge (0/1)
//   pat_authority_build_info{version,commit}                 gauge (1)
namespace pat {

// Splits "/pat.v1.TokenService/CreateToken" into service and method when
// the method belongs to a service the authority serves; {"other", "other"}
// otherwise.
struct RpcName {
  absl::string_view service;
  absl::string_view method;
};
RpcName ClassifyRpc(absl::string_view full_method);

// The series of one RPC method: resolved once per method, so recording an
// RPC costs no name classification, label building or registry lookup.
class RpcSeries {
 public:
  RpcSeries(MetricsRegistry& registry, RpcName name);

  // service/method point into this object (or at static "other").
  RpcName name() const { return {service_, method_}; }
  void Record(absl::StatusCode code, double seconds);

 private:
  MetricsRegistry& registry_;
  const std::string service_;
  const std::string method_;
  Histogram& duration_;
  // One counter per gRPC code, created on first use (so only codes that
  // happened are exposed, as before).
  std::array<std::atomic<Counter*>, 17> by_code_{};
};

class AuthorityMetrics {
 public:
  explicit AuthorityMetrics(MetricsRegistry& registry);

  MetricsRegistry& registry() { return registry_; }

  // The series of `full_method` ("other" outside the registered services).
  // Held for the life of this object; at most one per registered method.
  RpcSeries& SeriesFor(absl::string_view full_method);
  // action: "create", "update", "refresh" or "revoke".
  void RecordLifecycle(absl::string_view action);

  Gauge& pool_size;
  Gauge& pool_open;
  Gauge& pool_in_use;
  Histogram& pool_wait;
  Counter& pool_timeouts;
  Gauge& feed_head;
  Gauge& feed_live;
  Counter& feed_notify_wakeups;
  Counter& feed_poll_wakeups;
  Gauge& feed_listen_receiving;
  Counter& feed_probes_received;
  Counter& feed_probes_missed;
  Counter& feed_probes_unsent;
  Gauge& watchers;
  Counter& watch_events_sent;
  Counter& watch_evictions;
  Counter& watch_events_serialized;
  Counter& snapshots;
  Histogram& snapshot_duration;
  Counter& snapshot_reads;
  Counter& snapshot_shared;
  Gauge& snapshot_waiters;
  Counter& validate_memory_hits;
  Counter& validate_database_reads;
  Gauge& validate_memory_entries;
  Counter& rate_limited_actor;
  Counter& rate_limited_caller;
  Gauge& ready;
  Gauge& database_up;
  Counter& access_log_dropped;
  Counter& validate_batches;
  Counter& validate_batched_calls;

 private:
  MetricsRegistry& registry_;
  absl::Mutex series_mu_;
  // Keyed by the full method name, registered methods only.
  absl::flat_hash_map<std::string, std::unique_ptr<RpcSeries>> series_
      ABSL_GUARDED_BY(series_mu_);
  std::unique_ptr<RpcSeries> other_series_ ABSL_GUARDED_BY(series_mu_);
};

}  // namespace pat

#endif  // PAT_SERVER_AUTHORITY_METRICS_H_
