#ifndef PAT_COMMON_GRPC_STATUS_H_
#define PAT_COMMON_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace pat {

// The single mapping between domain statuses and gRPC statuses. The message is
// passed through unchanged: domain code must never put internal detail (SQL
// text, secrets) into a status message.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace pat

#endif  // PAT_COMMON_GRPC_STATUS_H_
