#ifndef PAT_SERVER_PG_LEAK_STORE_H_
#define PAT_SERVER_PG_LEAK_STORE_H_

#include <memory>
#include <string>

#include "server/db_pool.h"
#include "server/leak_store.h"

namespace pat {

// LeakStore on PostgreSQL through libpqxx, on the authority's pool. Every
// libpqxx exception is caught here. The pool must outlive the store.
class PgLeakStore final : public LeakStore {
 public:
  explicit PgLeakStore(DbPool& pool) : pool_(pool) {}

  absl::StatusOr<LeakPolicy> GetLeakPolicy(const std::string& plan_id) override;
  absl::Status SetLeakPolicy(const std::string& plan_id, LeakPolicy policy,
                             const std::string& actor, absl::Time now,
                             const PlanCheckFn& check) override;
  absl::Status RecordLeakFlag(const Token& token, const std::string& actor,
                              absl::Time now,
                              const std::string& details_json) override;

 private:
  DbPool& pool_;
};

}  // namespace pat

#endif  // PAT_SERVER_PG_LEAK_STORE_H_
