#include "server/leak_metrics.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace pat {
namespace {

constexpr absl::string_view kCandidates = "pat_authority_leak_candidates_total";
constexpr absl::string_view kCandidatesHelp =
    "Leak candidates judged, by outcome";
constexpr absl::string_view kActions = "pat_authority_leak_actions_total";
constexpr absl::string_view kActionsHelp =
    "Tokens revoked or flagged because their secret leaked";
constexpr absl::string_view kHttp = "pat_authority_leak_http_requests_total";
constexpr absl::string_view kHttpHelp =
    "Requests to the secret-scanning partner endpoint, by status code";
constexpr int kHttpCodes[] = {200, 400, 401, 404, 405, 408, 413, 415, 503};

}  // namespace

LeakMetrics::LeakMetrics(MetricsRegistry& registry)
    : true_positive(registry.GetCounter(kCandidates, kCandidatesHelp,
                                        {{"outcome", "true_positive"}})),
      false_positive(registry.GetCounter(kCandidates, kCandidatesHelp,
                                         {{"outcome", "false_positive"}})),
      offline_rejected(registry.GetCounter(
          "pat_authority_leak_offline_rejected_total",
          "Leak candidates refused by the offline shape and checksum check "
          "(no database lookup)")),
      lookups(registry.GetCounter("pat_authority_leak_lookups_total",
                                  "Digest lookups made for leak candidates")),
      revoked(registry.GetCounter(kActions, kActionsHelp,
                                  {{"action", "revoked"}})),
      flagged(registry.GetCounter(kActions, kActionsHelp,
                                  {{"action", "flagged"}})),
      registry_(registry) {
  for (int code : kHttpCodes) {
    registry_.GetCounter(kHttp, kHttpHelp, {{"code", absl::StrCat(code)}});
  }
}

void LeakMetrics::RecordHttp(int code) {
  for (int known : kHttpCodes) {
    if (known == code) {
      registry_.GetCounter(kHttp, kHttpHelp, {{"code", absl::StrCat(code)}})
          .Inc();
      return;
    }
  }
  registry_.GetCounter(kHttp, kHttpHelp, {{"code", "other"}}).Inc();
}

}  // namespace pat
