#include "server/migrations.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "pqxx/pqxx"

namespace pat {
namespace {

// Advisory lock key: "pat-migrations" folded to 64 bits, fixed forever.
constexpr int64_t kMigrationLockKey = 0x7061742d6d696772;

struct Migration {
  int version;
  absl::string_view sql;
};

// Append-only: never edit a migration that has shipped; add a new one.
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE FUNCTION pat_us(t timestamptz) RETURNS bigint
  LANGUAGE sql IMMUTABLE STRICT
  AS $$ SELECT (extract(epoch FROM t) * 1000000)::bigint $$;
CREATE FUNCTION pat_ts(us bigint) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE STRICT
  AS $$ SELECT 'epoch'::timestamptz + us * interval '1 microsecond' $$;

CREATE TABLE plans (
  id         text PRIMARY KEY,
  name       text NOT NULL,
  tier       text NOT NULL CHECK (tier IN ('starter','professional','organization','enterprise')),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE plan_admins (
  plan_id text NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
  user_id text NOT NULL,
  PRIMARY KEY (plan_id, user_id)
);
CREATE INDEX plan_admins_by_user ON plan_admins (user_id);

-- The resource directory: who owns what. A resource's parent is in the same
-- plan (enforced by the store).
CREATE TABLE resources (
  kind        text NOT NULL CHECK (kind IN ('file','project','team','workspace','npm_scope')),
  id          text NOT NULL,
  plan_id     text NOT NULL REFERENCES plans(id),
  parent_kind text,
  parent_id   text,
  name        text NOT NULL DEFAULT '',
  PRIMARY KEY (kind, id),
  FOREIGN KEY (parent_kind, parent_id) REFERENCES resources(kind, id)
);
CREATE INDEX resources_by_parent ON resources (parent_kind, parent_id);

CREATE TABLE tokens (
  id                text PRIMARY KEY,
  plan_id           text NOT NULL REFERENCES plans(id),
  kind              text NOT NULL CHECK (kind IN ('rest_api','npm_registry')),
  name              text NOT NULL,
  description       text NOT NULL DEFAULT '',
  scopes            text[] NOT NULL,
  all_resources     boolean NOT NULL,
  resources         jsonb NOT NULL DEFAULT '[]',
  created_by        text NOT NULL,
  create_time       timestamptz NOT NULL,
  expire_time       timestamptz NOT NULL,
  lifetime_days     integer NOT NULL CHECK (lifetime_days BETWEEN 1 AND 365),
  revoke_time       timestamptz,
  revoked_by        text NOT NULL DEFAULT '',
  last_refresh_time timestamptz,
  last_used_time    timestamptz,
  last_used_ip      text NOT NULL DEFAULT ''
);
CREATE INDEX tokens_by_plan ON tokens (plan_id, create_time DESC, id DESC);

-- Only SHA-256 digests of secrets are stored. valid_until NULL: the current
-- secret (bounded by the token's expiry); otherwise a previous secret.
CREATE TABLE token_secrets (
  digest      bytea PRIMARY KEY CHECK (octet_length(digest) = 32),
  token_id    text NOT NULL REFERENCES tokens(id),
  created_at  timestamptz NOT NULL,
  valid_until timestamptz
);
CREATE INDEX token_secrets_by_token ON token_secrets (token_id);

CREATE TABLE audit_events (
  id       bigserial PRIMARY KEY,
  plan_id  text NOT NULL,
  token_id text NOT NULL DEFAULT '',
  actor    text NOT NULL,
  action   text NOT NULL,
  time     timestamptz NOT NULL,
  details  jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_by_plan ON audit_events (plan_id, id DESC);
CREATE INDEX audit_events_by_token ON audit_events (token_id, id DESC);

-- The grant change feed (transactional outbox). Revisions are assigned by
-- incrementing the single row of feed_head, whose row lock is held until the
-- writing transaction ends: revisions therefore commit in revision order and
-- a reader that has seen revision N committed can never later find a
-- smaller, newly committed one.
CREATE TABLE feed_head (
  id       integer PRIMARY KEY CHECK (id = 1),
  revision bigint NOT NULL
);
INSERT INTO feed_head VALUES (1, 0);

CREATE TABLE grant_events (
  revision   bigint PRIMARY KEY,
  type       text NOT NULL,
  key        text NOT NULL,
  payload    jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION pat_append_event(p_type text, p_key text, p_payload jsonb)
  RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  rev bigint;
BEGIN
  UPDATE feed_head SET revision = revision + 1 WHERE id = 1
    RETURNING revision INTO rev;
  INSERT INTO grant_events (revision, type, key, payload)
    VALUES (rev, p_type, p_key, p_payload);
  RETURN rev;
END $$;

-- Idempotency records of Create and Refresh, keyed by the client's request_id
-- within a plan. No secret is ever kept here.
CREATE TABLE idempotency (
  plan_id                     text NOT NULL,
  request_id                  text NOT NULL,
  operation                   text NOT NULL,
  params_digest               bytea NOT NULL,
  token_id                    text NOT NULL,
  previous_secret_expire_time timestamptz,
  created_at                  timestamptz NOT NULL,
  PRIMARY KEY (plan_id, request_id)
);
)sql"},
    {2, R"sql(
-- Keys the replicas share (e.g. for signing page tokens), created once by
-- the first replica that needs one. Not token secrets.
CREATE TABLE server_keys (
  name       text PRIMARY KEY,
  key        bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
)sql"},
    {3, R"sql(
-- The feed's retention: events older than the retention period are pruned by
-- age (a prefix of the history, see server/grant_feed.h).
CREATE INDEX grant_events_by_created_at ON grant_events (created_at);
)sql"},
    {4, R"sql(
-- pat_us as an inlinable function: extract(epoch FROM timestamptz) is only
-- STABLE, so the IMMUTABLE SQL function of migration 1 was never inlined and
-- ran (and was planned) once per column per row. A timestamp without time
-- zone in UTC gives the same epoch and is IMMUTABLE.
CREATE OR REPLACE FUNCTION pat_us(t timestamptz) RETURNS bigint
  LANGUAGE sql IMMUTABLE STRICT
  AS $$ SELECT (extract(epoch FROM t AT TIME ZONE 'UTC') * 1000000)::bigint $$;
)sql"},
    {5, R"sql(
-- Leaked-secret intake (docs/leak-intake.md): what a reported leak of a
-- plan's secret does. No row: 'revoke'.
CREATE TABLE plan_leak_policies (
  plan_id    text PRIMARY KEY REFERENCES plans(id) ON DELETE CASCADE,
  policy     text NOT NULL CHECK (policy IN ('revoke','flag')),
  updated_by text NOT NULL,
  updated_at timestamptz NOT NULL
);
)sql"},
    {6, R"sql(
-- Lifecycle notifications (server/webhooks/, docs/webhooks.md).
-- The signing secret is kept as is (like server_keys): it must be
-- recoverable to sign, and the database is already the trust boundary.
CREATE TABLE webhook_subscriptions (
  id          text PRIMARY KEY,
  plan_id     text NOT NULL REFERENCES plans(id),
  url         text NOT NULL,
  event_types text[] NOT NULL DEFAULT '{}',
  secret      bytea NOT NULL,
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL
);
CREATE INDEX webhook_subscriptions_by_plan ON webhook_subscriptions (plan_id);

-- Audit events not yet turned into webhook events, queued by a trigger in
-- the transaction that wrote the audit event (so none is ever missed, even
-- though audit ids do not commit in order).
CREATE TABLE webhook_outbox (
  audit_id bigint PRIMARY KEY
);
CREATE FUNCTION pat_webhook_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO webhook_outbox (audit_id) VALUES (NEW.id);
  RETURN NULL;
END $$;
CREATE TRIGGER audit_events_webhook_outbox AFTER INSERT ON audit_events
  FOR EACH ROW WHEN (NEW.action IN ('create','update','refresh','revoke',
                                    'leak_flagged'))
  EXECUTE FUNCTION pat_webhook_enqueue();

-- One row per lifecycle event; source_key makes emission idempotent:
-- "audit:<audit id>" or "<event type>:<token id>[:<secret digest hex>]".
CREATE TABLE webhook_events (
  id         bigserial PRIMARY KEY,
  source_key text NOT NULL UNIQUE,
  plan_id    text NOT NULL,
  token_id   text NOT NULL,
  type       text NOT NULL,
  time       timestamptz NOT NULL,
  data       jsonb NOT NULL DEFAULT '{}'
);

-- One row per event per subscription. state pending: next_attempt_at is
-- when it may be claimed (a claim pushes it past the request deadline, so a
-- replica that dies mid-delivery only delays it); delivered; dead.
CREATE TABLE webhook_deliveries (
  subscription_id text NOT NULL REFERENCES webhook_subscriptions(id)
                  ON DELETE CASCADE,
  event_id        bigint NOT NULL REFERENCES webhook_events(id),
  state           text NOT NULL CHECK (state IN ('pending','delivered','dead')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  last_error      text NOT NULL DEFAULT '',
  updated_at      timestamptz NOT NULL,
  PRIMARY KEY (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
  WHERE state = 'pending';
CREATE INDEX webhook_deliveries_dead ON webhook_deliveries
  (subscription_id, updated_at DESC) WHERE state = 'dead';

-- Named leases shared by the replicas (the expiry scheduler's).
CREATE TABLE webhook_leases (
  name        text PRIMARY KEY,
  holder      text NOT NULL,
  expires_at  timestamptz NOT NULL
);
CREATE INDEX tokens_by_expire_time ON tokens (expire_time)
  WHERE revoke_time IS NULL;
CREATE INDEX token_secrets_by_valid_until ON token_secrets (valid_until)
  WHERE valid_until IS NOT NULL;
)sql"},
    {7, R"sql(
-- The least-privilege report (docs/usage-report.md): allowed requests per
-- token, hour and key (endpoint, satisfying scopes, resources), summed over
-- the sidecars' reports. usage_key is the SHA-256 of the key's canonical
-- text. Bounded by a per-token, per-hour key cap and an age retention.
CREATE TABLE token_usage (
  token_id      text NOT NULL,
  bucket_start  timestamptz NOT NULL,
  usage_key     bytea NOT NULL CHECK (octet_length(usage_key) = 32),
  endpoint      text NOT NULL,
  scopes        jsonb NOT NULL,
  resource_need text NOT NULL CHECK (resource_need IN ('none','all','listed')),
  resources     jsonb NOT NULL DEFAULT '[]',
  count         bigint NOT NULL CHECK (count > 0),
  PRIMARY KEY (token_id, bucket_start, usage_key)
);
CREATE INDEX token_usage_by_bucket ON token_usage (bucket_start);
)sql"},
};

}  // namespace

int LatestSchemaVersion() {
  return kMigrations[std::size(kMigrations) - 1].version;
}

absl::Status ApplyMigrations(const std::string& database_url) {
  try {
    pqxx::connection conn(database_url);
    {
      pqxx::nontransaction nt(conn);
      nt.exec(absl::StrCat("SELECT pg_advisory_lock(", kMigrationLockKey, ")"));
      nt.exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations ("
          " version integer PRIMARY KEY,"
          " applied_at timestamptz NOT NULL DEFAULT now())");
    }
    absl::Status status = absl::OkStatus();
    for (const Migration& m : kMigrations) {
      pqxx::work txn(conn);
      pqxx::result r = txn.exec_params(
          "SELECT 1 FROM schema_migrations WHERE version = $1", m.version);
      if (!r.empty()) continue;
      txn.exec(std::string(m.sql));
      txn.exec_params("INSERT INTO schema_migrations (version) VALUES ($1)",
                      m.version);
      txn.commit();
    }
    pqxx::nontransaction nt(conn);
    nt.exec(absl::StrCat("SELECT pg_advisory_unlock(", kMigrationLockKey, ")"));
    return status;
  } catch (const pqxx::broken_connection&) {
    return absl::UnavailableError("migrate: cannot connect to the database");
  } catch (const pqxx::sql_error& e) {
    return absl::InternalError(absl::StrCat(
        "migrate: schema migration failed (SQLSTATE ", e.sqlstate(), ")"));
  } catch (const std::exception& e) {
    return absl::InternalError("migrate: schema migration failed");
  }
}

}  // namespace pat
