#include "server/plan_access.h"

#include <utility>

#include "common/status_macros.h"
#include "server/token_rules.h"

namespace pat {

absl::StatusOr<Plan> AuthorizePlan(TokenStore& store, const std::string& actor,
                                   const std::string& plan_id,
                                   TierRule tier_rule) {
  if (actor.empty()) {
    return absl::UnauthenticatedError("no actor: x-pat-actor is required");
  }
  PAT_RETURN_IF_ERROR(token_rules::ValidateId("plan_id", plan_id));
  absl::StatusOr<Plan> plan = store.GetPlan(plan_id);
  if (absl::IsNotFound(plan.status())) return token_rules::PermissionDenied();
  if (!plan.ok()) return plan.status();
  PAT_RETURN_IF_ERROR(token_rules::CheckPlanAccess(actor, *plan, tier_rule));
  return plan;
}

PlanCheckFn PlanCheckAtWrite(std::string actor, TierRule tier_rule) {
  return [actor = std::move(actor), tier_rule](const Plan& locked) {
    return token_rules::CheckPlanAccess(actor, locked, tier_rule);
  };
}

}  // namespace pat
