#include "server/grant_feed.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/secret.h"
#include "nlohmann/json.hpp"
#include "pqxx/pqxx"
#include "server/proto_convert.h"

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

// `url` with application_name set, in either conninfo syntax (URI or
// key=value); a later setting wins over an earlier one in both.
std::string ListenerConninfo(const std::string& url) {
  if (absl::StartsWith(url, "postgresql://") ||
      absl::StartsWith(url, "postgres://")) {
    return absl::StrCat(url, absl::StrContains(url, "?") ? "&" : "?",
                        "application_name=", kFeedListenerApplicationName);
  }
  return absl::StrCat(url, " application_name=", kFeedListenerApplicationName);
}

absl::Time MicrosToTime(const json& j) {
  return absl::FromUnixMicros(j.get<int64_t>());
}

Resource ResourceFromPayload(const json& p) {
  Resource r;
  r.plan_id = p.at("plan_id").get<std::string>();
  r.kind = ResourceKindFromName(p.at("kind").get<std::string>());
  r.id = p.at("id").get<std::string>();
  r.parent_kind = ResourceKindFromName(p.value("parent_kind", ""));
  r.parent_id = p.value("parent_id", "");
  r.name = p.value("name", "");
  return r;
}

// Throws (nlohmann) on a payload of the wrong shape.
absl::Status FillEvent(const FeedEventRow& row, absl::Time now,
                       v1::GrantEvent& event) {
  const json p = json::parse(row.payload_json);
  if (row.type == "grant") {
    GrantRecord g;
    Token& t = g.token;
    t.id = p.at("token_id").get<std::string>();
    t.plan_id = p.at("plan_id").get<std::string>();
    t.kind = TokenKindFromName(p.at("kind").get<std::string>());
    t.scopes = p.at("scopes").get<std::vector<std::string>>();
    t.all_resources = p.at("all_resources").get<bool>();
    for (const json& r : p.at("resources")) {
      t.resources.push_back(
          {ResourceKindFromName(r.at("kind").get<std::string>()),
           r.at("id").get<std::string>(), r.at("link").get<std::string>()});
    }
    t.expire_time = MicrosToTime(p.at("expire_time_us"));
    if (auto it = p.find("revoke_time_us"); it != p.end() && !it->is_null()) {
      t.revoke_time = MicrosToTime(*it);
    }
    for (const json& s : p.at("secrets")) {
      absl::StatusOr<Digest> digest =
          DigestFromHex(s.at("sha256").get<std::string>());
      if (!digest.ok()) return absl::InvalidArgumentError("bad secret digest");
      SecretRecord secret{*digest, std::nullopt};
      if (auto it = s.find("valid_until_us"); it != s.end() && !it->is_null()) {
        secret.valid_until = MicrosToTime(*it);
      }
      g.secrets.push_back(secret);
    }
    GrantRecordToProto(g, now, &event);
  } else if (row.type == "plan") {
    Plan plan;
    plan.id = p.at("id").get<std::string>();
    plan.name = p.value("name", "");
    plan.tier = PlanTierFromName(p.at("tier").get<std::string>());
    PlanToProto(plan, event.mutable_plan_upserted());
  } else if (row.type == "resource") {
    ResourceToProto(ResourceFromPayload(p), event.mutable_resource_upserted());
  } else if (row.type == "resource_delete") {
    ResourceToProto(ResourceFromPayload(p), event.mutable_resource_deleted());
  } else {
    return absl::InvalidArgumentError("unknown event type");
  }
  return absl::OkStatus();
}

}  // namespace

v1::GrantEvent GrantEventFromRow(const FeedEventRow& row, absl::Time now) {
  v1::GrantEvent event;
  absl::Status status;
  try {
    status = FillEvent(row, now, event);
  } catch (const std::exception&) {
    status = absl::InvalidArgumentError("payload of the wrong shape");
  }
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

struct FeedHub::Listener {
  // LISTENs on the feed channel for as long as it exists. Notifications only
  // wake the listener thread: their payload is never trusted.
  class Receiver final : public pqxx::notification_receiver {
   public:
    explicit Receiver(pqxx::connection_base& conn)
        : pqxx::notification_receiver(conn, kFeedChannel) {}
    void operator()(const std::string&, int) override {}
  };

  std::unique_ptr<pqxx::connection> conn;
  std::unique_ptr<Receiver> receiver;
};

FeedHub::FeedHub(FeedHubOptions options, const Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      listener_(std::make_unique<Listener>()) {}

absl::StatusOr<std::unique_ptr<FeedHub>> FeedHub::Start(FeedHubOptions options,
                                                        const Clock& clock) {
  if (options.database_url.empty()) {
    return absl::InvalidArgumentError("database_url: required");
  }
  if (options.buffer_capacity < 1 || options.read_batch < 1 ||
      options.poll_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("feed options out of range");
  }
  std::unique_ptr<FeedHub> hub(new FeedHub(std::move(options), clock));
  absl::Status connected = hub->Connect();
  if (!connected.ok()) return connected;
  int64_t head = 0;
  try {
    pqxx::nontransaction nt(*hub->listener_->conn);
    head = nt.exec("SELECT revision FROM feed_head WHERE id = 1")[0][0]
               .as<int64_t>();
  } catch (const std::exception&) {
    hub->Disconnect();
    return absl::UnavailableError("feed listener: cannot read the feed head");
  }
  {
    absl::MutexLock lock(&hub->mu_);
    hub->base_ = head;
    hub->last_ = head;
  }
  hub->MarkPolled(true);
  hub->connects_.fetch_add(1);
  hub->thread_ = std::thread([h = hub.get()] { h->Run(); });
  return hub;
}

FeedHub::~FeedHub() {
  Stop();
  if (thread_.joinable()) thread_.join();
  Disconnect();
}

void FeedHub::Stop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  changed_.SignalAll();
}

absl::Status FeedHub::Connect() {
  try {
    auto conn = std::make_unique<pqxx::connection>(
        ListenerConninfo(options_.database_url));
    // Registering the receiver issues LISTEN; events are read only after it,
    // so nothing committed after the read can go unnoticed.
    auto receiver = std::make_unique<Listener::Receiver>(*conn);
    listener_->conn = std::move(conn);
    listener_->receiver = std::move(receiver);
    return absl::OkStatus();
  } catch (const std::exception&) {
    Disconnect();
    return absl::UnavailableError("feed listener: cannot connect");
  }
}

void FeedHub::Disconnect() {
  if (listener_->conn != nullptr) listener_->conn->disconnect();
  // With the connection closed, dropping the receiver sends no UNLISTEN.
  listener_->receiver.reset();
  listener_->conn.reset();
}

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
    std::vector<FeedEventPtr> events;
    try {
      pqxx::nontransaction nt(*listener_->conn);
      const pqxx::result rows = nt.exec_params(
          "SELECT revision, type, key, payload::text FROM grant_events "
          "WHERE revision > $1 ORDER BY revision LIMIT $2",
          after, options_.read_batch);
      event_reads_.fetch_add(1);
      g_total_event_reads.fetch_add(1);
      events.reserve(rows.size());
      const absl::Time now = clock_.Now();
      for (const pqxx::row& r : rows) {
        const FeedEventRow row{r[0].as<int64_t>(), r[1].as<std::string>(),
                               r[2].as<std::string>(), r[3].as<std::string>()};
        events.push_back(std::make_shared<const v1::GrantEvent>(
            GrantEventFromRow(row, now)));
      }
    } catch (const std::exception&) {
      return false;
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
  int64_t head = 0;
  try {
    pqxx::nontransaction nt(*listener_->conn);
    head = nt.exec("SELECT revision FROM feed_head WHERE id = 1")[0][0]
               .as<int64_t>();
  } catch (const std::exception&) {
    return false;
  }
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
  try {
    pqxx::nontransaction nt(*listener_->conn);
    // A prefix of the history, never the newest event.
    nt.exec_params(
        "DELETE FROM grant_events WHERE revision <= (SELECT max(revision) "
        "FROM grant_events WHERE created_at < now() - $1::bigint * "
        "interval '1 microsecond') AND revision < (SELECT revision FROM "
        "feed_head WHERE id = 1)",
        absl::ToInt64Microseconds(options_.retention));
  } catch (const std::exception&) {
    // Retried at the next interval; a broken connection shows in the wait.
    Log("warning", "feed prune failed");
  }
}

void FeedHub::Run() {
  absl::Duration backoff = kMinReconnectBackoff;
  bool was_connected = true;
  const int64_t poll_us = absl::ToInt64Microseconds(options_.poll_interval);
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
    if (listener_->conn == nullptr) {
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
    try {
      const int notifications = listener_->conn->await_notification(
          poll_us / 1000000, poll_us % 1000000);
      Counter* wakeups = notifications > 0 ? options_.notify_wakeups
                                           : options_.poll_wakeups;
      if (wakeups != nullptr) wakeups->Inc();
    } catch (const std::exception&) {
      // Reconnect (and LISTEN again) before the next read.
      Log("warning", "feed listener disconnected");
      was_connected = false;
      Disconnect();
      MarkPolled(false);
    }
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
