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
#include "server/db_pool.h"
#include "server/feed/feed_sql.h"
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
// Payloads: see server/feed/feed_format.h (the format's one owner); the
// SQL and the channel name: server/feed/feed_sql.h.
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
//
// LISTEN self-check (threat checklist #11): with a probe_pool, a prober
// thread sends NOTIFY pat_grants 'probe:<nonce>' through that pool (the
// writers' path) at start and every listen_check_interval, and expects it on
// its own LISTEN connection within listen_check_timeout. A probe that does
// not arrive makes the hub kDeaf (listening() false: the replica reports not
// ready), logs a warning and reconnects the LISTEN session; it keeps polling
// every poll_interval meanwhile, so no change waits longer than that. The
// next probe that arrives makes it kReceiving again. A probe that cannot be
// sent (NOTIFY refused: queue full, pg_notify failing) is kNotifyFailing:
// no replica can receive notifications then, so the replica stays ready and
// serves by polling (see docs/feed-faults.md).
namespace pat {

// The name the hub's connection carries in pg_stat_activity.
inline constexpr char kFeedListenerApplicationName[] = "pat-feed-listener";

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
  // LISTEN self-check (see above); off without a probe_pool (which must
  // outlive the hub).
  DbPool* probe_pool = nullptr;
  absl::Duration listen_check_interval = absl::Seconds(5);
  absl::Duration listen_check_timeout = absl::Seconds(2);
  // Optional: probes received in time, missed, and not sent.
  Counter* probes_received = nullptr;
  Counter* probes_missed = nullptr;
  Counter* probes_unsent = nullptr;
};

enum class ListenState {
  kUnverified,     // no probe has come back yet since start
  kReceiving,      // the last probe came back in time
  kDeaf,           // the last probe did not come back in time
  kNotifyFailing,  // the last probe could not be sent
};
absl::string_view ListenStateName(ListenState state);

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
  // The LISTEN self-check's state (kReceiving without a probe_pool), and
  // whether it lets the replica be ready (kReceiving or kNotifyFailing).
  ListenState listen_state() const;
  bool listening() const;

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
  // The prober thread: sends a probe every listen_check_interval (on its own
  // thread, so a saturated pool never stalls the listener).
  void ProbeLoop();
  // On the listener thread: true when the pending probe is overdue (then
  // reconnect).
  bool ProbeOverdue(absl::Time now);
  void OnNotification(const std::string& payload);
  void SetListenState(ListenState state);
  // How long the listener may wait before its next step.
  absl::Duration NextWait(absl::Time now) const;

  const FeedHubOptions options_;
  const Clock& clock_;
  // Listener thread only (Start before the thread exists).
  std::unique_ptr<feed::ListenSession> session_;
  std::thread thread_;
  absl::Time next_prune_ = absl::InfinitePast();
  const uint64_t instance_;  // random, tells this hub's probes apart
  std::thread prober_;
  uint64_t probe_seq_ = 0;  // prober thread only
  int revision_notifications_ = 0;  // since the last Await

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
  ListenState listen_state_ ABSL_GUARDED_BY(mu_) = ListenState::kUnverified;
  // The probe in flight ("" when none) and when it is overdue (infinite
  // while it is being sent).
  std::string pending_probe_ ABSL_GUARDED_BY(mu_);
  absl::Time probe_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
};

}  // namespace pat

#endif  // PAT_SERVER_GRANT_FEED_H_
