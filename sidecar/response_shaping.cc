#include "sidecar/response_shaping.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "common/policy/policy.h"
#include "sidecar/front_text.h"

namespace pat::sidecar {
namespace {

namespace http = boost::beast::http;

boost::beast::string_view BV(absl::string_view s) {
  return {s.data(), s.size()};
}

LocalResponse JsonResponse(unsigned status, std::string body,
                           absl::string_view request_id, unsigned version,
                           bool keep_alive) {
  LocalResponse res;
  res.version(version == 10 ? 10 : 11);
  res.result(status);
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.set("X-Request-Id", BV(request_id));
  res.body() = std::move(body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

}  // namespace

Refusal RefusalFrom(const AuthzResult& result) {
  Refusal r;
  r.reason = result.allowed() ? policy::Reason::kInternalError : result.reason;
  r.retry_after_seconds = result.retry_after_seconds;
  r.endpoint = result.endpoint;
  absl::string_view detail = result.message;
  const absl::string_view fixed = policy::ReasonMessage(r.reason);
  if (absl::ConsumePrefix(&detail, fixed)) {
    if (!detail.empty() && !absl::ConsumePrefix(&detail, ": ")) {
      detail = result.message;
    }
  }
  r.detail = std::string(detail);
  return r;
}

// npm 11 never reads the body of a 401 that carries a Bearer challenge (it
// logs "Unable to authenticate, need: <challenge>"), and pnpm prints only the
// status line's reason phrase. So in npm mode both carry pat's reason, built
// from fixed strings only (never request data): RFC 6750 error_description,
// and "<standard phrase> (<reason code>)".
static void ShapeForNpmClients(const Refusal& refusal, LocalResponse& res) {
  const absl::string_view code = policy::ReasonCode(refusal.reason);
  if (res.result_int() == 401) {
    res.set(http::field::www_authenticate,
            absl::StrCat("Bearer error=\"invalid_token\", error_description=\"",
                         code, ": ", policy::ReasonMessage(refusal.reason),
                         "\""));
  }
  const boost::beast::string_view phrase = http::obsolete_reason(res.result());
  res.reason(absl::StrCat(absl::string_view(phrase.data(), phrase.size()),
                          " (", code, ")"));
}

LocalResponse RenderRefusal(const Refusal& refusal,
                            policy::ErrorStyle default_style,
                            absl::string_view request_id, unsigned version,
                            bool keep_alive) {
  const policy::ErrorStyle style = refusal.endpoint != nullptr
                                       ? refusal.endpoint->error_style
                                       : default_style;
  const int status = policy::ReasonHttpStatus(refusal.reason);
  LocalResponse res = JsonResponse(
      static_cast<unsigned>(status),
      policy::ErrorBody(refusal.reason, internal::RedactSecrets(refusal.detail),
                        style),
      request_id, version, keep_alive);
  const absl::string_view challenge = policy::WwwAuthenticate(refusal.reason);
  if (status == 401) {
    res.set(http::field::www_authenticate,
            challenge.empty() ? "Bearer error=\"invalid_token\""
                              : BV(challenge));
  }
  if (style == policy::ErrorStyle::kNpm) ShapeForNpmClients(refusal, res);
  if (refusal.retry_after_seconds > 0) {
    res.set(http::field::retry_after,
            std::to_string(refusal.retry_after_seconds));
  }
  return res;
}

LocalResponse RenderWhoami(absl::string_view token_id,
                           absl::string_view request_id, unsigned version,
                           bool keep_alive) {
  return JsonResponse(
      200, absl::StrCat("{\"username\":", internal::JsonQuote(token_id), "}"),
      request_id, version, keep_alive);
}

absl::string_view OverloadedResponseBytes() {
  static const std::string* const bytes = [] {
    const policy::Reason reason = policy::Reason::kOverloaded;
    const std::string body = policy::ErrorBody(reason, "");
    return new std::string(absl::StrCat(
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json\r\n"
        "Cache-Control: no-store\r\n"
        "Retry-After: 1\r\n"
        "Connection: close\r\n"
        "Content-Length: ",
        body.size(), "\r\n\r\n", body));
  }();
  return *bytes;
}

}  // namespace pat::sidecar
