#ifndef PAT_SERVER_WATCH_STREAM_H_
#define PAT_SERVER_WATCH_STREAM_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "server/authority_metrics.h"
#include "server/blocking_workers.h"
#include "server/grant_feed.h"
#include "server/snapshot_share.h"
#include "server/token_introspection.h"
#include "server/watch_fanout.h"

// One WatchGrants stream on gRPC's callback API (the contract is
// IntrospectionServiceImpl::WatchGrants'). No thread is held per stream:
// database work (the feed position, a shared snapshot, a catch-up read of
// events older than the fanout's ring) runs on `workers`, and everything
// else is a reaction to a finished write, to the fanout's tick, or to
// cancellation. At most one write is outstanding; the stream's only buffer
// is that message (plus, while catching up, one database batch).
//
// Slow consumers: a stream that has followed the fanout's ring and whose
// next event has left it ends RESOURCE_EXHAUSTED, with the last revision it
// delivered in the message and in the trailing metadata
// "pat-resume-revision"; reconnecting with since_revision = that revision
// resumes without a snapshot (from the database). If its write does not
// complete within evict_grace after falling out of the ring (a client that
// stopped reading), the call is cancelled.
namespace pat {

// The trailing metadata key of an evicted stream's resume revision.
inline constexpr char kResumeRevisionMetadata[] = "pat-resume-revision";

struct WatchStreamDeps {
  TokenIntrospection* introspection = nullptr;
  FeedHub* hub = nullptr;
  WatchFanout* fanout = nullptr;
  SnapshotShare* snapshots = nullptr;
  BlockingWorkers* workers = nullptr;
  AuthorityMetrics* metrics = nullptr;  // optional
  absl::Duration heartbeat_interval = absl::Seconds(1);
  absl::Duration evict_grace = absl::Seconds(5);
  // Rows per catch-up read.
  int catch_up_batch = 1000;
};

class WatchStream final : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
                          public WatchSubscriber {
 public:
  // Starts a stream from `since` (>= 0; the caller authorized it). The
  // stream deletes itself when gRPC is done with it; every pointer in
  // `deps` must outlive it.
  static WatchStream* Start(grpc::CallbackServerContext* context,
                            const WatchStreamDeps& deps, int64_t since);

  void OnFeedChanged(bool live) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  enum class Phase {
    kStarting,  // a worker reads the feed position and the snapshot
    kSnapshot,  // writing snapshot_'s records
    kFollow,    // synced; events from the database batch or the ring
  };
  using SteadyTime = std::chrono::steady_clock::time_point;

  WatchStream(grpc::CallbackServerContext* context, const WatchStreamDeps& deps,
              int64_t since);
  void Begin();
  // On a worker: position, then snapshot if one is needed.
  void RunStart();
  // On a worker: the events after cursor_ from the database.
  void RunCatchUp();
  // Takes the next step unless a write or a worker task is outstanding.
  void Pump() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes the next snapshot record; false when none is left.
  bool WriteSnapshotRecord() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FollowRing() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Submit(void (WatchStream::*task)()) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Write(const v1::WatchGrantsResponse& message)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WriteBytes(grpc::ByteBuffer bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Evict() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void End(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  grpc::CallbackServerContext* const context_;
  const WatchStreamDeps deps_;
  const int64_t since_;
  absl::Mutex mu_;
  bool registered_ ABSL_GUARDED_BY(mu_) = false;
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kStarting;
  SnapshotPtr snapshot_ ABSL_GUARDED_BY(mu_);
  size_t snapshot_next_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time snapshot_now_ ABSL_GUARDED_BY(mu_);
  SteadyTime started_ ABSL_GUARDED_BY(mu_);
  bool need_synced_ ABSL_GUARDED_BY(mu_) = false;
  // The revision of the last event handed to a write, and of the last one
  // whose write completed (the resume revision).
  int64_t cursor_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t pending_revision_ ABSL_GUARDED_BY(mu_) = -1;
  int64_t delivered_ ABSL_GUARDED_BY(mu_) = 0;
  // The fanout epoch last read, and whether the stream has followed the
  // ring in it (only then is falling out of the ring a slow consumer).
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  bool following_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<v1::GrantEvent> database_events_ ABSL_GUARDED_BY(mu_);
  bool history_gap_ ABSL_GUARDED_BY(mu_) = false;
  bool task_running_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ByteBuffer out_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> end_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool cancel_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool live_ ABSL_GUARDED_BY(mu_) = false;
  SteadyTime last_sent_ ABSL_GUARDED_BY(mu_);
  std::optional<SteadyTime> behind_since_ ABSL_GUARDED_BY(mu_);
};

// A WatchGrants call refused before it started (bad request, caller).
class RefusedWatch final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit RefusedWatch(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace pat

#endif  // PAT_SERVER_WATCH_STREAM_H_
