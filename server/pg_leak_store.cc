#include "server/pg_leak_store.h"

#include <cstdio>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "pqxx/pqxx"

namespace pat {
namespace {

constexpr int kMaxAttempts = 5;

int64_t Us(absl::Time t) { return absl::ToUnixMicros(t); }

// Runs `body` in a READ COMMITTED transaction on a pooled connection and
// commits when it returns OK. Retries serialization failures, deadlocks and
// connections broken before commit; never retries a commit whose outcome is
// unknown (the same mapping as PgTokenStore).
template <typename T, typename Body>
absl::StatusOr<T> Transact(DbPool& pool, absl::string_view op, Body&& body) {
  absl::Status last = absl::UnavailableError("database unavailable");
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    PAT_ASSIGN_OR_RETURN(DbPool::Lease lease, pool.Acquire());
    bool committing = false;
    try {
      pqxx::work txn(*lease);
      absl::StatusOr<T> result = body(txn);
      if (!result.ok()) {
        txn.abort();
        return result;
      }
      committing = true;
      txn.commit();
      return result;
    } catch (const pqxx::in_doubt_error&) {
      lease.Discard();
      return absl::UnavailableError(
          absl::StrCat(op, ": the outcome of the commit is unknown"));
    } catch (const pqxx::broken_connection&) {
      lease.Discard();
      if (committing) {
        return absl::UnavailableError(
            absl::StrCat(op, ": the outcome of the commit is unknown"));
      }
      last = absl::UnavailableError("database unavailable");
    } catch (const pqxx::serialization_failure&) {
      last = absl::AbortedError(
          absl::StrCat(op, ": conflicting concurrent change; retry"));
    } catch (const pqxx::deadlock_detected&) {
      last = absl::AbortedError(
          absl::StrCat(op, ": conflicting concurrent change; retry"));
    } catch (const pqxx::sql_error& e) {
      lease.Discard();
      std::fprintf(stderr,
                   "{\"level\":\"error\",\"msg\":\"storage error\","
                   "\"op\":\"%s\",\"sqlstate\":\"%s\"}\n",
                   std::string(op).c_str(), e.sqlstate().c_str());
      return absl::InternalError(absl::StrCat(op, ": storage error"));
    } catch (const std::exception&) {
      lease.Discard();
      return absl::InternalError(absl::StrCat(op, ": storage error"));
    }
  }
  return last;
}

LeakPolicy PolicyFromName(const std::string& name) {
  return name == "flag" ? LeakPolicy::kFlag : LeakPolicy::kRevoke;
}

void InsertAudit(pqxx::work& txn, const std::string& plan_id,
                 const std::string& token_id, const std::string& actor,
                 const std::string& action, absl::Time time,
                 const std::string& details_json) {
  txn.exec_params(
      "INSERT INTO audit_events (plan_id, token_id, actor, action, time, "
      "details) VALUES ($1, $2, $3, $4, pat_ts($5), $6::jsonb)",
      plan_id, token_id, actor, action, Us(time), details_json);
}

}  // namespace

absl::string_view LeakPolicyName(LeakPolicy policy) {
  return policy == LeakPolicy::kFlag ? "flag" : "revoke";
}

absl::StatusOr<LeakPolicy> PgLeakStore::GetLeakPolicy(
    const std::string& plan_id) {
  return Transact<LeakPolicy>(
      pool_, "get leak policy",
      [&](pqxx::work& txn) -> absl::StatusOr<LeakPolicy> {
        pqxx::result r = txn.exec_params(
            "SELECT policy FROM plan_leak_policies WHERE plan_id = $1",
            plan_id);
        if (r.empty()) return LeakPolicy::kRevoke;
        return PolicyFromName(r[0][0].as<std::string>());
      });
}

absl::Status PgLeakStore::SetLeakPolicy(const std::string& plan_id,
                                        LeakPolicy policy,
                                        const std::string& actor,
                                        absl::Time now,
                                        const PlanCheckFn& check) {
  return Transact<bool>(
             pool_, "set leak policy",
             [&](pqxx::work& txn) -> absl::StatusOr<bool> {
               pqxx::result p = txn.exec_params(
                   "SELECT name, tier FROM plans WHERE id = $1 FOR SHARE",
                   plan_id);
               if (p.empty()) return absl::NotFoundError("plan not found");
               Plan plan;
               plan.id = plan_id;
               plan.name = p[0][0].as<std::string>();
               plan.tier = PlanTierFromName(p[0][1].as<std::string>());
               for (const pqxx::row& row : txn.exec_params(
                        "SELECT user_id FROM plan_admins WHERE plan_id = $1 "
                        "ORDER BY user_id",
                        plan_id)) {
                 plan.admin_user_ids.push_back(row[0].as<std::string>());
               }
               if (check) PAT_RETURN_IF_ERROR(check(plan));
               pqxx::result cur = txn.exec_params(
                   "SELECT policy FROM plan_leak_policies WHERE plan_id = $1 "
                   "FOR UPDATE",
                   plan_id);
               const LeakPolicy before =
                   cur.empty() ? LeakPolicy::kRevoke
                               : PolicyFromName(cur[0][0].as<std::string>());
               if (before == policy) return false;
               txn.exec_params(
                   "INSERT INTO plan_leak_policies (plan_id, policy, "
                   "updated_by, updated_at) VALUES ($1, $2, $3, pat_ts($4)) "
                   "ON CONFLICT (plan_id) DO UPDATE SET policy = "
                   "EXCLUDED.policy, updated_by = EXCLUDED.updated_by, "
                   "updated_at = EXCLUDED.updated_at",
                   plan_id, std::string(LeakPolicyName(policy)), actor,
                   Us(now));
               nlohmann::json details = {
                   {"before",
                    {{"leak_policy", std::string(LeakPolicyName(before))}}},
                   {"after",
                    {{"leak_policy", std::string(LeakPolicyName(policy))}}}};
               InsertAudit(txn, plan_id, "", actor, "leak_policy_set", now,
                           details.dump());
               return true;
             })
      .status();
}

absl::Status PgLeakStore::RecordLeakFlag(const Token& token,
                                         const std::string& actor,
                                         absl::Time now,
                                         const std::string& details_json) {
  return Transact<bool>(pool_, "flag leaked token",
                        [&](pqxx::work& txn) -> absl::StatusOr<bool> {
                          InsertAudit(txn, token.plan_id, token.id, actor,
                                      "leak_flagged", now, details_json);
                          return true;
                        })
      .status();
}

}  // namespace pat
