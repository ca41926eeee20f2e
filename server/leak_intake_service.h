#ifndef PAT_SERVER_LEAK_INTAKE_SERVICE_H_
#define PAT_SERVER_LEAK_INTAKE_SERVICE_H_

#include "absl/status/status.h"
#include "common/clock.h"
#include "pat/v1/leak_intake.grpc.pb.h"
#include "server/caller_auth.h"
#include "server/leak_judge.h"
#include "server/leak_store.h"
#include "server/token_store.h"

// pat.v1.LeakIntakeService (proto/pat/v1/leak_intake.proto):
//   ReportLeakedSecrets  platform role; 1..kMaxLeakCandidates candidates,
//                        answered by index (never the secret, never a token
//                        id); the audit actor is "leak-intake:<caller
//                        identity>".
//   SetLeakPolicy,       admin role, on behalf of x-pat-actor, who must be an
//   GetLeakPolicy        admin of the plan (PERMISSION_DENIED otherwise, the
//                        same for a plan that does not exist); any tier.
namespace pat {

class LeakIntakeServiceImpl final : public v1::LeakIntakeService::Service {
 public:
  // Everything must outlive the service.
  LeakIntakeServiceImpl(LeakJudge& judge, TokenStore& tokens, LeakStore& leaks,
                        const CallerAuth& auth, const Clock& clock)
      : judge_(judge),
        tokens_(tokens),
        leaks_(leaks),
        auth_(auth),
        clock_(clock) {}

  grpc::Status ReportLeakedSecrets(
      grpc::ServerContext* context, const v1::ReportLeakedSecretsRequest* request,
      v1::ReportLeakedSecretsResponse* response) override;
  grpc::Status SetLeakPolicy(grpc::ServerContext* context,
                             const v1::SetLeakPolicyRequest* request,
                             v1::LeakPolicySetting* response) override;
  grpc::Status GetLeakPolicy(grpc::ServerContext* context,
                             const v1::GetLeakPolicyRequest* request,
                             v1::LeakPolicySetting* response) override;

 private:
  absl::Status DoReport(grpc::ServerContext* context,
                        const v1::ReportLeakedSecretsRequest& request,
                        v1::ReportLeakedSecretsResponse& response);
  absl::Status DoSetPolicy(grpc::ServerContext* context,
                           const v1::SetLeakPolicyRequest& request,
                           v1::LeakPolicySetting& response);
  absl::Status DoGetPolicy(grpc::ServerContext* context,
                           const v1::GetLeakPolicyRequest& request,
                           v1::LeakPolicySetting& response);

  LeakJudge& judge_;
  TokenStore& tokens_;
  LeakStore& leaks_;
  const CallerAuth& auth_;
  const Clock& clock_;
};

}  // namespace pat

#endif  // PAT_SERVER_LEAK_INTAKE_SERVICE_H_
