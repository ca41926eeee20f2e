#ifndef PAT_SERVER_LEAK_STORE_H_
#define PAT_SERVER_LEAK_STORE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/domain.h"
#include "server/token_store.h"

// Persistence of the leaked-secret intake (docs/leak-intake.md): per-plan
// leak policies (table plan_leak_policies, migration 5) and the audit event of
// a flagged leak. Revoking a leaked token goes through TokenStore::MutateToken
// (token, audit event and grant feed event in one transaction); this store
// holds only what that API has no place for. Same conventions as
// PgTokenStore: storage errors are statuses (never exceptions), messages
// never contain SQL or secrets. Thread-safe.
namespace pat {

enum class LeakPolicy { kRevoke, kFlag };

// "revoke" or "flag".
absl::string_view LeakPolicyName(LeakPolicy policy);

class LeakStore {
 public:
  virtual ~LeakStore() = default;

  // The plan's policy; kRevoke (the default) when none was set.
  virtual absl::StatusOr<LeakPolicy> GetLeakPolicy(
      const std::string& plan_id) = 0;

  // Locks the plan row FOR SHARE, calls `check` with it (NOT_FOUND when the
  // plan does not exist), then stores the policy and writes the audit event
  // "leak_policy_set" {"before": {"leak_policy"}, "after": {"leak_policy"}}
  // by `actor`, in one transaction. Setting the current policy writes
  // nothing.
  virtual absl::Status SetLeakPolicy(const std::string& plan_id,
                                     LeakPolicy policy,
                                     const std::string& actor, absl::Time now,
                                     const PlanCheckFn& check) = 0;

  // Writes the audit event "leak_flagged" for `token` with `details_json`
  // (never a secret). Nothing else changes.
  virtual absl::Status RecordLeakFlag(const Token& token,
                                      const std::string& actor,
                                      absl::Time now,
                                      const std::string& details_json) = 0;
};

}  // namespace pat

#endif  // PAT_SERVER_LEAK_STORE_H_
