#include "console/rate_limiter.h"

#include <algorithm>
#include <string>

namespace pat::console {

RateLimiter::RateLimiter(int per_minute, int burst, size_t max_users,
                         const Clock& clock)
    : per_second_(per_minute / 60.0),
      burst_(burst),
      max_users_(max_users),
      clock_(clock) {}

double RateLimiter::Refilled(const Bucket& b, absl::Time now) const {
  const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - b.updated));
  return std::min(burst_, b.tokens + elapsed * per_second_);
}

void RateLimiter::EvictFullBuckets(absl::Time now) {
  absl::erase_if(buckets_, [&](const auto& entry) {
    return Refilled(entry.second, now) >= burst_;
  });
}

bool RateLimiter::Allow(absl::string_view user) {
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  auto it = buckets_.find(user);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_users_) EvictFullBuckets(now);
    if (buckets_.size() >= max_users_) return false;
    it = buckets_.emplace(std::string(user), Bucket{burst_, now}).first;
  }
  Bucket& b = it->second;
  b.tokens = Refilled(b, now);
  b.updated = now;
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

}  // namespace pat::console
