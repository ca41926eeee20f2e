#ifndef PAT_BENCH_LOADGEN_REPORT_H_
#define PAT_BENCH_LOADGEN_REPORT_H_

#include <string>

#include "bench/loadgen/latency.h"
#include "bench/loadgen/load_generator.h"
#include "bench/loadgen/run_stats.h"
#include "nlohmann/json.hpp"

// The result of a pat-loadgen run, as JSON and as a one-paragraph summary.
//
// JSON (keys in this order):
//   {"label": str, "target": "host:port", "connections": N, "threads": T,
//    "rate_requested": R (0 in closed loop), "duration_s": s, "warmup_s": s,
//    "requests_sent": n, "responses": n,
//    "errors": {"connect": n, "write": n, "read": n, "timeout": n},
//    "unsent": n,
//    "status": {"200": n, "401": n, ...},       (codes seen, ascending)
//    "achieved_rps": responses / duration_s,
//    "latency_us": {"min", "mean", "p50", "p75", "p90", "p99", "p999",
//                   "p9999", "max"},              (null without responses)
//    "percentile_curve": [[percentile, latency_us], ...],  (60 points)
//    "closed_loop": bool}
// See run_stats.h for what the counts mean; latencies are from the intended
// send time (open loop) or the actual send (closed loop) to the last byte
// of the response.
namespace pat::bench::loadgen {

struct RunReport {
  std::string label;
  std::string target;
  LoadConfig config;
  RunStats stats;  // latencies_ns sorted by MakeReport
  LatencySummary latency;
};

// Summarizes `stats` (its latencies are sorted in place, then kept).
RunReport MakeReport(std::string label, std::string target,
                     const LoadConfig& config, RunStats stats);

nlohmann::ordered_json ReportToJson(const RunReport& report);

// ReportToJson() as text for files and terminals: one top-level key per
// line, objects on one line, one array element (curve point) per line.
std::string ReportJsonText(const RunReport& report);

// One paragraph for humans (ends with '\n').
std::string ReportSummary(const RunReport& report);

// True when the run should exit 1: no responses, or errors on more than 1%
// of the requests sent.
bool RunFailed(const RunReport& report);

}  // namespace pat::bench::loadgen

#endif  // PAT_BENCH_LOADGEN_REPORT_H_
