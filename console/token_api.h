#ifndef PAT_CONSOLE_TOKEN_API_H_
#define PAT_CONSOLE_TOKEN_API_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "pat/v1/pat.grpc.pb.h"

// The console's JSON API onto pat.v1.TokenService, one to one:
//
//   POST /api/v1/TokenService/<Rpc>   body: the request message as JSON
//   200                               body: the response message as JSON
//
// Requests and responses use protobuf's JSON mapping (JsonStringToMessage /
// MessageToJsonString with proto field names, enums by name, default values
// printed); there is no per-field code. Unknown fields are INVALID_ARGUMENT.
// Calls are asynchronous (gRPC callback API) with a deadline, carry the
// signed-in user as `x-pat-actor`, and at most `max_inflight` run at once
// (more: 503 UNAVAILABLE "console busy"). The callback runs on a gRPC
// thread and must not block.
//
// Errors: {"error":{"code":"INVALID_ARGUMENT","message":"...","field":"name"}}
// with the HTTP status of the gRPC-HTTP mapping (400, 401, 403, 404, 409,
// 412 for FAILED_PRECONDITION, 429, 499, 500, 501, 503, 504). `field` is the
// request field the authority's message names ("expires_in_days",
// "resource_links[2]"), when it names one.
namespace pat::console {

struct ApiResponse {
  unsigned status = 200;
  std::string json;
};

using ApiCallback = std::function<void(ApiResponse)>;

class TokenApi {
 public:
  TokenApi(std::shared_ptr<v1::TokenService::StubInterface> stub,
           absl::Duration timeout, int max_inflight);

  // True for the TokenService RPC names.
  static bool HasMethod(absl::string_view method);

  // Calls `method` as `actor` with the JSON request `body`; `done` is called
  // exactly once (possibly before Call returns, for local errors).
  void Call(absl::string_view method, absl::string_view actor,
            absl::string_view body, ApiCallback done);

  int inflight() const { return inflight_.load(); }

  struct Impl;  // per-method plumbing (token_api.cc)

 private:
  std::shared_ptr<v1::TokenService::StubInterface> stub_;
  const absl::Duration timeout_;
  const int max_inflight_;
  std::atomic<int> inflight_{0};
};

// {"error":{"code":...,"message":...[,"field":...]}} and the HTTP status for
// `code`. Exposed for the console's own errors (sign-in, CSRF, limits).
ApiResponse ErrorResponse(grpc::StatusCode code, absl::string_view message);

// The field a "field: rule" message names, or "" (pure).
std::string FieldOfMessage(absl::string_view message);

// Creates the channel to the authority (mTLS with the given PEMs, or
// plaintext when `insecure`).
std::shared_ptr<grpc::Channel> MakeAuthorityChannel(
    const std::string& target, bool insecure, const std::string& ca_pem,
    const std::string& cert_pem, const std::string& key_pem,
    const std::string& server_name);

}  // namespace pat::console

#endif  // PAT_CONSOLE_TOKEN_API_H_
