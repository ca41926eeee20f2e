#include "console/console_service.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "boost/beast/http/verb.hpp"
#include "console/identity.h"
#include "console/local_api.h"
#include "nlohmann/json.hpp"

namespace pat::console {
namespace {

namespace http = boost::beast::http;

constexpr size_t kMaxRateLimitedUsers = 10000;
constexpr absl::string_view kRpcPrefix = "/api/v1/TokenService/";

void SetSecurityHeaders(HttpResponse& res) {
  res.set("content-security-policy", kContentSecurityPolicy);
  res.set("x-content-type-options", "nosniff");
  res.set("x-frame-options", "DENY");
  res.set("referrer-policy", "no-referrer");
  res.set("cross-origin-opener-policy", "same-origin");
  res.set("cross-origin-resource-policy", "same-origin");
  res.set("permissions-policy", "clipboard-write=(self)");
}

HttpResponse JsonResponse(unsigned version, bool keep_alive,
                          const ApiResponse& api) {
  HttpResponse res{static_cast<http::status>(api.status), version};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.set(http::field::pragma, "no-cache");
  res.body() = api.json;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

HttpResponse JsonResponse(const HttpRequest& req, const ApiResponse& api) {
  return JsonResponse(req.version(), req.keep_alive(), api);
}

// Only the path: query strings are never logged.
std::string PathOf(const HttpRequest& req) {
  absl::string_view target(req.target().data(), req.target().size());
  return std::string(target.substr(0, target.find('?')));
}

}  // namespace

ConsoleService::ConsoleService(const ConsoleConfig& config, TokenApi& api,
                               const StaticAssets& assets, const Clock& clock,
                               LogSink log)
    : config_(config),
      api_(api),
      assets_(assets),
      csrf_(config.csrf_key, clock),
      limiter_(config.rate_limit_per_minute, config.rate_limit_burst,
               kMaxRateLimitedUsers, clock),
      log_(std::move(log)) {}

void ConsoleService::Handle(HttpRequest request,
                            const boost::asio::ip::address& peer,
                            Respond respond) {
  const std::string path = PathOf(request);
  const std::string method(request.method_string());
  Respond finish = [this, path, method,
                    respond = std::move(respond)](HttpResponse res) {
    SetSecurityHeaders(res);
    log_(nlohmann::json{{"msg", "request"},
                        {"method", method},
                        {"path", path.substr(0, 256)},
                        {"status", res.result_int()}}
             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    respond(std::move(res));
  };
  if (absl::StartsWith(path, "/api/")) {
    return HandleApi(request, peer, std::move(finish));
  }
  finish(StaticResponse(request));
}

HttpResponse ConsoleService::StaticResponse(const HttpRequest& req) const {
  const std::string path = PathOf(req);
  HttpResponse res{http::status::ok, req.version()};
  res.keep_alive(req.keep_alive());
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    res.result(http::status::method_not_allowed);
    res.set(http::field::allow, "GET, HEAD");
  } else if (path == "/healthz") {
    res.set(http::field::content_type, "text/plain");
    res.body() = "ok\n";
  } else if (const Asset* asset = assets_.Find(path)) {
    res.set(http::field::content_type, asset->content_type);
    res.set(http::field::cache_control, "no-cache");
    res.body() = asset->body;
  } else {
    res.result(http::status::not_found);
    res.set(http::field::content_type, "text/plain");
    res.body() = "not found\n";
  }
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();
  return res;
}

void ConsoleService::HandleApi(const HttpRequest& request,
                               const boost::asio::ip::address& peer,
                               Respond respond) {
  const std::string path = PathOf(request);
  auto answer = [&request, &respond](const ApiResponse& api) {
    respond(JsonResponse(request, api));
  };
  absl::StatusOr<std::string> user =
      IdentifyUser(config_.sign_in, peer, request.base());
  if (!user.ok()) {
    // UNAUTHENTICATED (401) or INVALID_ARGUMENT (400); absl and gRPC share
    // the code numbering.
    return answer(
        ErrorResponse(static_cast<grpc::StatusCode>(user.status().code()),
                      user.status().message()));
  }
  if (!limiter_.Allow(*user)) {
    return answer(ErrorResponse(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                "rate limit: too many requests, slow down"));
  }
  const bool is_get = request.method() == http::verb::get;
  const bool is_post = request.method() == http::verb::post;
  const bool known = path == "/api/session" || path == "/api/scopes" ||
                     path == "/api/links:validate" ||
                     (absl::StartsWith(path, kRpcPrefix) &&
                      TokenApi::HasMethod(path.substr(kRpcPrefix.size())));
  if (!known) {
    return answer(ErrorResponse(grpc::StatusCode::NOT_FOUND, "no such API"));
  }
  const bool wants_get = path == "/api/session" || path == "/api/scopes";
  if ((wants_get && !is_get) || (!wants_get && !is_post)) {
    ApiResponse api =
        ErrorResponse(grpc::StatusCode::UNIMPLEMENTED, "method not allowed");
    api.status = 405;
    HttpResponse res = JsonResponse(request, api);
    res.set(http::field::allow, wants_get ? "GET" : "POST");
    return respond(std::move(res));
  }
  if (path == "/api/session") {
    return answer(ApiResponse{
        200, nlohmann::json{{"user", *user}, {"csrf_token", csrf_.Issue(*user)}}
                 .dump()});
  }
  if (path == "/api/scopes") return answer(ApiResponse{200, ScopesJson()});
  absl::Status csrf =
      CheckStateChangingRequest(csrf_, *user, config_.public_origin, request);
  if (!csrf.ok()) {
    return answer(
        ErrorResponse(grpc::StatusCode::PERMISSION_DENIED, csrf.message()));
  }
  if (path == "/api/links:validate") {
    return answer(ValidateLink(request.body()));
  }
  api_.Call(path.substr(kRpcPrefix.size()), *user, request.body(),
            [version = request.version(), keep_alive = request.keep_alive(),
             respond = std::move(respond)](ApiResponse api) {
              respond(JsonResponse(version, keep_alive, api));
            });
}

}  // namespace pat::console
