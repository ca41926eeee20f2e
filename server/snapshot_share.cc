#include "server/snapshot_share.h"

#include <malloc.h>

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/clock.h"

namespace pat {

namespace {

SnapshotShareOptions Clamped(SnapshotShareOptions options) {
  options.max_concurrent_reads = std::max(1, options.max_concurrent_reads);
  options.max_waiters = std::max(0, options.max_waiters);
  return options;
}

}  // namespace

SnapshotShare::SnapshotShare(ReadFn read, SnapshotShareOptions options)
    : read_(std::move(read)), options_(Clamped(options)) {}

SnapshotPtr SnapshotShare::Reusable(int64_t head) const {
  SnapshotPtr latest = latest_.lock();
  if (latest != nullptr && latest->revision >= head) return latest;
  return nullptr;
}

std::shared_ptr<SnapshotShare::Flight> SnapshotShare::Joinable(
    int64_t head) const {
  std::shared_ptr<Flight> best;
  for (const std::shared_ptr<Flight>& flight : flights_) {
    if (flight->floor >= head &&
        (best == nullptr || flight->floor > best->floor)) {
      best = flight;
    }
  }
  return best;
}

namespace {

// Deletes a snapshot and hands the memory freed back to the system. A
// snapshot holds every grant (~0.7 KiB each: 100 MiB at 150,000) and is
// read on whichever watch worker leads the read; glibc keeps what a thread
// freed in that thread's arena, so each worker that once led a read kept a
// snapshot's worth of RSS (measured: +98 MiB per read at 150,000 grants,
// 23.8 -> 504 MiB after 5 reads on different workers). malloc_trim(0) walks
// every arena; it runs once per snapshot, when the last stream is done
// with it.
void DeleteAndTrim(const FeedSnapshot* snapshot) {
  delete snapshot;
  malloc_trim(0);
}

}  // namespace

void SnapshotShare::CountShared() {
  ++shared_;
  if (options_.shared != nullptr) options_.shared->Inc();
}

void SnapshotShare::Lead(const std::shared_ptr<Flight>& flight) {
  flights_.push_back(flight);
  ++reads_;
  if (options_.reads != nullptr) options_.reads->Inc();
  mu_.Unlock();
  absl::StatusOr<FeedSnapshot> result = read_();
  SnapshotPtr snapshot;
  if (result.ok()) {
    snapshot = SnapshotPtr(new FeedSnapshot(*std::move(result)), DeleteAndTrim);
  }
  mu_.Lock();
  flight->done = true;
  if (snapshot != nullptr) {
    flight->snapshot = snapshot;
    SnapshotPtr latest = latest_.lock();
    if (latest == nullptr || snapshot->revision >= latest->revision) {
      latest_ = snapshot;
    }
  } else {
    flight->status = result.status();
  }
  flights_.erase(std::find(flights_.begin(), flights_.end(), flight));
  done_.SignalAll();
}

absl::StatusOr<SnapshotPtr> SnapshotShare::Get(int64_t committed_head,
                                               absl::Time deadline,
                                               const CancelledFn& cancelled) {
  absl::MutexLock lock(&mu_);
  max_observed_head_ = std::max(max_observed_head_, committed_head);
  std::shared_ptr<Flight> joined;
  bool waiting = false;
  absl::StatusOr<SnapshotPtr> out = absl::UnknownError("unset");
  while (true) {
    if (joined != nullptr && joined->done) {
      if (joined->status.ok()) {
        CountShared();
        out = joined->snapshot;
      } else {
        out = joined->status;
      }
      break;
    }
    if (joined == nullptr) {
      if (SnapshotPtr reusable = Reusable(committed_head)) {
        CountShared();
        out = std::move(reusable);
        break;
      }
      joined = Joinable(committed_head);
      if (joined == nullptr &&
          static_cast<int>(flights_.size()) < options_.max_concurrent_reads) {
        auto flight = std::make_shared<Flight>();
        // Every head observed so far was committed before this read
        // starts, so the read's revision is at least the highest of them.
        flight->floor = max_observed_head_;
        Lead(flight);
        if (flight->status.ok()) {
          out = flight->snapshot;
        } else {
          out = flight->status;
        }
        break;
      }
    }
    if (!waiting) {
      if (waiters_ >= options_.max_waiters) {
        out = absl::ResourceExhaustedError(
            "too many watchers waiting for a snapshot; retry with backoff");
        break;
      }
      waiting = true;
      ++waiters_;
      if (options_.waiters != nullptr) options_.waiters->Add(1);
    }
    if (cancelled && cancelled()) {
      out = absl::CancelledError("the watcher went away");
      break;
    }
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      out = absl::DeadlineExceededError(
          "deadline exceeded while waiting for a shared snapshot");
      break;
    }
    done_.WaitWithDeadline(
        &mu_, std::min(deadline, now + options_.cancel_check_interval));
  }
  if (waiting) {
    --waiters_;
    if (options_.waiters != nullptr) options_.waiters->Add(-1);
  }
  return out;
}

int64_t SnapshotShare::reads() const {
  absl::MutexLock lock(&mu_);
  return reads_;
}

int64_t SnapshotShare::shared() const {
  absl::MutexLock lock(&mu_);
  return shared_;
}

}  // namespace pat
