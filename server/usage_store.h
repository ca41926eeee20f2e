#ifndef PAT_SERVER_USAGE_STORE_H_
#define PAT_SERVER_USAGE_STORE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/usage_report.h"

// Aggregated allowed-request usage per token, in hourly buckets
// (docs/usage-report.md). Implementation: PgUsageStore.
namespace pat::usage {

struct TokenUsageCount {
  std::string token_id;
  UsageCount count;  // canonical (Canonicalize), count > 0
};

class UsageStore {
 public:
  virtual ~UsageStore() = default;
  // Adds `counts` to the bucket of the hour containing `now`. Counts of
  // unknown tokens are ignored; keys beyond a token's per-bucket cap are
  // dropped. Also prunes buckets older than the retention.
  virtual absl::Status Add(const std::vector<TokenUsageCount>& counts,
                           absl::Time now) = 0;
  // The token's counts in buckets starting at or after `since`, summed per
  // key.
  virtual absl::StatusOr<std::vector<UsageCount>> Read(
      const std::string& token_id, absl::Time since) = 0;
};

}  // namespace pat::usage

#endif  // PAT_SERVER_USAGE_STORE_H_
