#include "server/blocking_workers.h"

#include <utility>

#include "absl/status/status.h"

namespace pat {

absl::StatusOr<std::unique_ptr<BlockingWorkers>> BlockingWorkers::Create(
    int threads, size_t max_queued) {
  if (threads < 1 || threads > 1000) {
    return absl::InvalidArgumentError(
        "BlockingWorkers: threads must be 1..1000");
  }
  if (max_queued < 1) {
    return absl::InvalidArgumentError("BlockingWorkers: max_queued >= 1");
  }
  std::unique_ptr<BlockingWorkers> workers(new BlockingWorkers(max_queued));
  absl::MutexLock lock(&workers->join_mu_);
  for (int i = 0; i < threads; ++i) {
    workers->threads_.emplace_back([w = workers.get()] { w->Run(); });
  }
  return workers;
}

BlockingWorkers::~BlockingWorkers() { Stop(); }

bool BlockingWorkers::TrySubmit(Task task) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || tasks_.size() >= max_queued_) return false;
  tasks_.push_back(std::move(task));
  return true;
}

size_t BlockingWorkers::queued() const {
  absl::MutexLock lock(&mu_);
  return tasks_.size();
}

bool BlockingWorkers::Ready() const { return stopping_ || !tasks_.empty(); }

void BlockingWorkers::Run() {
  while (true) {
    Task task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &BlockingWorkers::Ready));
      if (tasks_.empty()) return;  // stopping, and nothing left to run
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

void BlockingWorkers::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  absl::MutexLock lock(&join_mu_);
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace pat
