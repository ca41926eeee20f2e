#ifndef PAT_SERVER_WATCH_FANOUT_H_
#define PAT_SERVER_WATCH_FANOUT_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "grpcpp/support/slice.h"
#include "server/grant_feed.h"

// The live part of every WatchGrants stream of one replica (docs/capacity.md
// "Watch streams on the callback API").
//
// One thread follows the FeedHub and serializes each event once, as the
// complete WatchGrantsResponse bytes, into a bounded ring (the newest
// `ring_capacity` events). Streams read the ring by revision and send those
// bytes by reference (a grpc::Slice), so an event costs one serialization
// however many streams there are, and no stream has a queue of its own: a
// stream holds at most the one message it is writing. A stream whose next
// event has left the ring is a slow consumer (see Read's kBehind).
//
// Subscribers are spread over `notify_threads` shards, each with a thread of
// its own: after each batch of events, and at least every `tick`, every
// shard's thread calls OnFeedChanged on its subscribers (streams start the
// writes of what is new, send heartbeats and give up on stalled writes from
// there), so the writes of one event to many streams are started on several
// cores at once. Subscribers are called without the ring's lock held, so
// they may call Read.
namespace pat {

// A stream of the fanout. Callbacks run on the fanout thread.
class WatchSubscriber {
 public:
  virtual ~WatchSubscriber() = default;
  // New events may be in the ring, or a tick passed. `live`: the hub's
  // listener is live (heartbeats are allowed).
  virtual void OnFeedChanged(bool live) = 0;
};

struct WatchFanoutOptions {
  // Events kept serialized (at least 1).
  size_t ring_capacity = 10000;
  // The longest pause between OnFeedChanged calls.
  absl::Duration tick = absl::Milliseconds(100);
  // Shards of subscribers, each notified by its own thread (1..64).
  int notify_threads = 2;
  // Optional (must outlive the fanout): events serialized.
  Counter* serialized = nullptr;
};

class WatchFanout {
 public:
  // Starts the threads at the hub's current head. `hub` must outlive the
  // fanout. INVALID_ARGUMENT for a zero ring_capacity, a tick <= 0 or
  // notify_threads outside 1..64.
  static absl::StatusOr<std::unique_ptr<WatchFanout>> Start(
      FeedHub& hub, WatchFanoutOptions options);
  // Stops and joins the thread, then waits until every attached stream has
  // detached (gRPC may run a stream's OnDone after the server object is
  // gone; nothing a stream uses may be destroyed before it is done).
  ~WatchFanout();
  WatchFanout(const WatchFanout&) = delete;
  WatchFanout& operator=(const WatchFanout&) = delete;

  // Ends the thread after one last OnFeedChanged (Read answers kStopped
  // from then on). Also happens when the hub stops. Idempotent.
  void Stop();

  // False when stopped. A registered subscriber is called until Unregister
  // returns; Unregister waits for a call in progress. Neither may be called
  // from OnFeedChanged, nor with a lock held that OnFeedChanged takes.
  bool Register(WatchSubscriber* subscriber);
  void Unregister(WatchSubscriber* subscriber);

  // A stream attaches when it is created and detaches as the very last use
  // of anything it shares (see the destructor). Thread-safe.
  void Attach();
  void Detach();

  enum class ReadStatus {
    kEvent,    // `event` is the event after the cursor
    kCurrent,  // nothing after the cursor yet
    kBehind,   // the event after the cursor is no longer (or not yet) in the
               // ring: read it from the database; a stream that followed
               // the ring in this `epoch` is a slow consumer
    kLost,     // the cursor is on history the database no longer has (the
               // feed head went backwards): the client needs a snapshot
    kStopped,
  };
  struct ReadResult {
    ReadStatus status = ReadStatus::kCurrent;
    int64_t revision = 0;  // kEvent: the event's revision
    grpc::Slice bytes;     // kEvent: a serialized WatchGrantsResponse
    // The ring's epoch: it changes whenever the ring restarts (the hub
    // answered kBehind to the fanout itself, e.g. after a failover).
    uint64_t epoch = 0;
  };
  // The event after `cursor`. `epoch` is the epoch the caller last read in
  // (0: none yet); a cursor above the restart point of a later epoch is
  // kLost. Thread-safe.
  ReadResult Read(int64_t cursor, uint64_t epoch) const;

  // The newest revision serialized; events serialized in total.
  int64_t head() const;
  int64_t serialized() const;

 private:
  WatchFanout(FeedHub& hub, WatchFanoutOptions options, int64_t head);
  void Run();
  // Serializes and appends consecutive events (trimming the ring).
  void Append(const std::vector<FeedEventPtr>& events);
  // Empties the ring and restarts it after `head` in a new epoch.
  void Restart(int64_t head);
  struct Shard {
    // Held shared by the shard's thread while it calls subscribers,
    // exclusive by Register/Unregister.
    absl::Mutex mu;
    std::vector<WatchSubscriber*> subscribers ABSL_GUARDED_BY(mu);
    std::thread thread;
  };
  // A shard's thread: one pass per generation (or tick), a last one after
  // close.
  void NotifyLoop(Shard& shard);
  // Wakes every shard's thread for a pass.
  void StartPass(bool live);

  FeedHub& hub_;
  const WatchFanoutOptions options_;
  std::thread thread_;
  std::vector<std::unique_ptr<Shard>> shards_;  // fixed after Start
  std::atomic<size_t> next_shard_{0};

  struct Entry {
    int64_t revision;
    grpc::Slice bytes;
  };
  mutable absl::Mutex ring_mu_;
  // ring_[i] has revision base_ + 1 + i.
  std::deque<Entry> ring_ ABSL_GUARDED_BY(ring_mu_);
  int64_t base_ ABSL_GUARDED_BY(ring_mu_) = 0;
  uint64_t epoch_ ABSL_GUARDED_BY(ring_mu_) = 1;
  // The head the current epoch restarted at.
  int64_t epoch_start_ ABSL_GUARDED_BY(ring_mu_) = 0;
  int64_t serialized_ ABSL_GUARDED_BY(ring_mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(ring_mu_) = false;
  absl::Mutex join_mu_;
  absl::Mutex attach_mu_;
  int64_t attached_ ABSL_GUARDED_BY(attach_mu_) = 0;

  absl::Mutex pass_mu_;
  absl::CondVar pass_cv_;
  uint64_t generation_ ABSL_GUARDED_BY(pass_mu_) = 0;
  bool live_ ABSL_GUARDED_BY(pass_mu_) = false;
  // Set once the ring is stopping: Register refuses, shards make their
  // last pass and end.
  bool closed_ ABSL_GUARDED_BY(pass_mu_) = false;
};

}  // namespace pat

#endif  // PAT_SERVER_WATCH_FANOUT_H_
