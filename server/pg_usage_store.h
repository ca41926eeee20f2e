#ifndef PAT_SERVER_PG_USAGE_STORE_H_
#define PAT_SERVER_PG_USAGE_STORE_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/db_pool.h"
#include "server/usage_store.h"

// UsageStore on PostgreSQL (table token_usage, migration 7). Bounded: at
// most `max_keys_per_bucket` keys per token and hour (a batch may overshoot
// by its own size), buckets older than `retention` are deleted (at most once
// per `prune_interval`), and Read returns at most `max_read_keys` keys.
// Thread-safe; `pool` must outlive the store.
namespace pat::usage {

struct PgUsageStoreOptions {
  absl::Duration retention = absl::Hours(24 * 90);
  absl::Duration prune_interval = absl::Minutes(10);
  int max_keys_per_bucket = 2000;
  int max_read_keys = 20000;
};

class PgUsageStore final : public UsageStore {
 public:
  explicit PgUsageStore(DbPool& pool, PgUsageStoreOptions options = {})
      : pool_(pool), options_(options) {}

  absl::Status Add(const std::vector<TokenUsageCount>& counts,
                   absl::Time now) override;
  absl::StatusOr<std::vector<UsageCount>> Read(const std::string& token_id,
                                               absl::Time since) override;

 private:
  DbPool& pool_;
  const PgUsageStoreOptions options_;
  absl::Mutex mu_;
  absl::Time last_prune_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// The start of the hour containing `t` (UTC).
absl::Time HourBucket(absl::Time t);

}  // namespace pat::usage

#endif  // PAT_SERVER_PG_USAGE_STORE_H_
