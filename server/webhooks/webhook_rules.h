#ifndef PAT_SERVER_WEBHOOKS_WEBHOOK_RULES_H_
#define PAT_SERVER_WEBHOOKS_WEBHOOK_RULES_H_

// Pure rules of lifecycle notifications: event types, subscription URL
// validation, the payload, the idempotency key and the retry backoff. No
// storage, no clock, no I/O.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/webhooks/webhook_store.h"

namespace pat::webhooks {

inline constexpr int kMaxSubscriptionsPerPlan = 20;
inline constexpr int kMaxUrlLength = 2048;

// Every event type, in documentation order.
absl::Span<const absl::string_view> EventTypes();
// INVALID_ARGUMENT for an unknown or repeated type.
absl::Status ValidateEventTypes(const std::vector<std::string>& types);

// A parsed delivery target: http://host[:port][/path][?query].
struct Target {
  std::string host;
  std::string port;    // "80" when absent
  std::string target;  // "/" when absent
};
// INVALID_ARGUMENT "url: ..." unless `url` is an absolute http URL without
// userinfo or fragment, at most kMaxUrlLength characters.
absl::StatusOr<Target> ParseTarget(absl::string_view url);

// "<subscription id>:<event id>": stable per event per subscription, and
// the same on every attempt and redelivery.
std::string IdempotencyKey(absl::string_view subscription_id, int64_t event_id);

// The JSON body of a delivery: idempotency_key, event_id, type, plan_id,
// token_id, time (RFC 3339 UTC), data (the event's details). Never a secret.
std::string PayloadJson(const DeliveryJob& job);

// Backoff before attempt `attempt + 1` after `attempt` failures (>= 1):
// "equal jitter" exponential: half of min(cap, base * 2^(attempt-1)) plus
// `unit_random` (in [0,1)) times the other half.
absl::Duration RetryBackoff(int attempt, absl::Duration base,
                            absl::Duration cap, double unit_random);

}  // namespace pat::webhooks

#endif  // PAT_SERVER_WEBHOOKS_WEBHOOK_RULES_H_
