#include "server/plan_directory.h"

#include <string>

#include "absl/strings/match.h"
#include "common/status_macros.h"
#include "server/token_rules.h"

namespace pat {
namespace {

using token_rules::kMaxPlanNameLength;
using token_rules::kSystemActor;
using token_rules::ResourceRank;
using token_rules::RevokeMutation;
using token_rules::TruncateToMicros;
using token_rules::ValidateId;
using token_rules::ValidateText;

// R1: a plan whose tier no longer allows plan access tokens keeps none: the
// downgrade revokes every live token in its own transaction (a revoke that a
// later upgrade does not undo).
PlanSweep TierDowngradeSweep(absl::Time now) {
  PlanSweep sweep;
  sweep.applies = [](const Plan& plan) { return !TierAllowsTokens(plan.tier); };
  sweep.actor = std::string(kSystemActor);
  sweep.mutate = [now](const Token& current) -> absl::StatusOr<TokenMutation> {
    return RevokeMutation(current, std::string(kSystemActor), now,
                          "plan tier no longer supports plan access tokens");
  };
  return sweep;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PlanDirectory>> PlanDirectory::Create(
    const PlanDirectoryConfig& /*config*/, ComponentDeps deps) {
  return std::unique_ptr<PlanDirectory>(new PlanDirectory(deps));
}

absl::StatusOr<Plan> PlanDirectory::UpsertPlan(const Plan& plan) {
  PAT_RETURN_IF_ERROR(ValidateId("plan.id", plan.id));
  PAT_RETURN_IF_ERROR(
      ValidateText("plan.name", plan.name, 1, kMaxPlanNameLength));
  if (plan.tier == PlanTier::kUnspecified) {
    return absl::InvalidArgumentError("plan.tier: required");
  }
  for (const std::string& admin : plan.admin_user_ids) {
    PAT_RETURN_IF_ERROR(ValidateId("plan.admin_user_ids", admin));
  }
  const absl::Time now = TruncateToMicros(clock_.Now());
  PAT_RETURN_IF_ERROR(store_.UpsertPlan(plan, now, TierDowngradeSweep(now)));
  return store_.GetPlan(plan.id);
}

absl::StatusOr<Resource> PlanDirectory::UpsertResource(const Resource& r) {
  PAT_RETURN_IF_ERROR(ValidateId("resource.plan_id", r.plan_id));
  if (r.kind == ResourceKind::kUnspecified) {
    return absl::InvalidArgumentError("resource.kind: required");
  }
  PAT_RETURN_IF_ERROR(ValidateId("resource.id", r.id));
  if ((r.kind == ResourceKind::kNpmScope) != absl::StartsWith(r.id, "@")) {
    return absl::InvalidArgumentError(
        "resource.id: npm scopes, and only they, start with '@'");
  }
  PAT_RETURN_IF_ERROR(ValidateText("resource.name", r.name, 0, 256));
  if (r.parent_kind != ResourceKind::kUnspecified || !r.parent_id.empty()) {
    PAT_RETURN_IF_ERROR(ValidateId("resource.parent_id", r.parent_id));
    if (ResourceRank(r.kind) == 0 ||
        ResourceRank(r.parent_kind) <= ResourceRank(r.kind)) {
      return absl::InvalidArgumentError(
          "resource.parent_kind: a parent must be a project, team or "
          "workspace above the resource (file < project < team < workspace)");
    }
  }
  PAT_RETURN_IF_ERROR(store_.UpsertResource(r));
  return store_.GetResource(r.kind, r.id);
}

absl::Status PlanDirectory::DeleteResource(ResourceKind kind,
                                           const std::string& id) {
  if (kind == ResourceKind::kUnspecified) {
    return absl::InvalidArgumentError("kind: required");
  }
  PAT_RETURN_IF_ERROR(ValidateId("id", id));
  return store_.DeleteResource(kind, id);
}

}  // namespace pat
