#include "sidecar/watcher.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace pat::sidecar {

absl::StatusOr<std::unique_ptr<Watcher>> Watcher::Create(
    AuthorityClient& client, GrantCache& grants, DirectoryCache& directory,
    const Clock& clock, MetricsRegistry& metrics, WatcherOptions options) {
  if (options.initial_backoff <= absl::ZeroDuration() ||
      options.max_backoff < options.initial_backoff ||
      options.idle_timeout <= absl::ZeroDuration() ||
      options.tick <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("watcher: invalid options");
  }
  std::unique_ptr<Watcher> watcher(
      new Watcher(client, grants, directory, clock, metrics, options));
  watcher->thread_ = std::thread([w = watcher.get()] { w->Run(); });
  watcher->ticker_ = std::thread([w = watcher.get()] { w->Tick(); });
  return watcher;
}

Watcher::Watcher(AuthorityClient& client, GrantCache& grants,
                 DirectoryCache& directory, const Clock& clock,
                 MetricsRegistry& metrics, WatcherOptions options)
    : client_(client),
      grants_(grants),
      directory_(directory),
      clock_(clock),
      options_(options),
      connected_gauge_(metrics.GetGauge(
          "pat_sidecar_watch_connected",
          "1 while the WatchGrants stream to the authority is delivering.")),
      revision_gauge_(
          metrics.GetGauge("pat_sidecar_watch_revision",
                           "Last change-feed revision applied to the caches.")),
      lag_gauge_(metrics.GetGauge(
          "pat_sidecar_watch_revision_lag",
          "Authority's latest revision (from heartbeats) minus the applied "
          "one.")),
      age_gauge_(metrics.GetGauge(
          "pat_sidecar_watch_last_contact_age_seconds",
          "Seconds since the last message from the authority's watch stream "
          "(-1 before the first).")),
      reconnects_(
          metrics.GetCounter("pat_sidecar_watch_reconnects_total",
                             "WatchGrants streams opened after the first.")),
      resyncs_counter_(metrics.GetCounter(
          "pat_sidecar_watch_resyncs_total",
          "Fresh snapshots requested because events were lost (a gap).")) {
  age_gauge_.Set(-1);
}

Watcher::~Watcher() { Stop(); }

void Watcher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (current_ != nullptr) current_->Cancel();
    wake_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
  if (ticker_.joinable()) ticker_.join();
}

void Watcher::Log(absl::string_view line) {
  if (options_.log_sink) {
    options_.log_sink(line);
  } else {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
  }
}

bool Watcher::Stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

bool Watcher::SleepFor(absl::Duration d) {
  const absl::Time deadline = absl::Now() + d;
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    if (wake_.WaitWithDeadline(&mu_, deadline)) break;  // timed out
  }
  return !stopping_;
}

void Watcher::Tick() {
  while (SleepFor(options_.tick)) {
    const absl::Time contact = grants_.last_contact();
    if (contact != absl::InfinitePast()) {
      age_gauge_.Set(
          std::max<int64_t>(0, absl::ToInt64Seconds(clock_.Now() - contact)));
    }
    absl::MutexLock lock(&mu_);
    if (current_ != nullptr &&
        absl::Now() - last_message_real_ > options_.idle_timeout) {
      current_->Cancel();  // the watch thread reconnects
    }
  }
}

void Watcher::Run() {
  std::mt19937_64 rng(std::random_device{}());
  absl::Duration backoff = options_.initial_backoff;
  while (!Stopping()) {
    const int64_t since = resume_ok_ ? revision_.load() : 0;
    if (sessions_.fetch_add(1) > 0) reconnects_.Inc();
    std::unique_ptr<WatchStream> stream =
        client_.Watch(since, grants_.mode() == CacheMode::kUsed);
    {
      absl::MutexLock lock(&mu_);
      current_ = stream.get();
      last_message_real_ = absl::Now();
      if (stopping_) stream->Cancel();
    }
    bool progress = false;
    const SessionEnd end = RunSession(*stream, since, &progress);
    if (end != SessionEnd::kStreamEnded) stream->Cancel();
    {
      absl::MutexLock lock(&mu_);
      current_ = nullptr;
    }
    const absl::Status status = stream->Finish();
    stream.reset();
    connected_.store(false, std::memory_order_release);
    connected_gauge_.Set(0);
    if (end == SessionEnd::kStopped) break;
    if (end == SessionEnd::kGap) {
      resume_ok_ = false;
      // Events were lost: no answer may be kept until the new snapshot.
      grants_.BeginSnapshot();
      resyncs_.fetch_add(1);
      resyncs_counter_.Inc();
      Log(nlohmann::json{{"msg", "watch gap: events were lost, resyncing"},
                         {"revision", revision_.load()}}
              .dump());
    } else if (!status.ok()) {
      // First failure after a working stream, then at most every interval.
      const absl::Time now = absl::Now();
      if (!failing_ || progress ||
          now - last_error_log_ >= options_.error_log_interval) {
        Log(nlohmann::json{{"msg", "watch stream failed"},
                           {"code", absl::StatusCodeToString(status.code())},
                           {"error", std::string(status.message())},
                           {"since_revision", since}}
                .dump(-1, ' ', false,
                      nlohmann::json::error_handler_t::replace));
        last_error_log_ = now;
      }
      failing_ = true;
    }
    if (progress && status.ok()) failing_ = false;
    // The authority refused to resume from our revision: start over.
    if (since > 0 &&
        (absl::IsOutOfRange(status) || absl::IsInvalidArgument(status) ||
         absl::IsFailedPrecondition(status))) {
      resume_ok_ = false;
    }
    if (progress) backoff = options_.initial_backoff;
    // Full jitter in [backoff/2, backoff].
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    if (!SleepFor(backoff * jitter(rng))) break;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

Watcher::SessionEnd Watcher::RunSession(WatchStream& stream, int64_t since,
                                        bool* progress) {
  bool snapshot = since == 0;
  bool synced_here = false;
  if (snapshot) {
    // Until this snapshot is complete, a reconnect must ask for a new one.
    resume_ok_ = false;
    grants_.BeginSnapshot();
    directory_.BeginSnapshot();
  }
  // A heartbeat revision not yet reached (-1: none pending).
  int64_t promised = -1;
  WatchMessage message;
  while (stream.Next(&message)) {
    *progress = true;
    grants_.Touch(clock_.Now());
    {
      absl::MutexLock lock(&mu_);
      last_message_real_ = absl::Now();
      if (stopping_) return SessionEnd::kStopped;
    }
    connected_.store(true, std::memory_order_release);
    connected_gauge_.Set(1);

    switch (message.type) {
      case WatchMessage::Type::kEvent: {
        if (!synced_here && (snapshot || message.snapshot)) {
          if (!snapshot) {
            // Resume refused in favour of a snapshot.
            snapshot = true;
            resume_ok_ = false;
            grants_.BeginSnapshot();
            directory_.BeginSnapshot();
          }
          ApplyEvent(message);
          break;
        }
        const int64_t applied = revision_.load();
        if (message.revision <= applied) break;  // duplicate
        if (message.revision != applied + 1) return SessionEnd::kGap;
        ApplyEvent(message);
        revision_.store(message.revision, std::memory_order_release);
        revision_gauge_.Set(message.revision);
        lag_gauge_.Set(
            std::max<int64_t>(0, authority_revision_ - message.revision));
        break;
      }
      case WatchMessage::Type::kSynced:
        if (snapshot && !synced_here) {
          grants_.FinishSnapshot(message.revision);
          directory_.FinishSnapshot();
          revision_.store(message.revision, std::memory_order_release);
          revision_gauge_.Set(message.revision);
          resume_ok_ = true;
          Log(nlohmann::json{{"msg", "watch synced"},
                             {"revision", message.revision},
                             {"grants", grants_.size()},
                             {"resources", directory_.size()}}
                  .dump());
        }
        failing_ = false;
        synced_here = true;
        grants_.MarkSynced();
        break;
      case WatchMessage::Type::kHeartbeat: {
        authority_revision_ = message.revision;
        const int64_t applied = revision_.load();
        lag_gauge_.Set(std::max<int64_t>(0, message.revision - applied));
        if (snapshot && !synced_here) break;
        if (promised > applied) return SessionEnd::kGap;
        promised = message.revision > applied ? message.revision : -1;
        break;
      }
      case WatchMessage::Type::kUnknown:
        break;
    }
  }
  return Stopping() ? SessionEnd::kStopped : SessionEnd::kStreamEnded;
}

void Watcher::ApplyEvent(WatchMessage& message) {
  switch (message.change) {
    case WatchMessage::Change::kGrant:
      grants_.Apply(std::move(message.grant), message.revision);
      return;
    case WatchMessage::Change::kResourceUpserted:
      directory_.Upsert(message.resource);
      break;
    case WatchMessage::Change::kResourceDeleted:
      directory_.Delete(message.resource.kind, message.resource.id);
      break;
    case WatchMessage::Change::kPlanUpserted:
      // Plans carry nothing the sidecar enforces: a plan whose tier loses
      // tokens has them revoked by the authority (grant events).
    case WatchMessage::Change::kNone:
      break;
  }
  if (!message.snapshot) grants_.ApplyOther(message.revision);
}

}  // namespace pat::sidecar
