#include "server/db_pool.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "pqxx/except"

namespace pat {

DbPool::Lease::~Lease() {
  if (pool_ != nullptr && conn_ != nullptr) {
    pool_->Release(std::move(conn_));
  } else if (pool_ != nullptr) {
    pool_->Release(nullptr);
  }
}

absl::StatusOr<std::unique_ptr<DbPool>> DbPool::Create(
    std::string url, int size, absl::Duration acquire_timeout,
    DbPoolMetrics metrics) {
  if (url.empty()) return absl::InvalidArgumentError("database_url: required");
  if (size < 1 || size > 1000) {
    return absl::InvalidArgumentError("db_pool_size: must be 1..1000");
  }
  auto pool = std::unique_ptr<DbPool>(
      new DbPool(std::move(url), size, acquire_timeout, metrics));
  // Open one connection now so that a wrong URL fails at start.
  absl::StatusOr<Lease> lease = pool->Acquire();
  if (!lease.ok()) return lease.status();
  return pool;
}

absl::StatusOr<DbPool::Lease> DbPool::Acquire(absl::Time deadline) {
  {
    const auto start = std::chrono::steady_clock::now();
    const absl::Duration to_deadline = deadline - absl::Now();
    const bool deadline_first = to_deadline < acquire_timeout_;
    absl::MutexLock lock(&mu_);
    auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || open_ < size_;
    };
    const bool got = mu_.AwaitWithTimeout(
        absl::Condition(&available),
        deadline_first ? std::max(to_deadline, absl::ZeroDuration())
                       : acquire_timeout_);
    if (metrics_.acquire_wait != nullptr) {
      metrics_.acquire_wait->Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                        start)
              .count());
    }
    if (!got) {
      if (metrics_.acquire_timeouts != nullptr) {
        metrics_.acquire_timeouts->Inc();
      }
      if (deadline_first) {
        return absl::DeadlineExceededError(
            "deadline exceeded waiting for a database connection");
      }
      return absl::UnavailableError(
          "database connection pool exhausted; try again");
    }
    ++leased_;
    if (!idle_.empty()) {
      std::unique_ptr<pqxx::connection> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_;
  }
  // Connect outside the lock.
  try {
    auto conn = std::make_unique<pqxx::connection>(url_);
    return Lease(this, std::move(conn));
  } catch (const std::exception&) {
    absl::MutexLock lock(&mu_);
    --open_;
    --leased_;
    return absl::UnavailableError("database unavailable");
  }
}

void DbPool::Release(std::unique_ptr<pqxx::connection> conn) {
  absl::MutexLock lock(&mu_);
  --leased_;
  if (conn == nullptr || !conn->is_open()) {
    --open_;
    return;
  }
  idle_.push_back(std::move(conn));
}

int DbPool::open_connections() const {
  absl::MutexLock lock(&mu_);
  return open_;
}

int DbPool::leased_connections() const {
  absl::MutexLock lock(&mu_);
  return leased_;
}

void DbPool::RecordFeedCommit(int64_t revision) {
  int64_t seen = newest_feed_commit_.load(std::memory_order_relaxed);
  while (revision > seen && !newest_feed_commit_.compare_exchange_weak(
                                seen, revision, std::memory_order_release,
                                std::memory_order_relaxed)) {
  }
}

}  // namespace pat
