#ifndef PAT_SERVER_RPC_OBSERVER_H_
#define PAT_SERVER_RPC_OBSERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "grpcpp/support/server_interceptor.h"
#include "server/authority_metrics.h"
#include "server/caller_auth.h"

// A gRPC server interceptor that observes every RPC: metrics
// (AuthorityMetrics::RecordRpc, lifecycle actions) and one JSON access-log
// line per RPC on stderr, written when its status is sent:
//
//   {"msg":"rpc","service":"pat.v1.TokenService","method":"CreateToken",
//    "code":"OK","latency_ms":3.2,"caller":"spiffe://pat/console",
//    "actor":"alice","plan_id":"1234567890","token_id":"tok_..."}
//
// Only these fields are ever read from requests and responses: plan_id and
// token_id (request fields of those names, plan.id / resource.plan_id of
// DirectoryService requests, or the response's token.id / token.plan_id) and
// `replayed`. Secrets, digests (secret_sha256), page
// tokens and request bodies are never read, so they cannot reach the log.
// The caller is the configured certificate SAN that matched, or
// "unconfigured:<first SAN>", or "insecure". Fields absent from an RPC are
// omitted.
namespace pat {

// Writes one access-log line (a JSON object, no newline inside).
using AccessLogSink = std::function<void(const std::string& line)>;

class RpcObserverFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `metrics` and `auth` must outlive every RPC. `sink` defaults to a line
  // on stderr.
  RpcObserverFactory(AuthorityMetrics& metrics, const CallerAuth& auth,
                     AccessLogSink sink = nullptr);

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  AuthorityMetrics& metrics_;
  const CallerAuth& auth_;
  AccessLogSink sink_;
};

}  // namespace pat

#endif  // PAT_SERVER_RPC_OBSERVER_H_
