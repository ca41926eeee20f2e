// WebhookService commands (on behalf of --actor): webhook-create,
// webhook-list, webhook-delete, webhook-dead-letters, webhook-redeliver.
// docs/webhooks.md.

#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/handler_util.h"
#include "cli/output.h"
#include "cli/patctl_ux.h"
#include "cli/session.h"
#include "grpcpp/grpcpp.h"
#include "pat/v1/webhooks.grpc.pb.h"

ABSL_FLAG(std::string, url, "",
          "Webhook target, http://host[:port]/path (webhook-create).");
ABSL_FLAG(std::string, events, "",
          "Comma-separated event types to deliver, e.g. "
          "token.revoked,token.leaked; empty: every type (webhook-create).");
ABSL_FLAG(std::string, subscription, "", "Webhook subscription id (whs_...).");
ABSL_FLAG(int64_t, event, 0, "Webhook event id (webhook-redeliver).");

namespace pat::patctl {
namespace {

void PrintSubscription(const v1::WebhookSubscription& sub) {
  Line("subscription_id", sub.id());
  Line("plan_id", sub.plan_id());
  Line("url", sub.url());
  Line("events", sub.event_types().empty() ? std::string("(all)")
                                           : ListText(sub.event_types()));
  Line("created_by", sub.created_by());
  Line("create_time", TimeText(sub.create_time()));
}

int Create(Session& s) {
  v1::CreateWebhookSubscriptionRequest req;
  req.set_plan_id(absl::GetFlag(FLAGS_plan));
  req.set_url(absl::GetFlag(FLAGS_url));
  for (absl::string_view t :
       absl::StrSplit(absl::GetFlag(FLAGS_events), ',', absl::SkipEmpty())) {
    req.add_event_types(std::string(t));
  }
  v1::CreateWebhookSubscriptionResponse resp;
  grpc::Status status =
      Unary(s, /*as_actor=*/true, s.webhooks(),
            &v1::WebhookService::Stub::CreateWebhookSubscription, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] {
    PrintSubscription(resp.subscription());
    // The only place patctl writes a signing secret.
    Line("signing_secret", resp.signing_secret());
    std::cerr << "patctl: store the signing secret now: it cannot be shown "
                 "again\n";
  });
}

int List(Session& s) {
  v1::ListWebhookSubscriptionsRequest req;
  req.set_plan_id(absl::GetFlag(FLAGS_plan));
  v1::ListWebhookSubscriptionsResponse resp;
  grpc::Status status =
      Unary(s, /*as_actor=*/true, s.webhooks(),
            &v1::WebhookService::Stub::ListWebhookSubscriptions, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] {
    Table table({"id", "url", "events", "created_by"});
    for (const v1::WebhookSubscription& sub : resp.subscriptions()) {
      table.Add({sub.id(), sub.url(),
                 sub.event_types().empty() ? std::string("(all)")
                                           : ListText(sub.event_types()),
                 sub.created_by()});
    }
    table.Print(s);
  });
}

int Delete(Session& s) {
  v1::DeleteWebhookSubscriptionRequest req;
  req.set_plan_id(absl::GetFlag(FLAGS_plan));
  req.set_subscription_id(absl::GetFlag(FLAGS_subscription));
  v1::DeleteWebhookSubscriptionResponse resp;
  grpc::Status status =
      Unary(s, /*as_actor=*/true, s.webhooks(),
            &v1::WebhookService::Stub::DeleteWebhookSubscription, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] { Line("deleted", req.subscription_id()); });
}

int DeadLetters(Session& s) {
  if (absl::GetFlag(FLAGS_page_size) < 0) {
    return UsageError("--page_size must not be negative");
  }
  v1::ListWebhookDeadLettersRequest req;
  req.set_plan_id(absl::GetFlag(FLAGS_plan));
  req.set_subscription_id(absl::GetFlag(FLAGS_subscription));
  req.set_page_size(absl::GetFlag(FLAGS_page_size));
  v1::ListWebhookDeadLettersResponse resp;
  grpc::Status status =
      Unary(s, /*as_actor=*/true, s.webhooks(),
            &v1::WebhookService::Stub::ListWebhookDeadLetters, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] {
    Table table({"subscription", "event", "type", "token", "attempts",
                 "last_error", "dead_time"});
    for (const v1::WebhookDeadLetter& d : resp.dead_letters()) {
      table.Add({d.subscription_id(), absl::StrCat(d.event_id()),
                 d.event_type(), d.token_id(), absl::StrCat(d.attempts()),
                 d.last_error(), TimeText(d.dead_time())});
    }
    table.Print(s);
  });
}

int Redeliver(Session& s) {
  if (absl::GetFlag(FLAGS_event) <= 0) {
    return UsageError("--event must be a positive event id");
  }
  v1::RedeliverWebhookDeadLetterRequest req;
  req.set_plan_id(absl::GetFlag(FLAGS_plan));
  req.set_subscription_id(absl::GetFlag(FLAGS_subscription));
  req.set_event_id(absl::GetFlag(FLAGS_event));
  v1::RedeliverWebhookDeadLetterResponse resp;
  grpc::Status status =
      Unary(s, /*as_actor=*/true, s.webhooks(),
            &v1::WebhookService::Stub::RedeliverWebhookDeadLetter, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] {
    Line("redelivering",
         absl::StrCat(req.subscription_id(), ":", req.event_id()));
  });
}

}  // namespace

std::vector<Command> WebhookCommands() {
  return {
      {"webhook-create",
       "subscribe a URL to a plan's token lifecycle events (shows the "
       "signing secret once)",
       "patctl --actor=alice webhook-create --plan=1234567890 "
       "--url=http://hooks.internal/pat --events=token.revoked,token.leaked",
       "--plan=ORG --url=URL [--events=TYPE,...]",
       {"plan", "url"},
       {"events"},
       Create},
      {"webhook-list",
       "list a plan's webhook subscriptions",
       "patctl --actor=alice webhook-list --plan=1234567890",
       "--plan=ORG",
       {"plan"},
       {},
       List},
      {"webhook-delete",
       "delete a webhook subscription and its pending deliveries",
       "patctl --actor=alice webhook-delete --plan=1234567890 "
       "--subscription=whs_...",
       "--plan=ORG --subscription=ID",
       {"plan", "subscription"},
       {},
       Delete},
      {"webhook-dead-letters",
       "list deliveries that exhausted their attempts",
       "patctl --actor=alice webhook-dead-letters --plan=1234567890",
       "--plan=ORG [--subscription=ID] [--page_size=N]",
       {"plan"},
       {"subscription", "page_size"},
       DeadLetters},
      {"webhook-redeliver",
       "queue a dead letter for delivery again (same idempotency key)",
       "patctl --actor=alice webhook-redeliver --plan=1234567890 "
       "--subscription=whs_... --event=42",
       "--plan=ORG --subscription=ID --event=N",
       {"plan", "subscription", "event"},
       {},
       Redeliver},
  };
}

}  // namespace pat::patctl
