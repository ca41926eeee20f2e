#include "server/pg_token_store.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/secret.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "pqxx/pqxx"
#include "server/feed/feed_format.h"
#include "server/feed/feed_sql.h"
#include "server/db_deadline.h"
#include "server/db_watchdog.h"

namespace pat {
namespace {

using json = nlohmann::json;

constexpr int kMaxAttempts = 5;
// Prepared statement name of LookupSecretWithHead (and so LookupSecret), per
// connection.
constexpr absl::string_view kLookupSecretAtHeadStatement =
    "pat_lookup_secret_at_head";
// LookupSecretsWithHead's statement, per connection.
constexpr absl::string_view kLookupSecretsAtHeadStatement =
    "pat_lookup_secrets_at_head";

constexpr absl::string_view kTokenColumns =
    "t.id, t.plan_id, t.kind, t.name, t.description, "
    "array_to_string(t.scopes, ' '), t.all_resources, t.resources::text, "
    "t.created_by, pat_us(t.create_time), pat_us(t.expire_time), "
    "t.lifetime_days, pat_us(t.revoke_time), t.revoked_by, "
    "pat_us(t.last_refresh_time), pat_us(t.last_used_time), t.last_used_ip";
constexpr int kTokenColumnCount = 17;

// One transaction attempt's state.
struct Tx {
  pqxx::transaction_base& txn;
  int64_t revision = 0;  // highest grant-feed revision written, 0 if none
};

// The snapshot a new feed watcher starts from: consistent across statements
// and never writing.
using SnapshotTxn = pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>;

int64_t Us(absl::Time t) { return absl::ToUnixMicros(t); }
absl::Time FromUs(int64_t us) { return absl::FromUnixMicros(us); }
std::string OptUs(const std::optional<absl::Time>& t) {
  return t.has_value() ? absl::StrCat(Us(*t)) : std::string();
}
std::optional<absl::Time> OptTime(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return FromUs(f.as<int64_t>());
}

json ResourcesJson(const std::vector<TokenResource>& resources) {
  json arr = json::array();
  for (const TokenResource& r : resources) {
    arr.push_back({{"kind", std::string(ResourceKindName(r.kind))},
                   {"id", r.id},
                   {"link", r.link}});
  }
  return arr;
}

std::vector<TokenResource> ParseResources(const std::string& text) {
  std::vector<TokenResource> out;
  json arr = json::parse(text);
  for (const json& r : arr) {
    out.push_back({ResourceKindFromName(r.at("kind").get<std::string>()),
                   r.at("id").get<std::string>(),
                   r.at("link").get<std::string>()});
  }
  return out;
}

Token RowToToken(const pqxx::row& r) {
  Token t;
  t.id = r[0].as<std::string>();
  t.plan_id = r[1].as<std::string>();
  t.kind = TokenKindFromName(r[2].as<std::string>());
  t.name = r[3].as<std::string>();
  t.description = r[4].as<std::string>();
  std::string scopes = r[5].as<std::string>();
  if (!scopes.empty()) t.scopes = absl::StrSplit(scopes, ' ');
  t.all_resources = r[6].as<bool>();
  t.resources = ParseResources(r[7].as<std::string>());
  t.created_by = r[8].as<std::string>();
  t.create_time = FromUs(r[9].as<int64_t>());
  t.expire_time = FromUs(r[10].as<int64_t>());
  t.lifetime_days = r[11].as<int>();
  t.revoke_time = OptTime(r[12]);
  t.revoked_by = r[13].as<std::string>();
  t.last_refresh_time = OptTime(r[14]);
  t.last_used_time = OptTime(r[15]);
  t.last_used_ip = r[16].as<std::string>();
  return t;
}

std::string Hex(const Digest& d) { return DigestHex(d); }

// Appends a grant-feed event in the caller's transaction.
void AppendEvent(Tx& tx, const feed::EncodedEvent& event) {
  tx.revision = feed::AppendEvent(tx.txn, event);
}

// The full new state of a token's grant, as carried by the change feed:
// everything a sidecar needs, including the digests (never the secrets).
void AppendGrantEvent(Tx& tx, const Token& token) {
  AppendEvent(tx, feed::EncodeGrant(token,
                                    feed::ReadSecretDigests(tx.txn, token.id)));
}

void InsertAudit(Tx& tx, const std::string& plan_id,
                 const std::string& token_id, const std::string& actor,
                 const std::string& action, absl::Time time,
                 const std::string& details_json) {
  tx.txn.exec_params(
      "INSERT INTO audit_events (plan_id, token_id, actor, action, time, "
      "details) VALUES ($1, $2, $3, $4, pat_ts($5), $6::jsonb)",
      plan_id, token_id, actor, action, Us(time),
      details_json.empty() ? std::string("{}") : details_json);
}

void WriteTokenRow(Tx& tx, const Token& t, bool insert) {
  const std::string scopes = absl::StrJoin(t.scopes, " ");
  const std::string resources = ResourcesJson(t.resources).dump();
  if (insert) {
    tx.txn.exec_params(
        "INSERT INTO tokens (id, plan_id, kind, name, description, scopes, "
        "all_resources, resources, created_by, create_time, expire_time, "
        "lifetime_days) VALUES ($1, $2, $3, $4, $5, "
        "string_to_array(NULLIF($6, ''), ' '), $7, $8::jsonb, $9, pat_ts($10), "
        "pat_ts($11), $12)",
        t.id, t.plan_id, std::string(TokenKindName(t.kind)), t.name,
        t.description, scopes, t.all_resources, resources, t.created_by,
        Us(t.create_time), Us(t.expire_time), t.lifetime_days);
    return;
  }
  tx.txn.exec_params(
      "UPDATE tokens SET name = $2, description = $3, "
      "scopes = string_to_array(NULLIF($4, ''), ' '), all_resources = $5, "
      "resources = $6::jsonb, expire_time = pat_ts($7), "
      "revoke_time = pat_ts(NULLIF($8, '')::bigint), revoked_by = $9, "
      "last_refresh_time = pat_ts(NULLIF($10, '')::bigint) WHERE id = $1",
      t.id, t.name, t.description, scopes, t.all_resources, resources,
      Us(t.expire_time), OptUs(t.revoke_time), t.revoked_by,
      OptUs(t.last_refresh_time));
}

absl::StatusOr<Token> ReadToken(Tx& tx, const std::string& plan_id,
                                const std::string& token_id, bool for_update) {
  pqxx::result r = tx.txn.exec_params(
      absl::StrCat("SELECT ", kTokenColumns,
                   " FROM tokens t WHERE t.id = $1 AND t.plan_id = $2",
                   for_update ? " FOR UPDATE" : ""),
      token_id, plan_id);
  if (r.empty()) return absl::NotFoundError("token not found");
  return RowToToken(r[0]);
}

struct IdempotencyRecord {
  std::string operation;
  std::string params_digest_hex;
  std::string token_id;
  std::optional<absl::Time> previous_secret_expire_time;
};

// Claims `key` for this transaction. Returns nullopt when claimed (the caller
// proceeds), or the earlier record when another request already holds it.
// INSERT ... ON CONFLICT waits for a concurrent claimant to finish, so two
// racing requests with one key never both proceed.
absl::StatusOr<std::optional<IdempotencyRecord>> ClaimIdempotencyKey(
    Tx& tx, const std::string& plan_id, const IdempotencyKey& key,
    const std::string& token_id, absl::Time now) {
  pqxx::result r = tx.txn.exec_params(
      "INSERT INTO idempotency (plan_id, request_id, operation, params_digest, "
      "token_id, created_at) VALUES ($1, $2, $3, decode($4, 'hex'), $5, "
      "pat_ts($6)) ON CONFLICT DO NOTHING RETURNING 1",
      plan_id, key.request_id, key.operation, Hex(key.params_digest), token_id,
      Us(now));
  if (!r.empty()) return std::nullopt;
  pqxx::result prior = tx.txn.exec_params(
      "SELECT operation, encode(params_digest, 'hex'), token_id, "
      "pat_us(previous_secret_expire_time) FROM idempotency "
      "WHERE plan_id = $1 AND request_id = $2",
      plan_id, key.request_id);
  if (prior.empty()) {
    return absl::AbortedError("request_id: concurrent use; retry");
  }
  IdempotencyRecord rec{prior[0][0].as<std::string>(),
                        prior[0][1].as<std::string>(),
                        prior[0][2].as<std::string>(), OptTime(prior[0][3])};
  if (rec.operation != key.operation ||
      !ConstantTimeEquals(rec.params_digest_hex, Hex(key.params_digest)) ||
      (!token_id.empty() && rec.token_id != token_id)) {
    return absl::InvalidArgumentError(
        "request_id: already used for a different request");
  }
  return rec;
}

// After the deadline, statement_timeout has had its chance: a round trip
// still waiting is on a stalled network; its socket is shut down.
constexpr absl::Duration kWatchdogGrace = absl::Milliseconds(500);

// SQLSTATE of a statement cancelled (statement_timeout, pg_cancel_backend).
constexpr absl::string_view kQueryCanceled = "57014";

// Connection exceptions (class 08) and operator intervention other than a
// cancel (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03
// cannot_connect_now): the session is gone; nothing was committed unless
// the COMMIT itself was in flight.
bool IsServerGoingAway(const std::string& sqlstate) {
  return sqlstate.rfind("08", 0) == 0 || sqlstate.rfind("57P", 0) == 0;
}

// Bounds every later statement of `txn`, and the time the server waits for
// the client inside it (so its locks go when the client is stuck); both end
// with the transaction.
void SetStatementTimeout(pqxx::transaction_base& txn, absl::Duration left) {
  const int64_t ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(left));
  txn.exec(
      absl::StrCat("SET LOCAL statement_timeout = ", ms,
                   "; SET LOCAL idle_in_transaction_session_timeout = ", ms));
}

// Runs `body` in a transaction of type `Txn` (default READ COMMITTED, read
// write) on a pooled connection and commits when it returns OK (an error
// status rolls back). Retries serialization failures, deadlocks and
// connections broken before commit; never retries a commit whose outcome is
// unknown. After a commit that wrote feed events, sends a NOTIFY outside the
// transaction (best effort: the feed's poll covers a lost one, and a full
// notify queue never fails a committed change).
//
// Under an RPC deadline (CurrentDbDeadline) no attempt starts after it, the
// pool wait ends at it, and the transaction runs with statement_timeout set
// to the time left: a statement PostgreSQL cancels for it (a slow query, a
// lock wait, a hanging trigger) rolls back and is DEADLINE_EXCEEDED; a round
// trip still waiting kWatchdogGrace after the deadline (a stalled network)
// has its socket shut down (broken connection: UNAVAILABLE, in doubt during
// COMMIT).
template <typename T, typename Txn = pqxx::work, typename Body>
absl::StatusOr<T> Transact(DbPool& pool, absl::string_view op, Body&& body) {
  absl::Status last = absl::UnavailableError("database unavailable");
  const std::optional<absl::Time> deadline = CurrentDbDeadline();
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    const absl::Duration left = deadline.has_value() ? *deadline - absl::Now()
                                                     : absl::InfiniteDuration();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          absl::StrCat(op, ": deadline exceeded; nothing was written"));
    }
    PAT_ASSIGN_OR_RETURN(
        DbPool::Lease lease,
        pool.Acquire(deadline.value_or(absl::InfiniteFuture())));
    bool committing = false;
    // The feed revision this attempt wrote (0: none), for RecordFeedCommit.
    int64_t revision = 0;
    try {
      // Destroyed before any handler below runs (and so before Discard).
      std::optional<DbSocketWatchdog::Watch> watch;
      if (deadline.has_value()) {
        watch.emplace(
            DbSocketWatchdog::Arm(lease->sock(), *deadline + kWatchdogGrace));
      }
      absl::StatusOr<T> result;
      {
        Txn txn(*lease);
        Tx tx{txn};
        if constexpr (std::is_base_of_v<pqxx::dbtransaction, Txn>) {
          if (deadline.has_value()) SetStatementTimeout(txn, left);
        }
        result = body(tx);
        if (!result.ok()) {
          txn.abort();
          return result;
        }
        revision = tx.revision;
        if (deadline.has_value() && absl::Now() >= *deadline) {
          // The client has stopped waiting: do not commit what it will
          // never learn of.
          txn.abort();
          return absl::DeadlineExceededError(
              absl::StrCat(op, ": deadline exceeded; nothing was written"));
        }
        committing = true;
        txn.commit();
      }
      if (revision > 0) pool.RecordFeedCommit(revision);
      if (revision > 0 &&
          !feed::Notify(*lease, absl::StrCat(revision)).ok()) {
        watch.reset();
        lease.Discard();
      }
      return result;
    } catch (const pqxx::in_doubt_error&) {
      lease.Discard();
      if (revision > 0) pool.RecordFeedCommit(revision);
      return absl::UnavailableError(absl::StrCat(
          op,
          ": the outcome of the commit is unknown; retry with the same "
          "request_id, or read the token to see whether it took effect"));
    } catch (const pqxx::broken_connection&) {
      lease.Discard();
      if (committing) {
        if (revision > 0) pool.RecordFeedCommit(revision);
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
    } catch (const pqxx::unique_violation&) {
      return absl::AlreadyExistsError(absl::StrCat(op, ": already exists"));
    } catch (const pqxx::foreign_key_violation&) {
      return absl::FailedPreconditionError(
          absl::StrCat(op, ": a referenced record does not exist"));
    } catch (const pqxx::check_violation&) {
      return absl::InvalidArgumentError(
          absl::StrCat(op, ": value out of range"));
    } catch (const pqxx::sql_error& e) {
      if (IsServerGoingAway(e.sqlstate())) {
        // The server ended the session (shutdown, restart, terminate).
        lease.Discard();
        if (committing) {
          if (revision > 0) pool.RecordFeedCommit(revision);
          return absl::UnavailableError(
              absl::StrCat(op, ": the outcome of the commit is unknown"));
        }
        last = absl::UnavailableError("database unavailable");
        continue;
      }
      if (e.sqlstate() == kQueryCanceled) {
        // statement_timeout (the deadline) or a cancel: rolled back.
        return deadline.has_value()
                   ? absl::DeadlineExceededError(absl::StrCat(
                         op, ": deadline exceeded; nothing was written"))
                   : absl::UnavailableError(absl::StrCat(
                         op, ": statement cancelled; nothing was written"));
      }
      lease.Discard();
      std::fprintf(stderr,
                   "{\"level\":\"error\",\"msg\":\"storage error\","
                   "\"op\":\"%s\",\"sqlstate\":\"%s\"}\n",
                   std::string(op).c_str(), e.sqlstate().c_str());
      return absl::InternalError(absl::StrCat(op, ": storage error"));
    } catch (const std::exception&) {
      lease.Discard();
      if (committing && revision > 0) pool.RecordFeedCommit(revision);
      return absl::InternalError(absl::StrCat(op, ": storage error"));
    }
  }
  return last;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgTokenStore>> PgTokenStore::Create(
    DbPool& pool) {
  // Refuse to start against a database that has not been migrated.
  absl::StatusOr<bool> ok =
      Transact<bool>(pool, "startup", [](Tx& tx) -> absl::StatusOr<bool> {
        pqxx::result r =
            tx.txn.exec("SELECT to_regclass('public.feed_head') IS NOT NULL");
        return r[0][0].as<bool>();
      });
  if (!ok.ok()) return ok.status();
  if (!*ok) {
    return absl::FailedPreconditionError(
        "database schema missing: run `pat-authority migrate` or pass "
        "--auto_migrate");
  }
  return std::unique_ptr<PgTokenStore>(new PgTokenStore(pool));
}

namespace {
absl::StatusOr<Plan> ReadPlan(Tx& tx, const std::string& plan_id) {
  pqxx::result r = tx.txn.exec_params(
      "SELECT p.id, p.name, p.tier, coalesce((SELECT string_agg(user_id, ' ' "
      "ORDER BY user_id) FROM plan_admins a WHERE a.plan_id = p.id), '') "
      "FROM plans p WHERE p.id = $1",
      plan_id);
  if (r.empty()) return absl::NotFoundError("plan not found");
  Plan p;
  p.id = r[0][0].as<std::string>();
  p.name = r[0][1].as<std::string>();
  p.tier = PlanTierFromName(r[0][2].as<std::string>());
  std::string admins = r[0][3].as<std::string>();
  if (!admins.empty()) p.admin_user_ids = absl::StrSplit(admins, ' ');
  return p;
}

// Locks the plan row FOR SHARE until commit, then reads it (a statement of
// its own: under READ COMMITTED it sees the admins of the latest committed
// UpsertPlan, which cannot change while the lock is held) and checks it.
absl::Status LockPlanAndCheck(Tx& tx, const std::string& plan_id,
                              const PlanCheckFn& check) {
  pqxx::result r = tx.txn.exec_params(
      "SELECT 1 FROM plans WHERE id = $1 FOR SHARE", plan_id);
  if (r.empty()) return absl::NotFoundError("plan not found");
  PAT_ASSIGN_OR_RETURN(Plan plan, ReadPlan(tx, plan_id));
  return check ? check(plan) : absl::OkStatus();
}

// Writes a decided mutation of `token_id` (its row locked by the caller) with
// its secrets' changes, audit event and grant event.
MutationOutcome ApplyMutation(Tx& tx, const std::string& plan_id,
                              const std::string& token_id,
                              const std::string& actor, absl::Time now,
                              const IdempotencyKey& key,
                              const TokenMutation& m) {
  WriteTokenRow(tx, m.updated, /*insert=*/false);
  MutationOutcome out{m.updated, false, std::nullopt};
  if (m.new_secret_digest.has_value()) {
    // Only the current secret and one previous secret ever work: older
    // previous secrets end now, the current one gets the overlap.
    tx.txn.exec_params(
        "UPDATE token_secrets SET valid_until = pat_ts($2) "
        "WHERE token_id = $1 AND valid_until IS NOT NULL AND "
        "valid_until > pat_ts($2)",
        token_id, Us(now));
    tx.txn.exec_params(
        "UPDATE token_secrets SET valid_until = pat_ts($2) "
        "WHERE token_id = $1 AND valid_until IS NULL",
        token_id, Us(m.previous_secret_valid_until));
    tx.txn.exec_params(
        "INSERT INTO token_secrets (digest, token_id, created_at) "
        "VALUES (decode($1, 'hex'), $2, pat_ts($3))",
        Hex(*m.new_secret_digest), token_id, Us(now));
    out.previous_secret_expire_time = m.previous_secret_valid_until;
    if (!key.request_id.empty()) {
      tx.txn.exec_params(
          "UPDATE idempotency SET previous_secret_expire_time = "
          "pat_ts($3) WHERE plan_id = $1 AND request_id = $2",
          plan_id, key.request_id, Us(m.previous_secret_valid_until));
    }
  }
  if (m.end_all_secrets) {
    tx.txn.exec_params(
        "UPDATE token_secrets SET valid_until = pat_ts($2) "
        "WHERE token_id = $1 AND (valid_until IS NULL OR "
        "valid_until > pat_ts($2))",
        token_id, Us(now));
  }
  InsertAudit(tx, plan_id, token_id, actor, m.action, now,
              m.audit_details_json);
  AppendGrantEvent(tx, m.updated);
  return out;
}
}  // namespace

absl::Status PgTokenStore::UpsertPlan(const Plan& plan, absl::Time now,
                                      const PlanSweep& sweep) {
  return Transact<bool>(
             pool_, "upsert plan",
             [&](Tx& tx) -> absl::StatusOr<bool> {
               // Takes the row lock that conflicts with the FOR SHARE of
               // CreateToken and MutateToken, before anything else.
               tx.txn.exec_params(
                   "INSERT INTO plans (id, name, tier) VALUES ($1, $2, $3) "
                   "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, "
                   "tier = EXCLUDED.tier, updated_at = now()",
                   plan.id, plan.name, std::string(PlanTierName(plan.tier)));
               tx.txn.exec_params("DELETE FROM plan_admins WHERE plan_id = $1",
                                  plan.id);
               for (const std::string& admin : plan.admin_user_ids) {
                 tx.txn.exec_params(
                     "INSERT INTO plan_admins (plan_id, user_id) VALUES "
                     "($1, $2) ON CONFLICT DO NOTHING",
                     plan.id, admin);
               }
               AppendEvent(tx, feed::EncodePlan(plan));
               if (!sweep.applies || !sweep.applies(plan)) return true;
               // A new statement: sees every token committed by a writer
               // that held the plan lock before this transaction got it.
               pqxx::result live = tx.txn.exec_params(
                   absl::StrCat("SELECT ", kTokenColumns,
                                " FROM tokens t WHERE t.plan_id = $1 AND "
                                "t.revoke_time IS NULL ORDER BY t.id "
                                "FOR UPDATE"),
                   plan.id);
               for (const pqxx::row& row : live) {
                 const Token current = RowToToken(row);
                 PAT_ASSIGN_OR_RETURN(TokenMutation m, sweep.mutate(current));
                 if (!m.changed) continue;
                 ApplyMutation(tx, plan.id, current.id, sweep.actor, now,
                               IdempotencyKey{}, m);
               }
               return true;
             })
      .status();
}

absl::StatusOr<Plan> PgTokenStore::GetPlan(const std::string& plan_id) {
  return Transact<Plan>(pool_, "get plan",
                        [&](Tx& tx) { return ReadPlan(tx, plan_id); });
}

absl::StatusOr<std::vector<Plan>> PgTokenStore::ListPlansAdministeredBy(
    const std::string& user_id) {
  return Transact<std::vector<Plan>>(
      pool_, "list plans", [&](Tx& tx) -> absl::StatusOr<std::vector<Plan>> {
        pqxx::result r = tx.txn.exec_params(
            "SELECT plan_id FROM plan_admins WHERE user_id = $1 "
            "ORDER BY plan_id",
            user_id);
        std::vector<Plan> plans;
        for (const pqxx::row& row : r) {
          PAT_ASSIGN_OR_RETURN(Plan p, ReadPlan(tx, row[0].as<std::string>()));
          plans.push_back(std::move(p));
        }
        return plans;
      });
}

absl::Status PgTokenStore::UpsertResource(const Resource& res) {
  return Transact<bool>(
             pool_, "upsert resource",
             [&](Tx& tx) -> absl::StatusOr<bool> {
               pqxx::result plan = tx.txn.exec_params(
                   "SELECT 1 FROM plans WHERE id = $1", res.plan_id);
               if (plan.empty()) {
                 return absl::NotFoundError("resource.plan_id: plan not found");
               }
               const std::string kind(ResourceKindName(res.kind));
               pqxx::result existing = tx.txn.exec_params(
                   "SELECT plan_id FROM resources WHERE kind = $1 AND id = $2 "
                   "FOR UPDATE",
                   kind, res.id);
               if (!existing.empty() &&
                   existing[0][0].as<std::string>() != res.plan_id) {
                 return absl::FailedPreconditionError(
                     "resource: belongs to another plan");
               }
               std::string parent_kind;
               if (res.parent_kind != ResourceKind::kUnspecified) {
                 parent_kind = std::string(ResourceKindName(res.parent_kind));
                 pqxx::result parent = tx.txn.exec_params(
                     "SELECT plan_id FROM resources WHERE kind = $1 AND "
                     "id = $2",
                     parent_kind, res.parent_id);
                 if (parent.empty()) {
                   return absl::NotFoundError(
                       "resource.parent_id: parent not found");
                 }
                 if (parent[0][0].as<std::string>() != res.plan_id) {
                   return absl::FailedPreconditionError(
                       "resource.parent_id: parent belongs to another plan");
                 }
               }
               tx.txn.exec_params(
                   "INSERT INTO resources (kind, id, plan_id, parent_kind, "
                   "parent_id, name) VALUES ($1, $2, $3, NULLIF($4, ''), "
                   "NULLIF($5, ''), $6) ON CONFLICT (kind, id) DO UPDATE SET "
                   "parent_kind = EXCLUDED.parent_kind, parent_id = "
                   "EXCLUDED.parent_id, name = EXCLUDED.name",
                   kind, res.id, res.plan_id, parent_kind,
                   parent_kind.empty() ? std::string() : res.parent_id,
                   res.name);
               AppendEvent(tx, feed::EncodeResource(res, /*deleted=*/false));
               return true;
             })
      .status();
}

absl::Status PgTokenStore::DeleteResource(ResourceKind kind,
                                          const std::string& id) {
  return Transact<bool>(
             pool_, "delete resource",
             [&](Tx& tx) -> absl::StatusOr<bool> {
               const std::string k(ResourceKindName(kind));
               pqxx::result children = tx.txn.exec_params(
                   "SELECT 1 FROM resources WHERE parent_kind = $1 AND "
                   "parent_id = $2 LIMIT 1",
                   k, id);
               if (!children.empty()) {
                 return absl::FailedPreconditionError(
                     "resource: has child resources; delete them first");
               }
               pqxx::result r = tx.txn.exec_params(
                   "DELETE FROM resources WHERE kind = $1 AND id = $2 "
                   "RETURNING plan_id",
                   k, id);
               if (r.empty()) return absl::NotFoundError("resource not found");
               Resource gone;
               gone.plan_id = r[0][0].as<std::string>();
               gone.kind = kind;
               gone.id = id;
               AppendEvent(tx, feed::EncodeResource(gone, /*deleted=*/true));
               return true;
             })
      .status();
}

absl::StatusOr<Resource> PgTokenStore::GetResource(ResourceKind kind,
                                                   const std::string& id) {
  return Transact<Resource>(
      pool_, "get resource", [&](Tx& tx) -> absl::StatusOr<Resource> {
        pqxx::result r = tx.txn.exec_params(
            "SELECT plan_id, coalesce(parent_kind, ''), "
            "coalesce(parent_id, ''), name FROM resources "
            "WHERE kind = $1 AND id = $2",
            std::string(ResourceKindName(kind)), id);
        if (r.empty()) return absl::NotFoundError("resource not found");
        Resource res;
        res.plan_id = r[0][0].as<std::string>();
        res.kind = kind;
        res.id = id;
        res.parent_kind = ResourceKindFromName(r[0][1].as<std::string>());
        res.parent_id = r[0][2].as<std::string>();
        res.name = r[0][3].as<std::string>();
        return res;
      });
}

absl::StatusOr<CreateOutcome> PgTokenStore::CreateToken(
    const NewToken& nt, const IdempotencyKey& key, const PlanCheckFn& check) {
  const Token& t = nt.token;
  return Transact<CreateOutcome>(
      pool_, "create token", [&](Tx& tx) -> absl::StatusOr<CreateOutcome> {
        PAT_RETURN_IF_ERROR(LockPlanAndCheck(tx, t.plan_id, check));
        if (!key.request_id.empty()) {
          PAT_ASSIGN_OR_RETURN(
              std::optional<IdempotencyRecord> prior,
              ClaimIdempotencyKey(tx, t.plan_id, key, "", t.create_time));
          if (prior.has_value()) {
            PAT_ASSIGN_OR_RETURN(Token earlier,
                                 ReadToken(tx, t.plan_id, prior->token_id,
                                           /*for_update=*/false));
            return CreateOutcome{std::move(earlier), /*replayed=*/true};
          }
          tx.txn.exec_params(
              "UPDATE idempotency SET token_id = $3 WHERE plan_id = $1 AND "
              "request_id = $2",
              t.plan_id, key.request_id, t.id);
        }
        WriteTokenRow(tx, t, /*insert=*/true);
        tx.txn.exec_params(
            "INSERT INTO token_secrets (digest, token_id, created_at) VALUES "
            "(decode($1, 'hex'), $2, pat_ts($3))",
            Hex(nt.secret_digest), t.id, Us(t.create_time));
        InsertAudit(tx, t.plan_id, t.id, nt.actor, "create", t.create_time,
                    nt.audit_details_json);
        AppendGrantEvent(tx, t);
        return CreateOutcome{t, /*replayed=*/false};
      });
}

absl::StatusOr<Token> PgTokenStore::GetToken(const std::string& plan_id,
                                             const std::string& token_id) {
  // One statement: autocommit, no BEGIN/COMMIT round trips.
  return Transact<Token, pqxx::nontransaction>(pool_, "get token", [&](Tx& tx) {
    return ReadToken(tx, plan_id, token_id, /*for_update=*/false);
  });
}

absl::StatusOr<std::vector<Token>> PgTokenStore::ListTokens(
    const ListTokensQuery& q) {
  std::vector<std::string> status_sql;
  for (TokenStatus s : q.statuses) {
    switch (s) {
      case TokenStatus::kActive:
        status_sql.push_back(
            "(t.revoke_time IS NULL AND t.expire_time > pat_ts($3))");
        break;
      case TokenStatus::kExpired:
        status_sql.push_back(
            "(t.revoke_time IS NULL AND t.expire_time <= pat_ts($3))");
        break;
      case TokenStatus::kRevoked:
        status_sql.push_back("(t.revoke_time IS NOT NULL)");
        break;
      case TokenStatus::kUnspecified:
        break;
    }
  }
  const std::string status_filter =
      status_sql.empty()
          ? "($3::bigint IS NOT NULL)"
          : absl::StrCat("($3::bigint IS NOT NULL AND (",
                         absl::StrJoin(status_sql, " OR "), "))");
  const std::string sql = absl::StrCat(
      "SELECT ", kTokenColumns,
      " FROM tokens t WHERE t.plan_id = $1 AND ($2 = '' OR t.kind = $2) AND ",
      status_filter,
      " AND ($4 = '' OR (t.create_time, t.id) < "
      "(pat_ts(NULLIF($4, '')::bigint), $5)) "
      "ORDER BY t.create_time DESC, t.id DESC LIMIT $6");
  const std::string kind = q.kind == TokenKind::kUnspecified
                               ? std::string()
                               : std::string(TokenKindName(q.kind));
  std::string after_us, after_id;
  if (q.after.has_value()) {
    after_us = absl::StrCat(Us(q.after->first));
    after_id = q.after->second;
  }
  return Transact<std::vector<Token>>(
      pool_, "list tokens", [&](Tx& tx) -> absl::StatusOr<std::vector<Token>> {
        pqxx::result r = tx.txn.exec_params(sql, q.plan_id, kind, Us(q.now),
                                            after_us, after_id, q.page_size);
        std::vector<Token> out;
        out.reserve(r.size());
        for (const pqxx::row& row : r) out.push_back(RowToToken(row));
        return out;
      });
}

absl::StatusOr<MutationOutcome> PgTokenStore::MutateToken(
    const std::string& plan_id, const std::string& token_id,
    const std::string& actor, absl::Time now, const IdempotencyKey& key,
    const PlanCheckFn& check, const MutationFn& fn) {
  return Transact<MutationOutcome>(
      pool_, "change token", [&](Tx& tx) -> absl::StatusOr<MutationOutcome> {
        // Lock order everywhere: the plan row, then token rows.
        PAT_RETURN_IF_ERROR(LockPlanAndCheck(tx, plan_id, check));
        if (!key.request_id.empty()) {
          PAT_ASSIGN_OR_RETURN(
              std::optional<IdempotencyRecord> prior,
              ClaimIdempotencyKey(tx, plan_id, key, token_id, now));
          if (prior.has_value()) {
            PAT_ASSIGN_OR_RETURN(Token current,
                                 ReadToken(tx, plan_id, token_id, false));
            return MutationOutcome{std::move(current), /*replayed=*/true,
                                   prior->previous_secret_expire_time};
          }
        }
        PAT_ASSIGN_OR_RETURN(Token current,
                             ReadToken(tx, plan_id, token_id, true));
        PAT_ASSIGN_OR_RETURN(TokenMutation m, fn(current));
        if (!m.changed) return MutationOutcome{std::move(current), false, {}};
        return ApplyMutation(tx, plan_id, token_id, actor, now, key, m);
      });
}

absl::StatusOr<std::vector<AuditEvent>> PgTokenStore::ListAuditEvents(
    const ListAuditQuery& q) {
  return Transact<std::vector<AuditEvent>>(
      pool_, "list audit events",
      [&](Tx& tx) -> absl::StatusOr<std::vector<AuditEvent>> {
        pqxx::result r = tx.txn.exec_params(
            "SELECT id, plan_id, token_id, actor, action, pat_us(time), "
            "details::text FROM audit_events WHERE plan_id = $1 AND "
            "($2 = '' OR token_id = $2) AND "
            "($3 = '' OR id < NULLIF($3, '')::bigint) "
            "ORDER BY id DESC LIMIT $4",
            q.plan_id, q.token_id,
            q.after_id.has_value() ? absl::StrCat(*q.after_id) : std::string(),
            q.page_size);
        std::vector<AuditEvent> out;
        for (const pqxx::row& row : r) {
          AuditEvent e;
          e.id = row[0].as<int64_t>();
          e.plan_id = row[1].as<std::string>();
          e.token_id = row[2].as<std::string>();
          e.actor = row[3].as<std::string>();
          e.action = row[4].as<std::string>();
          e.time = FromUs(row[5].as<int64_t>());
          e.details_json = row[6].as<std::string>();
          out.push_back(std::move(e));
        }
        return out;
      });
}

absl::StatusOr<std::string> PgTokenStore::GetOrCreateServerKey(
    const std::string& name, const std::string& candidate) {
  return Transact<std::string>(
      pool_, "server key", [&](Tx& tx) -> absl::StatusOr<std::string> {
        tx.txn.exec_params(
            "INSERT INTO server_keys (name, key) VALUES ($1, decode($2, "
            "'hex')) ON CONFLICT (name) DO NOTHING",
            name, absl::BytesToHexString(candidate));
        pqxx::result r = tx.txn.exec_params(
            "SELECT encode(key, 'hex') FROM server_keys WHERE name = $1", name);
        return absl::HexStringToBytes(r[0][0].as<std::string>());
      });
}

absl::StatusOr<SecretLookup> PgTokenStore::LookupSecret(const Digest& digest) {
  PAT_ASSIGN_OR_RETURN(SecretAtHead read, LookupSecretWithHead(digest));
  if (!read.lookup.has_value()) return absl::NotFoundError("unknown secret");
  return *std::move(read.lookup);
}

absl::StatusOr<SecretAtHead> PgTokenStore::LookupSecretWithHead(
    const Digest& digest) {
  // The hot read of ValidateToken: one autocommit statement (so one
  // snapshot: the feed head and the token row are read at the same point,
  // and every token change bumps feed_head in its own transaction; BEGIN and
  // COMMIT would be two more round trips), prepared once per connection
  // (prepare() is a no-op when the connection already has it, and libpqxx
  // re-prepares after a reconnect).
  static const std::string kSql = absl::StrCat(
      "SELECT x.*, h.revision FROM feed_head h LEFT JOIN LATERAL (SELECT ",
      kTokenColumns,
      ", pat_us(s.valid_until), encode(s.digest, 'hex') "
      "FROM token_secrets s JOIN tokens t ON t.id = s.token_id "
      "WHERE s.digest = decode($1, 'hex')) x ON true WHERE h.id = 1");
  return Transact<SecretAtHead, pqxx::nontransaction>(
      pool_, "validate token", [&](Tx& tx) -> absl::StatusOr<SecretAtHead> {
        tx.txn.conn().prepare(std::string(kLookupSecretAtHeadStatement), kSql);
        pqxx::result r = tx.txn.exec_prepared(
            std::string(kLookupSecretAtHeadStatement), Hex(digest));
        if (r.empty()) return absl::InternalError("feed_head: no row");
        SecretAtHead out;
        out.head = r[0][kTokenColumnCount + 2].as<int64_t>();
        const pqxx::field found = r[0][kTokenColumnCount + 1];
        if (!found.is_null() &&
            ConstantTimeEquals(found.as<std::string>(), Hex(digest))) {
          out.lookup =
              SecretLookup{RowToToken(r[0]), OptTime(r[0][kTokenColumnCount])};
        }
        return out;
      });
}

absl::StatusOr<std::vector<SecretAtHead>> PgTokenStore::LookupSecretsWithHead(
    absl::Span<const Digest> digests) {
  if (digests.empty() || digests.size() > kMaxSecretsPerRead) {
    return absl::InvalidArgumentError(absl::StrCat(
        "LookupSecretsWithHead: 1 to ", kMaxSecretsPerRead, " digests"));
  }
  // The batched read of ValidateToken misses: like LookupSecretWithHead, one
  // autocommit statement, so the head and every row come from one snapshot.
  // $1 is the digests in hex, comma-separated (hex has no comma).
  static const std::string kSql = absl::StrCat(
      "SELECT x.*, h.revision FROM feed_head h LEFT JOIN LATERAL (SELECT ",
      kTokenColumns,
      ", pat_us(s.valid_until), encode(s.digest, 'hex') "
      "FROM token_secrets s JOIN tokens t ON t.id = s.token_id "
      "WHERE s.digest = ANY (SELECT decode(d, 'hex') FROM "
      "unnest(string_to_array($1, ',')) AS d)) x ON true WHERE h.id = 1");
  std::vector<std::string> hex;
  hex.reserve(digests.size());
  for (const Digest& d : digests) hex.push_back(Hex(d));
  const std::string param = absl::StrJoin(hex, ",");
  return Transact<std::vector<SecretAtHead>, pqxx::nontransaction>(
      pool_, "validate tokens",
      [&](Tx& tx) -> absl::StatusOr<std::vector<SecretAtHead>> {
        tx.txn.conn().prepare(std::string(kLookupSecretsAtHeadStatement), kSql);
        pqxx::result r = tx.txn.exec_prepared(
            std::string(kLookupSecretsAtHeadStatement), param);
        if (r.empty()) return absl::InternalError("feed_head: no row");
        const int64_t head = r[0][kTokenColumnCount + 2].as<int64_t>();
        std::vector<SecretAtHead> out(digests.size());
        for (SecretAtHead& a : out) a.head = head;
        for (const pqxx::row& row : r) {
          const pqxx::field found = row[kTokenColumnCount + 1];
          if (found.is_null()) continue;  // no digest matched
          const std::string found_hex = found.as<std::string>();
          for (size_t i = 0; i < digests.size(); ++i) {
            if (out[i].lookup.has_value() ||
                !ConstantTimeEquals(found_hex, hex[i])) {
              continue;
            }
            out[i].lookup =
                SecretLookup{RowToToken(row), OptTime(row[kTokenColumnCount])};
          }
        }
        return out;
      });
}

namespace {

Resource RowToResource(const pqxx::row& r) {
  Resource res;
  res.kind = ResourceKindFromName(r[0].as<std::string>());
  res.id = r[1].as<std::string>();
  res.plan_id = r[2].as<std::string>();
  res.parent_kind = ResourceKindFromName(r[3].as<std::string>());
  res.parent_id = r[4].as<std::string>();
  res.name = r[5].as<std::string>();
  return res;
}

// Columns of RowToResource.
constexpr absl::string_view kResourceColumns =
    "kind, id, plan_id, coalesce(parent_kind, ''), coalesce(parent_id, ''), "
    "name";

// Ancestor chains are at most file -> project -> team -> workspace; the bound
// only guards the recursion against corrupt data.
constexpr int kMaxResourceDepth = 16;

}  // namespace

absl::StatusOr<std::vector<FeedEventRow>> PgTokenStore::ReadFeedEvents(
    int64_t after, int limit) {
  return Transact<std::vector<FeedEventRow>>(
      pool_, "read feed",
      [&](Tx& tx) -> absl::StatusOr<std::vector<FeedEventRow>> {
        pqxx::result r = tx.txn.exec_params(
            "SELECT revision, type, key, payload::text FROM grant_events "
            "WHERE revision > $1 ORDER BY revision LIMIT $2",
            after, limit);
        std::vector<FeedEventRow> out;
        out.reserve(r.size());
        for (const pqxx::row& row : r) {
          out.push_back({row[0].as<int64_t>(), row[1].as<std::string>(),
                         row[2].as<std::string>(), row[3].as<std::string>()});
        }
        return out;
      });
}

absl::StatusOr<FeedPosition> PgTokenStore::GetFeedPosition(int64_t since) {
  return Transact<FeedPosition>(
      pool_, "read feed position", [&](Tx& tx) -> absl::StatusOr<FeedPosition> {
        pqxx::result r = tx.txn.exec_params(
            "SELECT h.revision, EXISTS (SELECT 1 FROM grant_events "
            "WHERE revision = $1::bigint + 1) FROM feed_head h WHERE h.id = 1",
            since);
        FeedPosition pos;
        pos.head = r[0][0].as<int64_t>();
        pos.resumable = since >= 0 && since <= pos.head &&
                        (since == pos.head || r[0][1].as<bool>());
        return pos;
      });
}

absl::StatusOr<FeedSnapshot> PgTokenStore::ReadFeedSnapshot(
    absl::Time now, absl::Duration keep_expired_for, bool with_grants) {
  const int64_t horizon_us = Us(now - keep_expired_for);
  return Transact<FeedSnapshot, SnapshotTxn>(
      pool_, "read feed snapshot", [&](Tx& tx) -> absl::StatusOr<FeedSnapshot> {
        FeedSnapshot snap;
        snap.revision =
            tx.txn.exec("SELECT revision FROM feed_head WHERE id = 1")[0][0]
                .as<int64_t>();
        for (const pqxx::row& row :
             tx.txn.exec("SELECT id, name, tier FROM plans ORDER BY id")) {
          Plan p;
          p.id = row[0].as<std::string>();
          p.name = row[1].as<std::string>();
          p.tier = PlanTierFromName(row[2].as<std::string>());
          snap.plans.push_back(std::move(p));
        }
        // Roots first, then each level of children: a sidecar applying the
        // snapshot in order always knows a resource's parent already.
        pqxx::result resources = tx.txn.exec_params(
            absl::StrCat(
                "WITH RECURSIVE tree AS ("
                " SELECT kind, id, 0 AS depth FROM resources"
                "  WHERE parent_kind IS NULL"
                " UNION ALL"
                " SELECT r.kind, r.id, t.depth + 1 FROM resources r"
                "  JOIN tree t ON r.parent_kind = t.kind AND r.parent_id = t.id"
                "  WHERE t.depth < $1) "
                "SELECT ",
                kResourceColumns,
                " FROM resources JOIN tree USING (kind, id) "
                "ORDER BY tree.depth, kind, id"),
            kMaxResourceDepth);
        for (const pqxx::row& row : resources) {
          snap.resources.push_back(RowToResource(row));
        }
        if (!with_grants) return snap;
        pqxx::result tokens = tx.txn.exec_params(
            absl::StrCat("SELECT ", kTokenColumns,
                         " FROM tokens t WHERE t.expire_time > pat_ts($1) "
                         "ORDER BY t.id"),
            horizon_us);
        absl::flat_hash_map<std::string, size_t> index;
        snap.grants.reserve(tokens.size());
        for (const pqxx::row& row : tokens) {
          GrantRecord g;
          g.token = RowToToken(row);
          index[g.token.id] = snap.grants.size();
          snap.grants.push_back(std::move(g));
        }
        pqxx::result secrets = tx.txn.exec_params(
            "SELECT s.token_id, encode(s.digest, 'hex'), "
            "pat_us(s.valid_until) FROM token_secrets s "
            "JOIN tokens t ON t.id = s.token_id "
            "WHERE t.expire_time > pat_ts($1) AND (s.valid_until IS NULL OR "
            "s.valid_until > pat_ts($1) OR t.revoke_time IS NOT NULL) "
            "ORDER BY s.token_id, s.created_at",
            horizon_us);
        for (const pqxx::row& row : secrets) {
          auto it = index.find(row[0].as<std::string>());
          if (it == index.end()) continue;
          absl::StatusOr<Digest> digest =
              DigestFromHex(row[1].as<std::string>());
          if (!digest.ok()) {
            return absl::InternalError("read feed snapshot: bad digest");
          }
          snap.grants[it->second].secrets.push_back({*digest, OptTime(row[2])});
        }
        return snap;
      });
}

absl::StatusOr<std::vector<Resource>> PgTokenStore::ResolveResource(
    ResourceKind kind, const std::string& id) {
  return Transact<std::vector<Resource>>(
      pool_, "resolve resource",
      [&](Tx& tx) -> absl::StatusOr<std::vector<Resource>> {
        pqxx::result r = tx.txn.exec_params(
            absl::StrCat("WITH RECURSIVE chain (kind, id, up_kind, up_id, "
                         "depth) AS ("
                         " SELECT kind, id, parent_kind, parent_id, 0"
                         "  FROM resources WHERE kind = $1 AND id = $2"
                         " UNION ALL"
                         " SELECT r.kind, r.id, r.parent_kind, r.parent_id,"
                         "  c.depth + 1 FROM resources r"
                         "  JOIN chain c ON r.kind = c.up_kind AND"
                         "  r.id = c.up_id"
                         "  WHERE c.depth < $3) "
                         "SELECT ",
                         kResourceColumns,
                         " FROM resources JOIN chain USING (kind, id) "
                         "ORDER BY chain.depth"),
            std::string(ResourceKindName(kind)), id, kMaxResourceDepth);
        if (r.empty()) return absl::NotFoundError("resource not found");
        std::vector<Resource> chain;
        chain.reserve(r.size());
        for (const pqxx::row& row : r) chain.push_back(RowToResource(row));
        return chain;
      });
}

absl::StatusOr<int> PgTokenStore::RecordUsage(
    const std::vector<UsageReport>& reports) {
  if (reports.empty()) return 0;
  // One row per token (UPDATE ... FROM applies at most one match per row):
  // the latest report, and the IP of the latest report that has one.
  absl::flat_hash_map<std::string, std::pair<int64_t, std::string>> latest;
  for (const UsageReport& u : reports) {
    const int64_t us = Us(u.last_used_time);
    auto [it, inserted] = latest.try_emplace(u.token_id, us, u.client_ip);
    if (inserted) continue;
    if (!u.client_ip.empty() &&
        (us >= it->second.first || it->second.second.empty())) {
      it->second.second = u.client_ip;
    }
    it->second.first = std::max(it->second.first, us);
  }
  json rows = json::array();
  for (const auto& [id, value] : latest) {
    rows.push_back({{"id", id}, {"us", value.first}, {"ip", value.second}});
  }
  const std::string doc = rows.dump();
  auto record = [&doc](Tx& tx) -> absl::StatusOr<int> {
    // Lock the rows in id order first, so concurrent reports (and token
    // mutations) never deadlock on each other.
    tx.txn.exec_params(
        "SELECT id FROM tokens WHERE id IN (SELECT u.id FROM "
        "jsonb_to_recordset($1::jsonb) AS u(id text, us bigint, ip text)) "
        "ORDER BY id FOR UPDATE",
        doc);
    pqxx::result r = tx.txn.exec_params(
        "UPDATE tokens t SET "
        "last_used_ip = CASE WHEN u.ip <> '' AND (t.last_used_time IS NULL OR "
        "pat_ts(u.us) >= t.last_used_time) THEN u.ip ELSE t.last_used_ip END, "
        "last_used_time = greatest(t.last_used_time, pat_ts(u.us)) "
        "FROM jsonb_to_recordset($1::jsonb) AS u(id text, us bigint, ip text) "
        "WHERE t.id = u.id",
        doc);
    return static_cast<int>(r.affected_rows());
  };
  return Transact<int>(pool_, "report usage", record);
}

}  // namespace pat
