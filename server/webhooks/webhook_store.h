#ifndef PAT_SERVER_WEBHOOKS_WEBHOOK_STORE_H_
#define PAT_SERVER_WEBHOOKS_WEBHOOK_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

// Persistence of lifecycle notifications (docs/webhooks.md): subscriptions,
// the outbox queued by audit_events' trigger, events, deliveries and the
// scheduler's lease. Like TokenStore, every storage error is an absl::Status
// (never an exception), and messages carry neither SQL nor secrets.
// Implementations are thread-safe and safe with many replicas on one
// database: claims use FOR UPDATE SKIP LOCKED and emission is idempotent
// (unique source keys).
namespace pat::webhooks {

struct Subscription {
  std::string id;
  std::string plan_id;
  std::string url;
  std::vector<std::string> event_types;  // empty: every type
  std::string created_by;
  absl::Time create_time;
};

struct DeadLetter {
  std::string subscription_id;
  int64_t event_id = 0;
  std::string event_type;
  std::string token_id;
  int attempts = 0;
  std::string last_error;
  absl::Time event_time;
  absl::Time dead_time;
};

// A claimed delivery: everything needed to send it.
struct DeliveryJob {
  std::string subscription_id;
  int64_t event_id = 0;
  std::string url;
  std::string secret;  // the subscription's signing secret
  std::string event_type;
  std::string plan_id;
  std::string token_id;
  absl::Time event_time;
  std::string data_json;  // event details (never a secret)
  int attempts = 0;       // including this one
};

// Windows of the scheduled (expiry) events.
struct ScheduleWindows {
  // Events whose moment is older than this are not emitted any more (a
  // scheduler down for longer loses them; bounds the first scan).
  absl::Duration lookback = absl::Hours(24 * 30);
  // token.previous_secret_ending is emitted this long before the previous
  // secret stops working (at once when its grace is shorter).
  absl::Duration secret_ending_lead = absl::Hours(1);
};

class WebhookStore {
 public:
  virtual ~WebhookStore() = default;

  // Subscriptions of one plan. Delete and Redeliver answer NOT_FOUND for
  // anything not in `plan_id` (another plan's ids look unknown).
  virtual absl::Status CreateSubscription(const Subscription& sub,
                                          const std::string& secret) = 0;
  virtual absl::StatusOr<std::vector<Subscription>> ListSubscriptions(
      const std::string& plan_id) = 0;
  virtual absl::StatusOr<int> CountSubscriptions(
      const std::string& plan_id) = 0;
  virtual absl::Status DeleteSubscription(const std::string& plan_id,
                                          const std::string& id) = 0;
  virtual absl::StatusOr<std::vector<DeadLetter>> ListDeadLetters(
      const std::string& plan_id, const std::string& subscription_id,
      int limit) = 0;
  // Makes a dead delivery pending again (attempts reset, due at `now`).
  virtual absl::Status Redeliver(const std::string& plan_id,
                                 const std::string& subscription_id,
                                 int64_t event_id, absl::Time now) = 0;

  // Turns up to `limit` queued audit events into events and one pending
  // delivery per matching subscription, and dequeues them, in one
  // transaction. Returns how many were dequeued.
  virtual absl::StatusOr<int> DispatchOutbox(int limit, absl::Time now) = 0;
  // Takes or renews the lease `name` for `holder` until now + ttl; false
  // while another holder's lease is unexpired.
  virtual absl::StatusOr<bool> TryAcquireLease(const std::string& name,
                                               const std::string& holder,
                                               absl::Time now,
                                               absl::Duration ttl) = 0;
  // Emits (at most `limit` of) the expiry and secret-ending events due at
  // `now`, each at most once per token per threshold. Returns the count.
  virtual absl::StatusOr<int> EmitScheduled(absl::Time now,
                                            const ScheduleWindows& windows,
                                            int limit) = 0;
  // Claims up to `limit` due pending deliveries: bumps their attempts and
  // pushes next_attempt_at to now + claim_ttl (the in-flight lease).
  virtual absl::StatusOr<std::vector<DeliveryJob>> ClaimDue(
      absl::Time now, int limit, absl::Duration claim_ttl) = 0;
  virtual absl::Status MarkDelivered(const std::string& subscription_id,
                                     int64_t event_id, absl::Time now) = 0;
  // retry_at nullopt: dead-letters it.
  virtual absl::Status MarkFailed(const std::string& subscription_id,
                                  int64_t event_id, const std::string& error,
                                  absl::Time now,
                                  std::optional<absl::Time> retry_at) = 0;
};

}  // namespace pat::webhooks

#endif  // PAT_SERVER_WEBHOOKS_WEBHOOK_STORE_H_
