#ifndef PAT_SERVER_DB_POOL_H_
#define PAT_SERVER_DB_POOL_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "pqxx/connection"

namespace pat {

// A bounded pool of PostgreSQL connections. Connections are opened lazily, up
// to `size`; Acquire waits at most `acquire_timeout` for a free one and then
// fails UNAVAILABLE (never hangs). A connection returned broken is discarded.
// Thread-safe.
// Optional observers of acquisitions (they must outlive the pool).
struct DbPoolMetrics {
  Histogram* acquire_wait = nullptr;  // seconds, timeouts included
  Counter* acquire_timeouts = nullptr;
};

class DbPool {
 public:
  class Lease {
   public:
    Lease(DbPool* pool, std::unique_ptr<pqxx::connection> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)),
          conn_(std::move(other.conn_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    pqxx::connection& operator*() { return *conn_; }
    pqxx::connection* operator->() { return conn_.get(); }
    // Drops the connection instead of returning it (after an error that may
    // have left it in an unknown state).
    void Discard() { conn_.reset(); }

   private:
    DbPool* pool_;
    std::unique_ptr<pqxx::connection> conn_;
  };

  static absl::StatusOr<std::unique_ptr<DbPool>> Create(
      std::string url, int size, absl::Duration acquire_timeout,
      DbPoolMetrics metrics = {});

  // Waits at most min(acquire_timeout, until `deadline`); a wait ended by
  // the deadline is DEADLINE_EXCEEDED, by the timeout UNAVAILABLE.
  absl::StatusOr<Lease> Acquire(absl::Time deadline = absl::InfiniteFuture());

  int size() const { return size_; }
  // Connections open now, and how many are leased.
  int open_connections() const;
  int leased_connections() const;
  const std::string& url() const { return url_; }

  // The newest grant-feed revision a transaction on this pool committed, or
  // may have committed (a COMMIT whose outcome is unknown). Only grows.
  // Readers of an in-memory view of the feed use it for read-your-writes:
  // the view answers only once it has applied this revision
  // (server/validate_memory.h).
  void RecordFeedCommit(int64_t revision);
  int64_t newest_feed_commit() const {
    return newest_feed_commit_.load(std::memory_order_acquire);
  }

 private:
  DbPool(std::string url, int size, absl::Duration acquire_timeout,
         DbPoolMetrics metrics)
      : url_(std::move(url)),
        size_(size),
        acquire_timeout_(acquire_timeout),
        metrics_(metrics) {}
  void Release(std::unique_ptr<pqxx::connection> conn);

  const std::string url_;
  const int size_;
  const absl::Duration acquire_timeout_;
  const DbPoolMetrics metrics_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  int leased_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<int64_t> newest_feed_commit_{0};
};

}  // namespace pat

#endif  // PAT_SERVER_DB_POOL_H_
