#ifndef PAT_SERVER_DIRECTORY_SERVICE_H_
#define PAT_SERVER_DIRECTORY_SERVICE_H_

#include "grpcpp/grpcpp.h"
#include "pat/v1/pat.grpc.pb.h"
#include "server/caller_auth.h"
#include "server/plan_directory.h"

namespace pat {

// pat.v1.DirectoryService: plans and the resource directory, written by the
// platform's own services. Every RPC requires a caller with the platform
// role; there is no actor. Requests are converted with server/proto_convert.h
// and handed to the PlanDirectory. Thread-safe; `directory` and `auth` must
// outlive the service.
class DirectoryServiceImpl final : public v1::DirectoryService::Service {
 public:
  DirectoryServiceImpl(PlanDirectory& directory, const CallerAuth& auth)
      : directory_(directory), auth_(auth) {}

  grpc::Status UpsertPlan(grpc::ServerContext* context,
                          const v1::UpsertPlanRequest* request,
                          v1::Plan* response) override;
  grpc::Status UpsertResource(grpc::ServerContext* context,
                              const v1::UpsertResourceRequest* request,
                              v1::Resource* response) override;
  grpc::Status DeleteResource(grpc::ServerContext* context,
                              const v1::DeleteResourceRequest* request,
                              v1::DeleteResourceResponse* response) override;

 private:
  absl::Status DoUpsertPlan(grpc::ServerContext* context,
                            const v1::UpsertPlanRequest& request,
                            v1::Plan& response);
  absl::Status DoUpsertResource(grpc::ServerContext* context,
                                const v1::UpsertResourceRequest& request,
                                v1::Resource& response);
  absl::Status DoDeleteResource(grpc::ServerContext* context,
                                const v1::DeleteResourceRequest& request);

  PlanDirectory& directory_;
  const CallerAuth& auth_;
};

}  // namespace pat

#endif  // PAT_SERVER_DIRECTORY_SERVICE_H_
