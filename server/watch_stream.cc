#include "server/watch_stream.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "server/db_deadline.h"
#include "server/proto_convert.h"

namespace pat {
namespace {

grpc::ByteBuffer Serialize(const v1::WatchGrantsResponse& message) {
  grpc::Slice slice(message.SerializeAsString());
  return grpc::ByteBuffer(&slice, 1);
}

grpc::Status Unavailable(absl::string_view why) {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(why));
}

}  // namespace

WatchStream* WatchStream::Start(grpc::CallbackServerContext* context,
                                const WatchStreamDeps& deps, int64_t since) {
  auto* stream = new WatchStream(context, deps, since);
  stream->Begin();
  return stream;
}

WatchStream::WatchStream(grpc::CallbackServerContext* context,
                         const WatchStreamDeps& deps, int64_t since)
    : context_(context), deps_(deps), since_(since) {
  deps_.fanout->Attach();
  if (deps_.metrics != nullptr) deps_.metrics->watchers.Add(1);
}

void WatchStream::Begin() {
  const bool registered = deps_.fanout->Register(this);
  absl::MutexLock lock(&mu_);
  registered_ = registered;
  started_ = last_sent_ = std::chrono::steady_clock::now();
  if (!registered_) {
    End(Unavailable(
        "the authority is shutting down; reconnect with since_revision"));
  } else if (since_ == 0 || !deps_.hub->Covers(since_)) {
    Submit(&WatchStream::RunStart);
  } else {
    // Resume from memory: no database read.
    cursor_ = delivered_ = since_;
    need_synced_ = true;
    phase_ = Phase::kFollow;
  }
  Pump();
}

void WatchStream::Submit(void (WatchStream::*task)()) {
  task_running_ = true;
  if (!deps_.workers->TrySubmit([this, task] { (this->*task)(); })) {
    task_running_ = false;
    End(Unavailable("the authority is busy; retry with backoff"));
  }
}

void WatchStream::RunStart() {
  bool snapshot = since_ == 0;
  absl::Status failed;
  SnapshotPtr read;
  if (absl::StatusOr<FeedPosition> position =
          deps_.introspection->GetFeedPosition(since_);
      !position.ok()) {
    failed = position.status();
  } else {
    snapshot = snapshot || !position->resumable;
    if (snapshot) {
      absl::StatusOr<SnapshotPtr> got = deps_.snapshots->Get(
          position->head,
          RpcDeadline(*context_).value_or(absl::InfiniteFuture()),
          [this] { return context_->IsCancelled(); });
      if (got.ok()) {
        read = *std::move(got);
      } else {
        failed = got.status();
      }
    }
  }
  absl::MutexLock lock(&mu_);
  task_running_ = false;
  if (!failed.ok()) {
    End(ToGrpcStatus(failed));
  } else if (snapshot) {
    snapshot_ = std::move(read);
    snapshot_now_ = deps_.introspection->Now();
    phase_ = Phase::kSnapshot;
  } else {
    cursor_ = delivered_ = since_;
    need_synced_ = true;
    phase_ = Phase::kFollow;
  }
  Pump();
}

void WatchStream::RunCatchUp() {
  int64_t cursor = 0;
  {
    absl::MutexLock lock(&mu_);
    cursor = cursor_;
  }
  absl::StatusOr<std::vector<FeedEventRow>> rows =
      deps_.introspection->ReadFeedEvents(cursor, deps_.catch_up_batch);
  deps_.hub->CountFallbackRead();
  const absl::Time now = deps_.introspection->Now();
  absl::MutexLock lock(&mu_);
  task_running_ = false;
  if (!rows.ok()) {
    End(ToGrpcStatus(rows.status()));
  } else {
    // Only events older than the ring are read here, so the database has
    // newer ones: an empty read, or one that does not continue at cursor +
    // 1, means history this stream still needs was pruned.
    for (const FeedEventRow& row : *rows) {
      if (row.revision != cursor + 1) break;
      database_events_.push_back(GrantEventFromRow(row, now));
      cursor = row.revision;
    }
    history_gap_ = rows->empty() || cursor != rows->back().revision;
  }
  Pump();
}

void WatchStream::Pump() {
  if (finished_ || writing_ || task_running_) return;
  if (cancelled_) {
    End(grpc::Status(grpc::StatusCode::CANCELLED, "the watcher went away"));
  }
  if (end_.has_value()) {
    finished_ = true;
    Finish(*std::move(end_));
    return;
  }
  if (phase_ == Phase::kStarting) return;
  if (phase_ == Phase::kSnapshot) {
    if (WriteSnapshotRecord()) return;
    phase_ = Phase::kFollow;
  }
  if (need_synced_) {
    need_synced_ = false;
    v1::WatchGrantsResponse synced;
    synced.set_synced_revision(cursor_);
    Write(synced);
    return;
  }
  if (!database_events_.empty()) {
    v1::WatchGrantsResponse response;
    *response.mutable_event() = std::move(database_events_.front());
    database_events_.pop_front();
    cursor_ = pending_revision_ = response.event().revision();
    Write(response);
    return;
  }
  if (history_gap_) {
    End(grpc::Status(grpc::StatusCode::ABORTED,
                     "the watch fell behind the retained history; reconnect "
                     "with since_revision to get a snapshot"));
    Pump();
    return;
  }
  FollowRing();
}

void WatchStream::FollowRing() {
  WatchFanout::ReadResult read = deps_.fanout->Read(cursor_, epoch_);
  switch (read.status) {
    case WatchFanout::ReadStatus::kEvent:
      epoch_ = read.epoch;
      following_ = true;
      cursor_ = pending_revision_ = read.revision;
      WriteBytes(grpc::ByteBuffer(&read.bytes, 1));
      return;
    case WatchFanout::ReadStatus::kCurrent:
      epoch_ = read.epoch;
      following_ = true;
      if (live_ && std::chrono::steady_clock::now() - last_sent_ >=
                       absl::ToChronoNanoseconds(deps_.heartbeat_interval)) {
        v1::WatchGrantsResponse heartbeat;
        heartbeat.set_heartbeat_revision(cursor_);
        Write(heartbeat);
      }
      return;
    case WatchFanout::ReadStatus::kBehind:
      if (following_ && read.epoch == epoch_) {
        Evict();
      } else {
        epoch_ = read.epoch;
        following_ = false;
        Submit(&WatchStream::RunCatchUp);
      }
      break;
    case WatchFanout::ReadStatus::kLost:
      End(grpc::Status(grpc::StatusCode::ABORTED,
                       "the feed's history changed under this watch; "
                       "reconnect with since_revision to get a snapshot"));
      break;
    case WatchFanout::ReadStatus::kStopped:
      End(Unavailable(
          "the authority is shutting down; reconnect with since_revision"));
      break;
  }
  Pump();
}

bool WatchStream::WriteSnapshotRecord() {
  const FeedSnapshot& snapshot = *snapshot_;
  const size_t plans = snapshot.plans.size();
  const size_t resources = snapshot.resources.size();
  const size_t total = plans + resources + snapshot.grants.size();
  if (snapshot_next_ == total) {
    cursor_ = delivered_ = snapshot.revision;
    need_synced_ = true;
    if (AuthorityMetrics* m = deps_.metrics; m != nullptr) {
      m->snapshots.Inc();
      m->snapshot_duration.Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                        started_)
              .count());
    }
    snapshot_.reset();
    return false;
  }
  // Grant statuses are computed at one instant per stream, as they were
  // before reads were shared (the shared snapshot holds records, not events).
  v1::WatchGrantsResponse response;
  response.set_snapshot(true);
  v1::GrantEvent* event = response.mutable_event();
  event->set_revision(snapshot.revision);
  const size_t i = snapshot_next_++;
  if (i < plans) {
    PlanToProto(snapshot.plans[i], event->mutable_plan_upserted());
  } else if (i < plans + resources) {
    ResourceToProto(snapshot.resources[i - plans],
                    event->mutable_resource_upserted());
  } else {
    GrantRecordToProto(snapshot.grants[i - plans - resources], snapshot_now_,
                       event);
  }
  Write(response);
  return true;
}

void WatchStream::Write(const v1::WatchGrantsResponse& message) {
  WriteBytes(Serialize(message));
}

void WatchStream::WriteBytes(grpc::ByteBuffer bytes) {
  out_ = std::move(bytes);
  writing_ = true;
  last_sent_ = std::chrono::steady_clock::now();
  StartWrite(&out_);
}

void WatchStream::Evict() {
  if (deps_.metrics != nullptr && !cancel_sent_) {
    deps_.metrics->watch_evictions.Inc();
  }
  const std::string resume = absl::StrCat(delivered_);
  context_->AddTrailingMetadata(kResumeRevisionMetadata, resume);
  End(grpc::Status(
      grpc::StatusCode::RESOURCE_EXHAUSTED,
      absl::StrCat("this watch fell behind the authority's event buffer; "
                   "reconnect with since_revision=",
                   resume, " to resume")));
}

void WatchStream::End(grpc::Status status) {
  if (!end_.has_value()) end_ = std::move(status);
}

void WatchStream::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  if (!ok) {
    cancelled_ = true;  // the stream is broken: nothing more can be sent
  } else {
    if (pending_revision_ >= 0) {
      delivered_ = pending_revision_;
      if (deps_.metrics != nullptr) deps_.metrics->watch_events_sent.Inc();
    } else if (phase_ == Phase::kSnapshot && deps_.metrics != nullptr) {
      deps_.metrics->watch_events_sent.Inc();
    }
    behind_since_.reset();
  }
  pending_revision_ = -1;
  Pump();
}

void WatchStream::OnFeedChanged(bool live) {
  absl::MutexLock lock(&mu_);
  live_ = live;
  if (!writing_) {
    Pump();
    return;
  }
  // A write outstanding while the ring moves past this stream: give the
  // client evict_grace to take it, then cancel the call.
  if (!following_ || cancel_sent_) return;
  if (deps_.fanout->Read(cursor_, epoch_).status !=
      WatchFanout::ReadStatus::kBehind) {
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (!behind_since_.has_value()) behind_since_ = now;
  if (now - *behind_since_ >= absl::ToChronoNanoseconds(deps_.evict_grace)) {
    cancel_sent_ = true;
    if (deps_.metrics != nullptr) deps_.metrics->watch_evictions.Inc();
    context_->TryCancel();
  }
}

void WatchStream::OnCancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  Pump();
}

void WatchStream::OnDone() {
  bool registered = false;
  {
    // Also orders this deletion after every other thread's last use (the
    // worker that finished, the fanout's last poke) for observers that do
    // not see gRPC's own synchronization (TSAN).
    absl::MutexLock lock(&mu_);
    registered = registered_;
  }
  if (registered) deps_.fanout->Unregister(this);
  if (deps_.metrics != nullptr) deps_.metrics->watchers.Add(-1);
  WatchFanout* const fanout = deps_.fanout;
  delete this;
  fanout->Detach();  // last: the fanout (and the server) may go now
}

}  // namespace pat
