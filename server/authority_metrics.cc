#include "server/authority_metrics.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/version.h"
#include "google/protobuf/descriptor.h"

namespace pat {
namespace {

constexpr char kRpcsHelp[] =
    "RPCs answered, by service, method and gRPC status code.";
constexpr char kRpcSecondsHelp[] =
    "Time from the start of an RPC to its status, by service and method.";
constexpr char kLifecycleHelp[] =
    "Token lifecycle changes committed (replays not counted), by action.";

// The services the authority registers besides pat.v1 (their descriptors are
// not in the generated pool).
struct KnownMethod {
  absl::string_view service;
  absl::string_view method;
};
constexpr KnownMethod kOtherMethods[] = {
    {"grpc.health.v1.Health", "Check"},
    {"grpc.health.v1.Health", "Watch"},
    {"grpc.reflection.v1alpha.ServerReflection", "ServerReflectionInfo"},
    {"grpc.reflection.v1.ServerReflection", "ServerReflectionInfo"},
};

std::vector<double> DatabaseBuckets() {
  return {1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2,
          5e-2, 0.1,    0.25, 0.5,  1,      2.5,  5,    10};
}

}  // namespace

RpcName ClassifyRpc(absl::string_view full_method) {
  const RpcName other{"other", "other"};
  if (full_method.size() < 4 || full_method[0] != '/') return other;
  const size_t slash = full_method.find('/', 1);
  if (slash == absl::string_view::npos) return other;
  const absl::string_view service = full_method.substr(1, slash - 1);
  const absl::string_view method = full_method.substr(slash + 1);
  if (absl::StartsWith(service, "pat.v1.")) {
    const google::protobuf::ServiceDescriptor* descriptor =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            std::string(service));
    if (descriptor != nullptr &&
        descriptor->FindMethodByName(std::string(method)) != nullptr) {
      return {service, method};
    }
    return other;
  }
  for (const KnownMethod& known : kOtherMethods) {
    if (known.service == service && known.method == method) {
      return {known.service, known.method};
    }
  }
  return other;
}

AuthorityMetrics::AuthorityMetrics(MetricsRegistry& registry)
    : pool_size(registry.GetGauge("pat_authority_db_pool_size",
                                  "Maximum PostgreSQL connections of the pool "
                                  "(--db_pool_size).")),
      pool_open(registry.GetGauge("pat_authority_db_pool_open",
                                  "PostgreSQL connections open now.")),
      pool_in_use(registry.GetGauge("pat_authority_db_pool_in_use",
                                    "PostgreSQL connections leased now.")),
      pool_wait(registry.GetHistogram(
          "pat_authority_db_pool_wait_seconds",
          "Time to acquire a pooled connection (including timeouts).", {},
          DatabaseBuckets())),
      pool_timeouts(registry.GetCounter(
          "pat_authority_db_pool_timeouts_total",
          "Acquisitions that timed out because every connection was "
          "in use (the RPC failed UNAVAILABLE).")),
      feed_head(registry.GetGauge(
          "pat_authority_feed_head_revision",
          "Newest change-feed revision this replica has read.")),
      feed_live(registry.GetGauge(
          "pat_authority_feed_listener_live",
          "1 while the feed listener is connected (LISTEN) and has read "
          "the database recently.")),
      feed_notify_wakeups(registry.GetCounter(
          "pat_authority_feed_wakeups_total",
          "Feed listener wake-ups, by cause: a NOTIFY, or the backup poll.",
          {{"cause", "notify"}})),
      feed_poll_wakeups(registry.GetCounter(
          "pat_authority_feed_wakeups_total",
          "Feed listener wake-ups, by cause: a NOTIFY, or the backup poll.",
          {{"cause", "poll"}})),
      feed_listen_receiving(registry.GetGauge(
          "pat_authority_feed_listen_receiving",
          "1 while the LISTEN self-check's last probe came back in time "
          "(0: deaf, unverified or NOTIFY refused; the replica polls).")),
      feed_probes_received(registry.GetCounter(
          "pat_authority_feed_listen_probes_total",
          "LISTEN self-check probes, by result.", {{"result", "received"}})),
      feed_probes_missed(registry.GetCounter(
          "pat_authority_feed_listen_probes_total",
          "LISTEN self-check probes, by result.", {{"result", "missed"}})),
      feed_probes_unsent(registry.GetCounter(
          "pat_authority_feed_listen_probes_total",
          "LISTEN self-check probes, by result.", {{"result", "unsent"}})),
      watchers(registry.GetGauge("pat_authority_watchers",
                                 "WatchGrants streams open now.")),
      watch_events_sent(registry.GetCounter(
          "pat_authority_watch_events_sent_total",
          "Grant events sent on WatchGrants streams (snapshot events "
          "included).")),
      watch_evictions(registry.GetCounter(
          "pat_authority_watch_evictions_total",
          "WatchGrants streams ended because they fell behind the "
          "replica's event buffer (slow consumers; they resume).")),
      watch_events_serialized(registry.GetCounter(
          "pat_authority_watch_events_serialized_total",
          "Feed events serialized for WatchGrants streams (once each, "
          "however many streams send them).")),
      snapshots(registry.GetCounter("pat_authority_snapshots_total",
                                    "WatchGrants snapshots sent.")),
      snapshot_duration(registry.GetHistogram(
          "pat_authority_snapshot_duration_seconds",
          "Time to read and send one WatchGrants snapshot.", {},
          DatabaseBuckets())),
      snapshot_reads(registry.GetCounter(
          "pat_authority_snapshot_reads_total",
          "Snapshot reads from the database (each shared by every "
          "WatchGrants stream that needed a snapshot meanwhile).")),
      snapshot_shared(registry.GetCounter(
          "pat_authority_snapshot_shared_total",
          "WatchGrants snapshots served by a read another stream ran.")),
      snapshot_waiters(registry.GetGauge(
          "pat_authority_snapshot_waiters",
          "WatchGrants streams waiting now for a shared snapshot read.")),
      validate_memory_hits(registry.GetCounter(
          "pat_authority_validate_lookups_total",
          "ValidateToken secret lookups, by source: answered from the "
          "replica's memory or read from the database.",
          {{"source", "memory"}})),
      validate_database_reads(registry.GetCounter(
          "pat_authority_validate_lookups_total",
          "ValidateToken secret lookups, by source: answered from the "
          "replica's memory or read from the database.",
          {{"source", "database"}})),
      validate_memory_entries(registry.GetGauge(
          "pat_authority_validate_memory_entries",
          "Secrets (of tokens, and unknown digests) ValidateToken holds in "
          "memory now.")),
      rate_limited_actor(registry.GetCounter(
          "pat_authority_rate_limited_total",
          "TokenService requests refused (RESOURCE_EXHAUSTED) by a rate "
          "limit, by limit: per actor or per caller identity.",
          {{"limit", "actor"}})),
      rate_limited_caller(registry.GetCounter(
          "pat_authority_rate_limited_total",
          "TokenService requests refused (RESOURCE_EXHAUSTED) by a rate "
          "limit, by limit: per actor or per caller identity.",
          {{"limit", "caller"}})),
      ready(registry.GetGauge("pat_authority_ready",
                              "1 when /readyz answers ready.")),
      database_up(registry.GetGauge(
          "pat_authority_database_up",
          "1 when the readiness probe reached the database.")),
      access_log_dropped(registry.GetCounter(
          "pat_authority_access_log_dropped_total",
          "Access-log lines dropped because stderr did not take them as "
          "fast as RPCs ended (the writer's buffer was full).")),
      validate_batches(registry.GetCounter(
          "pat_authority_validate_batches_total",
          "Batched reads that answered ValidateToken calls which missed "
          "memory (one database statement each).")),
      validate_batched_calls(registry.GetCounter(
          "pat_authority_validate_batched_calls_total",
          "ValidateToken calls answered by the batched reads.")),
      registry_(registry) {
  registry
      .GetGauge("pat_authority_build_info",
                "Build of this binary (value 1).",
                {{"version", std::string(Version())},
                 {"commit", std::string(GitCommit())}})
      .Set(1);
  // Create every lifecycle series up front so that rates start at 0.
  for (absl::string_view action : {"create", "update", "refresh", "revoke"}) {
    registry.GetCounter("pat_authority_lifecycle_actions_total",
                        kLifecycleHelp, {{"action", std::string(action)}});
  }
}

RpcSeries::RpcSeries(MetricsRegistry& registry, RpcName name)
    : registry_(registry),
      service_(name.service),
      method_(name.method),
      duration_(registry.GetHistogram(
          "pat_authority_rpc_duration_seconds", kRpcSecondsHelp,
          {{"service", service_}, {"method", method_}}, DatabaseBuckets())) {}

void RpcSeries::Record(absl::StatusCode code, double seconds) {
  size_t index = static_cast<size_t>(code);
  if (index >= by_code_.size())
    index = static_cast<size_t>(absl::StatusCode::kUnknown);
  Counter* counter = by_code_[index].load(std::memory_order_acquire);
  if (counter == nullptr) {
    // GetCounter returns the same series for the same labels, so a race
    // between two first uses stores the same pointer twice.
    counter = &registry_.GetCounter(
        "pat_authority_rpcs_total", kRpcsHelp,
        {{"service", service_},
         {"method", method_},
         {"code",
          absl::StatusCodeToString(static_cast<absl::StatusCode>(index))}});
    by_code_[index].store(counter, std::memory_order_release);
  }
  counter->Inc();
  duration_.Observe(seconds);
}

RpcSeries& AuthorityMetrics::SeriesFor(absl::string_view full_method) {
  {
    absl::ReaderMutexLock lock(&series_mu_);
    auto it = series_.find(full_method);
    if (it != series_.end()) return *it->second;
  }
  const RpcName name = ClassifyRpc(full_method);
  absl::MutexLock lock(&series_mu_);
  std::unique_ptr<RpcSeries>& slot =
      name.service == "other" ? other_series_ : series_[full_method];
  if (slot == nullptr) slot = std::make_unique<RpcSeries>(registry_, name);
  return *slot;
}

void AuthorityMetrics::RecordLifecycle(absl::string_view action) {
  registry_
      .GetCounter("pat_authority_lifecycle_actions_total", kLifecycleHelp,
                  {{"action", std::string(action)}})
      .Inc();
}

}  // namespace pat
