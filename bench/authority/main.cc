// pat-bench-authority: the authority's own gRPC load client.
//
//   pat-bench-authority seed --authority=H:P --plan=ID --actor=A --count=N
//       --concurrency=C --out=FILE [--kind=rest|npm] [--scopes=a,b]
//       [--all_resources | --links=url,url] [--days=90] [--channels=K]
//     Creates N tokens with CreateToken (a unique request_id each) and writes
//     `token_id<TAB>secret` lines to FILE (mode 0600); prints the count and
//     creates/s to stderr. Without --links the tokens have all_resources.
//
//   pat-bench-authority load --authority=H:P
//       --rpc=validate|create|refresh|revoke|get|baseline --concurrency=C
//       --duration=10s --warmup=2s --secrets=FILE --plan=ID --actor=A
//       --out=FILE.json --label=STR [--channels=K]
//       [--order=sequential|random] [--once] [--client=sync|callback]
//     Closed-loop load: C threads, each one synchronous call at a time, over
//     K channels (default min(C, 4)), each its own HTTP/2 connection.
//     --client=callback (validate only): C chains of one call each on gRPC's
//     callback client API instead of C threads.
//       validate  IntrospectionService.ValidateToken with the SHA-256 of each
//                 secret of FILE; an answer other than found=true for the
//                 seeded token is an error (VALIDATE_NOT_FOUND,
//                 VALIDATE_WRONG_TOKEN). --once validates each digest exactly
//                 once and ends when they run out (no warmup, no deadline).
//       create    CreateToken on --plan (the seed flags say what to create).
//       refresh   RefreshToken on FILE's token ids, round-robin. Refreshing
//                 ends older secrets (README R9): validate before refresh.
//       revoke    RevokeToken, each id of FILE at most once; ends when the
//                 ids run out (seed enough for the duration).
//       get       GetToken, round-robin.
//       baseline  ValidateToken with an empty digest: the authority answers
//                 INVALID_ARGUMENT (expected, not an error) before touching
//                 the database, so this is the gRPC + handler ceiling.
//     validate/refresh/get walk the list round-robin from a per-worker
//     offset, or pick uniformly at random with --order=random.
//
//     Output (--out, and the human summary on stderr):
//       {"label": STR, "rpc": "validate", "concurrency": C, "channels": K,
//        "duration_s": 10.0, "calls": N, "errors": {"NOT_FOUND": 3},
//        "rps": 1234.5,
//        "latency_us": {"p50":…, "p90":…, "p99":…, "p999":…, "max":…,
//                       "mean":…},
//        "ok": N, "order": "sequential", "once": false, "warmup_s": 2,
//        "exhausted": false}
//     calls counts the calls started inside the measured window (after the
//     warmup), failed ones included; rps = calls / duration_s; errors are
//     keyed by gRPC code name or the keys above; latency covers the
//     successful calls.
//
// Exit status: 0 ok; 1 more than 1% of the measured calls failed, nothing was
// measured, seeding fell short, or I/O failed; 2 usage error.

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "bench/authority/authority_bench.h"
#include "bench/authority/secrets_file.h"

ABSL_FLAG(std::string, authority, "127.0.0.1:7443", "Authority host:port.");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA file for TLS to the authority (no TLS flag: plaintext).");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate chain (mTLS).");
ABSL_FLAG(std::string, tls_key, "", "PEM client private key (mTLS).");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name to verify in the authority's certificate.");
ABSL_FLAG(std::string, plan, "", "Plan id of the tokens.");
ABSL_FLAG(std::string, actor, "",
          "Admin user id, sent as x-pat-actor on TokenService calls.");
ABSL_FLAG(int32_t, concurrency, 8, "Worker threads (calls in flight).");
ABSL_FLAG(int32_t, channels, 0,
          "HTTP/2 connections shared by the workers (0: min(concurrency, 4)).");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "Deadline of each RPC.");
ABSL_FLAG(std::string, out, "",
          "seed: the token_id<TAB>secret file; load: the JSON result file.");

// seed (and load --rpc=create)
ABSL_FLAG(int32_t, count, 0, "seed: how many tokens to create.");
ABSL_FLAG(std::string, kind, "rest", "Token kind: rest or npm.");
ABSL_FLAG(std::string, scopes, "",
          "Comma-separated scopes (default: file_content:read for rest, "
          "packages:read for npm).");
ABSL_FLAG(bool, all_resources, false,
          "Tokens may access every resource of the plan (the default when "
          "--links is not given).");
ABSL_FLAG(std::string, links, "", "Comma-separated resource links.");
ABSL_FLAG(int32_t, days, 90, "Token lifetime in days (1-365).");

// load
ABSL_FLAG(std::string, rpc, "",
          "validate, create, refresh, revoke, get or baseline.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10),
          "Measured time (after the warmup).");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2),
          "Unmeasured time before the measurement.");
ABSL_FLAG(std::string, secrets, "", "The file written by seed.");
ABSL_FLAG(std::string, label, "", "Free text copied into the JSON result.");
ABSL_FLAG(std::string, order, "sequential",
          "How tokens are picked: sequential or random.");
ABSL_FLAG(bool, once, false,
          "validate: each digest exactly once, ending when they run out.");
ABSL_FLAG(std::string, client, "sync",
          "validate: sync (C blocking threads) or callback (C chains on "
          "gRPC's callback client API, no thread per call).");

namespace pat::bench {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// More than this fraction of failed calls fails the run.
constexpr double kMaxErrorFraction = 0.01;

constexpr char kUsage[] =
    "usage:\n"
    "  pat-bench-authority seed --authority=H:P --plan=ID --actor=A "
    "--count=N --concurrency=C --out=FILE\n"
    "      [--kind=rest|npm] [--scopes=a,b] [--all_resources | "
    "--links=url,url] [--days=90] [--channels=K]\n"
    "  pat-bench-authority load --authority=H:P "
    "--rpc=validate|create|refresh|revoke|get|baseline\n"
    "      --concurrency=C --duration=10s --warmup=2s --secrets=FILE "
    "--plan=ID --actor=A\n"
    "      --out=FILE.json --label=STR [--channels=K] "
    "[--order=sequential|random] [--once]\n";

int UsageError(absl::string_view message) {
  std::cerr << "pat-bench-authority: " << message << "\n\n" << kUsage;
  return kExitUsage;
}

int Failure(const absl::Status& status) {
  std::cerr << "pat-bench-authority: " << status << "\n";
  return kExitFailure;
}

std::vector<std::string> SplitList(const std::string& value) {
  return absl::StrSplit(value, ',', absl::SkipWhitespace());
}

ConnectOptions ConnectFromFlags() {
  ConnectOptions c;
  c.authority = absl::GetFlag(FLAGS_authority);
  c.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  c.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  c.tls_key = absl::GetFlag(FLAGS_tls_key);
  c.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  return c;
}

// The channel count for `concurrency` workers: --channels, or min(C, 4).
int ChannelCount(int concurrency) {
  const int k = absl::GetFlag(FLAGS_channels);
  return k > 0 ? std::min(k, concurrency) : std::min(concurrency, 4);
}

absl::StatusOr<TokenSpec> SpecFromFlags() {
  TokenSpec spec;
  const std::string kind = absl::GetFlag(FLAGS_kind);
  if (kind == "rest") {
    spec.kind = v1::TOKEN_KIND_REST_API;
  } else if (kind == "npm") {
    spec.kind = v1::TOKEN_KIND_NPM_REGISTRY;
  } else {
    return absl::InvalidArgumentError("--kind must be rest or npm");
  }
  spec.scopes = SplitList(absl::GetFlag(FLAGS_scopes));
  if (spec.scopes.empty()) {
    spec.scopes = {spec.kind == v1::TOKEN_KIND_REST_API ? "file_content:read"
                                                        : "packages:read"};
  }
  spec.links = SplitList(absl::GetFlag(FLAGS_links));
  if (absl::GetFlag(FLAGS_all_resources) && !spec.links.empty()) {
    return absl::InvalidArgumentError(
        "--all_resources and --links exclude each other");
  }
  spec.all_resources = spec.links.empty();
  spec.days = absl::GetFlag(FLAGS_days);
  return spec;
}

int RunSeed() {
  SeedOptions options;
  options.plan_id = absl::GetFlag(FLAGS_plan);
  options.actor = absl::GetFlag(FLAGS_actor);
  options.count = absl::GetFlag(FLAGS_count);
  options.concurrency = absl::GetFlag(FLAGS_concurrency);
  options.timeout = absl::GetFlag(FLAGS_timeout);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (options.plan_id.empty() || options.actor.empty() || out.empty()) {
    return UsageError("seed needs --plan, --actor and --out");
  }
  if (options.count < 1) return UsageError("--count must be >= 1");
  if (options.concurrency < 1) return UsageError("--concurrency must be >= 1");
  absl::StatusOr<TokenSpec> spec = SpecFromFlags();
  if (!spec.ok()) return UsageError(spec.status().message());
  options.spec = *std::move(spec);

  absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
      OpenChannels(ConnectFromFlags(), ChannelCount(options.concurrency));
  if (!channels.ok()) return Failure(channels.status());
  SeedResult result = Seed(*channels, options);
  const double secs = absl::ToDoubleSeconds(result.elapsed);
  const int created = static_cast<int>(result.tokens.size());
  std::cerr << absl::StrFormat(
      "pat-bench-authority: seed: created %d/%d tokens in %.2f s = %.1f "
      "creates/s (c=%d k=%d, %d failed attempts)\n",
      created, options.count, secs, secs > 0 ? created / secs : 0.0,
      options.concurrency, static_cast<int>(channels->size()),
      static_cast<int>(TotalErrors(result.errors)));
  if (absl::Status status = WriteSecretsFile(out, result.tokens);
      !status.ok()) {
    return Failure(status);
  }
  if (!result.failure.ok()) return Failure(result.failure);
  return created == options.count ? kExitOk : kExitFailure;
}

int RunLoadCommand() {
  LoadOptions options;
  absl::StatusOr<Rpc> rpc = ParseRpc(absl::GetFlag(FLAGS_rpc));
  if (!rpc.ok()) return UsageError(rpc.status().message());
  options.rpc = *rpc;
  absl::StatusOr<Order> order = ParseOrder(absl::GetFlag(FLAGS_order));
  if (!order.ok()) return UsageError(order.status().message());
  options.order = *order;
  options.concurrency = absl::GetFlag(FLAGS_concurrency);
  options.duration = absl::GetFlag(FLAGS_duration);
  options.warmup = absl::GetFlag(FLAGS_warmup);
  options.once = absl::GetFlag(FLAGS_once);
  const std::string client = absl::GetFlag(FLAGS_client);
  if (client != "sync" && client != "callback") {
    return UsageError("--client must be sync or callback");
  }
  options.callback_client = client == "callback";
  options.plan_id = absl::GetFlag(FLAGS_plan);
  options.actor = absl::GetFlag(FLAGS_actor);
  options.timeout = absl::GetFlag(FLAGS_timeout);
  options.label = absl::GetFlag(FLAGS_label);
  if (options.concurrency < 1) return UsageError("--concurrency must be >= 1");
  if (options.warmup < absl::ZeroDuration()) {
    return UsageError("--warmup must not be negative");
  }
  if (options.rpc == Rpc::kCreate) {
    absl::StatusOr<TokenSpec> spec = SpecFromFlags();
    if (!spec.ok()) return UsageError(spec.status().message());
    options.spec = *std::move(spec);
  }
  std::vector<TokenSecret> tokens;
  const std::string secrets = absl::GetFlag(FLAGS_secrets);
  if (options.rpc != Rpc::kCreate && options.rpc != Rpc::kBaseline) {
    if (secrets.empty()) {
      return UsageError(
          absl::StrCat("--rpc=", RpcName(options.rpc), " needs --secrets"));
    }
    absl::StatusOr<std::vector<TokenSecret>> read = ReadSecretsFile(secrets);
    if (!read.ok()) return Failure(read.status());
    tokens = *std::move(read);
    if (tokens.empty())
      return Failure(absl::InvalidArgumentError(
          absl::StrCat(secrets, " holds no tokens")));
  }

  absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
      OpenChannels(ConnectFromFlags(), ChannelCount(options.concurrency));
  if (!channels.ok()) return Failure(channels.status());
  absl::StatusOr<LoadResult> result = RunLoad(*channels, options, tokens);
  if (!result.ok()) {
    if (absl::IsInvalidArgument(result.status())) {
      return UsageError(result.status().message());
    }
    return Failure(result.status());
  }
  std::cerr << LoadResultSummary(*result);

  const std::string out = absl::GetFlag(FLAGS_out);
  if (!out.empty()) {
    std::ofstream file(out, std::ios::trunc);
    file << LoadResultToJson(*result).dump(2) << "\n";
    file.close();
    if (!file) {
      return Failure(
          absl::UnavailableError(absl::StrCat("cannot write ", out)));
    }
  }
  if (result->calls == 0) {
    return Failure(absl::FailedPreconditionError("no call was measured"));
  }
  const double error_fraction =
      static_cast<double>(TotalErrors(result->errors)) / result->calls;
  if (error_fraction > kMaxErrorFraction) {
    std::cerr << absl::StrFormat(
        "pat-bench-authority: %.2f%% of the calls failed (limit 1%%)\n",
        100 * error_fraction);
    return kExitFailure;
  }
  return kExitOk;
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    return UsageError("expected exactly one subcommand: seed or load");
  }
  const absl::string_view command = args[1];
  if (command == "seed") return RunSeed();
  if (command == "load") return RunLoadCommand();
  return UsageError(absl::StrCat("unknown subcommand \"", command, "\""));
}

}  // namespace
}  // namespace pat::bench

int main(int argc, char** argv) { return pat::bench::Main(argc, argv); }
