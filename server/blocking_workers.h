#ifndef PAT_SERVER_BLOCKING_WORKERS_H_
#define PAT_SERVER_BLOCKING_WORKERS_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

// A fixed set of threads for work that may block (a database read), handed
// off by code that must not (a gRPC callback reactor). Tasks run in
// submission order, several at once. Bounded: at most `max_queued` tasks
// wait; TrySubmit refuses beyond (the caller answers "busy"). Stop() (and the
// destructor) runs every task already accepted, then joins: a task that
// finishes an RPC always runs. Thread-safe.
namespace pat {

class BlockingWorkers {
 public:
  using Task = std::function<void()>;

  // INVALID_ARGUMENT unless threads is 1..1000 and max_queued >= 1.
  static absl::StatusOr<std::unique_ptr<BlockingWorkers>> Create(
      int threads, size_t max_queued);
  ~BlockingWorkers();

  BlockingWorkers(const BlockingWorkers&) = delete;
  BlockingWorkers& operator=(const BlockingWorkers&) = delete;

  // False (and `task` is dropped) when max_queued tasks wait or after Stop.
  bool TrySubmit(Task task);
  void Stop();
  size_t queued() const;

 private:
  explicit BlockingWorkers(size_t max_queued) : max_queued_(max_queued) {}
  void Run();
  bool Ready() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_queued_;
  mutable absl::Mutex mu_;
  std::deque<Task> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Written by Create only; joined by Stop (under join_mu_).
  absl::Mutex join_mu_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(join_mu_);
};

}  // namespace pat

#endif  // PAT_SERVER_BLOCKING_WORKERS_H_
