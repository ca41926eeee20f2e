#ifndef PAT_SIDECAR_MISS_LIMITER_H_
#define PAT_SIDECAR_MISS_LIMITER_H_

#include <cstddef>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "sidecar/metrics.h"

// Bounds the requests that wait on the authority (a grant cache miss, a
// revalidation while stale, a resource lookup): at most `max_pending` in the
// whole sidecar and at most `max_pending_per_client` per client address.
// A request that cannot get a permit is answered at once instead of being
// queued: 503 authority_unavailable over the global bound, 429 rate_limited
// over the client's (PatAuthorizer). Requests answered from memory never
// need a permit, so a flood of misses cannot delay them.
//
// Memory: one small map entry per client address with a permit out, so at
// most max_pending entries.
//
// Metrics: pat_sidecar_authority_pending (gauge),
// pat_sidecar_authority_refused_total{limit="global"|"client"}.
//
// Thread-safe.
namespace pat::sidecar {

struct MissLimits {
  size_t max_pending = 1024;
  size_t max_pending_per_client = 32;
};

class MissLimiter {
 public:
  // Holds one pending slot until destroyed (or Release()d). Move-only.
  class Permit {
   public:
    Permit() = default;
    Permit(Permit&& other) noexcept { *this = std::move(other); }
    Permit& operator=(Permit&& other) noexcept;
    ~Permit() { Release(); }
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;

    bool held() const { return owner_ != nullptr; }
    void Release();

   private:
    friend class MissLimiter;
    Permit(MissLimiter* owner, std::string client)
        : owner_(owner), client_(std::move(client)) {}
    MissLimiter* owner_ = nullptr;
    std::string client_;
  };

  enum class Refusal { kNone, kGlobal, kClient };

  // `metrics` must outlive the limiter; permits must not outlive it.
  MissLimiter(MissLimits limits, MetricsRegistry& metrics);

  // A permit for `client`, or an empty one and the bound that refused it.
  Permit Acquire(absl::string_view client, Refusal* refusal);

  size_t pending() const;
  size_t pending_for(absl::string_view client) const;
  const MissLimits& limits() const { return limits_; }

 private:
  void Release(const std::string& client);

  const MissLimits limits_;
  Gauge& pending_gauge_;
  Counter& refused_global_;
  Counter& refused_client_;

  mutable absl::Mutex mu_;
  size_t pending_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, size_t> per_client_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_MISS_LIMITER_H_
