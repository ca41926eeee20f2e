#include "server/introspection_service.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "server/db_deadline.h"
#include "server/proto_convert.h"
#include "server/watch_stream.h"

namespace pat {
namespace {

constexpr size_t kDigestBytes = 32;
}  // namespace

grpc::ServerUnaryReactor* IntrospectionServiceImpl::ValidateToken(
    grpc::CallbackServerContext* context,
    const v1::ValidateTokenRequest* request,
    v1::ValidateTokenResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status checked =
      auth_.Authorize(context, CallerRole::kSidecar).status();
  if (checked.ok() && request->secret_sha256().size() != kDigestBytes) {
    checked = absl::InvalidArgumentError(
        "secret_sha256: must be the 32-byte SHA-256 of the secret");
  }
  if (!checked.ok()) {
    reactor->Finish(ToGrpcStatus(checked));
    return reactor;
  }
  if (std::optional<absl::StatusOr<ValidateResult>> held =
          introspection_.TryValidateToken(request->secret_sha256())) {
    reactor->Finish(
        ToGrpcStatus(ValidateResponse(*std::move(held), *response)));
    return reactor;
  }
  // The request and response live until Finish; the deadline is copied.
  const std::optional<absl::Time> deadline = RpcDeadline(*context);
  if (options_.validate_batcher == nullptr) {
    const ScopedDbDeadline scoped(deadline);
    reactor->Finish(ToGrpcStatus(ValidateResponse(
        introspection_.ValidateToken(request->secret_sha256()), *response)));
    return reactor;
  }
  if (!options_.validate_batcher->TrySubmit(
          request->secret_sha256(), deadline,
          [reactor, response](absl::StatusOr<ValidateResult> answer) {
            reactor->Finish(
                ToGrpcStatus(ValidateResponse(std::move(answer), *response)));
          })) {
    reactor->Finish(ToGrpcStatus(
        absl::UnavailableError("the authority is busy; retry with backoff")));
  }
  return reactor;
}

absl::Status IntrospectionServiceImpl::ValidateResponse(
    absl::StatusOr<ValidateResult> result,
    v1::ValidateTokenResponse& response) {
  if (absl::IsNotFound(result.status())) {
    response.set_found(false);
    return absl::OkStatus();
  }
  PAT_RETURN_IF_ERROR(result.status());
  response.set_revision(result->revision);
  if (!result->found) {
    response.set_found(false);
    return absl::OkStatus();
  }
  response.set_found(true);
  GrantToProto(result->token, result->status, response.mutable_grant());
  TimeToProto(result->secret_expire_time,
              response.mutable_secret_expire_time());
  return absl::OkStatus();
}

// --- WatchGrants ------------------------------------------------------------

grpc::ServerWriteReactor<grpc::ByteBuffer>*
IntrospectionServiceImpl::WatchGrants(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request) {
  absl::Status checked =
      auth_.Authorize(context, CallerRole::kSidecar).status();
  v1::WatchGrantsRequest parsed;
  grpc::ByteBuffer copy(*request);
  if (checked.ok() &&
      !grpc::SerializationTraits<v1::WatchGrantsRequest>::Deserialize(&copy,
                                                                      &parsed)
           .ok()) {
    checked =
        absl::InvalidArgumentError("the request is not a WatchGrantsRequest");
  }
  if (checked.ok() && parsed.since_revision() < 0) {
    checked =
        absl::InvalidArgumentError("since_revision: must not be negative");
  }
  if (checked.ok() &&
      (options_.fanout == nullptr || options_.watch_workers == nullptr)) {
    checked = absl::InternalError("WatchGrants is not configured");
  }
  if (checked.ok() && parsed.directory_only() &&
      options_.directory_snapshots == nullptr) {
    checked = absl::FailedPreconditionError(
        "directory_only snapshots are not configured on this authority");
  }
  if (!checked.ok()) return new RefusedWatch(ToGrpcStatus(checked));
  WatchStreamDeps deps;
  deps.introspection = &introspection_;
  deps.hub = &feed_;
  deps.fanout = options_.fanout;
  deps.snapshots =
      parsed.directory_only() ? options_.directory_snapshots : &snapshots_;
  deps.workers = options_.watch_workers;
  deps.metrics = options_.metrics;
  deps.heartbeat_interval = options_.heartbeat_interval;
  deps.evict_grace = options_.evict_grace;
  return WatchStream::Start(context, deps, parsed.since_revision());
}

// --- ResolveResource and ReportUsage ----------------------------------------

grpc::Status IntrospectionServiceImpl::ResolveResource(
    grpc::ServerContext* context, const v1::ResolveResourceRequest* request,
    v1::ResolveResourceResponse* response) {
  return ToGrpcStatus(DoResolveResource(context, *request, *response));
}

absl::Status IntrospectionServiceImpl::DoResolveResource(
    grpc::ServerContext* context, const v1::ResolveResourceRequest& request,
    v1::ResolveResourceResponse& response) {
  PAT_RETURN_IF_ERROR(auth_.Authorize(context, CallerRole::kSidecar).status());
  PAT_ASSIGN_OR_RETURN(ResourceKind kind,
                       ResourceKindFromProto(request.kind(), "kind"));
  PAT_ASSIGN_OR_RETURN(std::vector<Resource> chain,
                       introspection_.ResolveResource(kind, request.id()));
  response.set_plan_id(chain.front().plan_id);
  for (const Resource& resource : chain) {
    ResourceToProto(resource, response.add_chain());
  }
  return absl::OkStatus();
}

grpc::Status IntrospectionServiceImpl::ReportUsage(
    grpc::ServerContext* context, const v1::ReportUsageRequest* request,
    v1::ReportUsageResponse* response) {
  return ToGrpcStatus(DoReportUsage(context, *request));
}

absl::Status IntrospectionServiceImpl::DoReportUsage(
    grpc::ServerContext* context, const v1::ReportUsageRequest& request) {
  PAT_RETURN_IF_ERROR(auth_.Authorize(context, CallerRole::kSidecar).status());
  if (request.records_size() > kMaxUsageRecords) {
    return absl::InvalidArgumentError(absl::StrCat(
        "records: at most ", kMaxUsageRecords, " records per call"));
  }
  PAT_ASSIGN_OR_RETURN(std::vector<UsageReport> reports,
                       UsageReportsFromProto(request));
  PAT_RETURN_IF_ERROR(introspection_.ReportUsage(std::move(reports)));
  if (options_.usage == nullptr) return absl::OkStatus();
  return options_.usage->Record(request);
}

}  // namespace pat
