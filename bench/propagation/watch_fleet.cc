#include "bench/propagation/watch_fleet.h"

#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "pat/v1/pat.grpc.pb.h"

namespace pat::bench {
namespace {

// A channel argument of our own, distinct per channel, so that even a shared
// subchannel pool could not put two channels on one connection.
constexpr char kChannelIndexArg[] = "pat.bench.channel_index";

int64_t ToNanos(SteadyTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             t.time_since_epoch())
      .count();
}

}  // namespace

// One stream on gRPC's callback client API: no thread of its own (a fleet
// of 1,000 blocking reader threads on the authority's cores measured the
// threads' scheduling more than the authority). Reads are chained: each
// OnReadDone handles its message and starts the next read.
class WatchFleet::Stream final
    : public grpc::ClientReadReactor<v1::WatchGrantsResponse> {
 public:
  Stream(WatchFleet& fleet, int index, std::shared_ptr<grpc::Channel> channel)
      : fleet_(fleet),
        index_(index),
        stub_(v1::IntrospectionService::NewStub(channel)) {}

  // Opens the stream from `since`. Ends with OnDone (once).
  void Begin(int64_t since) {
    request_.set_since_revision(since);
    // Ride out a failed first connection attempt (many connects at once)
    // rather than fail the stream; WaitSynced's timeout bounds the wait.
    context_.set_wait_for_ready(true);
    stub_->async()->WatchGrants(&context_, &request_, this);
    StartRead(&message_);
    StartCall();
  }

  void Cancel() { context_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream is over: OnDone follows
    fleet_.OnMessage(index_, message_, std::chrono::steady_clock::now());
    StartRead(&message_);
  }

  void OnDone(const grpc::Status& status) override {
    fleet_.OnEnded(index_,
                   absl::StrCat("code ", static_cast<int>(status.error_code()),
                                ": ", status.error_message()));
  }

 private:
  WatchFleet& fleet_;
  const int index_;
  std::unique_ptr<v1::IntrospectionService::Stub> stub_;
  grpc::ClientContext context_;
  v1::WatchGrantsRequest request_;
  v1::WatchGrantsResponse message_;
};

WatchFleet::WatchFleet(WatchFleetOptions options)
    : options_(std::move(options)) {
  for (size_t i = 0; i < options_.token_ids.size(); ++i) {
    index_.emplace(options_.token_ids[i], i);
  }
}

WatchFleet::~WatchFleet() { Stop(); }

absl::Status WatchFleet::Start() {
  if (options_.streams < 1) {
    return absl::InvalidArgumentError("streams: must be at least 1");
  }
  if (options_.channels < 0) {
    return absl::InvalidArgumentError("channels: must not be negative");
  }
  if (index_.size() != options_.token_ids.size()) {
    return absl::InvalidArgumentError("tokens: duplicate token id");
  }
  const int streams = options_.streams;
  const int channels = options_.channels == 0
                           ? streams
                           : std::min(options_.channels, options_.streams);
  const size_t tokens = options_.token_ids.size();
  {
    absl::MutexLock lock(&mu_);
    seen_ns_.assign(tokens * static_cast<size_t>(streams), 0);
    pending_.assign(tokens, streams);
    snapshot_status_.assign(tokens, v1::TOKEN_STATUS_UNSPECIFIED);
    synced_.assign(streams, false);
    ended_.assign(streams, false);
  }
  snapshot_events_ =
      std::make_unique<std::atomic<int64_t>[]>(static_cast<size_t>(streams));
  std::vector<std::shared_ptr<grpc::Channel>> pool;
  for (int c = 0; c < channels; ++c) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt(kChannelIndexArg, c);
    pool.push_back(grpc::CreateCustomChannel(
        options_.authority, grpc::InsecureChannelCredentials(), args));
  }
  for (int s = 0; s < streams; ++s) {
    streams_.push_back(std::make_unique<Stream>(
        *this, s, pool[static_cast<size_t>(s % channels)]));
  }
  if (options_.snapshot_all) {
    {
      absl::MutexLock lock(&mu_);
      started_ = streams;
    }
    for (auto& stream : streams_) stream->Begin(0);
    return absl::OkStatus();
  }
  {
    absl::MutexLock lock(&mu_);
    started_ = 1;
  }
  streams_[0]->Begin(0);
  // The others resume from the revision stream 0 synced at.
  starter_ = std::thread([this] { StartOthers(); });
  return absl::OkStatus();
}

void WatchFleet::StartOthers() {
  int64_t since = -1;
  {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return first_synced_revision_ >= 0 || ended_count_ > 0 || stopping_;
    };
    mu_.Await(absl::Condition(&ready));
    since = first_synced_revision_;
    if (stopping_) return;  // never begun: nothing to wait for
    if (since >= 0) started_ = options_.streams;
  }
  for (size_t s = 1; s < streams_.size(); ++s) {
    if (since >= 0) {
      streams_[s]->Begin(since);
    } else {
      OnEnded(static_cast<int>(s), "stream 0 ended before syncing");
    }
  }
}

void WatchFleet::OnMessage(int s, const v1::WatchGrantsResponse& message,
                           SteadyTime now) {
  switch (message.message_case()) {
    case v1::WatchGrantsResponse::kSyncedRevision: {
      absl::MutexLock lock(&mu_);
      if (!synced_[static_cast<size_t>(s)]) {
        synced_[static_cast<size_t>(s)] = true;
        ++synced_count_;
      }
      if (s == 0 && first_synced_revision_ < 0) {
        first_synced_revision_ = message.synced_revision();
      }
      return;
    }
    case v1::WatchGrantsResponse::kEvent:
      break;
    default:
      return;  // heartbeats
  }
  const v1::GrantEvent& event = message.event();
  if (message.snapshot()) {
    snapshot_events_[static_cast<size_t>(s)].fetch_add(
        1, std::memory_order_relaxed);
  }
  if (!event.has_grant()) return;
  const auto it = index_.find(event.grant().token_id());
  if (it == index_.end()) return;
  const size_t i = it->second;
  absl::MutexLock lock(&mu_);
  if (message.snapshot()) {
    snapshot_status_[i] = event.grant().status();
    return;
  }
  if (event.grant().status() != v1::TOKEN_STATUS_REVOKED) return;
  int64_t& seen = seen_ns_[i * static_cast<size_t>(options_.streams) +
                           static_cast<size_t>(s)];
  if (seen != 0) return;
  seen = ToNanos(now);
  --pending_[i];
}

void WatchFleet::OnEnded(int s, const std::string& status) {
  absl::MutexLock lock(&mu_);
  ended_[static_cast<size_t>(s)] = true;
  ++done_count_;
  if (stopping_) return;
  if (ended_count_++ == 0) first_end_status_ = status;
  // This stream will see nothing more: stop waiting for it.
  for (size_t i = 0; i < pending_.size(); ++i) {
    if (seen_ns_[i * static_cast<size_t>(options_.streams) +
                 static_cast<size_t>(s)] == 0) {
      --pending_[i];
    }
  }
}

absl::Status WatchFleet::WaitSynced(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return synced_count_ == options_.streams || ended_count_ > 0;
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&done), timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat(synced_count_, " of ", options_.streams,
                     " streams synced within ", absl::FormatDuration(timeout)));
  }
  if (ended_count_ > 0) {
    return absl::UnavailableError(absl::StrCat(
        "a watch stream ended before syncing: ", first_end_status_));
  }
  return absl::OkStatus();
}

absl::Status WatchFleet::CheckSnapshot() const {
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < snapshot_status_.size(); ++i) {
    if (snapshot_status_[i] != v1::TOKEN_STATUS_ACTIVE) {
      return absl::FailedPreconditionError(absl::StrCat(
          "token ", options_.token_ids[i], " is ",
          snapshot_status_[i] == v1::TOKEN_STATUS_UNSPECIFIED
              ? "not in the feed snapshot"
              : v1::TokenStatus_Name(snapshot_status_[i]),
          ": only active tokens can be revoked for a measurement"));
    }
  }
  return absl::OkStatus();
}

std::vector<std::optional<SteadyTime>> WatchFleet::WaitRevoked(
    size_t index, SteadyTime deadline) {
  const absl::Time abs_deadline =
      absl::Now() +
      absl::FromChrono(deadline - std::chrono::steady_clock::now());
  absl::MutexLock lock(&mu_);
  auto done = [this, index]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return pending_[index] <= 0;
  };
  mu_.AwaitWithDeadline(absl::Condition(&done), abs_deadline);
  std::vector<std::optional<SteadyTime>> times(
      static_cast<size_t>(options_.streams));
  for (size_t s = 0; s < times.size(); ++s) {
    const int64_t ns =
        seen_ns_[index * static_cast<size_t>(options_.streams) + s];
    if (ns != 0) times[s] = SteadyTime(std::chrono::nanoseconds(ns));
  }
  return times;
}

int64_t WatchFleet::snapshot_events(int s) const {
  if (snapshot_events_ == nullptr || s < 0 || s >= options_.streams) return 0;
  return snapshot_events_[static_cast<size_t>(s)].load(
      std::memory_order_relaxed);
}

int WatchFleet::ended_streams() const {
  absl::MutexLock lock(&mu_);
  return ended_count_;
}

std::string WatchFleet::first_end_status() const {
  absl::MutexLock lock(&mu_);
  return first_end_status_;
}

void WatchFleet::Stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (starter_.joinable()) starter_.join();
  for (auto& stream : streams_) stream->Cancel();
  // Every stream that was begun ends with OnDone; none touches this object
  // after it.
  absl::MutexLock lock(&mu_);
  auto all_done = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return done_count_ >= started_;
  };
  mu_.Await(absl::Condition(&all_done));
}

}  // namespace pat::bench
