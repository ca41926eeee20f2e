#ifndef PAT_SERVER_RATE_LIMITER_H_
#define PAT_SERVER_RATE_LIMITER_H_

#include <cstddef>
#include <list>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "server/authority_config.h"

namespace pat {

// One token bucket per key (a caller identity, an actor): each bucket holds
// up to `limit.burst` tokens and refills at `limit.per_second`; a request
// takes one token or is refused. Pure logic on the injected Clock.
//
// Memory is bounded: at most `max_keys` buckets are tracked, least recently
// used first out. Evicting a bucket forgets its debt, so the cap is sized
// well above the number of keys that can be in debt at once (a key is in
// debt for at most burst / per_second after its last request).
//
// Time going backwards refills nothing (and is not held against anyone);
// time jumping forwards refills at most up to the burst.
//
// Thread-safe (one mutex; the callers are database-bound RPCs).
class KeyedTokenBuckets {
 public:
  static constexpr size_t kDefaultMaxKeys = 10000;

  // `limit` must be enabled (per_second > 0, burst >= 1). The clock must
  // outlive this object.
  KeyedTokenBuckets(RateLimit limit, const Clock& clock,
                    size_t max_keys = kDefaultMaxKeys);

  KeyedTokenBuckets(const KeyedTokenBuckets&) = delete;
  KeyedTokenBuckets& operator=(const KeyedTokenBuckets&) = delete;

  // Takes one token from `key`'s bucket: ZeroDuration when admitted;
  // otherwise nothing is taken and the result is how long until the bucket
  // holds a whole token again (at least 1 ms).
  absl::Duration Take(absl::string_view key);

  // Buckets tracked now (<= max_keys).
  size_t tracked_keys() const;

 private:
  struct Bucket {
    std::string key;
    double tokens = 0;
    absl::Time updated;
  };
  using Lru = std::list<Bucket>;

  // The bucket of `key`, refilled to now and moved to the front; created
  // full (evicting the least recently used one if at the cap) when absent.
  Bucket& Touch(absl::string_view key, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RateLimit limit_;
  const Clock& clock_;
  const size_t max_keys_;

  mutable absl::Mutex mu_;
  // Most recently used first.
  Lru lru_ ABSL_GUARDED_BY(mu_);
  // Views into the keys of lru_'s nodes (list nodes never move).
  absl::flat_hash_map<absl::string_view, Lru::iterator> index_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace pat

#endif  // PAT_SERVER_RATE_LIMITER_H_
