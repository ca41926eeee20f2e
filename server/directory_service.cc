#include "server/directory_service.h"

#include "absl/status/status.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "server/proto_convert.h"

namespace pat {

grpc::Status DirectoryServiceImpl::UpsertPlan(
    grpc::ServerContext* context, const v1::UpsertPlanRequest* request,
    v1::Plan* response) {
  return ToGrpcStatus(DoUpsertPlan(context, *request, *response));
}

absl::Status DirectoryServiceImpl::DoUpsertPlan(
    grpc::ServerContext* context, const v1::UpsertPlanRequest& request,
    v1::Plan& response) {
  PAT_RETURN_IF_ERROR(auth_.Authorize(context, CallerRole::kPlatform).status());
  PAT_ASSIGN_OR_RETURN(Plan plan, PlanFromProto(request.plan(), "plan"));
  PAT_ASSIGN_OR_RETURN(Plan stored, directory_.UpsertPlan(plan));
  PlanToProto(stored, &response);
  return absl::OkStatus();
}

grpc::Status DirectoryServiceImpl::UpsertResource(
    grpc::ServerContext* context, const v1::UpsertResourceRequest* request,
    v1::Resource* response) {
  return ToGrpcStatus(DoUpsertResource(context, *request, *response));
}

absl::Status DirectoryServiceImpl::DoUpsertResource(
    grpc::ServerContext* context, const v1::UpsertResourceRequest& request,
    v1::Resource& response) {
  PAT_RETURN_IF_ERROR(auth_.Authorize(context, CallerRole::kPlatform).status());
  PAT_ASSIGN_OR_RETURN(Resource resource,
                       ResourceFromProto(request.resource(), "resource"));
  PAT_ASSIGN_OR_RETURN(Resource stored, directory_.UpsertResource(resource));
  ResourceToProto(stored, &response);
  return absl::OkStatus();
}

grpc::Status DirectoryServiceImpl::DeleteResource(
    grpc::ServerContext* context, const v1::DeleteResourceRequest* request,
    v1::DeleteResourceResponse* response) {
  return ToGrpcStatus(DoDeleteResource(context, *request));
}

absl::Status DirectoryServiceImpl::DoDeleteResource(
    grpc::ServerContext* context, const v1::DeleteResourceRequest& request) {
  PAT_RETURN_IF_ERROR(auth_.Authorize(context, CallerRole::kPlatform).status());
  PAT_ASSIGN_OR_RETURN(ResourceKind kind,
                       ResourceKindFromProto(request.kind(), "kind"));
  return directory_.DeleteResource(kind, request.id());
}

}  // namespace pat
