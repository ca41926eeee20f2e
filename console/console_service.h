#ifndef PAT_CONSOLE_CONSOLE_SERVICE_H_
#define PAT_CONSOLE_CONSOLE_SERVICE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "boost/asio/ip/address.hpp"
#include "common/clock.h"
#include "console/console_config.h"
#include "console/csrf.h"
#include "console/http_server.h"
#include "console/rate_limiter.h"
#include "console/static_assets.h"
#include "console/token_api.h"

// The console's request pipeline (edge-independent; HttpServer feeds it):
//
//   GET  /healthz                            "ok" (no sign-in)
//   GET  / , /assets/<file>                  the page (no sign-in; it holds
//                                            no data)
//   GET  /api/session                        {"user","csrf_token"}
//   GET  /api/scopes                         see local_api.h
//   POST /api/links:validate                 see local_api.h
//   POST /api/v1/TokenService/<Rpc>          see token_api.h
//
// Every /api request: sign-in (identity.h; 401) -> per-user rate limit
// (429) -> for POST, CSRF checks (csrf.h; 403) -> the call. Wrong method:
// 405; unknown path: 404. Every response carries the security headers
// (strict CSP without inline script or style, nosniff, no framing, no
// referrer); every /api response is Cache-Control: no-store (CreateToken and
// RefreshToken answers carry secrets). Access log lines (user, method, path,
// status) go to `log`; bodies are never logged.
namespace pat::console {

inline constexpr char kContentSecurityPolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; font-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

using LogSink = std::function<void(const std::string& json_line)>;

class ConsoleService {
 public:
  // Everything passed must outlive the service.
  ConsoleService(const ConsoleConfig& config, TokenApi& api,
                 const StaticAssets& assets, const Clock& clock, LogSink log);

  void Handle(HttpRequest request, const boost::asio::ip::address& peer,
              Respond respond);

 private:
  void HandleApi(const HttpRequest& request,
                 const boost::asio::ip::address& peer, Respond respond);
  HttpResponse StaticResponse(const HttpRequest& request) const;

  const ConsoleConfig& config_;
  TokenApi& api_;
  const StaticAssets& assets_;
  CsrfTokens csrf_;
  RateLimiter limiter_;
  LogSink log_;
};

}  // namespace pat::console

#endif  // PAT_CONSOLE_CONSOLE_SERVICE_H_
