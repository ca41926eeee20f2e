#include "console/token_api.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace pat::console {
namespace {

using Async = v1::TokenService::StubInterface::async_interface;

template <class Req, class Resp>
using AsyncMethod = void (Async::*)(grpc::ClientContext*, const Req*, Resp*,
                                    std::function<void(grpc::Status)>);

unsigned HttpStatusFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::CANCELLED:
      return 499;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return 400;
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
      return 409;
    case grpc::StatusCode::ABORTED:
      return 409;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::FAILED_PRECONDITION:
      return 412;
    case grpc::StatusCode::UNIMPLEMENTED:
      return 501;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    default:
      return 500;
  }
}

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    default:
      return "INTERNAL";
  }
}

// What a client may see of an authority error: the authority's messages are
// written for clients (and redacted there); transport-level and internal
// detail is replaced.
std::string ClientMessage(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::DATA_LOSS:
      return "internal error";
    case grpc::StatusCode::UNAVAILABLE:
      return "the token authority is unavailable, try again";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "the token authority did not answer in time, try again";
    default:
      return status.error_message().substr(0, 1024);
  }
}

google::protobuf::util::JsonPrintOptions PrintOptions() {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;
  return o;
}

}  // namespace

struct TokenApi::Impl {
  template <class Req, class Resp>
  static void Invoke(TokenApi& api, AsyncMethod<Req, Resp> method,
                     absl::string_view actor, absl::string_view body,
                     ApiCallback done) {
    struct CallState {
      grpc::ClientContext context;
      Req request;
      Resp response;
    };
    auto call = std::make_shared<CallState>();
    google::protobuf::util::JsonParseOptions parse;
    parse.ignore_unknown_fields = false;
    const absl::string_view json = body.empty() ? "{}" : body;
    auto parsed = google::protobuf::util::JsonStringToMessage(
        std::string(json), &call->request, parse);
    if (!parsed.ok()) {
      done(ErrorResponse(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("request body: not a ",
                       call->request.GetDescriptor()->name(), ": ",
                       std::string(parsed.message()).substr(0, 200))));
      return;
    }
    if (api.inflight_.fetch_add(1) >= api.max_inflight_) {
      api.inflight_.fetch_sub(1);
      done(ErrorResponse(grpc::StatusCode::UNAVAILABLE,
                         "console busy, try again"));
      return;
    }
    call->context.set_deadline(std::chrono::system_clock::now() +
                               absl::ToChronoNanoseconds(api.timeout_));
    call->context.AddMetadata("x-pat-actor", std::string(actor));
    TokenApi* self = &api;
    (api.stub_->async()->*method)(
        &call->context, &call->request, &call->response,
        [self, call, done = std::move(done)](grpc::Status status) {
          self->inflight_.fetch_sub(1);
          if (!status.ok()) {
            done(ErrorResponse(status.error_code(), ClientMessage(status)));
            return;
          }
          ApiResponse out;
          auto printed = google::protobuf::util::MessageToJsonString(
              call->response, &out.json, PrintOptions());
          if (!printed.ok()) {
            done(ErrorResponse(grpc::StatusCode::INTERNAL, "internal error"));
            return;
          }
          done(std::move(out));
        });
  }
};

TokenApi::TokenApi(std::shared_ptr<v1::TokenService::StubInterface> stub,
                   absl::Duration timeout, int max_inflight)
    : stub_(std::move(stub)), timeout_(timeout), max_inflight_(max_inflight) {}

bool TokenApi::HasMethod(absl::string_view method) {
  const auto* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          "pat.v1.TokenService");
  return service != nullptr &&
         service->FindMethodByName(std::string(method)) != nullptr;
}

void TokenApi::Call(absl::string_view method, absl::string_view actor,
                    absl::string_view body, ApiCallback done) {
  using v1::TokenService;
  // One line per RPC: the only per-method code is the method's name.
#define PAT_CONSOLE_RPC(Name, Req, Resp)                                     \
  if (method == #Name) {                                                     \
    return Impl::Invoke<v1::Req, v1::Resp>(*this, &Async::Name, actor, body, \
                                           std::move(done));                 \
  }
  PAT_CONSOLE_RPC(ListPlans, ListPlansRequest, ListPlansResponse)
  PAT_CONSOLE_RPC(CreateToken, CreateTokenRequest, CreateTokenResponse)
  PAT_CONSOLE_RPC(GetToken, GetTokenRequest, Token)
  PAT_CONSOLE_RPC(ListTokens, ListTokensRequest, ListTokensResponse)
  PAT_CONSOLE_RPC(UpdateToken, UpdateTokenRequest, Token)
  PAT_CONSOLE_RPC(RefreshToken, RefreshTokenRequest, RefreshTokenResponse)
  PAT_CONSOLE_RPC(RevokeToken, RevokeTokenRequest, Token)
  PAT_CONSOLE_RPC(ListAuditEvents, ListAuditEventsRequest,
                  ListAuditEventsResponse)
  PAT_CONSOLE_RPC(CheckAccess, CheckAccessRequest, CheckAccessResponse)
  PAT_CONSOLE_RPC(GetTokenUsageReport, GetTokenUsageReportRequest,
                  TokenUsageReport)
#undef PAT_CONSOLE_RPC
  done(ErrorResponse(grpc::StatusCode::NOT_FOUND,
                     "no such TokenService method"));
}

std::string FieldOfMessage(absl::string_view message) {
  const size_t colon = message.find(": ");
  if (colon == absl::string_view::npos || colon == 0 || colon > 64) return "";
  const absl::string_view field = message.substr(0, colon);
  for (char c : field) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_' &&
        c != '.' && c != '[' && c != ']') {
      return "";
    }
  }
  return std::string(field);
}

ApiResponse ErrorResponse(grpc::StatusCode code, absl::string_view message) {
  nlohmann::json error = {{"code", CodeName(code)},
                          {"message", std::string(message)}};
  const std::string field = FieldOfMessage(message);
  if (!field.empty()) error["field"] = field;
  ApiResponse out;
  out.status = HttpStatusFor(code);
  out.json = nlohmann::json{{"error", error}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  return out;
}

std::shared_ptr<grpc::Channel> MakeAuthorityChannel(
    const std::string& target, bool insecure, const std::string& ca_pem,
    const std::string& cert_pem, const std::string& key_pem,
    const std::string& server_name) {
  grpc::ChannelArguments args;
  if (insecure) {
    return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(),
                                     args);
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ca_pem;
  ssl.pem_cert_chain = cert_pem;
  ssl.pem_private_key = key_pem;
  if (!server_name.empty()) {
    args.SetSslTargetNameOverride(server_name);
  }
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(ssl), args);
}

}  // namespace pat::console
