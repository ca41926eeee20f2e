#ifndef PAT_SERVER_TOKEN_SERVICE_H_
#define PAT_SERVER_TOKEN_SERVICE_H_

#include "grpcpp/grpcpp.h"
#include "pat/v1/pat.grpc.pb.h"
#include "server/access_checker.h"
#include "server/caller_auth.h"
#include "server/token_lifecycle.h"
#include "server/token_service_limits.h"
#include "server/usage_rpc.h"

namespace pat {

// pat.v1.TokenService: the admin token lifecycle. Every RPC requires a caller
// with the admin role; the actor is the `x-pat-actor` metadata (see
// CallerAuth), and the caller and the actor are rate limited (see
// TokenServiceLimits) before any other work. Requests are converted with
// server/proto_convert.h and handed to the TokenLifecycle (CheckAccess: the
// AccessChecker), whose statuses are returned through ToGrpcStatus. Nothing
// here logs: responses of CreateToken and RefreshToken carry a secret.
// Thread-safe; `lifecycle`, `access`, `auth` and `limits` must outlive the
// service.
class TokenServiceImpl final : public v1::TokenService::Service {
 public:
  TokenServiceImpl(TokenLifecycle& lifecycle, AccessChecker& access,
                   const CallerAuth& auth, TokenServiceLimits& limits,
                   usage::UsageService* usage = nullptr)
      : lifecycle_(lifecycle),
        access_(access),
        auth_(auth),
        limits_(limits),
        usage_(usage) {}

  grpc::Status ListPlans(grpc::ServerContext* context,
                         const v1::ListPlansRequest* request,
                         v1::ListPlansResponse* response) override;
  grpc::Status CreateToken(grpc::ServerContext* context,
                           const v1::CreateTokenRequest* request,
                           v1::CreateTokenResponse* response) override;
  grpc::Status GetToken(grpc::ServerContext* context,
                        const v1::GetTokenRequest* request,
                        v1::Token* response) override;
  grpc::Status ListTokens(grpc::ServerContext* context,
                          const v1::ListTokensRequest* request,
                          v1::ListTokensResponse* response) override;
  grpc::Status UpdateToken(grpc::ServerContext* context,
                           const v1::UpdateTokenRequest* request,
                           v1::Token* response) override;
  grpc::Status RefreshToken(grpc::ServerContext* context,
                            const v1::RefreshTokenRequest* request,
                            v1::RefreshTokenResponse* response) override;
  grpc::Status RevokeToken(grpc::ServerContext* context,
                           const v1::RevokeTokenRequest* request,
                           v1::Token* response) override;
  grpc::Status ListAuditEvents(grpc::ServerContext* context,
                               const v1::ListAuditEventsRequest* request,
                               v1::ListAuditEventsResponse* response) override;
  // Authorizes the caller and the actor on the token (as GetToken), then
  // answers with the sidecar's decision for the token, method and path (see
  // AccessChecker::CheckAccess): allowed, the reason code, a detail.
  grpc::Status CheckAccess(grpc::ServerContext* context,
                           const v1::CheckAccessRequest* request,
                           v1::CheckAccessResponse* response) override;
  // The least-privilege report (usage::UsageService::Report).
  grpc::Status GetTokenUsageReport(
      grpc::ServerContext* context,
      const v1::GetTokenUsageReportRequest* request,
      v1::TokenUsageReport* response) override;

 private:
  absl::Status DoListPlans(grpc::ServerContext* context,
                           v1::ListPlansResponse& response);
  absl::Status DoCreateToken(grpc::ServerContext* context,
                             const v1::CreateTokenRequest& request,
                             v1::CreateTokenResponse& response);
  absl::Status DoGetToken(grpc::ServerContext* context,
                          const v1::GetTokenRequest& request,
                          v1::Token& response);
  absl::Status DoListTokens(grpc::ServerContext* context,
                            const v1::ListTokensRequest& request,
                            v1::ListTokensResponse& response);
  absl::Status DoUpdateToken(grpc::ServerContext* context,
                             const v1::UpdateTokenRequest& request,
                             v1::Token& response);
  absl::Status DoRefreshToken(grpc::ServerContext* context,
                              const v1::RefreshTokenRequest& request,
                              v1::RefreshTokenResponse& response);
  absl::Status DoRevokeToken(grpc::ServerContext* context,
                             const v1::RevokeTokenRequest& request,
                             v1::Token& response);
  absl::Status DoListAuditEvents(grpc::ServerContext* context,
                                 const v1::ListAuditEventsRequest& request,
                                 v1::ListAuditEventsResponse& response);
  absl::Status DoCheckAccess(grpc::ServerContext* context,
                             const v1::CheckAccessRequest& request,
                             v1::CheckAccessResponse& response);

  // The first step of every RPC: the admin caller (CallerAuth::Authorize),
  // admitted by the rate limits (TokenServiceLimits::Admit).
  absl::StatusOr<Caller> Admit(grpc::ServerContext* context);

  // Writes `token` with its status as of now.
  void WriteToken(const Token& token, v1::Token* out) const;

  TokenLifecycle& lifecycle_;
  AccessChecker& access_;
  const CallerAuth& auth_;
  TokenServiceLimits& limits_;
  usage::UsageService* const usage_;  // may be null: FAILED_PRECONDITION
};

}  // namespace pat

#endif  // PAT_SERVER_TOKEN_SERVICE_H_
