#include "server/validate_batcher.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"

namespace pat {

absl::StatusOr<std::unique_ptr<ValidateBatcher>> ValidateBatcher::Create(
    Options options, ReadBatch read, const Clock& clock) {
  if (options.readers < 1 || options.readers > 64) {
    return absl::InvalidArgumentError("ValidateBatcher: readers must be 1..64");
  }
  if (options.max_batch < 1 || options.max_batch > 256) {
    return absl::InvalidArgumentError(
        "ValidateBatcher: max_batch must be 1..256");
  }
  if (options.max_queued < 1 || read == nullptr) {
    return absl::InvalidArgumentError(
        "ValidateBatcher: max_queued >= 1 and a reader are required");
  }
  std::unique_ptr<ValidateBatcher> batcher(
      new ValidateBatcher(options, std::move(read), clock));
  absl::MutexLock lock(&batcher->join_mu_);
  for (int i = 0; i < options.readers; ++i) {
    batcher->threads_.emplace_back([b = batcher.get()] { b->Run(); });
  }
  return batcher;
}

ValidateBatcher::~ValidateBatcher() { Stop(); }

bool ValidateBatcher::TrySubmit(std::string digest,
                                std::optional<absl::Time> deadline, Done done) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || queue_.size() >= options_.max_queued) return false;
  queue_.push_back(Call{std::move(digest), deadline, std::move(done)});
  return true;
}

void ValidateBatcher::Stop() {
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

uint64_t ValidateBatcher::reads() const {
  absl::MutexLock lock(&mu_);
  return reads_;
}

uint64_t ValidateBatcher::answered() const {
  absl::MutexLock lock(&mu_);
  return answered_;
}

void ValidateBatcher::Run() {
  std::vector<Call> batch;
  batch.reserve(options_.max_batch);
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !queue_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and nothing left to answer
      const size_t n = std::min(queue_.size(), options_.max_batch);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    Answer(batch);
    batch.clear();
  }
}

void ValidateBatcher::Answer(std::vector<Call>& batch) {
  const absl::Time now = clock_.Now();
  std::vector<std::string> digests;
  std::vector<Call*> reading;
  std::vector<Call*> expired;
  std::optional<absl::Time> latest;
  bool unbounded = false;
  for (Call& call : batch) {
    if (call.deadline.has_value() && *call.deadline <= now) {
      expired.push_back(&call);
      continue;
    }
    if (!call.deadline.has_value()) {
      unbounded = true;
    } else if (!latest.has_value() || *call.deadline > *latest) {
      latest = call.deadline;
    }
    digests.push_back(std::move(call.digest));
    reading.push_back(&call);
  }
  // Counted before any call is answered: whoever holds an answer sees it in
  // the counters.
  if (!reading.empty() && options_.reads != nullptr) options_.reads->Inc();
  if (options_.calls != nullptr) options_.calls->Inc(batch.size());
  {
    absl::MutexLock lock(&mu_);
    if (!reading.empty()) ++reads_;
    answered_ += batch.size();
  }
  for (Call* call : expired) {
    call->done(absl::DeadlineExceededError(
        "ValidateToken: the deadline passed before the lookup"));
  }
  if (reading.empty()) return;
  std::vector<absl::StatusOr<ValidateResult>> answers =
      read_(digests, unbounded ? std::nullopt : latest);
  for (size_t i = 0; i < reading.size(); ++i) {
    reading[i]->done(i < answers.size()
                         ? std::move(answers[i])
                         : absl::InternalError("ValidateBatcher: no answer"));
  }
}

}  // namespace pat
