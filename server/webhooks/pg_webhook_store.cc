#include "server/webhooks/pg_webhook_store.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "pqxx/pqxx"

namespace pat::webhooks {
namespace {

constexpr int kMaxAttempts = 3;

int64_t Us(absl::Time t) { return absl::ToUnixMicros(t); }
int64_t Us(absl::Duration d) { return absl::ToInt64Microseconds(d); }
absl::Time FromUs(int64_t us) { return absl::FromUnixMicros(us); }

// Runs `body` in a READ COMMITTED transaction and commits when it returns OK.
// Retries serialization failures, deadlocks and connections broken before
// commit; maps every libpqxx exception to a status.
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
      last = absl::AbortedError(absl::StrCat(op, ": conflicting change"));
    } catch (const pqxx::deadlock_detected&) {
      last = absl::AbortedError(absl::StrCat(op, ": conflicting change"));
    } catch (const pqxx::unique_violation&) {
      return absl::AlreadyExistsError(absl::StrCat(op, ": already exists"));
    } catch (const pqxx::foreign_key_violation&) {
      return absl::FailedPreconditionError(
          absl::StrCat(op, ": a referenced record does not exist"));
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

// The fan-out of the events in CTE `ev` (id, plan_id, type, time) to every
// matching subscription that existed at the event's time; $1 is now (us).
constexpr absl::string_view kFanOut = R"sql(
dl AS (
  INSERT INTO webhook_deliveries
    (subscription_id, event_id, state, next_attempt_at, updated_at)
  SELECT s.id, ev.id, 'pending', pat_ts($1), pat_ts($1)
  FROM ev JOIN webhook_subscriptions s ON s.plan_id = ev.plan_id
   AND s.created_at <= ev.time
   AND (cardinality(s.event_types) = 0 OR ev.type = ANY (s.event_types))
  ON CONFLICT DO NOTHING
  RETURNING 1)
)sql";

// $1 now, $2 limit.
const std::string& DispatchSql() {
  static const std::string* sql = new std::string(absl::StrCat(R"sql(
WITH claimed AS (
  DELETE FROM webhook_outbox WHERE audit_id IN (
    SELECT audit_id FROM webhook_outbox ORDER BY audit_id LIMIT $2
    FOR UPDATE SKIP LOCKED)
  RETURNING audit_id),
mapped AS (
  SELECT a.*, CASE
      WHEN a.action = 'create' THEN 'token.created'
      WHEN a.action = 'update' THEN 'token.updated'
      WHEN a.action = 'refresh' THEN 'token.refreshed'
      WHEN a.action = 'leak_flagged' THEN 'token.leaked'
      WHEN a.action = 'revoke' AND a.details->>'reason' = 'leaked'
        THEN 'token.leaked'
      ELSE 'token.revoked' END AS type
  FROM claimed c JOIN audit_events a ON a.id = c.audit_id
  WHERE a.token_id <> ''),
ev AS (
  INSERT INTO webhook_events (source_key, plan_id, token_id, type, time, data)
  SELECT 'audit:' || m.id, m.plan_id, m.token_id, m.type, m.time,
    jsonb_strip_nulls(jsonb_build_object(
      'actor', m.actor,
      'reason', m.details->>'reason',
      'source', CASE WHEN m.type = 'token.leaked'
                     THEN m.details->>'source' END,
      'url', CASE WHEN m.type = 'token.leaked' THEN m.details->>'url' END,
      'revoked', CASE WHEN m.type = 'token.leaked'
                      THEN m.action = 'revoke' END))
  FROM mapped m
  ON CONFLICT (source_key) DO NOTHING
  RETURNING id, plan_id, type, time),
)sql",
                                                               kFanOut, R"sql(
SELECT (SELECT count(*) FROM claimed)
)sql"));
  return *sql;
}

// $1 now, $2 lookback, $3 secret-ending lead, $4 limit.
const std::string& ScheduleSql() {
  static const std::string* sql = new std::string(absl::StrCat(R"sql(
WITH exp AS (
  SELECT t.id, t.plan_id, t.expire_time,
    CASE WHEN t.expire_time <= pat_ts($1) THEN 'token.expired'
         WHEN t.expire_time <= pat_ts($1) + interval '1 day'
           THEN 'token.expiring_1d'
         ELSE 'token.expiring_7d' END AS type
  FROM tokens t
  WHERE t.revoke_time IS NULL AND t.expire_time > pat_ts($1::bigint - $2::bigint)
    AND t.expire_time <= pat_ts($1) + interval '7 days'),
cand AS (
  SELECT exp.type || ':' || exp.id AS key, exp.plan_id, exp.id AS token_id,
    exp.type, jsonb_build_object('expire_time', to_char(exp.expire_time
      AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')) AS data
  FROM exp
  UNION ALL
  SELECT 'token.previous_secret_ending:' || t.id || ':' || pat_us(s.created_at),
    t.plan_id, t.id, 'token.previous_secret_ending',
    jsonb_build_object('previous_secret_expire_time', to_char(s.valid_until
      AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
  FROM token_secrets s JOIN tokens t ON t.id = s.token_id
  WHERE t.revoke_time IS NULL AND s.valid_until IS NOT NULL
    AND s.valid_until <= pat_ts($1::bigint + $3::bigint) AND s.valid_until > pat_ts($1::bigint - $2::bigint)),
todo AS (
  SELECT * FROM cand WHERE NOT EXISTS (
    SELECT 1 FROM webhook_events e WHERE e.source_key = cand.key)
  LIMIT $4),
ev AS (
  INSERT INTO webhook_events (source_key, plan_id, token_id, type, time, data)
  SELECT key, plan_id, token_id, type, pat_ts($1), data FROM todo
  ON CONFLICT (source_key) DO NOTHING
  RETURNING id, plan_id, type, time),
)sql",
                                                               kFanOut, R"sql(
SELECT count(*) FROM ev
)sql"));
  return *sql;
}

std::string TextArray(const std::vector<std::string>& values) {
  // Event types are validated names ([a-z0-9._]); no quoting needed.
  return absl::StrCat("{", absl::StrJoin(values, ","), "}");
}

std::vector<std::string> ParseTextArray(const std::string& joined) {
  if (joined.empty()) return {};
  return absl::StrSplit(joined, ' ');
}

}  // namespace

absl::Status PgWebhookStore::CreateSubscription(const Subscription& sub,
                                                const std::string& secret) {
  return Transact<bool>(
             pool_, "create webhook subscription",
             [&](pqxx::work& txn) -> absl::StatusOr<bool> {
               txn.exec_params(
                   "INSERT INTO webhook_subscriptions (id, plan_id, url, "
                   "event_types, secret, created_by, created_at) VALUES ($1, "
                   "$2, $3, $4::text[], decode($5, 'hex'), $6, pat_ts($7))",
                   sub.id, sub.plan_id, sub.url, TextArray(sub.event_types),
                   absl::BytesToHexString(secret), sub.created_by,
                   Us(sub.create_time));
               return true;
             })
      .status();
}

absl::StatusOr<std::vector<Subscription>> PgWebhookStore::ListSubscriptions(
    const std::string& plan_id) {
  return Transact<std::vector<Subscription>>(
      pool_, "list webhook subscriptions",
      [&](pqxx::work& txn) -> absl::StatusOr<std::vector<Subscription>> {
        pqxx::result r = txn.exec_params(
            "SELECT id, plan_id, url, array_to_string(event_types, ' '), "
            "created_by, pat_us(created_at) FROM webhook_subscriptions "
            "WHERE plan_id = $1 ORDER BY created_at, id",
            plan_id);
        std::vector<Subscription> out;
        for (const pqxx::row& row : r) {
          Subscription s;
          s.id = row[0].as<std::string>();
          s.plan_id = row[1].as<std::string>();
          s.url = row[2].as<std::string>();
          s.event_types = ParseTextArray(row[3].as<std::string>());
          s.created_by = row[4].as<std::string>();
          s.create_time = FromUs(row[5].as<int64_t>());
          out.push_back(std::move(s));
        }
        return out;
      });
}

absl::StatusOr<int> PgWebhookStore::CountSubscriptions(
    const std::string& plan_id) {
  return Transact<int>(pool_, "count webhook subscriptions",
                       [&](pqxx::work& txn) -> absl::StatusOr<int> {
                         pqxx::result r = txn.exec_params(
                             "SELECT count(*) FROM webhook_subscriptions "
                             "WHERE plan_id = $1",
                             plan_id);
                         return r[0][0].as<int>();
                       });
}

absl::Status PgWebhookStore::DeleteSubscription(const std::string& plan_id,
                                                const std::string& id) {
  return Transact<bool>(
             pool_, "delete webhook subscription",
             [&](pqxx::work& txn) -> absl::StatusOr<bool> {
               pqxx::result r = txn.exec_params(
                   "DELETE FROM webhook_subscriptions WHERE plan_id = $1 AND "
                   "id = $2 RETURNING 1",
                   plan_id, id);
               if (r.empty()) {
                 return absl::NotFoundError("webhook subscription not found");
               }
               return true;
             })
      .status();
}

absl::StatusOr<std::vector<DeadLetter>> PgWebhookStore::ListDeadLetters(
    const std::string& plan_id, const std::string& subscription_id, int limit) {
  return Transact<std::vector<DeadLetter>>(
      pool_, "list webhook dead letters",
      [&](pqxx::work& txn) -> absl::StatusOr<std::vector<DeadLetter>> {
        pqxx::result r = txn.exec_params(
            "SELECT d.subscription_id, d.event_id, e.type, e.token_id, "
            "d.attempts, d.last_error, pat_us(e.time), pat_us(d.updated_at) "
            "FROM webhook_deliveries d JOIN webhook_subscriptions s ON "
            "s.id = d.subscription_id JOIN webhook_events e ON "
            "e.id = d.event_id WHERE s.plan_id = $1 AND d.state = 'dead' "
            "AND ($2 = '' OR d.subscription_id = $2) "
            "ORDER BY d.updated_at DESC, d.event_id DESC LIMIT $3",
            plan_id, subscription_id, limit);
        std::vector<DeadLetter> out;
        for (const pqxx::row& row : r) {
          DeadLetter d;
          d.subscription_id = row[0].as<std::string>();
          d.event_id = row[1].as<int64_t>();
          d.event_type = row[2].as<std::string>();
          d.token_id = row[3].as<std::string>();
          d.attempts = row[4].as<int>();
          d.last_error = row[5].as<std::string>();
          d.event_time = FromUs(row[6].as<int64_t>());
          d.dead_time = FromUs(row[7].as<int64_t>());
          out.push_back(std::move(d));
        }
        return out;
      });
}

absl::Status PgWebhookStore::Redeliver(const std::string& plan_id,
                                       const std::string& subscription_id,
                                       int64_t event_id, absl::Time now) {
  return Transact<bool>(
             pool_, "redeliver webhook",
             [&](pqxx::work& txn) -> absl::StatusOr<bool> {
               pqxx::result r = txn.exec_params(
                   "UPDATE webhook_deliveries d SET state = 'pending', "
                   "attempts = 0, next_attempt_at = pat_ts($4), "
                   "updated_at = pat_ts($4) FROM webhook_subscriptions s "
                   "WHERE s.id = d.subscription_id AND s.plan_id = $1 AND "
                   "d.subscription_id = $2 AND d.event_id = $3 AND "
                   "d.state = 'dead' RETURNING 1",
                   plan_id, subscription_id, event_id, Us(now));
               if (r.empty())
                 return absl::NotFoundError("dead letter not found");
               return true;
             })
      .status();
}

absl::StatusOr<int> PgWebhookStore::DispatchOutbox(int limit, absl::Time now) {
  return Transact<int>(pool_, "dispatch webhook outbox",
                       [&](pqxx::work& txn) -> absl::StatusOr<int> {
                         pqxx::result r =
                             txn.exec_params(DispatchSql(), Us(now), limit);
                         return r[0][0].as<int>();
                       });
}

absl::StatusOr<bool> PgWebhookStore::TryAcquireLease(const std::string& name,
                                                     const std::string& holder,
                                                     absl::Time now,
                                                     absl::Duration ttl) {
  return Transact<bool>(
      pool_, "webhook lease", [&](pqxx::work& txn) -> absl::StatusOr<bool> {
        pqxx::result r = txn.exec_params(
            "INSERT INTO webhook_leases (name, holder, expires_at) VALUES "
            "($1, $2, pat_ts($3::bigint + $4::bigint)) ON CONFLICT (name) DO "
            "UPDATE SET "
            "holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at "
            "WHERE webhook_leases.holder = EXCLUDED.holder OR "
            "webhook_leases.expires_at <= pat_ts($3) RETURNING 1",
            name, holder, Us(now), Us(ttl));
        return !r.empty();
      });
}

absl::StatusOr<int> PgWebhookStore::EmitScheduled(
    absl::Time now, const ScheduleWindows& windows, int limit) {
  return Transact<int>(pool_, "emit scheduled webhooks",
                       [&](pqxx::work& txn) -> absl::StatusOr<int> {
                         pqxx::result r = txn.exec_params(
                             ScheduleSql(), Us(now), Us(windows.lookback),
                             Us(windows.secret_ending_lead), limit);
                         return r[0][0].as<int>();
                       });
}

absl::StatusOr<std::vector<DeliveryJob>> PgWebhookStore::ClaimDue(
    absl::Time now, int limit, absl::Duration claim_ttl) {
  return Transact<std::vector<DeliveryJob>>(
      pool_, "claim webhook deliveries",
      [&](pqxx::work& txn) -> absl::StatusOr<std::vector<DeliveryJob>> {
        pqxx::result r = txn.exec_params(
            "WITH due AS (SELECT subscription_id, event_id FROM "
            "webhook_deliveries WHERE state = 'pending' AND next_attempt_at "
            "<= pat_ts($1) ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP "
            "LOCKED) UPDATE webhook_deliveries d SET attempts = d.attempts + "
            "1, next_attempt_at = pat_ts($1::bigint + $3::bigint), updated_at "
            "= pat_ts($1) "
            "FROM due, webhook_subscriptions s, webhook_events e WHERE "
            "d.subscription_id = due.subscription_id AND d.event_id = "
            "due.event_id AND s.id = d.subscription_id AND e.id = d.event_id "
            "RETURNING d.subscription_id, d.event_id, s.url, "
            "encode(s.secret, 'hex'), e.type, e.plan_id, e.token_id, "
            "pat_us(e.time), e.data::text, d.attempts",
            Us(now), limit, Us(claim_ttl));
        std::vector<DeliveryJob> out;
        for (const pqxx::row& row : r) {
          DeliveryJob j;
          j.subscription_id = row[0].as<std::string>();
          j.event_id = row[1].as<int64_t>();
          j.url = row[2].as<std::string>();
          j.secret = absl::HexStringToBytes(row[3].as<std::string>());
          j.event_type = row[4].as<std::string>();
          j.plan_id = row[5].as<std::string>();
          j.token_id = row[6].as<std::string>();
          j.event_time = FromUs(row[7].as<int64_t>());
          j.data_json = row[8].as<std::string>();
          j.attempts = row[9].as<int>();
          out.push_back(std::move(j));
        }
        return out;
      });
}

absl::Status PgWebhookStore::MarkDelivered(const std::string& subscription_id,
                                           int64_t event_id, absl::Time now) {
  return Transact<bool>(
             pool_, "webhook delivered",
             [&](pqxx::work& txn) -> absl::StatusOr<bool> {
               txn.exec_params(
                   "UPDATE webhook_deliveries SET state = 'delivered', "
                   "last_error = '', updated_at = pat_ts($3) WHERE "
                   "subscription_id = $1 AND event_id = $2 AND "
                   "state = 'pending'",
                   subscription_id, event_id, Us(now));
               return true;
             })
      .status();
}

absl::Status PgWebhookStore::MarkFailed(const std::string& subscription_id,
                                        int64_t event_id,
                                        const std::string& error,
                                        absl::Time now,
                                        std::optional<absl::Time> retry_at) {
  return Transact<bool>(
             pool_, "webhook failed",
             [&](pqxx::work& txn) -> absl::StatusOr<bool> {
               txn.exec_params(
                   "UPDATE webhook_deliveries SET state = $3, last_error = "
                   "$4, next_attempt_at = pat_ts($5), updated_at = "
                   "pat_ts($6) WHERE subscription_id = $1 AND event_id = $2 "
                   "AND state = 'pending'",
                   subscription_id, event_id,
                   std::string(retry_at.has_value() ? "pending" : "dead"),
                   error.substr(0, 200), Us(retry_at.value_or(now)), Us(now));
               return true;
             })
      .status();
}

}  // namespace pat::webhooks
