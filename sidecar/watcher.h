#ifndef PAT_SIDECAR_WATCHER_H_
#define PAT_SIDECAR_WATCHER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "sidecar/authority_client.h"
#include "sidecar/directory_cache.h"
#include "sidecar/grant_cache.h"
#include "sidecar/metrics.h"

// Keeps the GrantCache and DirectoryCache current from the authority's
// WatchGrants stream (SPEC §6), on a background thread.
//
// Protocol, as the sidecar relies on it:
//  * WatchGrants(0) -- at start, after a gap, after an interrupted snapshot,
//    or when the authority refuses a resume -- is answered with snapshot
//    events (applied as they arrive, tagged with a new cache generation),
//    then synced_revision R: everything the snapshot did not name is dropped,
//    the applied revision becomes R, and the caches are "synced" (Ready).
//  * Live events must then come in revision order with no hole: R+1, R+2...
//    An event at or below the applied revision is a duplicate and skipped;
//    one above applied+1 is a gap (something was lost): the stream is
//    dropped and a fresh snapshot requested (since_revision 0).
//  * Heartbeats carry the authority's revision. A heartbeat revision above
//    the applied one is tolerated once (events may still be on their way);
//    if the next heartbeat arrives and the revision it came after was still
//    not reached, the trailing events were lost: fresh snapshot.
//  * After a disconnect the watcher resumes with since_revision = the last
//    applied revision; a resumed stream may send snapshot events instead
//    (history too old), which are handled as above. A synced marker on a
//    resumed stream does not move the applied revision.
//  * Reconnects back off exponentially with jitter (50 ms doubling, capped at
//    ~1 s), reset after a session that delivered a message. A stream with no
//    message for `idle_timeout` (real time; heartbeats come every ~1 s) is
//    dropped and reopened, so a half-open connection does not stall the feed.
//
// Every message counts as contact (GrantCache::Touch with the injected
// clock); staleness is judged from it by the authorizer.
//
// Thread-safe. Metrics: pat_sidecar_watch_connected, _revision,
// _revision_lag, _last_contact_age_seconds, _reconnects_total,
// _resyncs_total.
namespace pat::sidecar {

struct WatcherOptions {
  absl::Duration initial_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Seconds(1);
  absl::Duration idle_timeout = absl::Seconds(10);
  // How often the metrics thread refreshes the contact-age gauge and checks
  // idle_timeout.
  absl::Duration tick = absl::Milliseconds(250);
  // Receives the watcher's JSON log lines (sync, resync, stream errors; no
  // digest or secret ever). Default: stderr.
  std::function<void(absl::string_view line)> log_sink;
  // Repeated stream failures are logged at most this often.
  absl::Duration error_log_interval = absl::Seconds(30);
};

class Watcher {
 public:
  // Starts the watch thread. The client, caches, clock and metrics must
  // outlive the watcher.
  static absl::StatusOr<std::unique_ptr<Watcher>> Create(
      AuthorityClient& client, GrantCache& grants, DirectoryCache& directory,
      const Clock& clock, MetricsRegistry& metrics,
      WatcherOptions options = {});

  // Stop().
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Cancels the stream and joins the threads. Idempotent.
  void Stop();

  // The last applied revision (0 before the first sync).
  int64_t revision() const { return revision_.load(std::memory_order_acquire); }
  // Synced at least once.
  bool synced() const { return grants_.synced(); }
  // A stream is open and has delivered a message.
  bool connected() const { return connected_.load(std::memory_order_acquire); }
  // WatchGrants calls made so far.
  int64_t sessions() const { return sessions_.load(std::memory_order_acquire); }
  // Fresh snapshots requested because of a gap.
  int64_t resyncs() const { return resyncs_.load(std::memory_order_acquire); }

 private:
  Watcher(AuthorityClient& client, GrantCache& grants,
          DirectoryCache& directory, const Clock& clock,
          MetricsRegistry& metrics, WatcherOptions options);

  enum class SessionEnd { kStreamEnded, kGap, kStopped };
  void Run();
  void Tick();
  // Reads `stream` until it ends or a gap; `progress` tells whether any
  // message arrived.
  SessionEnd RunSession(WatchStream& stream, int64_t since, bool* progress);
  void ApplyEvent(WatchMessage& message);
  bool Stopping() const;
  void Log(absl::string_view line);
  // Waits up to `d` (real time) or until Stop(); false when stopping.
  bool SleepFor(absl::Duration d);

  AuthorityClient& client_;
  GrantCache& grants_;
  DirectoryCache& directory_;
  const Clock& clock_;
  const WatcherOptions options_;

  Gauge& connected_gauge_;
  Gauge& revision_gauge_;
  Gauge& lag_gauge_;
  Gauge& age_gauge_;
  Counter& reconnects_;
  Counter& resyncs_counter_;

  std::atomic<int64_t> revision_{0};
  std::atomic<bool> connected_{false};
  std::atomic<int64_t> sessions_{0};
  std::atomic<int64_t> resyncs_{0};
  // Only the watch thread touches these two.
  bool resume_ok_ = false;
  int64_t authority_revision_ = 0;
  absl::Time last_error_log_ = absl::InfinitePast();
  bool failing_ = false;

  mutable absl::Mutex mu_;
  absl::CondVar wake_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The open stream, for Stop() and the idle check.
  WatchStream* current_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::Time last_message_real_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();

  std::thread thread_;
  std::thread ticker_;
};

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_WATCHER_H_
