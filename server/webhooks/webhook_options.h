#ifndef PAT_SERVER_WEBHOOKS_WEBHOOK_OPTIONS_H_
#define PAT_SERVER_WEBHOOKS_WEBHOOK_OPTIONS_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/webhooks/webhook_store.h"

namespace pat::webhooks {

// Validated settings of lifecycle notifications (flags --webhooks_*,
// server/authority_config.cc).
struct WebhookOptions {
  // Off: no WebhookService, no workers (subscriptions stay in the database).
  bool enabled = false;
  // Deliveries in flight at once per replica (the bound of the queue too).
  int workers = 8;
  // Attempts before a delivery is dead-lettered.
  int max_attempts = 8;
  // Retry backoff: base * 2^(attempt-1), capped, with equal jitter.
  absl::Duration backoff_base = absl::Seconds(10);
  absl::Duration backoff_max = absl::Hours(1);
  // The whole HTTP exchange of one attempt.
  absl::Duration request_deadline = absl::Seconds(10);
  // How often a replica looks for work (real time; logic uses the Clock).
  absl::Duration poll_interval = absl::Seconds(1);
  // The scheduler lease's lifetime (renewed every poll by its holder).
  absl::Duration lease_ttl = absl::Seconds(30);
  ScheduleWindows windows;
};

// INVALID_ARGUMENT naming the flag: workers 1..256, max_attempts 1..100,
// backoff_base > 0 and <= backoff_max, request_deadline 100ms..5min,
// poll_interval 1ms..1min, lease_ttl > poll_interval.
absl::Status ValidateWebhookOptions(const WebhookOptions& options);

}  // namespace pat::webhooks

#endif  // PAT_SERVER_WEBHOOKS_WEBHOOK_OPTIONS_H_
