// pat-sidecar: the HTTP reverse proxy that enforces plan access tokens in
// front of an API (SPEC §4, §7).
//
//   pat-sidecar --upstream=http://127.0.0.1:9000 --authority=HOST:PORT
//               (--insecure | --tls_ca=F --tls_cert=F --tls_key=F) [flags]
//
// Every flag falls back to the environment variable PAT_<FLAG> (upper case,
// e.g. PAT_AUTHORITY) when it is not given on the command line. Logs are
// JSON lines on stderr; once serving, one line is
// {"msg":"listening","port":N,"admin_port":M}. SIGTERM or SIGINT stops
// accepting, lets requests in flight finish for up to 10 s, flushes usage
// reports and exits 0.
//
// Exit codes: 0 success, 1 runtime failure (bind), 2 usage or configuration
// error.

#include <signal.h>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/flags_help.h"
#include "common/grpc_log.h"
#include "nlohmann/json.hpp"
#include "sidecar/sidecar_config.h"
#include "sidecar/sidecar_server.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:8080",
          "Address to serve HTTP on, host:port (port 0 picks a free port).");
ABSL_FLAG(std::string, upstream, "",
          "The API to forward allowed requests to, http://host:port.");
ABSL_FLAG(std::string, authority, "",
          "The token authority's gRPC address, host:port.");
ABSL_FLAG(bool, insecure, false,
          "Plaintext to the authority (development and tests only).");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA certificate(s) the authority's certificate must chain to.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM client certificate (chain) for mTLS to the authority.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, api, "rest",
          "The API this sidecar guards: rest or npm (tokens of the other kind "
          "are refused).");
ABSL_FLAG(std::string, catalog, "",
          "Endpoint catalog file (docs/catalog-format.md); default: the "
          "built-in catalog of --api.");
ABSL_FLAG(std::string, admin_listen, "127.0.0.1:9901",
          "Address of /healthz, /readyz and /metrics, host:port.");
ABSL_FLAG(absl::Duration, staleness_bound, absl::Seconds(30),
          "How long cached grants are trusted while the authority's watch "
          "stream is down; beyond it requests are revalidated, and refused "
          "(503) if the authority cannot answer.");
ABSL_FLAG(std::string, credential_headers, "authorization,x-figma-token",
          "Comma-separated request headers that carry a token "
          "(Authorization takes \"Bearer <secret>\", the others the bare "
          "secret).");
ABSL_FLAG(int32_t, workers, 0,
          "HTTP worker threads (0: max(4, 2 x hardware threads)).");
ABSL_FLAG(bool, access_log, true,
          "Write one JSON access log line per request to stderr.");
ABSL_FLAG(int32_t, max_connections, 0,
          "Client connections served at once; more are answered 503 "
          "overloaded and closed (0: min((RLIMIT_NOFILE - 128) / 2, a quarter "
          "of memory / 96 KiB), clamped to 64..65536).");
ABSL_FLAG(int64_t, head_memory_budget, 32 << 20,
          "Bytes all unfinished request heads may buffer together (beyond "
          "8 KiB each); a head that needs more is answered 503 overloaded.");
ABSL_FLAG(int64_t, body_limit, int64_t{64} << 20,
          "Request bodies larger than this are 413 body_too_large.");
ABSL_FLAG(int64_t, body_resource_limit, 64 << 10,
          "Bodies of endpoints whose resource is in the JSON body are "
          "buffered before the decision up to this size; larger is 413.");
ABSL_FLAG(absl::Duration, idle_timeout, absl::Seconds(60),
          "Keep-alive wait for the next request on a client connection.");
ABSL_FLAG(absl::Duration, header_timeout, absl::Seconds(15),
          "Total time from the first byte of a request to the end of its "
          "header block.");
ABSL_FLAG(absl::Duration, body_timeout, absl::Seconds(60),
          "Total time from the end of a request's header block to the end of "
          "its body.");
ABSL_FLAG(absl::Duration, upstream_timeout, absl::Seconds(300),
          "Total time from sending a request upstream to the end of the "
          "response (504 upstream_timeout before the response header).");
ABSL_FLAG(std::string, allow_routing_headers, "",
          "Comma-separated routing headers (X-Original-URL, X-Rewrite-URL, "
          "X-HTTP-Method-Override, X-Forwarded-Host, X-Forwarded-Prefix, "
          "Forwarded, ...) forwarded instead of stripped.");

ABSL_FLAG(int64_t, max_pending_lookups, 1024,
          "Requests that may wait on the authority at once (cache misses, "
          "revalidations); beyond: 503 authority_unavailable.");
ABSL_FLAG(int64_t, max_pending_lookups_per_client, 32,
          "Requests of one client address that may wait on the authority at "
          "once; beyond: 429 rate_limited.");
ABSL_FLAG(std::string, cache_mode, "full",
          "used: hold only the grants requests needed (first request of a "
          "token: one ValidateToken; start-up reads the directory only). "
          "full: hold every grant from the watch snapshot. See "
          "docs/cache-modes.md.");
ABSL_FLAG(int64_t, cache_max_grants, 50000,
          "--cache_mode=used: secret digests held at most (others are "
          "dropped and fetched again when used).");

namespace {

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;
constexpr absl::Duration kDrainGrace = absl::Seconds(10);


void Log(const nlohmann::ordered_json& line) {
  std::cerr << line.dump(-1, ' ', false,
                         nlohmann::ordered_json::error_handler_t::replace)
            << std::endl;
}

// Sets each flag from PAT_<FLAG> when that variable is set. Runs before the
// command line is parsed, so the command line wins.
// Every flag defined in this file has the fallback (no list to keep in sync).
bool ApplyEnvironmentDefaults() {
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!absl::EndsWith(flag->Filename(), "sidecar/main.cc")) continue;
    const std::string variable =
        absl::StrCat("PAT_", absl::AsciiStrToUpper(name));
    const char* value = std::getenv(variable.c_str());
    if (value == nullptr) continue;
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      Log({{"msg", "invalid environment variable"},
           {"variable", variable},
           {"error", error}});
      return false;
    }
  }
  return true;
}

int ExitCodeFor(const absl::Status& status) {
  return absl::IsInvalidArgument(status) ? kExitUsage : kExitRuntime;
}

int Serve() {
  using namespace pat::sidecar;  // NOLINT(build/namespaces)

  SidecarConfig raw;
  raw.listen = absl::GetFlag(FLAGS_listen);
  raw.upstream = absl::GetFlag(FLAGS_upstream);
  raw.authority = absl::GetFlag(FLAGS_authority);
  raw.insecure = absl::GetFlag(FLAGS_insecure);
  raw.tls_ca_path = absl::GetFlag(FLAGS_tls_ca);
  raw.tls_cert_path = absl::GetFlag(FLAGS_tls_cert);
  raw.tls_key_path = absl::GetFlag(FLAGS_tls_key);
  raw.api = absl::GetFlag(FLAGS_api);
  raw.catalog_path = absl::GetFlag(FLAGS_catalog);
  raw.admin_listen = absl::GetFlag(FLAGS_admin_listen);
  raw.staleness_bound = absl::GetFlag(FLAGS_staleness_bound);
  raw.credential_headers = absl::GetFlag(FLAGS_credential_headers);
  raw.workers = absl::GetFlag(FLAGS_workers);
  raw.access_log = absl::GetFlag(FLAGS_access_log);
  raw.max_connections = absl::GetFlag(FLAGS_max_connections);
  raw.head_memory_budget = absl::GetFlag(FLAGS_head_memory_budget);
  raw.body_limit = absl::GetFlag(FLAGS_body_limit);
  raw.body_resource_limit = absl::GetFlag(FLAGS_body_resource_limit);
  raw.idle_timeout = absl::GetFlag(FLAGS_idle_timeout);
  raw.header_timeout = absl::GetFlag(FLAGS_header_timeout);
  raw.body_timeout = absl::GetFlag(FLAGS_body_timeout);
  raw.upstream_timeout = absl::GetFlag(FLAGS_upstream_timeout);
  raw.allow_routing_headers = absl::GetFlag(FLAGS_allow_routing_headers);
  raw.max_pending_lookups = absl::GetFlag(FLAGS_max_pending_lookups);
  raw.cache_mode = absl::GetFlag(FLAGS_cache_mode);
  raw.cache_max_grants = absl::GetFlag(FLAGS_cache_max_grants);
  raw.max_pending_lookups_per_client =
      absl::GetFlag(FLAGS_max_pending_lookups_per_client);
  absl::StatusOr<SidecarConfig> config = ValidateSidecarConfig(std::move(raw));
  if (!config.ok()) {
    Log({{"msg", "invalid configuration"},
         {"error", std::string(config.status().message())}});
    return kExitUsage;
  }
  pat::RealClock clock;
  absl::StatusOr<std::unique_ptr<SidecarServer>> server =
      SidecarServer::Create(*config, SidecarDeps{.clock = clock});
  if (!server.ok()) {
    Log({{"msg", "start failed"},
         {"error", std::string(server.status().message())}});
    return ExitCodeFor(server.status());
  }

  Log({{"msg", "listening"},
       {"port", (*server)->port()},
       {"admin_port", (*server)->admin_port()}});
  Log({{"msg", "config"},
       {"api", config->api},
       {"cache_mode", config->cache_mode},
       {"upstream", config->upstream},
       {"authority", config->authority},
       {"insecure", config->insecure},
       {"staleness_bound_seconds",
        absl::ToDoubleSeconds(config->staleness_bound)}});

  // SIGTERM and SIGINT are blocked in every thread (see main); this thread
  // takes them synchronously.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  int signal_number = 0;
  if (sigwait(&signals, &signal_number) != 0) signal_number = SIGTERM;
  Log({{"msg", "shutting down"},
       {"signal", signal_number == SIGINT ? "SIGINT" : "SIGTERM"},
       {"grace_seconds", absl::ToInt64Seconds(kDrainGrace)}});

  // Stop taking requests (in-flight ones finish), then the background work.
  (*server)->Shutdown(kDrainGrace);
  server->reset();
  Log({{"msg", "stopped"}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (std::optional<int> rc = pat::HandleHelpOrVersion(
          argc, argv,
          {.program = "pat-sidecar",
           .synopsis = "pat-sidecar --upstream=http://HOST:PORT "
                       "--authority=HOST:PORT (--insecure | --tls_ca=F "
                       "--tls_cert=F --tls_key=F) [flags]",
           .description = "HTTP reverse proxy that enforces plan access "
                          "tokens in front of an API (REST or npm registry).",
           .epilogue = "Exit codes: 0 success, 1 runtime failure (bind), 2 "
                       "usage or configuration error."});
      rc.has_value()) {
    return *rc;
  }
  pat::RouteGrpcLogsToJson();
  // Block the termination signals before any thread exists, so that every
  // thread (gRPC's and the proxy's included) inherits the mask and the
  // signals are only ever taken by sigwait in Serve.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // Debian's Abseil is built without NDEBUG, so every Mutex operation would
  // run deadlock-cycle detection (a process-wide spinlock and a graph
  // update). Tests keep it; the servers use Abseil's release default.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  absl::SetProgramUsageMessage(
      "pat-sidecar --upstream=http://HOST:PORT --authority=HOST:PORT "
      "(--insecure | --tls_ca=F --tls_cert=F --tls_key=F) [flags]\n"
      "Every flag falls back to the environment variable PAT_<FLAG>.");
  if (!ApplyEnvironmentDefaults()) return kExitUsage;
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() != 1) {
    Log({{"msg", "invalid command line"},
         {"error", "pat-sidecar takes no positional arguments"}});
    return kExitUsage;
  }
  return Serve();
}
