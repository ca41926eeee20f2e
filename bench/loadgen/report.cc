#include "bench/loadgen/report.h"

#include <cmath>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

namespace pat::bench::loadgen {
namespace {

// Rounds to whole nanoseconds (3 decimals of a microsecond) so the JSON
// does not show binary-fraction noise.
double RoundUs(double us) { return std::round(us * 1000.0) / 1000.0; }

double DurationSeconds(const LoadConfig& config) {
  return absl::ToDoubleSeconds(config.duration);
}

// absl::FormatDuration() writes a zero duration as "0".
std::string DurationText(absl::Duration d) {
  return d == absl::ZeroDuration() ? "0s" : absl::FormatDuration(d);
}

std::string FormatUs(double us) {
  if (us >= 1000.0) return absl::StrFormat("%.2f ms", us / 1000.0);
  return absl::StrFormat("%.0f us", us);
}

}  // namespace

RunReport MakeReport(std::string label, std::string target,
                     const LoadConfig& config, RunStats stats) {
  RunReport report;
  report.label = std::move(label);
  report.target = std::move(target);
  report.config = config;
  report.stats = std::move(stats);
  report.latency = SummarizeLatencies(report.stats.latencies_ns);
  return report;
}

nlohmann::ordered_json ReportToJson(const RunReport& report) {
  const RunStats& s = report.stats;
  const LatencySummary& l = report.latency;
  nlohmann::ordered_json j;
  j["label"] = report.label;
  j["target"] = report.target;
  j["connections"] = report.config.connections;
  j["threads"] = report.config.threads;
  j["rate_requested"] = report.config.rate;
  j["duration_s"] = DurationSeconds(report.config);
  j["warmup_s"] = absl::ToDoubleSeconds(report.config.warmup);
  j["requests_sent"] = s.requests_sent;
  j["responses"] = s.responses;
  // Only the kinds: consumers sum the values.
  j["errors"] = {{"connect", s.errors.connect},
                 {"write", s.errors.write},
                 {"read", s.errors.read},
                 {"timeout", s.errors.timeout}};
  j["unsent"] = s.unsent;
  nlohmann::ordered_json status = nlohmann::ordered_json::object();
  for (size_t code = 0; code < s.status.size(); ++code) {
    if (s.status[code] != 0) status[std::to_string(code)] = s.status[code];
  }
  j["status"] = std::move(status);
  j["achieved_rps"] =
      std::round(s.responses / DurationSeconds(report.config) * 100.0) / 100.0;
  nlohmann::ordered_json latency;
  const std::pair<const char*, double> fields[] = {
      {"min", l.min_us},   {"mean", l.mean_us},   {"p50", l.p50_us},
      {"p75", l.p75_us},   {"p90", l.p90_us},     {"p99", l.p99_us},
      {"p999", l.p999_us}, {"p9999", l.p9999_us}, {"max", l.max_us}};
  for (const auto& [name, value] : fields) {
    latency[name] = l.count == 0 ? nlohmann::ordered_json(nullptr)
                                 : nlohmann::ordered_json(RoundUs(value));
  }
  j["latency_us"] = std::move(latency);
  nlohmann::ordered_json curve = nlohmann::ordered_json::array();
  for (const auto& [p, us] : l.curve) curve.push_back({p, RoundUs(us)});
  j["percentile_curve"] = std::move(curve);
  j["closed_loop"] = report.config.closed_loop();
  return j;
}

std::string ReportJsonText(const RunReport& report) {
  const nlohmann::ordered_json j = ReportToJson(report);
  std::string out = "{\n";
  for (auto it = j.begin(); it != j.end(); ++it) {
    absl::StrAppend(&out, "  ", nlohmann::ordered_json(it.key()).dump(), ": ");
    if (it->is_array() && !it->empty()) {
      out += "[\n";
      for (size_t i = 0; i < it->size(); ++i) {
        absl::StrAppend(&out, "    ", (*it)[i].dump(),
                        i + 1 < it->size() ? ",\n" : "\n");
      }
      out += "  ]";
    } else {
      out += it->dump();
    }
    out += std::next(it) != j.end() ? ",\n" : "\n";
  }
  out += "}\n";
  return out;
}

std::string ReportSummary(const RunReport& report) {
  const RunStats& s = report.stats;
  const LoadConfig& c = report.config;
  std::string out = absl::StrCat(
      "pat-loadgen", report.label.empty() ? "" : " [", report.label,
      report.label.empty() ? "" : "]", ": ", report.target, ", ");
  if (c.closed_loop()) {
    absl::StrAppend(&out, "closed loop");
  } else {
    absl::StrAppend(&out, absl::StrFormat("open loop at %g req/s", c.rate));
  }
  absl::StrAppend(
      &out,
      absl::StrFormat(" over %d connection%s, %d thread%s, %s measured after "
                      "%s warm-up: %u requests, %u responses (",
                      c.connections, c.connections == 1 ? "" : "s", c.threads,
                      c.threads == 1 ? "" : "s", DurationText(c.duration),
                      DurationText(c.warmup), s.requests_sent, s.responses));
  std::vector<std::string> codes;
  for (size_t code = 0; code < s.status.size(); ++code) {
    if (s.status[code] != 0)
      codes.push_back(absl::StrCat(code, ": ", s.status[code]));
  }
  absl::StrAppend(&out, codes.empty() ? "none" : absl::StrJoin(codes, ", "),
                  "), ");
  absl::StrAppend(
      &out, absl::StrFormat("%u errors (connect %u, write %u, read %u, "
                            "timeout %u)",
                            s.errors.total(), s.errors.connect, s.errors.write,
                            s.errors.read, s.errors.timeout));
  if (s.unsent != 0) {
    absl::StrAppend(&out, absl::StrFormat(", %u scheduled requests never sent "
                                          "(fell behind)",
                                          s.unsent));
  }
  absl::StrAppend(&out, absl::StrFormat("; achieved %.1f req/s",
                                        s.responses / DurationSeconds(c)));
  const LatencySummary& l = report.latency;
  if (l.count != 0) {
    absl::StrAppend(&out, "; latency",
                    c.closed_loop() ? "" : " from intended send time", ": p50 ",
                    FormatUs(l.p50_us), ", p90 ", FormatUs(l.p90_us), ", p99 ",
                    FormatUs(l.p99_us), ", p99.9 ", FormatUs(l.p999_us),
                    ", max ", FormatUs(l.max_us));
  }
  absl::StrAppend(&out, RunFailed(report) ? ". FAILED (no responses or "
                                            "errors above 1%).\n"
                                          : ".\n");
  return out;
}

bool RunFailed(const RunReport& report) {
  const RunStats& s = report.stats;
  if (s.responses == 0) return true;
  return static_cast<double>(s.errors.total()) >
         0.01 * static_cast<double>(s.requests_sent);
}

}  // namespace pat::bench::loadgen
