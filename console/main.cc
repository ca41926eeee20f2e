// pat-console: the admin web console (docs/console.md). Serves the page and
// a JSON API onto pat.v1.TokenService, calling the authority as an admin
// caller on behalf of the signed-in user.
//
//   pat-console --authority=HOST:PORT (--insecure | --tls_ca=F --tls_cert=F
//               --tls_key=F) (--trusted_proxies=CIDR,... |
//               --proxy_secret_file=F | --dev_user=alice) [flags]
//
// Every flag falls back to PAT_CONSOLE_<FLAG> in the environment. Logs are
// JSON lines on stderr; once serving, one line is
// {"msg":"listening","port":N,"url":"http://..."}. SIGTERM/SIGINT stop it.
// Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.

#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/flags_help.h"
#include "common/grpc_log.h"
#include "console/console_config.h"
#include "console/console_service.h"
#include "console/http_server.h"
#include "console/static_assets.h"
#include "console/token_api.h"
#include "nlohmann/json.hpp"

namespace {
const pat::console::ConsoleFlags kDefaults;
}  // namespace

ABSL_FLAG(std::string, listen, kDefaults.listen,
          "host:port to serve on (port 0 picks a free port).");
ABSL_FLAG(std::string, authority, "", "pat-authority gRPC address, host:port.");
ABSL_FLAG(bool, insecure, false,
          "Plaintext to the authority (development and tests only).");
ABSL_FLAG(std::string, tls_ca, "", "PEM CA that verifies the authority.");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate (mTLS).");
ABSL_FLAG(std::string, tls_key, "", "PEM client key (mTLS).");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name to verify in the authority's certificate.");
ABSL_FLAG(std::string, dev_user, "",
          "Local development only: every request is this user (refused on a "
          "non-loopback --listen).");
ABSL_FLAG(std::string, trusted_proxies, "",
          "Comma-separated IPs/CIDRs of the sign-in proxy whose user headers "
          "are believed.");
ABSL_FLAG(std::string, proxy_secret_file, "",
          "File holding the shared secret the sign-in proxy sends as "
          "X-Pat-Proxy-Secret (>= 32 characters).");
ABSL_FLAG(std::string, user_headers, kDefaults.user_headers,
          "Headers naming the signed-in user, first present wins.");
ABSL_FLAG(std::string, public_origin, "",
          "The console's origin as browsers see it (https://host); default: "
          "http(s)://<Host header>.");
ABSL_FLAG(std::string, csrf_key_file, "",
          "HMAC key for CSRF tokens, shared by replicas (default: random per "
          "process).");
ABSL_FLAG(int, rate_limit_per_minute, kDefaults.rate_limit_per_minute,
          "API calls per user per minute.");
ABSL_FLAG(int, rate_limit_burst, kDefaults.rate_limit_burst,
          "API calls a user may make at once.");
ABSL_FLAG(int, max_connections, kDefaults.max_connections,
          "Open HTTP connections at most.");
ABSL_FLAG(int, max_body_bytes, kDefaults.max_body_bytes,
          "Request body size at most.");
ABSL_FLAG(int, max_inflight_rpcs, kDefaults.max_inflight_rpcs,
          "Authority calls in flight at most.");
ABSL_FLAG(absl::Duration, rpc_timeout, kDefaults.rpc_timeout,
          "Deadline of each authority call.");
ABSL_FLAG(absl::Duration, idle_timeout, kDefaults.idle_timeout,
          "Read/write timeout of each HTTP connection.");
ABSL_FLAG(int, io_threads, kDefaults.io_threads, "HTTP event-loop threads.");
ABSL_FLAG(std::string, assets_dir, "",
          "Serve the page from this directory instead of the embedded copy.");

namespace {

constexpr const char* kFlagNames[] = {
    "listen",           "authority",
    "insecure",         "tls_ca",
    "tls_cert",         "tls_key",
    "tls_server_name",  "dev_user",
    "trusted_proxies",  "proxy_secret_file",
    "user_headers",     "public_origin",
    "csrf_key_file",    "rate_limit_per_minute",
    "rate_limit_burst", "max_connections",
    "max_body_bytes",   "max_inflight_rpcs",
    "rpc_timeout",      "idle_timeout",
    "io_threads",       "assets_dir"};

absl::Mutex log_mu;

void Log(const std::string& line) {
  absl::MutexLock lock(&log_mu);
  std::cerr << line << std::endl;
}

void Log(const nlohmann::json& j) {
  Log(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

bool ApplyEnvironmentDefaults() {
  for (const char* name : kFlagNames) {
    const std::string variable =
        absl::StrCat("PAT_CONSOLE_", absl::AsciiStrToUpper(name));
    const char* value = std::getenv(variable.c_str());
    if (value == nullptr) continue;
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::string error;
    if (flag == nullptr || !flag->ParseFrom(value, &error)) {
      Log({{"msg", "invalid environment variable"},
           {"variable", variable},
           {"error", error}});
      return false;
    }
  }
  return true;
}

pat::console::ConsoleFlags FlagsFromCommandLine() {
  pat::console::ConsoleFlags f;
  f.listen = absl::GetFlag(FLAGS_listen);
  f.authority = absl::GetFlag(FLAGS_authority);
  f.insecure = absl::GetFlag(FLAGS_insecure);
  f.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  f.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  f.tls_key = absl::GetFlag(FLAGS_tls_key);
  f.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  f.dev_user = absl::GetFlag(FLAGS_dev_user);
  f.trusted_proxies = absl::GetFlag(FLAGS_trusted_proxies);
  f.proxy_secret_file = absl::GetFlag(FLAGS_proxy_secret_file);
  f.user_headers = absl::GetFlag(FLAGS_user_headers);
  f.public_origin = absl::GetFlag(FLAGS_public_origin);
  f.csrf_key_file = absl::GetFlag(FLAGS_csrf_key_file);
  f.rate_limit_per_minute = absl::GetFlag(FLAGS_rate_limit_per_minute);
  f.rate_limit_burst = absl::GetFlag(FLAGS_rate_limit_burst);
  f.max_connections = absl::GetFlag(FLAGS_max_connections);
  f.max_body_bytes = absl::GetFlag(FLAGS_max_body_bytes);
  f.max_inflight_rpcs = absl::GetFlag(FLAGS_max_inflight_rpcs);
  f.rpc_timeout = absl::GetFlag(FLAGS_rpc_timeout);
  f.idle_timeout = absl::GetFlag(FLAGS_idle_timeout);
  f.io_threads = absl::GetFlag(FLAGS_io_threads);
  f.assets_dir = absl::GetFlag(FLAGS_assets_dir);
  return f;
}

int Serve() {
  using namespace pat::console;  // NOLINT(build/namespaces)
  absl::StatusOr<ConsoleConfig> config =
      BuildConsoleConfig(FlagsFromCommandLine());
  if (!config.ok()) {
    Log({{"msg", "invalid configuration"},
         {"error", std::string(config.status().message())}});
    return 2;
  }
  StaticAssets assets = StaticAssets::Embedded();
  if (!config->assets_dir.empty()) {
    auto from_dir = StaticAssets::FromDirectory(config->assets_dir);
    if (!from_dir.ok()) {
      Log({{"msg", "invalid configuration"},
           {"error", std::string(from_dir.status().message())}});
      return 2;
    }
    assets = std::move(*from_dir);
  }
  auto channel = MakeAuthorityChannel(
      config->authority, config->insecure, config->tls_ca_pem,
      config->tls_cert_pem, config->tls_key_pem, config->tls_server_name);
  auto api = std::make_unique<TokenApi>(pat::v1::TokenService::NewStub(channel),
                                        config->rpc_timeout,
                                        config->max_inflight_rpcs);
  pat::RealClock clock;
  ConsoleService service(*config, *api, assets, clock,
                         [](const std::string& line) { Log(line); });

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  HttpServerOptions options;
  options.address = config->listen_address;
  options.port = config->listen_port;
  options.threads = config->io_threads;
  options.max_connections = config->max_connections;
  options.max_body_bytes = config->max_body_bytes;
  options.idle_timeout = config->idle_timeout;
  auto server = HttpServer::Start(
      options, [&service](HttpRequest req, const boost::asio::ip::address& peer,
                          Respond respond) {
        service.Handle(std::move(req), peer, std::move(respond));
      });
  if (!server.ok()) {
    Log({{"msg", "cannot serve"},
         {"error", std::string(server.status().message())}});
    return 1;
  }
  std::string host = config->listen_address.to_string();
  if (config->listen_address.is_v6()) host = absl::StrCat("[", host, "]");
  Log({{"msg", "listening"},
       {"port", (*server)->port()},
       {"url", absl::StrCat("http://", host, ":", (*server)->port(), "/")},
       {"dev_user", config->sign_in.dev_user}});
  int sig = 0;
  sigwait(&signals, &sig);
  Log({{"msg", "stopping"}, {"signal", sig}});
  (*server)->Shutdown();
  // Calls in flight end by their deadline; their callbacks use `api` and
  // post into the stopped server, so wait for them before destroying either.
  const absl::Time give_up =
      absl::Now() + config->rpc_timeout + absl::Seconds(2);
  while (api->inflight() > 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  if (api->inflight() > 0) {
    Log({{"msg", "exiting with calls in flight"}});
    std::_Exit(0);
  }
  api.reset();
  server->reset();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (std::optional<int> rc = pat::HandleHelpOrVersion(
          argc, argv,
          {.program = "pat-console",
           .synopsis = "pat-console --listen=HOST:PORT --authority=HOST:PORT "
                       "(--insecure | --tls_ca=F --tls_cert=F --tls_key=F) "
                       "(--trusted_proxies=CIDRS | --dev_user=NAME) [flags]",
           .description = "The admin web console: plan access tokens on a "
                          "page, on pat-authority's TokenService.",
           .epilogue = "Exit codes: 0 success, 1 runtime failure, 2 usage "
                       "or configuration error."});
      rc.has_value()) {
    return *rc;
  }
  pat::RouteGrpcLogsToJson();
  if (!ApplyEnvironmentDefaults()) return 2;
  absl::ParseCommandLine(argc, argv);
  return Serve();
}
