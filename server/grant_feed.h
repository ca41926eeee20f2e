#ifndef PAT_SERVER_GRANT_FEED_H_
#define PAT_SERVER_GRANT_FEED_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "pat/v1/pat.pb.h"
#include "server/token_store.h"

// The authority's side of the grant change feed (SPEC §6).
//
// Writers: every lifecycle or directory change appends a row to grant_events
// through the SQL function pat_append_event in its own transaction (the
// transactional outbox), then sends NOTIFY pat_grants '<revision>' after the
// commit (best effort). Revisions are assigned by incrementing the single row
// of feed_head, whose row lock is held until the writer commits: revisions
// are dense (1, 2, 3, ...; a rolled-back writer gives its revision back) and
// commit in revision order, so a reader that sees revision N committed has
// already been able to see every revision below N.
//
// Payloads (grant_events.payload, JSON):
//   "grant":  {"token_id", "plan_id", "kind": "rest_api"|"npm_registry",
//              "scopes": [..], "all_resources": bool,
//              "resources": [{"kind", "id", "link"}], "expire_time_us": int,
//              "revoke_time_us": int|null,
//              "secrets": [{"sha256": hex, "valid_until_us": int|null}]}
//             (valid_until null: the current secret, bounded by the expiry)
//   "plan":   {"id", "name", "tier"}
//   "resource", "resource_delete":
//             {"plan_id", "kind", "id", "parent_kind", "parent_id", "name"}
// Kinds and tiers are the lower-case names of common/domain.h.
//
// Reader (this file): one FeedHub per authority process. A background thread
// holds a dedicated connection (application_name "pat-feed-listener"),
// LISTENs on pat_grants and, on every notification and at least every
// poll_interval, reads `grant_events WHERE revision > last ORDER BY revision`
// in batches until caught up. Each event is converted once to a
// pat.v1.GrantEvent and appended to a bounded in-memory buffer (the newest
// buffer_capacity events) that every WatchGrants stream reads from: however
// many watchers there are, the database sees one reader per process. After a
// broken connection the thread reconnects (with backoff), LISTENs again and
// polls at once, so a NOTIFY lost while disconnected loses nothing.
//
// Retention: the history a watcher can resume from is the grant_events table.
// The hub deletes events older than `retention` (never the newest one) at
// most every prune_interval; a watcher whose since_revision is no longer
// covered gets a fresh snapshot instead (see IntrospectionServiceImpl).
namespace pat {

// The name the hub's connection carries in pg_stat_activity.
inline constexpr char kFeedListenerApplicationName[] = "pat-feed-listener";
// The NOTIFY channel of the feed.
inline constexpr char kFeedChannel[] = "pat_grants";

struct FeedHubOptions {
  std::string database_url;
  // Backup poll when no notification arrives; also bounds how long Stop()
  // waits for the listener thread.
  absl::Duration poll_interval = absl::Milliseconds(250);
  // Events kept in memory for watchers (older ones are read from the
  // database by the watchers that need them).
  size_t buffer_capacity = 10000;
  // Rows per database read.
  int read_batch = 1000;
  absl::Duration max_reconnect_backoff = absl::Seconds(2);
  // Events older than this are deleted from grant_events.
  absl::Duration retention = absl::Hours(24 * 7);
  absl::Duration prune_interval = absl::Hours(1);
  // Optional: counts of listener wake-ups by a NOTIFY and by the backup
  // poll timing out (they must outlive the hub).
  Counter* notify_wakeups = nullptr;
  Counter* poll_wakeups = nullptr;
};

using FeedEventPtr = std::shared_ptr<const v1::GrantEvent>;

// Converts one grant_events row to the event streamed to sidecars. The
// grant's status is computed at `now`. Never fails: an unknown type or an
// unreadable payload yields an event that carries only its revision (so the
// stream stays gapless for the client) and is logged as an error.
v1::GrantEvent GrantEventFromRow(const FeedEventRow& row, absl::Time now);

class FeedHub {
 public:
  // Connects the listener, reads the current feed head (events up to it are
  // not buffered: the buffer starts empty after it) and starts the listener
  // thread. UNAVAILABLE when the database cannot be reached. `clock` (for
  // grant statuses) must outlive the hub.
  static absl::StatusOr<std::unique_ptr<FeedHub>> Start(FeedHubOptions options,
                                                        const Clock& clock);
  // Stops (see Stop) and joins the listener thread.
  ~FeedHub();

  FeedHub(const FeedHub&) = delete;
  FeedHub& operator=(const FeedHub&) = delete;

  // Wakes every waiter (which then sees kStopped) and ends the listener
  // thread. Idempotent; WaitForEvents returns kStopped from then on.
  void Stop();

  enum class WaitStatus {
    kEvents,   // `events` holds the next events after `after`, in order
    kTimeout,  // the deadline passed with nothing after `after`
    kBehind,   // events after `after` are no longer (or not yet) in memory:
               // read them from the database
    kStopped,  // Stop() was called
  };
  struct Batch {
    WaitStatus status = WaitStatus::kTimeout;
    // kEvents: consecutive revisions after + 1, after + 2, ... (at most
    // max_events of them).
    std::vector<FeedEventPtr> events;
    // The newest revision the hub has read.
    int64_t head = 0;
    // True while the listener is connected and has read the database
    // recently: only then does "nothing new" mean the watcher is current.
    bool live = false;
  };
  // Blocks until there are events after `after`, or `deadline`, or Stop().
  // Thread-safe; any number of concurrent callers.
  Batch WaitForEvents(int64_t after, size_t max_events, absl::Time deadline);

  // True when every event after `after` is, or will be, served from memory
  // (`after` is between the revision before the oldest buffered event and
  // the newest revision read).
  bool Covers(int64_t after) const;

  int64_t head() const;
  bool live() const;

  // Database reads of feed events (the hub's own, and fallback reads that
  // watchers report with CountFallbackRead), for metrics and tests.
  void CountFallbackRead();
  int64_t event_reads() const { return event_reads_.load(); }
  // The same, summed over every hub of the process.
  static int64_t TotalEventReads();
  // Successful listener (re)connections.
  int64_t listener_connects() const { return connects_.load(); }

 private:
  FeedHub(FeedHubOptions options, const Clock& clock);

  // Listener connection state; touched only by the thread that owns it
  // (Start before the thread exists, then the listener thread).
  struct Listener;

  absl::Status Connect();
  void Disconnect();
  // Reads and buffers every committed event after last_. False when the
  // connection failed.
  bool Poll();
  void MaybePrune();
  void Run();
  // Buffers `events` (consecutive revisions), notifies waiters. An event that
  // does not follow last_ restarts the buffer at it.
  void Append(std::vector<FeedEventPtr> events);
  void MarkPolled(bool ok);
  // After a (re)connect: when the database's feed head is below the newest
  // revision read (a failover to a standby that lacked commits), drops the
  // buffer and restarts it at the head, so no event of the old history is
  // served again and the new history is read from the head on. False when
  // the connection failed.
  bool CheckHeadAfterConnect();

  const FeedHubOptions options_;
  const Clock& clock_;
  std::unique_ptr<Listener> listener_;
  std::thread thread_;
  absl::Time next_prune_ = absl::InfinitePast();

  std::atomic<int64_t> event_reads_{0};
  std::atomic<int64_t> connects_{0};

  mutable absl::Mutex mu_;
  absl::CondVar changed_;  // new events, or stopping
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // buffer_[i] has revision base_ + 1 + i; last_ = base_ + buffer_.size().
  std::deque<FeedEventPtr> buffer_ ABSL_GUARDED_BY(mu_);
  int64_t base_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_ ABSL_GUARDED_BY(mu_) = 0;
  // The newest revision read before the feed head last went backwards (0:
  // never). A watcher whose cursor is above last_ and at most this is on the
  // lost history: WaitForEvents answers kBehind, the database has no events
  // after its cursor, and the watch ends so its client gets a snapshot.
  int64_t lost_history_end_ ABSL_GUARDED_BY(mu_) = 0;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_poll_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace pat

#endif  // PAT_SERVER_GRANT_FEED_H_
