#include "server/token_service_limits.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace pat {
namespace {

std::unique_ptr<KeyedTokenBuckets> BucketsFor(RateLimit limit,
                                              const Clock& clock) {
  if (!limit.enabled()) return nullptr;
  return std::make_unique<KeyedTokenBuckets>(limit, clock);
}

}  // namespace

TokenServiceLimits::TokenServiceLimits(RateLimit per_caller,
                                       RateLimit per_actor, const Clock& clock,
                                       RateLimitCounters counters)
    : per_caller_(BucketsFor(per_caller, clock)),
      per_actor_(BucketsFor(per_actor, clock)),
      counters_(counters) {}

std::optional<RateLimited> TokenServiceLimits::Check(const Caller& caller) {
  if (per_caller_ != nullptr) {
    const absl::Duration wait = per_caller_->Take(caller.identity);
    if (wait > absl::ZeroDuration()) return RateLimited{"caller", wait};
  }
  if (per_actor_ != nullptr && !caller.actor.empty()) {
    const absl::Duration wait = per_actor_->Take(caller.actor);
    if (wait > absl::ZeroDuration()) return RateLimited{"actor", wait};
  }
  return std::nullopt;
}

absl::Status TokenServiceLimits::Admit(grpc::ServerContext& context,
                                       const Caller& caller) {
  std::optional<RateLimited> refusal = Check(caller);
  if (!refusal.has_value()) return absl::OkStatus();
  Counter* counter =
      refusal->limit == "actor" ? counters_.actor : counters_.caller;
  if (counter != nullptr) counter->Inc();
  context.AddTrailingMetadata(
      std::string(kRetryAfterMetadataKey),
      absl::StrCat(absl::ToInt64Milliseconds(refusal->retry_after)));
  return RateLimitedStatus(*refusal);
}

absl::Status RateLimitedStatus(const RateLimited& refusal) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "rate limit exceeded for this ", refusal.limit, "; retry after ",
      absl::ToInt64Milliseconds(refusal.retry_after), " ms"));
}

}  // namespace pat
