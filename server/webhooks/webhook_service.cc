#include "server/webhooks/webhook_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/secret.h"
#include "common/status_macros.h"
#include "proto/convert/proto_convert.h"
#include "server/token_rules.h"
#include "server/webhooks/signature.h"
#include "server/webhooks/webhook_rules.h"

namespace pat::webhooks {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;

absl::Status ValidateSubscriptionId(absl::string_view id) {
  PAT_RETURN_IF_ERROR(token_rules::ValidateId("subscription_id", id));
  if (!absl::StartsWith(id, "whs_")) {
    return absl::InvalidArgumentError("subscription_id: must start with whs_");
  }
  return absl::OkStatus();
}

void SubscriptionToProto(const Subscription& s, v1::WebhookSubscription* out) {
  out->set_id(s.id);
  out->set_plan_id(s.plan_id);
  out->set_url(s.url);
  for (const std::string& t : s.event_types) out->add_event_types(t);
  out->set_created_by(s.created_by);
  TimeToProto(s.create_time, out->mutable_create_time());
}

}  // namespace

absl::StatusOr<std::string> WebhookServiceImpl::AdmitForPlan(
    grpc::ServerContext* context, const std::string& plan_id,
    bool tier_required) {
  PAT_ASSIGN_OR_RETURN(Caller caller,
                       auth_.Authorize(context, CallerRole::kAdmin));
  PAT_RETURN_IF_ERROR(limits_.Admit(*context, caller));
  if (caller.actor.empty()) {
    return absl::UnauthenticatedError("no actor: x-pat-actor is required");
  }
  PAT_RETURN_IF_ERROR(token_rules::ValidateId("plan_id", plan_id));
  absl::StatusOr<Plan> plan = tokens_.GetPlan(plan_id);
  if (absl::IsNotFound(plan.status())) return token_rules::PermissionDenied();
  if (!plan.ok()) return plan.status();
  PAT_RETURN_IF_ERROR(token_rules::CheckPlanAccess(
      caller.actor, *plan,
      tier_required ? TierRule::kRequired : TierRule::kNotRequired));
  return caller.actor;
}

grpc::Status WebhookServiceImpl::CreateWebhookSubscription(
    grpc::ServerContext* context,
    const v1::CreateWebhookSubscriptionRequest* request,
    v1::CreateWebhookSubscriptionResponse* response) {
  return ToGrpcStatus(DoCreate(context, *request, *response));
}

absl::Status WebhookServiceImpl::DoCreate(
    grpc::ServerContext* context,
    const v1::CreateWebhookSubscriptionRequest& request,
    v1::CreateWebhookSubscriptionResponse& response) {
  PAT_ASSIGN_OR_RETURN(std::string actor,
                       AdmitForPlan(context, request.plan_id(), true));
  PAT_RETURN_IF_ERROR(ParseTarget(request.url()).status());
  Subscription sub;
  sub.event_types.assign(request.event_types().begin(),
                         request.event_types().end());
  PAT_RETURN_IF_ERROR(ValidateEventTypes(sub.event_types));
  PAT_ASSIGN_OR_RETURN(int existing,
                       store_.CountSubscriptions(request.plan_id()));
  if (existing >= kMaxSubscriptionsPerPlan) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "a plan has at most ", kMaxSubscriptionsPerPlan, " subscriptions"));
  }
  sub.id = absl::StrCat("whs_", RandomBase62(22));
  sub.plan_id = request.plan_id();
  sub.url = request.url();
  sub.created_by = actor;
  sub.create_time = token_rules::TruncateToMicros(clock_.Now());
  std::string secret = GenerateSigningSecret();
  PAT_RETURN_IF_ERROR(store_.CreateSubscription(sub, secret));
  SubscriptionToProto(sub, response.mutable_subscription());
  response.set_signing_secret(std::move(secret));
  return absl::OkStatus();
}

grpc::Status WebhookServiceImpl::ListWebhookSubscriptions(
    grpc::ServerContext* context,
    const v1::ListWebhookSubscriptionsRequest* request,
    v1::ListWebhookSubscriptionsResponse* response) {
  return ToGrpcStatus(DoList(context, *request, *response));
}

absl::Status WebhookServiceImpl::DoList(
    grpc::ServerContext* context,
    const v1::ListWebhookSubscriptionsRequest& request,
    v1::ListWebhookSubscriptionsResponse& response) {
  PAT_RETURN_IF_ERROR(AdmitForPlan(context, request.plan_id(), false).status());
  PAT_ASSIGN_OR_RETURN(std::vector<Subscription> subs,
                       store_.ListSubscriptions(request.plan_id()));
  for (const Subscription& s : subs) {
    SubscriptionToProto(s, response.add_subscriptions());
  }
  return absl::OkStatus();
}

grpc::Status WebhookServiceImpl::DeleteWebhookSubscription(
    grpc::ServerContext* context,
    const v1::DeleteWebhookSubscriptionRequest* request,
    v1::DeleteWebhookSubscriptionResponse* response) {
  return ToGrpcStatus(DoDelete(context, *request));
}

absl::Status WebhookServiceImpl::DoDelete(
    grpc::ServerContext* context,
    const v1::DeleteWebhookSubscriptionRequest& request) {
  PAT_RETURN_IF_ERROR(AdmitForPlan(context, request.plan_id(), false).status());
  PAT_RETURN_IF_ERROR(ValidateSubscriptionId(request.subscription_id()));
  return store_.DeleteSubscription(request.plan_id(),
                                   request.subscription_id());
}

grpc::Status WebhookServiceImpl::ListWebhookDeadLetters(
    grpc::ServerContext* context,
    const v1::ListWebhookDeadLettersRequest* request,
    v1::ListWebhookDeadLettersResponse* response) {
  return ToGrpcStatus(DoListDead(context, *request, *response));
}

absl::Status WebhookServiceImpl::DoListDead(
    grpc::ServerContext* context,
    const v1::ListWebhookDeadLettersRequest& request,
    v1::ListWebhookDeadLettersResponse& response) {
  PAT_RETURN_IF_ERROR(AdmitForPlan(context, request.plan_id(), false).status());
  if (!request.subscription_id().empty()) {
    PAT_RETURN_IF_ERROR(ValidateSubscriptionId(request.subscription_id()));
  }
  if (request.page_size() < 0 || request.page_size() > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must be 0..", kMaxPageSize));
  }
  const int limit =
      request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  PAT_ASSIGN_OR_RETURN(
      std::vector<DeadLetter> dead,
      store_.ListDeadLetters(request.plan_id(), request.subscription_id(),
                             limit));
  for (const DeadLetter& d : dead) {
    v1::WebhookDeadLetter* out = response.add_dead_letters();
    out->set_subscription_id(d.subscription_id);
    out->set_event_id(d.event_id);
    out->set_event_type(d.event_type);
    out->set_token_id(d.token_id);
    out->set_idempotency_key(IdempotencyKey(d.subscription_id, d.event_id));
    out->set_attempts(d.attempts);
    out->set_last_error(d.last_error);
    TimeToProto(d.event_time, out->mutable_event_time());
    TimeToProto(d.dead_time, out->mutable_dead_time());
  }
  return absl::OkStatus();
}

grpc::Status WebhookServiceImpl::RedeliverWebhookDeadLetter(
    grpc::ServerContext* context,
    const v1::RedeliverWebhookDeadLetterRequest* request,
    v1::RedeliverWebhookDeadLetterResponse* response) {
  return ToGrpcStatus(DoRedeliver(context, *request));
}

absl::Status WebhookServiceImpl::DoRedeliver(
    grpc::ServerContext* context,
    const v1::RedeliverWebhookDeadLetterRequest& request) {
  PAT_RETURN_IF_ERROR(AdmitForPlan(context, request.plan_id(), false).status());
  PAT_RETURN_IF_ERROR(ValidateSubscriptionId(request.subscription_id()));
  if (request.event_id() <= 0) {
    return absl::InvalidArgumentError("event_id: required");
  }
  return store_.Redeliver(request.plan_id(), request.subscription_id(),
                          request.event_id(), clock_.Now());
}

}  // namespace pat::webhooks
