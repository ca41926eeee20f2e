#include "sidecar/miss_limiter.h"

#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"

namespace pat::sidecar {

MissLimiter::Permit& MissLimiter::Permit::operator=(Permit&& other) noexcept {
  if (this != &other) {
    Release();
    owner_ = other.owner_;
    client_ = std::move(other.client_);
    other.owner_ = nullptr;
  }
  return *this;
}

void MissLimiter::Permit::Release() {
  if (owner_ == nullptr) return;
  MissLimiter* owner = owner_;
  owner_ = nullptr;
  owner->Release(client_);
}

MissLimiter::MissLimiter(MissLimits limits, MetricsRegistry& metrics)
    : limits_(limits),
      pending_gauge_(metrics.GetGauge(
          "pat_sidecar_authority_pending",
          "Requests waiting on the authority (cache misses, revalidations, "
          "resource lookups).")),
      refused_global_(metrics.GetCounter(
          "pat_sidecar_authority_refused_total",
          "Requests answered at once because too many requests were waiting "
          "on the authority, by the bound that refused them.",
          {{"limit", "global"}})),
      refused_client_(metrics.GetCounter(
          "pat_sidecar_authority_refused_total",
          "Requests answered at once because too many requests were waiting "
          "on the authority, by the bound that refused them.",
          {{"limit", "client"}})) {}

MissLimiter::Permit MissLimiter::Acquire(absl::string_view client,
                                         Refusal* refusal) {
  {
    absl::MutexLock lock(&mu_);
    if (pending_ >= limits_.max_pending) {
      *refusal = Refusal::kGlobal;
    } else {
      size_t& mine = per_client_[std::string(client)];
      if (mine >= limits_.max_pending_per_client) {
        if (mine == 0) per_client_.erase(client);
        *refusal = Refusal::kClient;
      } else {
        ++mine;
        pending_gauge_.Set(static_cast<int64_t>(++pending_));
        *refusal = Refusal::kNone;
      }
    }
  }
  switch (*refusal) {
    case Refusal::kGlobal:
      refused_global_.Inc();
      return Permit();
    case Refusal::kClient:
      refused_client_.Inc();
      return Permit();
    case Refusal::kNone:
      break;
  }
  return Permit(this, std::string(client));
}

void MissLimiter::Release(const std::string& client) {
  absl::MutexLock lock(&mu_);
  auto it = per_client_.find(client);
  if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
  pending_gauge_.Set(static_cast<int64_t>(--pending_));
}

size_t MissLimiter::pending() const {
  absl::MutexLock lock(&mu_);
  return pending_;
}

size_t MissLimiter::pending_for(absl::string_view client) const {
  absl::MutexLock lock(&mu_);
  auto it = per_client_.find(client);
  return it == per_client_.end() ? 0 : it->second;
}

}  // namespace pat::sidecar
