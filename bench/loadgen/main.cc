// pat-loadgen: an open-loop HTTP/1.1 load generator (wrk2's model: latency
// is measured from each request's intended send time, so a stalling server
// cannot hide its tail by slowing the generator down). See
// bench/loadgen/load_generator.h for the exact semantics and
// bench/loadgen/report.h for the JSON written to --out.
//
//   pat-loadgen --target=127.0.0.1:8080 --requests=requests.tsv
//       --rate=2000 --connections=16 --duration=10s --out=result.json
//
// Exit status: 0 success; 1 when no response arrived or errors exceeded 1%
// of the requests; 2 for bad flags or an invalid request file.

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "bench/loadgen/load_generator.h"
#include "bench/loadgen/report.h"
#include "bench/loadgen/request_file.h"

ABSL_FLAG(std::string, target, "", "host:port to load (required)");
ABSL_FLAG(std::string, requests, "",
          "request file (required): one request per line, "
          "METHOD<TAB>PATH[<TAB>Header-Name: value]...; blank lines and "
          "lines starting with # are ignored");
ABSL_FLAG(int, connections, 16,
          "keep-alive connections (one request in "
          "flight on each)");
ABSL_FLAG(double, rate, -1,
          "total requests/s (required): > 0 open loop; 0 closed loop (next "
          "request as soon as the previous answer arrived)");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10),
          "measured duration, after the warm-up");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2),
          "warm-up before the measured duration (not recorded)");
ABSL_FLAG(int, threads, 1,
          "event-loop threads; each owns a share of the connections");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5), "per-request timeout");
ABSL_FLAG(std::string, out, "", "JSON result file (default: stdout)");
ABSL_FLAG(std::string, label, "", "free text copied into the JSON result");

namespace {

constexpr int kExitRunFailed = 1;
constexpr int kExitUsage = 2;

int Usage(const absl::Status& status) {
  std::fprintf(stderr, "pat-loadgen: %s\n",
               std::string(status.message()).c_str());
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  namespace lg = pat::bench::loadgen;
  absl::SetProgramUsageMessage(
      "Open-loop HTTP/1.1 load generator (latency from the intended send "
      "time).\n"
      "  pat-loadgen --target=HOST:PORT --requests=FILE --rate=R "
      "[--connections=16] [--duration=10s] [--warmup=2s] [--threads=1] "
      "[--timeout=5s] [--out=FILE.json] [--label=STR]");
  absl::ParseCommandLine(argc, argv);

  lg::LoadConfig config;
  const std::string target = absl::GetFlag(FLAGS_target);
  if (target.empty())
    return Usage(absl::InvalidArgumentError("--target is required"));
  if (absl::Status s = lg::ParseTarget(target, &config); !s.ok())
    return Usage(s);
  if (absl::GetFlag(FLAGS_requests).empty()) {
    return Usage(absl::InvalidArgumentError("--requests is required"));
  }
  config.rate = absl::GetFlag(FLAGS_rate);
  if (config.rate < 0) {
    return Usage(absl::InvalidArgumentError(
        "--rate is required: requests/s (> 0), or 0 for closed loop"));
  }
  config.connections = absl::GetFlag(FLAGS_connections);
  config.threads = absl::GetFlag(FLAGS_threads);
  config.duration = absl::GetFlag(FLAGS_duration);
  config.warmup = absl::GetFlag(FLAGS_warmup);
  config.timeout = absl::GetFlag(FLAGS_timeout);
  if (absl::Status s = lg::ValidateConfig(config); !s.ok()) return Usage(s);

  auto requests = lg::LoadRequestFile(absl::GetFlag(FLAGS_requests),
                                      lg::HostHeader(config));
  if (!requests.ok()) return Usage(requests.status());

  auto stats = lg::RunLoad(config, *requests);
  if (!stats.ok()) {
    std::fprintf(stderr, "pat-loadgen: %s\n",
                 std::string(stats.status().message()).c_str());
    return kExitRunFailed;
  }
  const lg::RunReport report = lg::MakeReport(
      absl::GetFlag(FLAGS_label), target, config, *std::move(stats));
  const std::string json = lg::ReportJsonText(report);

  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) {
    std::fwrite(json.data(), 1, json.size(), stdout);
    std::fflush(stdout);
  } else {
    std::ofstream file(out, std::ios::binary | std::ios::trunc);
    file << json;
    file.close();
    if (!file) {
      std::fprintf(stderr, "pat-loadgen: cannot write %s\n", out.c_str());
      return kExitRunFailed;
    }
  }
  const std::string summary = lg::ReportSummary(report);
  std::fwrite(summary.data(), 1, summary.size(), stderr);
  return lg::RunFailed(report) ? kExitRunFailed : 0;
}
