#ifndef PAT_SERVER_INTROSPECTION_SERVICE_H_
#define PAT_SERVER_INTROSPECTION_SERVICE_H_

#include "grpcpp/grpcpp.h"
#include "pat/v1/pat.grpc.pb.h"
#include "server/caller_auth.h"
#include "server/token_manager.h"

namespace pat {

// pat.v1.IntrospectionService: what sidecars ask. Every RPC requires a
// caller with the sidecar role. Thread-safe; `manager` and `auth` must
// outlive the service.
class IntrospectionServiceImpl final
    : public v1::IntrospectionService::Service {
 public:
  IntrospectionServiceImpl(TokenManager& manager, const CallerAuth& auth)
      : manager_(manager), auth_(auth) {}

  // INVALID_ARGUMENT unless secret_sha256 is 32 bytes. found=false for a
  // digest no token has; otherwise the token's grant (with its status now,
  // so revoked and expired tokens are reported as such) and when this
  // particular secret stops working.
  grpc::Status ValidateToken(grpc::ServerContext* context,
                             const v1::ValidateTokenRequest* request,
                             v1::ValidateTokenResponse* response) override;
  // The following return UNIMPLEMENTED until the sidecar lands (issue 3).
  grpc::Status WatchGrants(
      grpc::ServerContext* context, const v1::WatchGrantsRequest* request,
      grpc::ServerWriter<v1::WatchGrantsResponse>* writer) override;
  grpc::Status ResolveResource(grpc::ServerContext* context,
                               const v1::ResolveResourceRequest* request,
                               v1::ResolveResourceResponse* response) override;
  grpc::Status ReportUsage(grpc::ServerContext* context,
                           const v1::ReportUsageRequest* request,
                           v1::ReportUsageResponse* response) override;

 private:
  absl::Status DoValidateToken(grpc::ServerContext* context,
                               const v1::ValidateTokenRequest& request,
                               v1::ValidateTokenResponse& response);
  absl::Status NotYet(grpc::ServerContext* context);

  TokenManager& manager_;
  const CallerAuth& auth_;
};

}  // namespace pat

#endif  // PAT_SERVER_INTROSPECTION_SERVICE_H_
