#include "server/leak_intake_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "server/token_rules.h"

namespace pat {
namespace {

// The admin actor of a plan-admin RPC, and R2 for the plan as it is now.
absl::StatusOr<std::string> PlanAdmin(const CallerAuth& auth,
                                      grpc::ServerContext* context,
                                      const std::string& plan_id) {
  PAT_ASSIGN_OR_RETURN(Caller caller,
                       auth.Authorize(context, CallerRole::kAdmin));
  if (caller.actor.empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat(kActorMetadataKey, ": required"));
  }
  PAT_RETURN_IF_ERROR(token_rules::ValidateId("plan_id", plan_id));
  return caller.actor;
}

absl::StatusOr<LeakPolicy> PolicyFromProto(v1::LeakPolicy p) {
  switch (p) {
    case v1::LEAK_POLICY_REVOKE:
      return LeakPolicy::kRevoke;
    case v1::LEAK_POLICY_FLAG:
      return LeakPolicy::kFlag;
    default:
      return absl::InvalidArgumentError(
          "policy: must be LEAK_POLICY_REVOKE or LEAK_POLICY_FLAG");
  }
}

v1::LeakPolicy PolicyToProto(LeakPolicy p) {
  return p == LeakPolicy::kFlag ? v1::LEAK_POLICY_FLAG : v1::LEAK_POLICY_REVOKE;
}

absl::Status FieldTooLong(int index, absl::string_view field, int max) {
  return absl::InvalidArgumentError(absl::StrCat(
      "candidates[", index, "].", field, ": must be at most ", max, " bytes"));
}

}  // namespace

grpc::Status LeakIntakeServiceImpl::ReportLeakedSecrets(
    grpc::ServerContext* context, const v1::ReportLeakedSecretsRequest* request,
    v1::ReportLeakedSecretsResponse* response) {
  return ToGrpcStatus(DoReport(context, *request, *response));
}

grpc::Status LeakIntakeServiceImpl::SetLeakPolicy(
    grpc::ServerContext* context, const v1::SetLeakPolicyRequest* request,
    v1::LeakPolicySetting* response) {
  return ToGrpcStatus(DoSetPolicy(context, *request, *response));
}

grpc::Status LeakIntakeServiceImpl::GetLeakPolicy(
    grpc::ServerContext* context, const v1::GetLeakPolicyRequest* request,
    v1::LeakPolicySetting* response) {
  return ToGrpcStatus(DoGetPolicy(context, *request, *response));
}

absl::Status LeakIntakeServiceImpl::DoReport(
    grpc::ServerContext* context, const v1::ReportLeakedSecretsRequest& request,
    v1::ReportLeakedSecretsResponse& response) {
  PAT_ASSIGN_OR_RETURN(Caller caller,
                       auth_.Authorize(context, CallerRole::kPlatform));
  const int n = request.candidates_size();
  if (n < 1 || n > kMaxLeakCandidates) {
    return absl::InvalidArgumentError(absl::StrCat(
        "candidates: must hold 1 to ", kMaxLeakCandidates, " entries"));
  }
  std::vector<LeakCandidate> candidates;
  candidates.reserve(n);
  for (int i = 0; i < n; ++i) {
    const v1::LeakCandidate& c = request.candidates(i);
    // Over-long tokens are answered false_positive by the judge; the other
    // fields are refused rather than silently cut.
    if (c.type().size() > kMaxLeakFieldBytes) {
      return FieldTooLong(i, "type", kMaxLeakFieldBytes);
    }
    if (c.url().size() > kMaxLeakFieldBytes) {
      return FieldTooLong(i, "url", kMaxLeakFieldBytes);
    }
    if (c.source().size() > kMaxLeakFieldBytes) {
      return FieldTooLong(i, "source", kMaxLeakFieldBytes);
    }
    candidates.push_back({c.token(), c.type(), c.url(), c.source()});
  }
  PAT_ASSIGN_OR_RETURN(std::vector<LeakResult> results,
                       judge_.Judge(candidates, caller.identity));
  for (int i = 0; i < n; ++i) {
    v1::LeakCandidateResult* r = response.add_results();
    r->set_index(i);
    r->set_outcome(results[i].verdict == LeakVerdict::kTruePositive
                       ? v1::LEAK_OUTCOME_TRUE_POSITIVE
                       : v1::LEAK_OUTCOME_FALSE_POSITIVE);
    switch (results[i].action) {
      case LeakAction::kNone:
        r->set_action(v1::LEAK_ACTION_NONE);
        break;
      case LeakAction::kRevoked:
        r->set_action(v1::LEAK_ACTION_REVOKED);
        break;
      case LeakAction::kFlagged:
        r->set_action(v1::LEAK_ACTION_FLAGGED);
        break;
    }
  }
  return absl::OkStatus();
}

absl::Status LeakIntakeServiceImpl::DoSetPolicy(
    grpc::ServerContext* context, const v1::SetLeakPolicyRequest& request,
    v1::LeakPolicySetting& response) {
  PAT_ASSIGN_OR_RETURN(std::string actor,
                       PlanAdmin(auth_, context, request.plan_id()));
  PAT_ASSIGN_OR_RETURN(LeakPolicy policy, PolicyFromProto(request.policy()));
  const absl::Time now = token_rules::TruncateToMicros(clock_.Now());
  PlanCheckFn check = [&actor](const Plan& locked) {
    return token_rules::CheckPlanAccess(actor, locked, TierRule::kNotRequired);
  };
  absl::Status s =
      leaks_.SetLeakPolicy(request.plan_id(), policy, actor, now, check);
  if (absl::IsNotFound(s)) return token_rules::PermissionDenied();
  PAT_RETURN_IF_ERROR(s);
  response.set_plan_id(request.plan_id());
  response.set_policy(PolicyToProto(policy));
  return absl::OkStatus();
}

absl::Status LeakIntakeServiceImpl::DoGetPolicy(
    grpc::ServerContext* context, const v1::GetLeakPolicyRequest& request,
    v1::LeakPolicySetting& response) {
  PAT_ASSIGN_OR_RETURN(std::string actor,
                       PlanAdmin(auth_, context, request.plan_id()));
  absl::StatusOr<Plan> plan = tokens_.GetPlan(request.plan_id());
  if (absl::IsNotFound(plan.status())) return token_rules::PermissionDenied();
  PAT_RETURN_IF_ERROR(plan.status());
  PAT_RETURN_IF_ERROR(
      token_rules::CheckPlanAccess(actor, *plan, TierRule::kNotRequired));
  PAT_ASSIGN_OR_RETURN(LeakPolicy policy,
                       leaks_.GetLeakPolicy(request.plan_id()));
  response.set_plan_id(request.plan_id());
  response.set_policy(PolicyToProto(policy));
  return absl::OkStatus();
}

}  // namespace pat
