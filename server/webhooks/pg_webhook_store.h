#ifndef PAT_SERVER_WEBHOOKS_PG_WEBHOOK_STORE_H_
#define PAT_SERVER_WEBHOOKS_PG_WEBHOOK_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "server/db_pool.h"
#include "server/webhooks/webhook_store.h"

namespace pat::webhooks {

// WebhookStore on PostgreSQL (tables of migration 6). The only place the
// webhook code touches libpqxx. The pool must outlive the store.
class PgWebhookStore final : public WebhookStore {
 public:
  explicit PgWebhookStore(DbPool& pool) : pool_(pool) {}

  absl::Status CreateSubscription(const Subscription& sub,
                                  const std::string& secret) override;
  absl::StatusOr<std::vector<Subscription>> ListSubscriptions(
      const std::string& plan_id) override;
  absl::StatusOr<int> CountSubscriptions(const std::string& plan_id) override;
  absl::Status DeleteSubscription(const std::string& plan_id,
                                  const std::string& id) override;
  absl::StatusOr<std::vector<DeadLetter>> ListDeadLetters(
      const std::string& plan_id, const std::string& subscription_id,
      int limit) override;
  absl::Status Redeliver(const std::string& plan_id,
                         const std::string& subscription_id, int64_t event_id,
                         absl::Time now) override;
  absl::StatusOr<int> DispatchOutbox(int limit, absl::Time now) override;
  absl::StatusOr<bool> TryAcquireLease(const std::string& name,
                                       const std::string& holder,
                                       absl::Time now,
                                       absl::Duration ttl) override;
  absl::StatusOr<int> EmitScheduled(absl::Time now,
                                    const ScheduleWindows& windows,
                                    int limit) override;
  absl::StatusOr<std::vector<DeliveryJob>> ClaimDue(
      absl::Time now, int limit, absl::Duration claim_ttl) override;
  absl::Status MarkDelivered(const std::string& subscription_id,
                             int64_t event_id, absl::Time now) override;
  absl::Status MarkFailed(const std::string& subscription_id, int64_t event_id,
                          const std::string& error, absl::Time now,
                          std::optional<absl::Time> retry_at) override;

 private:
  DbPool& pool_;
};

}  // namespace pat::webhooks

#endif  // PAT_SERVER_WEBHOOKS_PG_WEBHOOK_STORE_H_
