#include "server/introspection_service.h"

#include "absl/status/status.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "server/proto_convert.h"

namespace pat {
namespace {

constexpr size_t kDigestBytes = 32;

}  // namespace

grpc::Status IntrospectionServiceImpl::ValidateToken(
    grpc::ServerContext* context, const v1::ValidateTokenRequest* request,
    v1::ValidateTokenResponse* response) {
  return ToGrpcStatus(DoValidateToken(context, *request, *response));
}

absl::Status IntrospectionServiceImpl::DoValidateToken(
    grpc::ServerContext* context, const v1::ValidateTokenRequest& request,
    v1::ValidateTokenResponse& response) {
  PAT_RETURN_IF_ERROR(auth_.Authorize(context, CallerRole::kSidecar).status());
  if (request.secret_sha256().size() != kDigestBytes) {
    return absl::InvalidArgumentError(
        "secret_sha256: must be the 32-byte SHA-256 of the secret");
  }
  absl::StatusOr<ValidateResult> result =
      manager_.ValidateToken(request.secret_sha256());
  if (absl::IsNotFound(result.status()) || (result.ok() && !result->found)) {
    response.set_found(false);
    return absl::OkStatus();
  }
  PAT_RETURN_IF_ERROR(result.status());
  response.set_found(true);
  GrantToProto(result->token, result->status, response.mutable_grant());
  TimeToProto(result->secret_expire_time,
              response.mutable_secret_expire_time());
  return absl::OkStatus();
}

absl::Status IntrospectionServiceImpl::NotYet(grpc::ServerContext* context) {
  PAT_RETURN_IF_ERROR(auth_.Authorize(context, CallerRole::kSidecar).status());
  return absl::UnimplementedError("arrives with the sidecar (issue 3)");
}

grpc::Status IntrospectionServiceImpl::WatchGrants(
    grpc::ServerContext* context, const v1::WatchGrantsRequest* request,
    grpc::ServerWriter<v1::WatchGrantsResponse>* writer) {
  return ToGrpcStatus(NotYet(context));
}

grpc::Status IntrospectionServiceImpl::ResolveResource(
    grpc::ServerContext* context, const v1::ResolveResourceRequest* request,
    v1::ResolveResourceResponse* response) {
  return ToGrpcStatus(NotYet(context));
}

grpc::Status IntrospectionServiceImpl::ReportUsage(
    grpc::ServerContext* context, const v1::ReportUsageRequest* request,
    v1::ReportUsageResponse* response) {
  return ToGrpcStatus(NotYet(context));
}

}  // namespace pat
