#ifndef PAT_BENCH_PROPAGATION_WATCH_FLEET_H_
#define PAT_BENCH_PROPAGATION_WATCH_FLEET_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "pat/v1/pat.pb.h"

namespace pat::bench {

using SteadyTime = std::chrono::steady_clock::time_point;

struct WatchFleetOptions {
  // host:port of pat-authority; plaintext (the authority runs --insecure).
  std::string authority;
  // WatchGrants streams to hold open, >= 1.
  int streams = 100;
  // Separate HTTP/2 connections the streams are spread over (stream s uses
  // connection s % channels); 0 means one connection per stream.
  int channels = 0;
  // The revoke set: revocation i is the revocation of token_ids[i]. Ids are
  // unique.
  std::vector<std::string> token_ids;
  // Every stream from since_revision 0 at once (each takes the snapshot: a
  // start-up storm) instead of stream 0 only.
  bool snapshot_all = false;
};

// A fleet of WatchGrants streams standing in for many sidecars.
//
// Stream 0 asks for since_revision = 0, so it receives the snapshot (events
// with snapshot = true; CheckSnapshot reads them) and the synced_revision
// marker. The other streams then resume from that revision, as reconnecting
// sidecars do (no snapshot: a hundred snapshots of a plan with 100k tokens
// at once would only measure the authority's database pool), and receive
// their synced_revision marker at once. After that every stream gets live
// events and heartbeats. Streams are read on gRPC's callback client API (no
// thread per stream: 1,000 blocking reader threads on the same cores as the
// authority inflated the delays it measures). For every token of the revoke
// set, each stream records the steady-clock time at which its first live event
// carrying that token's grant with status TOKEN_STATUS_REVOKED came out of
// Read().
//
// Streams are started with wait_for_ready, so an authority that is not yet
// reachable delays syncing instead of failing it.
//
// Each connection is its own grpc::Channel with distinct channel arguments
// and GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, so channels never share a TCP
// connection.
//
// Thread-safety: Start() and Stop() are called by the owning thread only;
// the other methods are thread-safe. The destructor stops the fleet.
class WatchFleet {
 public:
  explicit WatchFleet(WatchFleetOptions options);
  ~WatchFleet();

  WatchFleet(const WatchFleet&) = delete;
  WatchFleet& operator=(const WatchFleet&) = delete;

  // Creates the channels and opens stream 0, and the others once stream 0
  // has synced. INVALID_ARGUMENT for bad options. Call once.
  absl::Status Start();

  // Blocks until every stream has received synced_revision. UNAVAILABLE if a
  // stream ended first (with its status), DEADLINE_EXCEEDED after `timeout`.
  absl::Status WaitSynced(absl::Duration timeout);

  // After WaitSynced: OK when every token of the revoke set was in the
  // snapshot with status ACTIVE; otherwise FAILED_PRECONDITION naming the
  // first token that was missing, expired or already revoked (revoking it
  // would write no event).
  absl::Status CheckSnapshot() const;

  // Blocks until every stream has either recorded the revocation of
  // token_ids[index] or ended, or until `deadline`. Returns, per stream, the
  // receive time, or nullopt when that stream has not seen the event.
  std::vector<std::optional<SteadyTime>> WaitRevoked(size_t index,
                                                     SteadyTime deadline);

  // Snapshot records stream `s` received.
  int64_t snapshot_events(int s) const;

  // Streams that have ended (before Stop()), and the status of the first.
  int ended_streams() const;
  std::string first_end_status() const;

  // Cancels every stream and joins the readers. Idempotent.
  void Stop();

 private:
  class Stream;

  // Body of starter_: waits for stream 0's synced revision, opens the rest.
  void StartOthers();
  // Called for every message of stream `s`; `now` is its receive time.
  void OnMessage(int s, const v1::WatchGrantsResponse& message, SteadyTime now);
  void OnEnded(int s, const std::string& status);

  const WatchFleetOptions options_;
  // token id -> index in options_.token_ids; immutable after construction.
  absl::flat_hash_map<std::string, size_t> index_;
  // Immutable once Start() has returned.
  std::vector<std::unique_ptr<Stream>> streams_;
  // Snapshot records per stream (written by that stream's callbacks).
  std::unique_ptr<std::atomic<int64_t>[]> snapshot_events_;
  std::thread starter_;
  bool stopped_ = false;  // owner thread only

  mutable absl::Mutex mu_;
  // seen_ns_[i * streams + s]: steady-clock nanoseconds at which stream s
  // received the revocation of token i; 0 while not received.
  std::vector<int64_t> seen_ns_ ABSL_GUARDED_BY(mu_);
  // pending_[i]: streams that have neither received the revocation of token
  // i nor ended.
  std::vector<int> pending_ ABSL_GUARDED_BY(mu_);
  // Status of token i in the snapshot (UNSPECIFIED: not in it).
  std::vector<v1::TokenStatus> snapshot_status_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> synced_ ABSL_GUARDED_BY(mu_);

  // The revision stream 0 synced at (where the others resume); -1 before.
  int64_t first_synced_revision_ ABSL_GUARDED_BY(mu_) = -1;
  std::vector<bool> ended_ ABSL_GUARDED_BY(mu_);
  int synced_count_ ABSL_GUARDED_BY(mu_) = 0;
  int ended_count_ ABSL_GUARDED_BY(mu_) = 0;
  // Streams begun, and streams whose OnDone has run (Stop waits for all).
  int started_ ABSL_GUARDED_BY(mu_) = 0;
  int done_count_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::string first_end_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pat::bench

#endif  // PAT_BENCH_PROPAGATION_WATCH_FLEET_H_
