#ifndef PAT_SERVER_WEBHOOKS_WEBHOOK_SERVICE_H_
#define PAT_SERVER_WEBHOOKS_WEBHOOK_SERVICE_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "grpcpp/grpcpp.h"
#include "pat/v1/webhooks.grpc.pb.h"
#include "server/caller_auth.h"
#include "server/token_service_limits.h"
#include "server/token_store.h"
#include "server/webhooks/webhook_store.h"

namespace pat::webhooks {

// pat.v1.WebhookService: per-plan subscriptions and dead letters. Admitted
// exactly like TokenService: caller role admin, the TokenService rate limits
// (caller, then actor), an actor (UNAUTHENTICATED without one) who
// administers plan_id (PERMISSION_DENIED otherwise, the same for an unknown
// plan, token_rules::CheckPlanAccess). Ids of another plan answer NOT_FOUND,
// like unknown ids. The signing secret is returned by Create only and never
// logged. Thread-safe; every reference must outlive the service.
class WebhookServiceImpl final : public v1::WebhookService::Service {
 public:
  WebhookServiceImpl(WebhookStore& store, TokenStore& tokens,
                     const CallerAuth& auth, TokenServiceLimits& limits,
                     const Clock& clock)
      : store_(store),
        tokens_(tokens),
        auth_(auth),
        limits_(limits),
        clock_(clock) {}

  grpc::Status CreateWebhookSubscription(
      grpc::ServerContext* context,
      const v1::CreateWebhookSubscriptionRequest* request,
      v1::CreateWebhookSubscriptionResponse* response) override;
  grpc::Status ListWebhookSubscriptions(
      grpc::ServerContext* context,
      const v1::ListWebhookSubscriptionsRequest* request,
      v1::ListWebhookSubscriptionsResponse* response) override;
  grpc::Status DeleteWebhookSubscription(
      grpc::ServerContext* context,
      const v1::DeleteWebhookSubscriptionRequest* request,
      v1::DeleteWebhookSubscriptionResponse* response) override;
  grpc::Status ListWebhookDeadLetters(
      grpc::ServerContext* context,
      const v1::ListWebhookDeadLettersRequest* request,
      v1::ListWebhookDeadLettersResponse* response) override;
  grpc::Status RedeliverWebhookDeadLetter(
      grpc::ServerContext* context,
      const v1::RedeliverWebhookDeadLetterRequest* request,
      v1::RedeliverWebhookDeadLetterResponse* response) override;

 private:
  // The caller's actor, once admitted for `plan_id`.
  absl::StatusOr<std::string> AdmitForPlan(grpc::ServerContext* context,
                                           const std::string& plan_id,
                                           bool tier_required);
  absl::Status DoCreate(grpc::ServerContext* context,
                        const v1::CreateWebhookSubscriptionRequest& request,
                        v1::CreateWebhookSubscriptionResponse& response);
  absl::Status DoList(grpc::ServerContext* context,
                      const v1::ListWebhookSubscriptionsRequest& request,
                      v1::ListWebhookSubscriptionsResponse& response);
  absl::Status DoDelete(grpc::ServerContext* context,
                        const v1::DeleteWebhookSubscriptionRequest& request);
  absl::Status DoListDead(grpc::ServerContext* context,
                          const v1::ListWebhookDeadLettersRequest& request,
                          v1::ListWebhookDeadLettersResponse& response);
  absl::Status DoRedeliver(
      grpc::ServerContext* context,
      const v1::RedeliverWebhookDeadLetterRequest& request);

  WebhookStore& store_;
  TokenStore& tokens_;
  const CallerAuth& auth_;
  TokenServiceLimits& limits_;
  const Clock& clock_;
};

}  // namespace pat::webhooks

#endif  // PAT_SERVER_WEBHOOKS_WEBHOOK_SERVICE_H_
