#ifndef PAT_CONSOLE_RATE_LIMITER_H_
#define PAT_CONSOLE_RATE_LIMITER_H_

#include <cstddef>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

// Per-user token buckets: `burst` calls at once, refilled at `per_minute`.
// Thread-safe. At most `max_users` buckets are kept; when that many users
// are mid-burst, new users are refused (fail closed) rather than letting the
// map grow.
namespace pat::console {

class RateLimiter {
 public:
  RateLimiter(int per_minute, int burst, size_t max_users, const Clock& clock);

  // True when `user` may make one more call now (and counts it).
  bool Allow(absl::string_view user);

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time updated;
  };
  double Refilled(const Bucket& b, absl::Time now) const;
  void EvictFullBuckets(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const double per_second_;
  const double burst_;
  const size_t max_users_;
  const Clock& clock_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pat::console

#endif  // PAT_CONSOLE_RATE_LIMITER_H_
