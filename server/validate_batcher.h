#ifndef PAT_SERVER_VALIDATE_BATCHER_H_
#define PAT_SERVER_VALIDATE_BATCHER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "server/token_types.h"

// Where ValidateToken's database reads run: the calls that missed memory
// are queued, and each of `readers` threads takes every call waiting (at
// most `max_batch`) and answers them with one read
// (TokenIntrospection::ValidateTokens: one statement, one head for all).
// A burst of N misses therefore costs about N / max_batch statements, pool
// leases and thread hand-offs instead of N of each (docs/capacity.md).
//
// Contract:
//  - Every accepted call's `done` runs exactly once, on a reader thread:
//    with its answer, DEADLINE_EXCEEDED when its deadline passed before its
//    batch was read, or the read's error.
//  - A batch is read under the latest deadline of its calls (none if one has
//    none), so a call with a short deadline never fails the others.
//  - Bounded: at most `max_queued` calls wait; TrySubmit refuses beyond (the
//    caller answers "busy").
//  - Stop() (and the destructor) answers every call already accepted, then
//    joins. Thread-safe.
namespace pat {

class ValidateBatcher {
 public:
  using Done = std::function<void(absl::StatusOr<ValidateResult>)>;
  // Answers for `digests`, in order (one entry per digest).
  using ReadBatch = std::function<std::vector<absl::StatusOr<ValidateResult>>(
      absl::Span<const std::string> digests,
      std::optional<absl::Time> deadline)>;

  struct Options {
    int readers = 2;
    size_t max_batch = 64;
    size_t max_queued = 4096;
    // Optional (must outlive the object): reads run, calls answered. A
    // call is counted before its answer is delivered.
    Counter* reads = nullptr;
    Counter* calls = nullptr;
  };

  // INVALID_ARGUMENT unless readers is 1..64, max_batch 1..256 and
  // max_queued >= 1. `clock` is the clock the deadlines are on (the real
  // one for RPC deadlines, never a domain clock tests move); it must
  // outlive the object.
  static absl::StatusOr<std::unique_ptr<ValidateBatcher>> Create(
      Options options, ReadBatch read, const Clock& clock);
  ~ValidateBatcher();
  ValidateBatcher(const ValidateBatcher&) = delete;
  ValidateBatcher& operator=(const ValidateBatcher&) = delete;

  // False (and `done` is dropped) when max_queued calls wait or after Stop.
  bool TrySubmit(std::string digest, std::optional<absl::Time> deadline,
                 Done done);
  void Stop();

  // Reads run and calls answered by them so far (counted before the
  // answers are delivered).
  uint64_t reads() const;
  uint64_t answered() const;

 private:
  struct Call {
    std::string digest;
    std::optional<absl::Time> deadline;
    Done done;
  };

  ValidateBatcher(Options options, ReadBatch read, const Clock& clock)
      : options_(options), read_(std::move(read)), clock_(clock) {}
  void Run();
  // Answers `batch`: the expired ones at once, the others with one read.
  void Answer(std::vector<Call>& batch);

  const Options options_;
  const ReadBatch read_;
  const Clock& clock_;
  mutable absl::Mutex mu_;
  std::deque<Call> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t reads_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t answered_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Mutex join_mu_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(join_mu_);
};

}  // namespace pat

#endif  // PAT_SERVER_VALIDATE_BATCHER_H_
