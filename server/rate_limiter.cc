#include "server/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace pat {
namespace {

// Refills are sums of products of doubles: a bucket this close to a whole
// token holds one (so that waiting exactly the hinted delay admits).
constexpr double kTokenEpsilon = 1e-9;

}  // namespace

KeyedTokenBuckets::KeyedTokenBuckets(RateLimit limit, const Clock& clock,
                                     size_t max_keys)
    : limit_(limit), clock_(clock), max_keys_(std::max<size_t>(1, max_keys)) {}

KeyedTokenBuckets::Bucket& KeyedTokenBuckets::Touch(absl::string_view key,
                                                    absl::Time now) {
  auto it = index_.find(key);
  if (it == index_.end()) {
    if (lru_.size() >= max_keys_) {
      index_.erase(lru_.back().key);
      lru_.pop_back();
    }
    lru_.push_front(
        Bucket{std::string(key), static_cast<double>(limit_.burst), now});
    index_.emplace(lru_.front().key, lru_.begin());
    return lru_.front();
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  Bucket& bucket = lru_.front();
  const double elapsed =
      std::max(0.0, absl::ToDoubleSeconds(now - bucket.updated));
  bucket.tokens = std::min(static_cast<double>(limit_.burst),
                           bucket.tokens + elapsed * limit_.per_second);
  bucket.updated = now;
  return bucket;
}

absl::Duration KeyedTokenBuckets::Take(absl::string_view key) {
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  Bucket& bucket = Touch(key, now);
  if (bucket.tokens + kTokenEpsilon >= 1) {
    bucket.tokens = std::max(0.0, bucket.tokens - 1);
    return absl::ZeroDuration();
  }
  const double seconds = (1 - bucket.tokens) / limit_.per_second;
  return std::max(absl::Milliseconds(1),
                  absl::Milliseconds(std::ceil(seconds * 1000)));
}

size_t KeyedTokenBuckets::tracked_keys() const {
  absl::MutexLock lock(&mu_);
  return lru_.size();
}

}  // namespace pat
