#ifndef PAT_SERVER_TOKEN_SERVICE_LIMITS_H_
#define PAT_SERVER_TOKEN_SERVICE_LIMITS_H_

#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "grpcpp/server_context.h"
#include "server/authority_config.h"
#include "server/caller_auth.h"
#include "server/rate_limiter.h"

// The rate limits of pat.v1.TokenService: one token bucket per caller
// identity (the matched certificate SAN, "insecure" in insecure mode) and one
// per actor (x-pat-actor), each off when its limit is. Checked after the
// caller is authorized and before any database work; the caller's bucket
// first, then the actor's (a request refused for its actor has still cost
// its caller a token). A request without an actor is limited per caller
// only (the manager refuses it anyway).
//
// IntrospectionService and DirectoryService are not limited here: a whole
// sidecar fleet usually shares one identity, and throttling ValidateToken
// would turn a cache-miss storm into denied user traffic (their bounds are
// the sidecar's cache and single-flight, and the database pool).
//
// A refused request gets RESOURCE_EXHAUSTED "rate limit exceeded for this
// <caller|actor>; retry after <N> ms" and the trailing metadata
// `retry-after-ms: <N>` (decimal milliseconds, >= 1): the time after which
// one request of that caller or actor will be admitted again. (No
// google.rpc.RetryInfo: Debian ships no C++ google/rpc protos.)
namespace pat {

inline constexpr absl::string_view kRetryAfterMetadataKey = "retry-after-ms";

// Counters bumped on refusals; null members are not counted.
struct RateLimitCounters {
  Counter* actor = nullptr;
  Counter* caller = nullptr;
};

// A refusal: which limit and when to retry.
struct RateLimited {
  absl::string_view limit;  // "caller" or "actor"
  absl::Duration retry_after;
};

// Thread-safe; the clock must outlive it.
class TokenServiceLimits {
 public:
  TokenServiceLimits(RateLimit per_caller, RateLimit per_actor,
                     const Clock& clock, RateLimitCounters counters = {});

  // The decision for one request of `caller` (takes its tokens when
  // admitted): nullopt to admit.
  std::optional<RateLimited> Check(const Caller& caller);

  // Check, then on refusal: counts it, adds the retry-after-ms trailer to
  // `context` and returns RESOURCE_EXHAUSTED; OK to admit.
  absl::Status Admit(grpc::ServerContext& context, const Caller& caller);

 private:
  std::unique_ptr<KeyedTokenBuckets> per_caller_;  // null when off
  std::unique_ptr<KeyedTokenBuckets> per_actor_;   // null when off
  const RateLimitCounters counters_;
};

// The RESOURCE_EXHAUSTED status of a refusal (message as above).
absl::Status RateLimitedStatus(const RateLimited& refusal);

}  // namespace pat

#endif  // PAT_SERVER_TOKEN_SERVICE_LIMITS_H_
