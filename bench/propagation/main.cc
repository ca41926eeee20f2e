// pat-bench-propagation: how fast a revocation reaches watchers and a
// sidecar.
//
// For each token of --tokens, in order: RevokeToken (timed), then, with
// --sidecar, a tight loop of GET --sidecar_path with that token over one
// keep-alive connection until the sidecar answers 401 token_revoked, then a
// wait until each of --streams WatchGrants streams has received the REVOKED
// grant event, then --interval of pause. Every delay is measured from t0, the
// moment RevokeToken returned OK (the authority NOTIFYs before it answers, so
// a stream may receive the event slightly before t0: such delays are
// negative). The sidecar applies the event from its own watch stream, so the
// sidecar delay covers RevokeToken -> PostgreSQL commit -> NOTIFY -> the
// authority's feed hub -> gRPC stream -> sidecar cache.
//
// Prerequisites (the orchestration's job): a running pat-authority started
// with --insecure; --plan with --actor among its admins; the tokens of
// --tokens active on that plan; with --sidecar, a pat-sidecar synced to the
// same authority and every token allowed GET --sidecar_path. The default
// path, /v1/files/FILEKEY1 (getFile, scopes file_content:read|files:read,
// resource = that file), needs FILEKEY1 in the plan's directory
// (`patctl upsert-resource --plan=P --kind=file --id=FILEKEY1 ...`) and
// tokens with file_content:read on all resources (or FILEKEY1 listed).
// /v1/me is not usable: plan tokens get 403 endpoint_not_supported there.
//
// Output: a JSON document (--out, or stdout) and a human summary on stderr.
// Exit status 0 when every revocation reached every stream (and the sidecar)
// within --timeout, 1 otherwise or on a setup error.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bench/common/process_cpu.h"
#include "bench/propagation/http_probe.h"
#include "bench/propagation/stats.h"
#include "bench/propagation/watch_fleet.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "pat/v1/pat.grpc.pb.h"

ABSL_FLAG(std::string, authority, "127.0.0.1:7443",
          "host:port of pat-authority (plaintext: the authority must run "
          "with --insecure)");
ABSL_FLAG(std::string, actor, "", "x-pat-actor for RevokeToken (required)");
ABSL_FLAG(std::string, plan, "", "plan id of the tokens (required)");
ABSL_FLAG(std::string, tokens, "",
          "file of tokens to revoke, one `token_id<TAB>secret` per line "
          "(blank and # lines ignored; the secret is needed only with "
          "--sidecar) (required)");
ABSL_FLAG(int, streams, 100, "WatchGrants streams to hold open");
ABSL_FLAG(int, channels, 0,
          "HTTP/2 connections the streams are spread over (0: one per "
          "stream)");
ABSL_FLAG(int, count, 0, "revocations (0: every token of --tokens)");
ABSL_FLAG(bool, snapshot_all, false,
          "every stream from since_revision 0 at once (a start-up storm: "
          "each takes the full snapshot); default: stream 0 only, the others "
          "resume from its revision");
ABSL_FLAG(absl::Duration, interval, absl::Milliseconds(20),
          "pause between revocations");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5),
          "how long, from t0, a revocation may take to reach each stream and "
          "the sidecar before it counts as a failure");
ABSL_FLAG(absl::Duration, sync_timeout, absl::Seconds(60),
          "how long the streams may take to receive the snapshot");
ABSL_FLAG(std::string, sidecar, "",
          "host:port of a pat-sidecar proxy to probe (optional)");
ABSL_FLAG(std::string, sidecar_path, "/v1/files/FILEKEY1",
          "GET target that every token is allowed before revocation (200)");
ABSL_FLAG(std::string, out, "", "write the JSON result here (default: stdout)");
ABSL_FLAG(std::string, label, "", "label copied into the result");
ABSL_FLAG(int, cpu_pid, 0,
          "a process (the authority) whose CPU time over the revocations is "
          "reported, per revocation and per stream event (0: none)");
ABSL_FLAG(std::string, details, "",
          "also write one JSON line per revocation here (time since the "
          "first revocation, RPC, sidecar, fastest/median/slowest stream)");

namespace pat::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr absl::Duration kRevokeDeadline = absl::Seconds(10);
constexpr absl::Duration kHttpTimeout = absl::Seconds(2);

struct TokenLine {
  std::string id;
  std::string secret;
};

struct Config {
  std::string authority;
  std::string actor;
  std::string plan;
  std::vector<TokenLine> tokens;
  int streams = 0;
  bool snapshot_all = false;
  int channels = 0;
  absl::Duration interval;
  absl::Duration timeout;
  absl::Duration sync_timeout;
  std::string sidecar;
  std::string sidecar_path;
  std::string label;
};

struct Failures {
  int revoke_error = 0;
  int stream_missing = 0;
  int streams_ended = 0;
  int sidecar_timeout = 0;
  int sidecar_wrong_reason = 0;

  int total() const {
    return revoke_error + stream_missing + streams_ended + sidecar_timeout +
           sidecar_wrong_reason;
  }
};

// All samples in milliseconds.
struct Samples {
  std::vector<double> revoke_rpc;
  std::vector<double> stream_delay;
  std::vector<double> stream_delay_from_send;
  std::vector<double> slowest_stream;
  std::vector<double> spread;
  std::vector<double> sidecar_401;
  int64_t sidecar_polls = 0;
  int revocations = 0;
};

double Millis(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

absl::StatusOr<std::vector<TokenLine>> ReadTokens(const std::string& path,
                                                  bool need_secrets) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("tokens: cannot read ", path));
  }
  std::vector<TokenLine> tokens;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    std::vector<std::string> fields =
        absl::StrSplit(trimmed, absl::MaxSplits('\t', 1));
    TokenLine token;
    token.id = std::string(absl::StripAsciiWhitespace(fields[0]));
    if (fields.size() > 1) {
      token.secret = std::string(absl::StripAsciiWhitespace(fields[1]));
    }
    if (token.id.empty() || (need_secrets && token.secret.empty())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tokens: line ", number, ": expected token_id<TAB>secret"));
    }
    tokens.push_back(std::move(token));
  }
  if (tokens.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokens: ", path, " is empty"));
  }
  return tokens;
}

absl::StatusOr<Config> ConfigFromFlags() {
  Config c;
  c.authority = absl::GetFlag(FLAGS_authority);
  c.actor = absl::GetFlag(FLAGS_actor);
  c.plan = absl::GetFlag(FLAGS_plan);
  c.streams = absl::GetFlag(FLAGS_streams);
  c.channels = absl::GetFlag(FLAGS_channels);
  c.interval = absl::GetFlag(FLAGS_interval);
  c.timeout = absl::GetFlag(FLAGS_timeout);
  c.sync_timeout = absl::GetFlag(FLAGS_sync_timeout);
  c.sidecar = absl::GetFlag(FLAGS_sidecar);
  c.sidecar_path = absl::GetFlag(FLAGS_sidecar_path);
  c.label = absl::GetFlag(FLAGS_label);
  c.snapshot_all = absl::GetFlag(FLAGS_snapshot_all);
  if (c.actor.empty()) return absl::InvalidArgumentError("--actor: required");
  if (c.plan.empty()) return absl::InvalidArgumentError("--plan: required");
  if (absl::GetFlag(FLAGS_tokens).empty()) {
    return absl::InvalidArgumentError("--tokens: required");
  }
  if (c.streams < 1) {
    return absl::InvalidArgumentError("--streams: must be at least 1");
  }
  if (c.channels < 0) {
    return absl::InvalidArgumentError("--channels: must not be negative");
  }
  if (c.interval < absl::ZeroDuration() || c.timeout <= absl::ZeroDuration() ||
      c.sync_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--interval must not be negative; --timeout and --sync_timeout must "
        "be positive");
  }
  if (!c.sidecar.empty() &&
      (c.sidecar_path.empty() || c.sidecar_path[0] != '/')) {
    return absl::InvalidArgumentError("--sidecar_path: must start with /");
  }
  auto tokens = ReadTokens(absl::GetFlag(FLAGS_tokens), !c.sidecar.empty());
  if (!tokens.ok()) return tokens.status();
  c.tokens = *std::move(tokens);
  const int count = absl::GetFlag(FLAGS_count);
  if (count < 0)
    return absl::InvalidArgumentError("--count: must not be negative");
  if (count > static_cast<int>(c.tokens.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--count=", count, " but --tokens has only ", c.tokens.size()));
  }
  if (count > 0) c.tokens.resize(static_cast<size_t>(count));
  return c;
}

// The "reason" of a sidecar error body, or "" when there is none.
std::string ReasonOf(const std::string& body) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return "";
  const auto it = j.find("reason");
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// Proves that every token works through the sidecar (and caches its grant
// there) before anything is revoked.
absl::Status WarmSidecar(const Config& config, HttpProbe& probe) {
  for (const TokenLine& token : config.tokens) {
    absl::StatusOr<HttpProbe::Response> response =
        probe.Get(config.sidecar_path, token.secret);
    if (!response.ok()) return response.status();
    if (response->status != 200) {
      return absl::FailedPreconditionError(absl::StrCat(
          "sidecar: GET ", config.sidecar_path, " with token ", token.id,
          " answered ", response->status, " (reason \"",
          ReasonOf(response->body),
          "\") before revocation; it must answer 200 (see --sidecar_path)"));
    }
  }
  return absl::OkStatus();
}

// Polls the sidecar with `secret` until it answers 401 or `deadline`.
// Returns the delay from t0 to the 401 token_revoked, if there was one.
std::optional<double> PollSidecar(const Config& config, const TokenLine& token,
                                  Clock::time_point t0,
                                  Clock::time_point deadline, HttpProbe& probe,
                                  Samples& samples, Failures& failures) {
  std::string last_other;
  while (true) {
    absl::StatusOr<HttpProbe::Response> response =
        probe.Get(config.sidecar_path, token.secret);
    const Clock::time_point now = Clock::now();
    ++samples.sidecar_polls;
    if (response.ok() && response->status == 401) {
      const std::string reason = ReasonOf(response->body);
      if (reason == "token_revoked") {
        samples.sidecar_401.push_back(Millis(now - t0));
        return samples.sidecar_401.back();
      }
      ++failures.sidecar_wrong_reason;
      std::fprintf(stderr, "sidecar: %s answered 401 with reason \"%s\"\n",
                   token.id.c_str(), reason.c_str());
      return std::nullopt;
    }
    if (!response.ok()) {
      last_other = std::string(response.status().message());
    } else if (response->status != 200) {
      last_other =
          absl::StrCat(response->status, " ", ReasonOf(response->body));
    }
    if (now >= deadline) {
      ++failures.sidecar_timeout;
      std::fprintf(stderr, "sidecar: %s still accepted after %s%s%s\n",
                   token.id.c_str(),
                   absl::FormatDuration(config.timeout).c_str(),
                   last_other.empty() ? "" : "; last other answer: ",
                   last_other.c_str());
      return std::nullopt;
    }
  }
}

nlohmann::json ResultJson(const Config& config, int channels, Samples& samples,
                          const Failures& failures) {
  const Summary rpc = Summarize(samples.revoke_rpc);
  const Summary delay = Summarize(samples.stream_delay);
  const Summary from_send = Summarize(samples.stream_delay_from_send);
  const Summary slowest = Summarize(samples.slowest_stream);
  const Summary spread = Summarize(samples.spread);
  const Summary sidecar = Summarize(samples.sidecar_401);
  nlohmann::json j;
  j["label"] = config.label;
  j["streams"] = config.streams;
  j["channels"] = channels;
  j["revocations"] = samples.revocations;
  j["interval_ms"] = absl::ToDoubleMilliseconds(config.interval);
  j["timeout_ms"] = absl::ToDoubleMilliseconds(config.timeout);
  j["revoke_rpc_ms"] = SummaryJson(rpc, false, false);
  j["stream_delay_ms"] = SummaryJson(delay, true, true);
  j["stream_delay_from_send_ms"] = SummaryJson(from_send, true, true);
  j["per_revocation_slowest_stream_ms"] = SummaryJson(slowest, false, false);
  j["per_revocation_spread_ms"] = SummaryJson(spread, false, false);
  if (config.sidecar.empty()) {
    j["sidecar_401_ms"] = nullptr;
  } else {
    j["sidecar_401_ms"] = SummaryJson(sidecar, false, true);
    j["sidecar_path"] = config.sidecar_path;
    j["sidecar_polls"] = samples.sidecar_polls;
  }
  j["failures"] = {{"stream_missing", failures.stream_missing},
                   {"sidecar_timeout", failures.sidecar_timeout},
                   {"sidecar_wrong_reason", failures.sidecar_wrong_reason},
                   {"revoke_error", failures.revoke_error},
                   {"streams_ended", failures.streams_ended}};
  return j;
}

void PrintSummary(const nlohmann::json& j) {
  auto line = [&j](const char* name, const char* key) {
    const nlohmann::json& s = j[key];
    if (s.is_null()) return;
    const std::string count =
        s.contains("count")
            ? absl::StrCat("  (n=", s["count"].get<size_t>(), ")")
            : "";
    std::fprintf(stderr, "  %-30s p50 %8.3f  p99 %8.3f  max %8.3f ms%s\n", name,
                 s["p50"].get<double>(), s["p99"].get<double>(),
                 s["max"].get<double>(), count.c_str());
  };
  std::fprintf(stderr,
               "pat-bench-propagation %s: %d revocations, %d streams over %d "
               "connections\n",
               j["label"].get<std::string>().c_str(),
               j["revocations"].get<int>(), j["streams"].get<int>(),
               j["channels"].get<int>());
  line("RevokeToken RPC", "revoke_rpc_ms");
  line("stream delay (from t0)", "stream_delay_ms");
  line("stream delay (from send)", "stream_delay_from_send_ms");
  line("slowest stream per revocation", "per_revocation_slowest_stream_ms");
  line("slowest - fastest stream", "per_revocation_spread_ms");
  line("sidecar 401 (from t0)", "sidecar_401_ms");
  std::fprintf(stderr, "  failures: %s\n", j["failures"].dump().c_str());
}

// Everything one revocation needs besides its token; owned by Run().
struct Context {
  const Config& config;
  WatchFleet& fleet;
  v1::TokenService::Stub& stub;
  HttpProbe* probe;        // null without --sidecar
  std::ofstream* details;  // null without --details
  Clock::time_point start;
};

// Revokes config.tokens[i] and measures it (see the file comment). Adds to
// `samples` and `failures`; false when RevokeToken failed (nothing else was
// measured then).
bool MeasureRevocation(const Context& ctx, size_t i, Samples& samples,
                       Failures& failures) {
  const Config& config = ctx.config;
  const TokenLine& token = config.tokens[i];
  v1::RevokeTokenRequest request;
  request.set_plan_id(config.plan);
  request.set_token_id(token.id);
  v1::Token revoked;
  grpc::ClientContext context;
  context.AddMetadata("x-pat-actor", config.actor);
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoNanoseconds(kRevokeDeadline));
  const Clock::time_point sent = Clock::now();
  const grpc::Status status = ctx.stub.RevokeToken(&context, request, &revoked);
  const Clock::time_point t0 = Clock::now();
  ++samples.revocations;
  if (!status.ok() || revoked.status() != v1::TOKEN_STATUS_REVOKED) {
    ++failures.revoke_error;
    const std::string why =
        status.ok()
            ? "the token is not REVOKED afterwards"
            : absl::StrCat("code ", static_cast<int>(status.error_code()), ": ",
                           status.error_message());
    std::fprintf(stderr, "RevokeToken %s failed: %s\n", token.id.c_str(),
                 why.c_str());
    return false;
  }
  samples.revoke_rpc.push_back(Millis(t0 - sent));
  const Clock::time_point deadline =
      t0 + absl::ToChronoNanoseconds(config.timeout);

  // The sidecar first: the streams record their receive times meanwhile.
  std::optional<double> sidecar_ms;
  if (ctx.probe != nullptr) {
    sidecar_ms =
        PollSidecar(config, token, t0, deadline, *ctx.probe, samples, failures);
  }

  const std::vector<std::optional<SteadyTime>> times =
      ctx.fleet.WaitRevoked(i, deadline);
  std::vector<double> delays;  // of the streams that saw this revocation
  for (const std::optional<SteadyTime>& t : times) {
    if (!t.has_value()) continue;
    delays.push_back(Millis(*t - t0));
    samples.stream_delay_from_send.push_back(Millis(*t - sent));
  }
  samples.stream_delay.insert(samples.stream_delay.end(), delays.begin(),
                              delays.end());
  const int missing = config.streams - static_cast<int>(delays.size());
  const Summary per_stream = Summarize(delays);
  if (missing > 0) {
    failures.stream_missing += missing;
    std::fprintf(stderr, "%s: %d of %d streams did not see the revocation\n",
                 token.id.c_str(), missing, config.streams);
  } else {
    samples.slowest_stream.push_back(per_stream.max);
    samples.spread.push_back(per_stream.max - per_stream.min);
  }
  if (ctx.details != nullptr) {
    nlohmann::json line = {{"i", i},
                           {"token_id", token.id},
                           {"t_ms", Millis(sent - ctx.start)},
                           {"rpc_ms", Millis(t0 - sent)},
                           {"sidecar_ms", nullptr},
                           {"fastest_ms", per_stream.min},
                           {"median_ms", per_stream.p50},
                           {"slowest_ms", per_stream.max},
                           {"missing", missing}};
    if (sidecar_ms.has_value()) line["sidecar_ms"] = *sidecar_ms;
    *ctx.details << line.dump() << "\n";
  }
  return true;
}

absl::Status WriteResult(const nlohmann::json& result) {
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) {
    std::printf("%s\n", result.dump(2).c_str());
    return absl::OkStatus();
  }
  std::ofstream file(out);
  file << result.dump(2) << "\n";
  if (!file.flush()) {
    return absl::UnavailableError(absl::StrCat("--out: cannot write ", out));
  }
  return absl::OkStatus();
}

// The exit status: 0 without failures, 1 with; an error status on a setup
// failure.
absl::StatusOr<int> Run() {
  absl::StatusOr<Config> parsed = ConfigFromFlags();
  if (!parsed.ok()) return parsed.status();
  const Config& config = *parsed;

  WatchFleetOptions fleet_options;
  fleet_options.authority = config.authority;
  fleet_options.streams = config.streams;
  fleet_options.channels = config.channels;
  fleet_options.snapshot_all = config.snapshot_all;
  for (const TokenLine& token : config.tokens) {
    fleet_options.token_ids.push_back(token.id);
  }
  const int channels = config.channels == 0
                           ? config.streams
                           : std::min(config.channels, config.streams);
  WatchFleet fleet(std::move(fleet_options));
  const Clock::time_point open_start = Clock::now();
  if (absl::Status s = fleet.Start(); !s.ok()) return s;
  std::fprintf(stderr, "opening %d WatchGrants streams over %d connections%s\n",
               config.streams, channels,
               config.snapshot_all ? ", every one taking the snapshot" : "");
  if (absl::Status s = fleet.WaitSynced(config.sync_timeout); !s.ok()) {
    return s;
  }
  // Start -> every stream has its synced_revision marker.
  const double all_synced_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - open_start)
          .count();
  std::fprintf(stderr, "all %d streams synced in %.1f ms\n", config.streams,
               all_synced_ms);
  if (absl::Status s = fleet.CheckSnapshot(); !s.ok()) return s;

  std::optional<HttpProbe> probe;
  if (!config.sidecar.empty()) {
    probe.emplace(config.sidecar, kHttpTimeout);
    if (absl::Status s = WarmSidecar(config, *probe); !s.ok()) return s;
    std::fprintf(stderr, "sidecar accepts all %zu tokens on %s\n",
                 config.tokens.size(), config.sidecar_path.c_str());
  }

  std::ofstream details;
  if (const std::string path = absl::GetFlag(FLAGS_details); !path.empty()) {
    details.open(path);
    if (!details) {
      return absl::UnavailableError(
          absl::StrCat("--details: cannot write ", path));
    }
  }

  // The admin connection is separate from the watchers' connections.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto stub = v1::TokenService::NewStub(grpc::CreateCustomChannel(
      config.authority, grpc::InsecureChannelCredentials(), args));

  const Context ctx{config,
                    fleet,
                    *stub,
                    probe.has_value() ? &*probe : nullptr,
                    details.is_open() ? &details : nullptr,
                    Clock::now()};
  Samples samples;
  Failures failures;
  const int cpu_pid = absl::GetFlag(FLAGS_cpu_pid);
  const std::optional<double> cpu_start =
      cpu_pid > 0 ? ProcessCpuSeconds(cpu_pid) : std::nullopt;
  for (size_t i = 0; i < config.tokens.size(); ++i) {
    if (MeasureRevocation(ctx, i, samples, failures) &&
        config.interval > absl::ZeroDuration()) {
      std::this_thread::sleep_for(absl::ToChronoNanoseconds(config.interval));
    }
  }
  // The target's CPU and memory with every stream still open (closing
  // them is not part of the measurement).
  const std::optional<double> cpu_end =
      cpu_pid > 0 ? ProcessCpuSeconds(cpu_pid) : std::nullopt;
  const std::optional<long long> rss =
      cpu_pid > 0 ? ProcessRssKib(cpu_pid) : std::nullopt;
  failures.streams_ended = fleet.ended_streams();
  if (failures.streams_ended > 0) {
    std::fprintf(stderr, "%d watch streams ended early (first: %s)\n",
                 failures.streams_ended, fleet.first_end_status().c_str());
  }
  fleet.Stop();

  nlohmann::json result = ResultJson(config, channels, samples, failures);
  result["snapshot_all"] = config.snapshot_all;
  result["all_synced_ms"] = all_synced_ms;
  result["snapshot_events_per_stream"] = fleet.snapshot_events(0);
  if (cpu_start.has_value() && cpu_end.has_value() && samples.revocations > 0) {
    // Includes each RevokeToken's own work (constant per revocation).
    const double us = (*cpu_end - *cpu_start) * 1e6;
    result["target_cpu_us_per_revocation"] = us / samples.revocations;
    result["target_cpu_us_per_stream_event"] =
        us / (static_cast<double>(samples.revocations) * config.streams);
  }
  if (rss.has_value()) result["target_rss_kib"] = *rss;
  if (absl::Status s = WriteResult(result); !s.ok()) return s;
  PrintSummary(result);
  return failures.total() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace pat::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Measures how fast RevokeToken reaches WatchGrants streams and a "
      "pat-sidecar.\n  pat-bench-propagation --authority=H:P --actor=A "
      "--plan=P --tokens=FILE [--streams=100] [--sidecar=H:P] "
      "[--out=FILE.json]");
  absl::ParseCommandLine(argc, argv);
  const absl::StatusOr<int> code = pat::bench::Run();
  if (!code.ok()) {
    std::fprintf(stderr, "pat-bench-propagation: %s\n",
                 code.status().ToString().c_str());
    return 1;
  }
  return *code;
}
