#include "server/grant_feed.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <exception>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "server/feed/feed_format.h"

namespace pat {
namespace {

using json = nlohmann::json;

constexpr absl::Duration kMinReconnectBackoff = absl::Milliseconds(50);
// The listener counts as live when it has read the database within this many
// poll intervals (and at most kMinLiveWindow ago, whichever is longer).
constexpr int kLivePolls = 8;
constexpr absl::Duration kMinLiveWindow = absl::Seconds(2);

std::atomic<int64_t> g_total_event_reads{0};

// One structured log line on stderr. `fields` never holds secrets: feed
// events carry digests only, and only revisions and types are logged.
void Log(absl::string_view level, absl::string_view msg, json fields = {}) {
  json line = {{"level", std::string(level)}, {"msg", std::string(msg)}};
  if (fields.is_object()) line.update(fields);
  std::fprintf(
      stderr, "%s\n",
      line.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
}

}  // namespace

v1::GrantEvent GrantEventFromRow(const FeedEventRow& row, absl::Time now) {
  v1::GrantEvent event;
  const absl::Status status = feed::DecodeEvent(row, now, event);
  if (!status.ok()) {
    event.Clear();
    Log("error", "unreadable feed event",
        {{"revision", row.revision},
         {"type", row.type},
         {"error", std::string(status.message())}});
  }
  event.set_revision(row.revision);
  return event;
}

// --- FeedHub -----------------------------------------------------------------

absl::string_view ListenStateName(ListenState state) {
  switch (state) {
    case ListenState::kUnverified:
      return "unverified";
    case ListenState::kReceiving:
      return "receiving";
    case ListenState::kDeaf:
      return "deaf";
    case ListenState::kNotifyFailing:
      return "notify_failing";
  }
  return "unknown";
}

FeedHub::FeedHub(FeedHubOptions options, const Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      instance_(std::random_device{}() * uint64_t{0x100000000} +
                std::random_device{}()) {
  if (options_.probe_pool == nullptr) {
    listen_state_ = ListenState::kReceiving;
  }
}

absl::StatusOr<std::unique_ptr<FeedHub>> FeedHub::Start(FeedHubOptions options,
                                                        const Clock& clock) {
  if (options.database_url.empty()) {
    return absl::InvalidArgumentError("database_url: required");
  }
  if (options.buffer_capacity < 1 || options.read_batch < 1 ||
      options.poll_interval <= absl::ZeroDuration() ||
      options.listen_check_interval <= absl::ZeroDuration() ||
      options.listen_check_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("feed options out of range");
  }
  std::unique_ptr<FeedHub> hub(new FeedHub(std::move(options), clock));
  absl::Status connected = hub->Connect();
  if (!connected.ok()) return connected;
  absl::StatusOr<int64_t> head_or = hub->session_->ReadHead();
  if (!head_or.ok()) {
    hub->Disconnect();
    return head_or.status();
  }
  const int64_t head = *head_or;
  {
    absl::MutexLock lock(&hub->mu_);
    hub->base_ = head;
    hub->last_ = head;
  }
  hub->MarkPolled(true);
  hub->connects_.fetch_add(1);
  hub->thread_ = std::thread([h = hub.get()] { h->Run(); });
  if (hub->options_.probe_pool != nullptr) {
    hub->prober_ = std::thread([h = hub.get()] { h->ProbeLoop(); });
  }
  return hub;
}

FeedHub::~FeedHub() {
  Stop();
  if (thread_.joinable()) thread_.join();
  if (prober_.joinable()) prober_.join();
  Disconnect();
}

void FeedHub::Stop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  changed_.SignalAll();
}

absl::Status FeedHub::Connect() {
  absl::StatusOr<std::unique_ptr<feed::ListenSession>> session =
      feed::ListenSession::Connect(
          options_.database_url, kFeedListenerApplicationName,
          [this](const std::string& payload) { OnNotification(payload); });
  if (!session.ok()) return session.status();
  session_ = *std::move(session);
  // A probe sent to the previous session may never arrive here: the next
  // one goes out at its usual time.
  absl::MutexLock lock(&mu_);
  pending_probe_.clear();
  probe_deadline_ = absl::InfiniteFuture();
  return absl::OkStatus();
}

void FeedHub::Disconnect() { session_.reset(); }

void FeedHub::MarkPolled(bool ok) {
  absl::MutexLock lock(&mu_);
  connected_ = ok;
  if (ok) last_poll_ = absl::Now();
}

bool FeedHub::Poll() {
  while (true) {
    int64_t after;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return true;
      after = last_;
    }
    absl::StatusOr<std::vector<FeedEventRow>> rows =
        session_->ReadAfter(after, options_.read_batch);
    if (!rows.ok()) return false;
    event_reads_.fetch_add(1);
    g_total_event_reads.fetch_add(1);
    std::vector<FeedEventPtr> events;
    events.reserve(rows->size());
    const absl::Time now = clock_.Now();
    for (const FeedEventRow& row : *rows) {
      events.push_back(
          std::make_shared<const v1::GrantEvent>(GrantEventFromRow(row, now)));
    }
    const bool more = static_cast<int>(events.size()) >= options_.read_batch;
    Append(std::move(events));
    MarkPolled(true);
    if (!more) return true;
  }
}

void FeedHub::Append(std::vector<FeedEventPtr> events) {
  if (events.empty()) return;
  absl::MutexLock lock(&mu_);
  for (FeedEventPtr& event : events) {
    const int64_t revision = event->revision();
    if (revision != last_ + 1) {
      // Only after events were pruned while this hub was behind: watchers
      // older than the new base read the database and find the gap.
      Log("warning", "feed gap: events pruned before they were read",
          {{"after", last_}, {"next", revision}});
      buffer_.clear();
      base_ = revision - 1;
    }
    buffer_.push_back(std::move(event));
    last_ = revision;
  }
  while (buffer_.size() > options_.buffer_capacity) {
    buffer_.pop_front();
    ++base_;
  }
  changed_.SignalAll();
}

bool FeedHub::CheckHeadAfterConnect() {
  absl::StatusOr<int64_t> read = session_->ReadHead();
  if (!read.ok()) return false;
  const int64_t head = *read;
  absl::MutexLock lock(&mu_);
  if (head >= last_) return true;
  Log("error", "feed head went backwards: the database lost commits",
      {{"read", last_}, {"head", head}});
  lost_history_end_ = std::max(lost_history_end_, last_);
  buffer_.clear();
  base_ = head;
  last_ = head;
  changed_.SignalAll();
  return true;
}

void FeedHub::MaybePrune() {
  const absl::Time now = absl::Now();
  if (now < next_prune_) return;
  next_prune_ = now + options_.prune_interval;
  if (!session_->Prune(options_.retention).ok()) {
    // Retried at the next interval; a broken connection shows in the wait.
    Log("warning", "feed prune failed");
  }
}

void FeedHub::OnNotification(const std::string& payload) {
  if (!absl::StartsWith(payload, feed::kProbePrefix)) {
    ++revision_notifications_;
    return;
  }
  // Another replica's probe only woke us up.
  {
    absl::MutexLock lock(&mu_);
    if (pending_probe_.empty() || payload != pending_probe_) return;
    pending_probe_.clear();
    probe_deadline_ = absl::InfiniteFuture();
  }
  if (options_.probes_received != nullptr) options_.probes_received->Inc();
  SetListenState(ListenState::kReceiving);
}

void FeedHub::SetListenState(ListenState state) {
  ListenState before;
  {
    absl::MutexLock lock(&mu_);
    before = listen_state_;
    listen_state_ = state;
  }
  if (before == state) return;
  if (state == ListenState::kReceiving) {
    Log("info", "feed LISTEN self-check: notifications arrive",
        {{"was", std::string(ListenStateName(before))}});
  } else {
    Log(state == ListenState::kDeaf ? "warning" : "error",
        state == ListenState::kDeaf
            ? "feed LISTEN self-check: probe not received; polling"
            : "feed LISTEN self-check: NOTIFY refused; polling",
        {{"state", std::string(ListenStateName(state))},
         {"poll_interval_ms", absl::ToInt64Milliseconds(options_.poll_interval)}});
  }
}

void FeedHub::ProbeLoop() {
  while (true) {
    const std::string probe = absl::StrCat(
        feed::kProbePrefix, absl::Hex(instance_), "-", ++probe_seq_);
    bool send = false;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      // Recorded before sending: the listener may see it before the send
      // returns. One probe in flight at a time.
      if (pending_probe_.empty()) {
        pending_probe_ = probe;
        probe_deadline_ = absl::InfiniteFuture();
        send = true;
      }
    }
    if (send) {
      const absl::Status sent =
          feed::NotifyThroughPool(*options_.probe_pool, probe);
      {
        absl::MutexLock lock(&mu_);
        if (pending_probe_ == probe) {
          if (sent.ok()) {
            probe_deadline_ = absl::Now() + options_.listen_check_timeout;
          } else {
            pending_probe_.clear();
          }
        }
      }
      if (!sent.ok()) {
        if (options_.probes_unsent != nullptr) options_.probes_unsent->Inc();
        // A pool timeout says nothing about NOTIFY: keep the state.
        if (absl::IsInternal(sent)) SetListenState(ListenState::kNotifyFailing);
      }
    }
    absl::MutexLock lock(&mu_);
    const absl::Time until = absl::Now() + options_.listen_check_interval;
    while (!stopping_ && absl::Now() < until) {
      changed_.WaitWithDeadline(&mu_, until);
    }
  }
}

bool FeedHub::ProbeOverdue(absl::Time now) {
  {
    absl::MutexLock lock(&mu_);
    if (pending_probe_.empty() || now < probe_deadline_) return false;
    pending_probe_.clear();
    probe_deadline_ = absl::InfiniteFuture();
  }
  if (options_.probes_missed != nullptr) options_.probes_missed->Inc();
  SetListenState(ListenState::kDeaf);
  return true;
}

absl::Duration FeedHub::NextWait(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  absl::Duration wait = options_.poll_interval;
  if (!pending_probe_.empty()) wait = std::min(wait, probe_deadline_ - now);
  return std::max(wait, absl::ZeroDuration());
}

void FeedHub::Run() {
  absl::Duration backoff = kMinReconnectBackoff;
  bool was_connected = true;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
    if (session_ == nullptr) {
      if (!Connect().ok() || !CheckHeadAfterConnect()) {
        Disconnect();
        absl::MutexLock lock(&mu_);
        if (!stopping_) changed_.WaitWithTimeout(&mu_, backoff);
        backoff = std::min(backoff * 2, options_.max_reconnect_backoff);
        continue;
      }
      backoff = kMinReconnectBackoff;
      connects_.fetch_add(1);
    }
    // LISTEN is active: catch up on everything committed so far (including
    // whatever was committed while disconnected), then wait.
    if (!Poll()) {
      if (was_connected) Log("warning", "feed listener disconnected");
      was_connected = false;
      Disconnect();
      MarkPolled(false);
      continue;
    }
    if (!was_connected) Log("info", "feed listener reconnected");
    was_connected = true;
    MaybePrune();
    if (ProbeOverdue(absl::Now())) {
      // A fresh session may LISTEN where this one cannot; polling goes on.
      Disconnect();
      continue;
    }
    revision_notifications_ = 0;
    absl::StatusOr<int> notifications = session_->Await(NextWait(absl::Now()));
    if (!notifications.ok()) {
      // Reconnect (and LISTEN again) before the next read.
      Log("warning", "feed listener disconnected");
      was_connected = false;
      Disconnect();
      MarkPolled(false);
      continue;
    }
    Counter* wakeups = revision_notifications_ > 0 ? options_.notify_wakeups
                       : *notifications == 0       ? options_.poll_wakeups
                                                   : nullptr;
    if (wakeups != nullptr) wakeups->Inc();
  }
  Disconnect();
  MarkPolled(false);
}

FeedHub::Batch FeedHub::WaitForEvents(int64_t after, size_t max_events,
                                      absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  Batch batch;
  while (true) {
    if (stopping_) {
      batch.status = WaitStatus::kStopped;
      break;
    }
    if (after < base_ || (after > last_ && after <= lost_history_end_)) {
      batch.status = WaitStatus::kBehind;
      break;
    }
    if (last_ > after) {
      batch.status = WaitStatus::kEvents;
      const size_t first = static_cast<size_t>(after - base_);
      const size_t end = std::min(buffer_.size(), first + max_events);
      batch.events.assign(buffer_.begin() + first, buffer_.begin() + end);
      break;
    }
    if (absl::Now() >= deadline) {
      batch.status = WaitStatus::kTimeout;
      break;
    }
    changed_.WaitWithDeadline(&mu_, deadline);
  }
  batch.head = last_;
  batch.live = connected_ && absl::Now() - last_poll_ <=
                                 std::max(options_.poll_interval * kLivePolls,
                                          kMinLiveWindow);
  return batch;
}

bool FeedHub::Covers(int64_t after) const {
  absl::MutexLock lock(&mu_);
  return after >= base_ && after <= last_;
}

ListenState FeedHub::listen_state() const {
  absl::MutexLock lock(&mu_);
  return listen_state_;
}

bool FeedHub::listening() const {
  const ListenState state = listen_state();
  return state == ListenState::kReceiving ||
         state == ListenState::kNotifyFailing;
}

int64_t FeedHub::head() const {
  absl::MutexLock lock(&mu_);
  return last_;
}

bool FeedHub::live() const {
  absl::MutexLock lock(&mu_);
  return connected_ &&
         absl::Now() - last_poll_ <=
             std::max(options_.poll_interval * kLivePolls, kMinLiveWindow);
}

void FeedHub::CountFallbackRead() {
  event_reads_.fetch_add(1);
  g_total_event_reads.fetch_add(1);
}

int64_t FeedHub::TotalEventReads() { return g_total_event_reads.load(); }

}  // namespace pat
