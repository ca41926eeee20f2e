#ifndef PAT_SERVER_PLAN_ACCESS_H_
#define PAT_SERVER_PLAN_ACCESS_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/domain.h"
#include "server/token_store.h"
#include "server/token_types.h"

// R1/R2 against the store, shared by TokenLifecycle and AccessChecker: the
// pre-check of an RPC on the plan as last committed, and the re-check a write
// runs in its own transaction under the plan row's lock (PlanCheckFn). Both
// apply token_rules::CheckPlanAccess.
namespace pat {

// UNAUTHENTICATED without an actor; INVALID_ARGUMENT for a malformed plan id;
// PERMISSION_DENIED for an unknown plan or a non-admin (the same answer);
// FAILED_PRECONDITION per `tier_rule`. Returns the plan.
absl::StatusOr<Plan> AuthorizePlan(TokenStore& store, const std::string& actor,
                                   const std::string& plan_id,
                                   TierRule tier_rule);

// The re-check of R1/R2 that the store runs under the plan row's lock.
PlanCheckFn PlanCheckAtWrite(std::string actor, TierRule tier_rule);

}  // namespace pat

#endif  // PAT_SERVER_PLAN_ACCESS_H_
