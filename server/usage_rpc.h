#ifndef PAT_SERVER_USAGE_RPC_H_
#define PAT_SERVER_USAGE_RPC_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pat/v1/pat.pb.h"
#include "server/token_lifecycle.h"
#include "server/usage_store.h"

// The edge of the least-privilege report (docs/usage-report.md): validates
// and stores ReportUsage's counts, and answers GetTokenUsageReport.
// Thread-safe; `lifecycle` and `store` must outlive it.
namespace pat::usage {

inline constexpr int kMaxUsageCounts = 10000;      // per ReportUsage call
inline constexpr int kMaxCountResources = 100;     // kMaxBodyResources
inline constexpr int kMaxResourceAncestors = 8;
inline constexpr int kMaxSatisfyingScopes = 32;
inline constexpr int kDefaultWindowHours = 168;
inline constexpr int kMaxWindowHours = 2160;       // the retention

class UsageService {
 public:
  UsageService(TokenLifecycle& lifecycle, UsageStore& store)
      : lifecycle_(lifecycle), store_(store) {}

  // ReportUsage's `counts` (the caller already checked the sidecar role).
  // INVALID_ARGUMENT for a malformed count (nothing stored).
  absl::Status Record(const v1::ReportUsageRequest& request);

  // GetTokenUsageReport for `actor`: authorized exactly like GetToken (a
  // token of a plan the actor does not administer is NOT_FOUND /
  // PERMISSION_DENIED as GetToken answers); INVALID_ARGUMENT for a window
  // outside 0..kMaxWindowHours.
  absl::Status Report(const std::string& actor,
                      const v1::GetTokenUsageReportRequest& request,
                      v1::TokenUsageReport& response);

 private:
  TokenLifecycle& lifecycle_;
  UsageStore& store_;
};

// ReportUsage counts -> canonical domain counts; INVALID_ARGUMENT naming the
// first bad field.
absl::StatusOr<std::vector<TokenUsageCount>> UsageCountsFromProto(
    const v1::ReportUsageRequest& request);

}  // namespace pat::usage

#endif  // PAT_SERVER_USAGE_RPC_H_
