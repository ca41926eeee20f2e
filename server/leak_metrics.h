#ifndef PAT_SERVER_LEAK_METRICS_H_
#define PAT_SERVER_LEAK_METRICS_H_

#include "absl/strings/string_view.h"
#include "common/metrics.h"

// Metrics of the leaked-secret intake, created at start with fixed labels
// (never a secret, digest, token id, plan id or URL):
//   pat_authority_leak_candidates_total{outcome="true_positive"|"false_positive"}
//   pat_authority_leak_offline_rejected_total   shape/checksum failures (no lookup)
//   pat_authority_leak_lookups_total            digest lookups in the database
//   pat_authority_leak_actions_total{action="revoked"|"flagged"}
//   pat_authority_leak_http_requests_total{code}  partner endpoint answers:
//       code 200, 400, 401, 404, 405, 408, 413, 415, 503
namespace pat {

struct LeakMetrics {
  explicit LeakMetrics(MetricsRegistry& registry);

  // "other" for a code outside the fixed list.
  void RecordHttp(int code);

  Counter& true_positive;
  Counter& false_positive;
  Counter& offline_rejected;
  Counter& lookups;
  Counter& revoked;
  Counter& flagged;

 private:
  MetricsRegistry& registry_;
};

}  // namespace pat

#endif  // PAT_SERVER_LEAK_METRICS_H_
