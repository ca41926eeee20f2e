#ifndef PAT_SERVER_SNAPSHOT_SHARE_H_
#define PAT_SERVER_SNAPSHOT_SHARE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "server/token_store.h"

// Shared WatchGrants snapshots (docs/capacity.md "Shared snapshots").
//
// A stream that needs a snapshot first learns the committed feed head H (a
// one-row read) and then asks for a snapshot at a revision >= H: exactly
// what a private REPEATABLE READ read started now would give it, so the
// stream's promises do not change (the snapshot holds every change the
// client could have seen committed before it asked; the stream then sends
// every event after the snapshot's revision, from the feed).
//
// Requests share reads. Each read in flight has a floor: the highest head
// any request had observed before the read began, so its revision will be
// >= the floor. A request joins a read whose floor covers its H, or takes
// the newest completed snapshot if its revision covers H (kept while any
// stream still holds it), or starts a read if fewer than
// max_concurrent_reads are in flight, or else waits (bounded by its
// deadline and cancellation) for a read to finish and tries again. During
// a storm at an unchanging head that is one read; each head change while
// the storm lasts can add one.
//
// A failed read fails the requests that joined it with its error (their
// clients reconnect with backoff); it is never retried here. Snapshots are
// immutable and handed out as shared_ptr<const FeedSnapshot>.
namespace pat {

using SnapshotPtr = std::shared_ptr<const FeedSnapshot>;

struct SnapshotShareOptions {
  // Snapshot reads running at once (each holds one pooled connection for
  // the whole read). At least 1.
  int max_concurrent_reads = 2;
  // Requests waiting at once; more are RESOURCE_EXHAUSTED.
  int max_waiters = 10000;
  // How often a waiting request checks its cancellation.
  absl::Duration cancel_check_interval = absl::Milliseconds(200);
  // Optional (must outlive the share): database reads, requests served by a
  // read they did not run (joined or reused), requests waiting now.
  Counter* reads = nullptr;
  Counter* shared = nullptr;
  Gauge* waiters = nullptr;
};

class SnapshotShare {
 public:
  // Runs one snapshot read (e.g. TokenIntrospection::ReadFeedSnapshot). Called
  // without any lock held, on the thread of the request that leads it.
  using ReadFn = std::function<absl::StatusOr<FeedSnapshot>()>;
  using CancelledFn = std::function<bool()>;

  SnapshotShare(ReadFn read, SnapshotShareOptions options);

  SnapshotShare(const SnapshotShare&) = delete;
  SnapshotShare& operator=(const SnapshotShare&) = delete;

  // A snapshot at a revision >= `committed_head`, which must be a feed head
  // the caller read as committed before this call. Waits at most until
  // `deadline` (DEADLINE_EXCEEDED) and ends early when `cancelled()` turns
  // true (CANCELLED); RESOURCE_EXHAUSTED when max_waiters are waiting;
  // otherwise the read's own error. Thread-safe.
  absl::StatusOr<SnapshotPtr> Get(int64_t committed_head, absl::Time deadline,
                                  const CancelledFn& cancelled);

  // Totals, for tests and metrics.
  int64_t reads() const;
  int64_t shared() const;

 private:
  struct Flight {
    int64_t floor = 0;
    bool done = false;
    absl::Status status;
    SnapshotPtr snapshot;
  };

  // The newest completed snapshot if it covers `head` and is still held.
  SnapshotPtr Reusable(int64_t head) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::shared_ptr<Flight> Joinable(int64_t head) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs the read of `flight` (unlocks mu_ while reading) and publishes it.
  void Lead(const std::shared_ptr<Flight>& flight)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CountShared() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ReadFn read_;
  const SnapshotShareOptions options_;

  mutable absl::Mutex mu_;
  absl::CondVar done_;  // a flight finished
  std::vector<std::shared_ptr<Flight>> flights_ ABSL_GUARDED_BY(mu_);
  // The highest head any request has observed (the floor of a new flight).
  int64_t max_observed_head_ ABSL_GUARDED_BY(mu_) = 0;
  // The completed snapshot with the highest revision, while streams hold it.
  std::weak_ptr<const FeedSnapshot> latest_ ABSL_GUARDED_BY(mu_);
  int waiters_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t reads_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t shared_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace pat

#endif  // PAT_SERVER_SNAPSHOT_SHARE_H_
