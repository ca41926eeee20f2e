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

struct WatchFleet::Stream {
  std::shared_ptr<grpc::Channel> channel;
  // Cancelled by Stop(); TryCancel before the call starts cancels it at start.
  grpc::ClientContext context;
  std::thread thread;
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
  std::vector<std::shared_ptr<grpc::Channel>> pool;
  for (int c = 0; c < channels; ++c) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt(kChannelIndexArg, c);
    pool.push_back(grpc::CreateCustomChannel(
        options_.authority, grpc::InsecureChannelCredentials(), args));
  }
  for (int s = 0; s < streams; ++s) {
    auto stream = std::make_unique<Stream>();
    stream->channel = pool[static_cast<size_t>(s % channels)];
    streams_.push_back(std::move(stream));
  }
  for (int s = 0; s < streams; ++s) {
    Stream& stream = *streams_[static_cast<size_t>(s)];
    stream.thread = std::thread([this, &stream, s] { ReadStream(stream, s); });
  }
  return absl::OkStatus();
}

void WatchFleet::ReadStream(Stream& stream, int s) {
  auto stub = v1::IntrospectionService::NewStub(stream.channel);
  v1::WatchGrantsRequest request;
  request.set_since_revision(0);
  if (s != 0) {
    int64_t since = -1;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return first_synced_revision_ >= 0 || ended_count_ > 0 || stopping_;
      };
      mu_.Await(absl::Condition(&ready));
      since = first_synced_revision_;
    }
    if (since < 0) {
      OnEnded(s, "stream 0 ended before syncing");
      return;
    }
    request.set_since_revision(since);
  }
  // Ride out a failed first connection attempt (100 connects at once) rather
  // than fail the stream; WaitSynced's timeout bounds the wait.
  stream.context.set_wait_for_ready(true);
  std::unique_ptr<grpc::ClientReader<v1::WatchGrantsResponse>> reader =
      stub->WatchGrants(&stream.context, request);
  v1::WatchGrantsResponse message;
  while (reader->Read(&message)) {
    OnMessage(s, message, std::chrono::steady_clock::now());
  }
  const grpc::Status status = reader->Finish();
  OnEnded(s, absl::StrCat("code ", static_cast<int>(status.error_code()), ": ",
                          status.error_message()));
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
  for (auto& stream : streams_) stream->context.TryCancel();
  for (auto& stream : streams_) {
    if (stream->thread.joinable()) stream->thread.join();
  }
}

}  // namespace pat::bench
