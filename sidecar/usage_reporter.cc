#include "sidecar/usage_reporter.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace pat::sidecar {

absl::StatusOr<std::unique_ptr<UsageReporter>> UsageReporter::Create(
    AuthorityClient& client, const Clock& clock, MetricsRegistry& metrics,
    UsageReporterOptions options) {
  if (options.flush_interval <= absl::ZeroDuration() ||
      options.flush_records == 0 || options.max_records == 0 ||
      options.max_batch == 0 || options.max_count_keys == 0 ||
      options.min_flush_spacing < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("usage reporter: invalid options");
  }
  std::unique_ptr<UsageReporter> reporter(
      new UsageReporter(client, clock, metrics, options));
  if (options.start_thread) {
    reporter->thread_ = std::thread([r = reporter.get()] { r->Run(); });
  }
  return reporter;
}

UsageReporter::UsageReporter(AuthorityClient& client, const Clock& clock,
                             MetricsRegistry& metrics,
                             UsageReporterOptions options)
    : client_(client),
      clock_(clock),
      options_(options),
      dropped_(metrics.GetCounter(
          "pat_sidecar_usage_dropped_total",
          "Token uses not reported because the pending batch was full.")),
      reported_(
          metrics.GetCounter("pat_sidecar_usage_reported_total",
                             "Per-token usage records sent to the authority.")),
      count_keys_dropped_(metrics.GetCounter(
          "pat_sidecar_usage_count_keys_dropped_total",
          "Allowed requests not counted for the least-privilege report "
          "because the pending usage keys were at their bound.")),
      counts_reported_(metrics.GetCounter(
          "pat_sidecar_usage_counts_reported_total",
          "Usage count keys sent to the authority.")),
      shards_(new Shard[kShards]) {}

UsageReporter::~UsageReporter() { Stop(); }

UsageReporter::Shard& UsageReporter::ShardFor(absl::string_view token_id) {
  return shards_[absl::HashOf(token_id) % kShards];
}

bool UsageReporter::Merge(absl::string_view token_id, absl::Time time,
                          absl::string_view client_ip) {
  Shard& shard = ShardFor(token_id);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.uses.find(token_id);
  if (it != shard.uses.end()) {
    if (time >= it->second.time) {
      it->second.time = time;
      if (it->second.client_ip != client_ip) {
        it->second.client_ip.assign(client_ip.data(), client_ip.size());
      }
    }
    return true;
  }
  if (pending_.load(std::memory_order_relaxed) >= options_.max_records) {
    return false;
  }
  shard.uses.emplace(std::string(token_id), Use{time, std::string(client_ip)});
  pending_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void UsageReporter::Record(absl::string_view token_id,
                           absl::string_view client_ip) {
  if (token_id.empty()) return;
  if (!Merge(token_id, clock_.Now(), client_ip)) {
    dropped_.Inc();
    return;
  }
  if (pending_.load(std::memory_order_relaxed) >= options_.flush_records) {
    RequestEarlyFlush();
  }
}

void UsageReporter::RequestEarlyFlush() {
  if (flush_requested_.exchange(true, std::memory_order_acq_rel)) return;
  absl::MutexLock lock(&mu_);
  wake_.Signal();
}

namespace {

std::string CountKey(const UsageCountRecord& r) {
  std::string key = absl::StrCat(r.token_id, "\n", r.endpoint, "\n",
                                 absl::StrJoin(r.satisfying_scopes, " "), "\n",
                                 static_cast<int>(r.need));
  for (const UsageResourceChain& c : r.resources) {
    absl::StrAppend(&key, "\n", static_cast<int>(c.kind), ":", c.id);
    for (const auto& [kind, id] : c.ancestors) {
      absl::StrAppend(&key, "<", static_cast<int>(kind), ":", id);
    }
  }
  return key;
}

}  // namespace

bool UsageReporter::MergeCount(UsageCountRecord record) {
  std::string key = CountKey(record);
  size_t keys = 0;
  {
    absl::MutexLock lock(&counts_mu_);
    auto it = counts_.find(key);
    if (it != counts_.end()) {
      it->second.count += record.count;
      return true;
    }
    if (counts_.size() >= options_.max_count_keys) return false;
    counts_.emplace(std::move(key), std::move(record));
    keys = counts_.size();
  }
  if (keys >= (options_.max_count_keys + 1) / 2) RequestEarlyFlush();
  return true;
}

void UsageReporter::RecordAllowed(UsageCountRecord facts) {
  if (facts.token_id.empty()) return;
  facts.count = 1;
  if (!MergeCount(std::move(facts))) count_keys_dropped_.Inc();
}

absl::Status UsageReporter::Flush() {
  absl::MutexLock flush_lock(&flush_mu_);
  flush_requested_.store(false, std::memory_order_release);
  std::vector<UsageRecord> records;
  for (int i = 0; i < kShards; ++i) {
    absl::flat_hash_map<std::string, Use> taken;
    {
      absl::MutexLock lock(&shards_[i].mu);
      taken.swap(shards_[i].uses);
      pending_.fetch_sub(taken.size(), std::memory_order_relaxed);
    }
    for (auto& [token_id, use] : taken) {
      records.push_back(
          UsageRecord{token_id, use.time, std::move(use.client_ip)});
    }
  }
  std::vector<UsageCountRecord> counts;
  {
    absl::flat_hash_map<std::string, UsageCountRecord> taken;
    {
      absl::MutexLock lock(&counts_mu_);
      taken.swap(counts_);
    }
    counts.reserve(taken.size());
    for (auto& [key, record] : taken) counts.push_back(std::move(record));
  }
  // Each call carries at most max_batch records and max_batch counts.
  const size_t total = std::max(records.size(), counts.size());
  for (size_t begin = 0; begin < total; begin += options_.max_batch) {
    const size_t nr =
        begin < records.size()
            ? std::min(options_.max_batch, records.size() - begin)
            : 0;
    const size_t nc = begin < counts.size()
                          ? std::min(options_.max_batch, counts.size() - begin)
                          : 0;
    absl::Status status = client_.ReportUsageWithCounts(
        absl::Span<const UsageRecord>(records.data() + begin, nr),
        absl::Span<const UsageCountRecord>(counts.data() + begin, nc));
    if (status.ok()) {
      reported_.Inc(nr);
      counts_reported_.Inc(nc);
      continue;
    }
    // Keep this batch and the rest for the next flush (a newer use of a
    // token wins); no further calls while the authority is failing.
    for (size_t i = begin; i < records.size(); ++i) {
      Merge(records[i].token_id, records[i].last_used_time,
            records[i].client_ip);
    }
    for (size_t i = begin; i < counts.size(); ++i) {
      const int64_t requests = counts[i].count;
      if (!MergeCount(std::move(counts[i]))) count_keys_dropped_.Inc(requests);
    }
    return status;
  }
  return absl::OkStatus();
}

namespace internal {

absl::Time NextFlushTime(absl::Time next_interval, bool early_requested,
                         bool backing_off, absl::Time earliest_early) {
  if (!early_requested || backing_off) return next_interval;
  return std::min(next_interval, earliest_early);
}

}  // namespace internal

// The thread waits on real time (a CondVar deadline), not on clock_.
void UsageReporter::Run() {
  absl::Time next = absl::Now() + options_.flush_interval;
  absl::Time earliest_early = absl::Now();
  // After a failed report, wait a full interval (no early flushes), so an
  // unreachable authority is not retried in a loop.
  bool backing_off = false;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      for (;;) {
        const absl::Time due = internal::NextFlushTime(
            next, flush_requested_.load(std::memory_order_acquire), backing_off,
            earliest_early);
        if (stopping_ || absl::Now() >= due) break;
        wake_.WaitWithDeadline(&mu_, due);
      }
      if (stopping_) return;
    }
    // Failures are counted by the client's error metric.
    backing_off = !Flush().ok();
    next = absl::Now() + options_.flush_interval;
    earliest_early = absl::Now() + options_.min_flush_spacing;
  }
}

void UsageReporter::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
    wake_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
  Flush().IgnoreError();
}

}  // namespace pat::sidecar
