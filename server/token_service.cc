#include "server/token_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "server/proto_convert.h"

namespace pat {

absl::StatusOr<Caller> TokenServiceImpl::Admit(grpc::ServerContext* context) {
  PAT_ASSIGN_OR_RETURN(Caller caller,
                       auth_.Authorize(context, CallerRole::kAdmin));
  PAT_RETURN_IF_ERROR(limits_.Admit(*context, caller));
  return caller;
}

void TokenServiceImpl::WriteToken(const Token& token, v1::Token* out) const {
  TokenToProto(token, StatusAt(token, lifecycle_.Now()), out);
}

grpc::Status TokenServiceImpl::ListPlans(grpc::ServerContext* context,
                                         const v1::ListPlansRequest* request,
                                         v1::ListPlansResponse* response) {
  return ToGrpcStatus(DoListPlans(context, *response));
}

absl::Status TokenServiceImpl::DoListPlans(grpc::ServerContext* context,
                                           v1::ListPlansResponse& response) {
  PAT_ASSIGN_OR_RETURN(Caller caller, Admit(context));
  PAT_ASSIGN_OR_RETURN(std::vector<Plan> plans,
                       lifecycle_.ListPlans(caller.actor));
  for (const Plan& plan : plans) PlanToProto(plan, response.add_plans());
  return absl::OkStatus();
}

grpc::Status TokenServiceImpl::CreateToken(
    grpc::ServerContext* context, const v1::CreateTokenRequest* request,
    v1::CreateTokenResponse* response) {
  return ToGrpcStatus(DoCreateToken(context, *request, *response));
}

absl::Status TokenServiceImpl::DoCreateToken(
    grpc::ServerContext* context, const v1::CreateTokenRequest& request,
    v1::CreateTokenResponse& response) {
  PAT_ASSIGN_OR_RETURN(Caller caller, Admit(context));
  PAT_ASSIGN_OR_RETURN(CreateTokenParams params,
                       CreateTokenParamsFromProto(request));
  PAT_ASSIGN_OR_RETURN(CreateTokenResult result,
                       lifecycle_.CreateToken(caller.actor, params));
  WriteToken(result.token, response.mutable_token());
  response.set_secret(std::move(result.secret));
  response.set_replayed(result.replayed);
  return absl::OkStatus();
}

grpc::Status TokenServiceImpl::GetToken(grpc::ServerContext* context,
                                        const v1::GetTokenRequest* request,
                                        v1::Token* response) {
  return ToGrpcStatus(DoGetToken(context, *request, *response));
}

absl::Status TokenServiceImpl::DoGetToken(grpc::ServerContext* context,
                                          const v1::GetTokenRequest& request,
                                          v1::Token& response) {
  PAT_ASSIGN_OR_RETURN(Caller caller, Admit(context));
  PAT_ASSIGN_OR_RETURN(
      Token token,
      lifecycle_.GetToken(caller.actor, request.plan_id(), request.token_id()));
  WriteToken(token, &response);
  return absl::OkStatus();
}

grpc::Status TokenServiceImpl::ListTokens(grpc::ServerContext* context,
                                          const v1::ListTokensRequest* request,
                                          v1::ListTokensResponse* response) {
  return ToGrpcStatus(DoListTokens(context, *request, *response));
}

absl::Status TokenServiceImpl::DoListTokens(
    grpc::ServerContext* context, const v1::ListTokensRequest& request,
    v1::ListTokensResponse& response) {
  PAT_ASSIGN_OR_RETURN(Caller caller, Admit(context));
  PAT_ASSIGN_OR_RETURN(ListTokensParams params,
                       ListTokensParamsFromProto(request));
  PAT_ASSIGN_OR_RETURN(TokenPage page,
                       lifecycle_.ListTokens(caller.actor, params));
  for (const Token& token : page.tokens) {
    WriteToken(token, response.add_tokens());
  }
  response.set_next_page_token(std::move(page.next_page_token));
  return absl::OkStatus();
}

grpc::Status TokenServiceImpl::UpdateToken(
    grpc::ServerContext* context, const v1::UpdateTokenRequest* request,
    v1::Token* response) {
  return ToGrpcStatus(DoUpdateToken(context, *request, *response));
}

absl::Status TokenServiceImpl::DoUpdateToken(
    grpc::ServerContext* context, const v1::UpdateTokenRequest& request,
    v1::Token& response) {
  PAT_ASSIGN_OR_RETURN(Caller caller, Admit(context));
  PAT_ASSIGN_OR_RETURN(UpdateTokenParams params,
                       UpdateTokenParamsFromProto(request));
  PAT_ASSIGN_OR_RETURN(Token token,
                       lifecycle_.UpdateToken(caller.actor, params));
  WriteToken(token, &response);
  return absl::OkStatus();
}

grpc::Status TokenServiceImpl::RefreshToken(
    grpc::ServerContext* context, const v1::RefreshTokenRequest* request,
    v1::RefreshTokenResponse* response) {
  return ToGrpcStatus(DoRefreshToken(context, *request, *response));
}

absl::Status TokenServiceImpl::DoRefreshToken(
    grpc::ServerContext* context, const v1::RefreshTokenRequest& request,
    v1::RefreshTokenResponse& response) {
  PAT_ASSIGN_OR_RETURN(Caller caller, Admit(context));
  PAT_ASSIGN_OR_RETURN(
      RefreshTokenResult result,
      lifecycle_.RefreshToken(caller.actor, request.plan_id(),
                              request.token_id(), request.request_id()));
  WriteToken(result.token, response.mutable_token());
  response.set_secret(std::move(result.secret));
  TimeToProto(result.previous_secret_expire_time,
              response.mutable_previous_secret_expire_time());
  response.set_replayed(result.replayed);
  return absl::OkStatus();
}

grpc::Status TokenServiceImpl::RevokeToken(
    grpc::ServerContext* context, const v1::RevokeTokenRequest* request,
    v1::Token* response) {
  return ToGrpcStatus(DoRevokeToken(context, *request, *response));
}

absl::Status TokenServiceImpl::DoRevokeToken(
    grpc::ServerContext* context, const v1::RevokeTokenRequest& request,
    v1::Token& response) {
  PAT_ASSIGN_OR_RETURN(Caller caller, Admit(context));
  PAT_ASSIGN_OR_RETURN(Token token,
                       lifecycle_.RevokeToken(caller.actor, request.plan_id(),
                                              request.token_id()));
  WriteToken(token, &response);
  return absl::OkStatus();
}

grpc::Status TokenServiceImpl::ListAuditEvents(
    grpc::ServerContext* context, const v1::ListAuditEventsRequest* request,
    v1::ListAuditEventsResponse* response) {
  return ToGrpcStatus(DoListAuditEvents(context, *request, *response));
}

absl::Status TokenServiceImpl::DoListAuditEvents(
    grpc::ServerContext* context, const v1::ListAuditEventsRequest& request,
    v1::ListAuditEventsResponse& response) {
  PAT_ASSIGN_OR_RETURN(Caller caller, Admit(context));
  PAT_ASSIGN_OR_RETURN(AuditPage page,
                       lifecycle_.ListAuditEvents(
                           caller.actor, request.plan_id(), request.token_id(),
                           request.page_size(), request.page_token()));
  for (const AuditEvent& event : page.events) {
    AuditEventToProto(event, response.add_events());
  }
  response.set_next_page_token(std::move(page.next_page_token));
  return absl::OkStatus();
}

grpc::Status TokenServiceImpl::CheckAccess(
    grpc::ServerContext* context, const v1::CheckAccessRequest* request,
    v1::CheckAccessResponse* response) {
  return ToGrpcStatus(DoCheckAccess(context, *request, *response));
}

absl::Status TokenServiceImpl::DoCheckAccess(
    grpc::ServerContext* context, const v1::CheckAccessRequest& request,
    v1::CheckAccessResponse& response) {
  PAT_ASSIGN_OR_RETURN(Caller caller, Admit(context));
  PAT_ASSIGN_OR_RETURN(CheckAccessParams params,
                       CheckAccessParamsFromProto(request));
  // The same authorization as every token RPC (R2) comes first, inside.
  PAT_ASSIGN_OR_RETURN(CheckAccessResult result,
                       access_.CheckAccess(caller.actor, params));
  response.set_allowed(result.allowed);
  response.set_reason(std::move(result.reason));
  response.set_detail(std::move(result.detail));
  return absl::OkStatus();
}

grpc::Status TokenServiceImpl::GetTokenUsageReport(
    grpc::ServerContext* context,
    const v1::GetTokenUsageReportRequest* request,
    v1::TokenUsageReport* response) {
  absl::StatusOr<Caller> caller = Admit(context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (usage_ == nullptr) {
    return ToGrpcStatus(
        absl::FailedPreconditionError("usage reports are not configured"));
  }
  return ToGrpcStatus(usage_->Report(caller->actor, *request, *response));
}

}  // namespace pat
