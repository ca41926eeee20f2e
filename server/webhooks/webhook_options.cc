#include "server/webhooks/webhook_options.h"

#include "absl/strings/str_cat.h"

namespace pat::webhooks {
namespace {

absl::Status Bad(absl::string_view flag, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", why));
}

}  // namespace

absl::Status ValidateWebhookOptions(const WebhookOptions& o) {
  if (o.workers < 1 || o.workers > 256) {
    return Bad("webhook_workers",
               absl::StrCat("must be 1..256, got ", o.workers));
  }
  if (o.max_attempts < 1 || o.max_attempts > 100) {
    return Bad("webhook_max_attempts",
               absl::StrCat("must be 1..100, got ", o.max_attempts));
  }
  if (o.backoff_base <= absl::ZeroDuration()) {
    return Bad("webhook_backoff_base", "must be positive");
  }
  if (o.backoff_max < o.backoff_base) {
    return Bad("webhook_backoff_max",
               "must be at least --webhook_backoff_base");
  }
  if (o.request_deadline < absl::Milliseconds(100) ||
      o.request_deadline > absl::Minutes(5)) {
    return Bad("webhook_request_deadline", "must be 100ms..5m");
  }
  if (o.poll_interval < absl::Milliseconds(1) ||
      o.poll_interval > absl::Minutes(1)) {
    return Bad("webhook_poll_interval", "must be 1ms..1m");
  }
  if (o.lease_ttl <= o.poll_interval) {
    return Bad("webhook_poll_interval", "must be shorter than the lease (30s)");
  }
  return absl::OkStatus();
}

}  // namespace pat::webhooks
