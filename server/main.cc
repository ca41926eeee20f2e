// pat-authority: the token authority's gRPC server (SPEC §4).
//
//   pat-authority [flags]                          serve
//   pat-authority migrate --database_url=URL       apply migrations and exit
//
// Every flag falls back to the environment variable PAT_<FLAG> (upper case,
// e.g. PAT_DATABASE_URL) when it is not given on the command line. Logs are
// JSON lines on stderr (gRPC core's own lines included, as
// {"msg":"grpc",...}); one {"msg":"rpc",...} line per RPC; once serving,
// {"msg":"listening","port":N}. The admin endpoint (--admin_listen) comes up
// first and stays up while the database is unreachable; the gRPC port opens
// as soon as the database can be reached. SIGTERM or SIGINT stops accepting RPCs,
// drains in-flight ones for up to 10 s and exits 0.
//
// Exit codes: 0 success, 1 runtime failure (database, bind), 2 usage or
// configuration error.

#include <signal.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/flags_help.h"
#include "common/grpc_log.h"
#include "nlohmann/json.hpp"
#include "server/authority_config.h"
#include "server/authority_process.h"
#include "server/migrations.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7443",
          "Address to serve gRPC on, host:port (port 0 picks a free port).");
ABSL_FLAG(std::string, admin_listen, "127.0.0.1:9902",
          "Address of /metrics, /healthz and /readyz (plain HTTP), host:port; "
          "empty disables it. Served while the database is unreachable.");
ABSL_FLAG(std::string, database_url, "",
          "PostgreSQL connection URL (prefer PAT_DATABASE_URL: command lines "
          "are visible to other users).");
ABSL_FLAG(bool, insecure, false,
          "Serve plaintext and allow every caller (development and tests "
          "only; loopback unless --allow_insecure_non_loopback).");
ABSL_FLAG(std::string, tls_cert, "", "PEM server certificate (chain).");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA certificate(s) that client certificates must chain to.");
ABSL_FLAG(std::string, callers_config, "",
          "File mapping client certificate SANs to roles, one per line: "
          "\"<identity> <role>[,<role>...]\" with roles admin, platform, "
          "sidecar.");
ABSL_FLAG(bool, auto_migrate, false,
          "Apply database migrations at start (safe with several replicas).");
ABSL_FLAG(int32_t, db_pool_size, 8, "Maximum PostgreSQL connections.");
ABSL_FLAG(int32_t, snapshot_reads, 2,
          "WatchGrants snapshot reads running at once (streams that need a "
          "snapshot meanwhile share them and queue); at most "
          "--db_pool_size - 1 are used.");
ABSL_FLAG(int32_t, validate_memory_entries, 100000,
          "ValidateToken answers from memory: tokens' secrets held per "
          "replica (kept current by the change feed; a miss reads the "
          "database); 0 reads the database for every call.");
ABSL_FLAG(int32_t, watch_buffer_events, 10000,
          "WatchGrants events kept serialized per replica; a stream further "
          "behind is a slow consumer and ends RESOURCE_EXHAUSTED with its "
          "resume revision (trailing metadata pat-resume-revision).");
ABSL_FLAG(double, actor_rate_limit, pat::kDefaultActorRateLimit.per_second,
          "TokenService requests per second per actor (x-pat-actor), "
          "token bucket; 0 disables. Over it: RESOURCE_EXHAUSTED with a "
          "retry-after-ms trailer. With --insecure and no rate flag given, "
          "both rate limits are off.");
ABSL_FLAG(int32_t, actor_rate_burst, pat::kDefaultActorRateLimit.burst,
          "Requests an actor may make at once (bucket size).");
ABSL_FLAG(double, caller_rate_limit, pat::kDefaultCallerRateLimit.per_second,
          "TokenService requests per second per caller identity (client "
          "certificate SAN), token bucket; 0 disables.");
ABSL_FLAG(int32_t, caller_rate_burst, pat::kDefaultCallerRateLimit.burst,
          "Requests a caller may make at once (bucket size).");
ABSL_FLAG(std::string, feed_database_url, "",
          "PostgreSQL URL of the change feed's LISTEN session (default: "
          "--database_url). Direct or through a session-mode pooler: a "
          "transaction-mode pooler drops notifications (the LISTEN "
          "self-check then reports the replica not ready).");
ABSL_FLAG(absl::Duration, feed_listen_check_interval, absl::Seconds(5),
          "How often the feed listener sends itself a NOTIFY probe.");
ABSL_FLAG(absl::Duration, feed_listen_check_timeout, absl::Seconds(2),
          "How long a probe may take to come back before the replica is "
          "not ready (it polls the feed meanwhile).");
ABSL_FLAG(std::string, leak_intake_listen, "",
          "Address of the secret-scanning partner endpoint (POST "
          "/secret-scanning/github, plain HTTP behind your TLS front), "
          "host:port; empty (default) disables it. docs/leak-intake.md.");
ABSL_FLAG(std::string, leak_intake_public_keys, "",
          "JSON file of the scanner's ECDSA P-256 public keys, in the shape "
          "of GitHub's /meta/public_keys/secret_scanning; required with "
          "--leak_intake_listen.");
ABSL_FLAG(uint64_t, leak_intake_max_body_bytes, 1 << 20,
          "Largest partner request body; larger: 413.");
ABSL_FLAG(bool, allow_insecure_non_loopback, false,
          "Allow --insecure on a non-loopback --listen address.");
ABSL_FLAG(bool, webhooks, false,
          "Serve pat.v1.WebhookService and deliver lifecycle notifications "
          "(docs/webhooks.md).");
ABSL_FLAG(int32_t, webhook_workers, 8,
          "Webhook deliveries in flight at once per replica.");
ABSL_FLAG(int32_t, webhook_max_attempts, 8,
          "Delivery attempts before a webhook is dead-lettered.");
ABSL_FLAG(absl::Duration, webhook_backoff_base, absl::Seconds(10),
          "First retry delay; doubles per attempt, with jitter.");
ABSL_FLAG(absl::Duration, webhook_backoff_max, absl::Hours(1),
          "Longest retry delay.");
ABSL_FLAG(absl::Duration, webhook_request_deadline, absl::Seconds(10),
          "Deadline of one webhook HTTP exchange.");
ABSL_FLAG(absl::Duration, webhook_poll_interval, absl::Seconds(1),
          "How often each replica looks for webhook work.");

namespace {

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;
constexpr absl::Duration kDrainGrace = absl::Seconds(10);

constexpr const char* kFlagNames[] = {
    "listen",
    "admin_listen",
    "database_url",
    "insecure",
    "tls_cert",
    "tls_key",
    "tls_client_ca",
    "callers_config",
    "auto_migrate",
    "db_pool_size",
    "allow_insecure_non_loopback",
    "snapshot_reads",
    "validate_memory_entries",
    "watch_buffer_events",
    "actor_rate_limit",
    "actor_rate_burst",
    "caller_rate_limit",
    "caller_rate_burst",
    "webhooks",
    "webhook_workers",
    "webhook_max_attempts",
    "webhook_backoff_base",
    "webhook_backoff_max",
    "webhook_request_deadline",
    "webhook_poll_interval",
    "feed_database_url",
    "feed_listen_check_interval",
    "feed_listen_check_timeout",
    "leak_intake_listen",
    "leak_intake_public_keys",
    "leak_intake_max_body_bytes",
};

constexpr const char* kRateLimitFlags[] = {
    "actor_rate_limit", "actor_rate_burst",
    "caller_rate_limit", "caller_rate_burst"};

const pat::ProgramHelp kHelp = {
    .program = "pat-authority",
    .synopsis = "pat-authority [flags]\n"
                "       pat-authority migrate --database_url=URL",
    .description =
        "The plan access token authority: a gRPC service (TokenService, "
        "DirectoryService,\nIntrospectionService) on PostgreSQL. \"migrate\" "
        "applies schema migrations and exits.",
    .epilogue = "Exit codes: 0 success, 1 runtime failure (database, bind), "
                "2 usage or configuration error.",
};

void Log(const nlohmann::ordered_json& line) {
  // One write per line: the supervisor thread and the access log write too.
  const std::string text = line.dump(
      -1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  std::fprintf(stderr, "%s\n", text.c_str());
}

// Sets each flag from PAT_<FLAG> when that variable is set. Runs before the
// command line is parsed, so the command line wins.
bool ApplyEnvironmentDefaults() {
  for (const char* name : kFlagNames) {
    const std::string variable =
        absl::StrCat("PAT_", absl::AsciiStrToUpper(name));
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

int Migrate() {
  const std::string url = absl::GetFlag(FLAGS_database_url);
  if (url.empty()) {
    Log({{"msg", "invalid configuration"},
         {"error", "--database_url: required"}});
    return kExitUsage;
  }
  absl::Status status = pat::ApplyMigrations(url);
  if (!status.ok()) {
    Log({{"msg", "migration failed"}, {"error", status.ToString()}});
    return kExitRuntime;
  }
  Log({{"msg", "migrated"}, {"schema_version", pat::LatestSchemaVersion()}});
  return 0;
}

// Waits for SIGTERM/SIGINT (blocked in every thread, see main) or for a
// start error the process cannot recover from.
int WaitForSignal(const pat::AuthorityProcess& process) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  const timespec tick = {0, 200 * 1000 * 1000};
  while (true) {
    const int signal_number = sigtimedwait(&signals, nullptr, &tick);
    if (signal_number == SIGTERM || signal_number == SIGINT) {
      return signal_number;
    }
    if (!process.fatal_error().ok()) return 0;
  }
}

// Whether flag `name` was given on the command line or in the environment
// (absl has no "was this flag set" query).
bool FlagGiven(absl::string_view name, int argc, char** argv) {
  const std::string variable =
      absl::StrCat("PAT_", absl::AsciiStrToUpper(name));
  if (std::getenv(variable.c_str()) != nullptr) return true;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (!absl::ConsumePrefix(&arg, "--")) absl::ConsumePrefix(&arg, "-");
    if (absl::ConsumePrefix(&arg, name) && (arg.empty() || arg[0] == '=')) {
      return true;
    }
  }
  return false;
}

int Serve(int argc, char** argv) {
  pat::AuthorityConfig raw;
  raw.admin_listen_explicit = FlagGiven("admin_listen", argc, argv);
  for (const char* name : kRateLimitFlags) {
    if (FlagGiven(name, argc, argv)) raw.rate_limits_explicit = true;
  }
  raw.actor_rate_limit = {absl::GetFlag(FLAGS_actor_rate_limit),
                          absl::GetFlag(FLAGS_actor_rate_burst)};
  raw.caller_rate_limit = {absl::GetFlag(FLAGS_caller_rate_limit),
                           absl::GetFlag(FLAGS_caller_rate_burst)};
  raw.listen = absl::GetFlag(FLAGS_listen);
  raw.admin_listen = absl::GetFlag(FLAGS_admin_listen);
  raw.database_url = absl::GetFlag(FLAGS_database_url);
  raw.insecure = absl::GetFlag(FLAGS_insecure);
  raw.tls_cert_path = absl::GetFlag(FLAGS_tls_cert);
  raw.tls_key_path = absl::GetFlag(FLAGS_tls_key);
  raw.tls_client_ca_path = absl::GetFlag(FLAGS_tls_client_ca);
  raw.callers_config_path = absl::GetFlag(FLAGS_callers_config);
  raw.auto_migrate = absl::GetFlag(FLAGS_auto_migrate);
  raw.db_pool_size = absl::GetFlag(FLAGS_db_pool_size);
  raw.snapshot_reads = absl::GetFlag(FLAGS_snapshot_reads);
  raw.validate_memory_entries = absl::GetFlag(FLAGS_validate_memory_entries);
  raw.watch_buffer_events = absl::GetFlag(FLAGS_watch_buffer_events);
  raw.webhooks.enabled = absl::GetFlag(FLAGS_webhooks);
  raw.webhooks.workers = absl::GetFlag(FLAGS_webhook_workers);
  raw.webhooks.max_attempts = absl::GetFlag(FLAGS_webhook_max_attempts);
  raw.webhooks.backoff_base = absl::GetFlag(FLAGS_webhook_backoff_base);
  raw.webhooks.backoff_max = absl::GetFlag(FLAGS_webhook_backoff_max);
  raw.webhooks.request_deadline =
      absl::GetFlag(FLAGS_webhook_request_deadline);
  raw.webhooks.poll_interval = absl::GetFlag(FLAGS_webhook_poll_interval);
  raw.feed_database_url = absl::GetFlag(FLAGS_feed_database_url);
  raw.feed_listen_check_interval =
      absl::GetFlag(FLAGS_feed_listen_check_interval);
  raw.feed_listen_check_timeout = absl::GetFlag(FLAGS_feed_listen_check_timeout);
  raw.leak_intake_listen = absl::GetFlag(FLAGS_leak_intake_listen);
  raw.leak_intake_public_keys_path =
      absl::GetFlag(FLAGS_leak_intake_public_keys);
  raw.leak_intake_max_body_bytes =
      absl::GetFlag(FLAGS_leak_intake_max_body_bytes);
  absl::StatusOr<pat::AuthorityConfig> config = pat::ValidateAuthorityConfig(
      std::move(raw), absl::GetFlag(FLAGS_allow_insecure_non_loopback));
  if (!config.ok()) {
    Log({{"msg", "invalid configuration"},
         {"error", std::string(config.status().message())}});
    return kExitUsage;
  }

  pat::RealClock clock;
  absl::StatusOr<std::unique_ptr<pat::AuthorityProcess>> process =
      pat::AuthorityProcess::Start(*config, clock, Log);
  if (!process.ok()) {
    Log({{"msg", "start failed"}, {"error", process.status().ToString()}});
    return kExitRuntime;
  }
  if ((*process)->admin_port() != 0) {
    Log({{"msg", "admin listening"}, {"admin_port", (*process)->admin_port()}});
  }
  const int signal_number = WaitForSignal(**process);
  if (signal_number == 0) {
    const absl::Status fatal = (*process)->fatal_error();
    (*process)->Shutdown(absl::ZeroDuration());
    return absl::IsInvalidArgument(fatal) ? kExitUsage : kExitRuntime;
  }
  Log({{"msg", "shutting down"},
       {"signal", signal_number == SIGINT ? "SIGINT" : "SIGTERM"},
       {"grace_seconds", absl::ToInt64Seconds(kDrainGrace)}});
  (*process)->Shutdown(kDrainGrace);
  process->reset();
  Log({{"msg", "stopped"}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Block the termination signals before any thread exists, so that every
  // thread (gRPC's and libpq's included) inherits the mask and the signals
  // are only ever taken by sigwait in Serve.
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
      "pat-authority [flags] | pat-authority migrate --database_url=URL\n"
      "Every flag falls back to the environment variable PAT_<FLAG>.");
  if (std::optional<int> rc = pat::HandleHelpOrVersion(argc, argv, kHelp);
      rc.has_value()) {
    return *rc;
  }
  pat::RouteGrpcLogsToJson();
  if (!ApplyEnvironmentDefaults()) return kExitUsage;
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() == 1) return Serve(argc, argv);
  if (positional.size() == 2 && std::string(positional[1]) == "migrate") {
    return Migrate();
  }
  Log({{"msg", "invalid command line"},
       {"error", "the only subcommand is \"migrate\""}});
  return kExitUsage;
}
