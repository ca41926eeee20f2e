#ifndef PAT_SERVER_TOKEN_STORE_H_
#define PAT_SERVER_TOKEN_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/domain.h"
#include "common/secret.h"

// Persistence for plans, the resource directory, tokens, their secrets, audit
// events and the grant change feed. Implementations map every storage error
// to an absl::Status (never an exception): unique violation → ALREADY_EXISTS,
// exhausted retries of serialization failures → ABORTED, broken connection or
// pool timeout → UNAVAILABLE, commit outcome unknown → UNAVAILABLE (never
// retried blindly). Status messages never contain SQL text or secrets.
// Implementations are thread-safe.
namespace pat {

// Idempotency record of a Create or Refresh.
struct IdempotencyKey {
  std::string request_id;  // empty: no idempotency
  std::string operation;   // "create" or "refresh"
  Digest params_digest{};  // SHA-256 of the canonical request parameters
};

// What a replayed request resolves to.
struct IdempotentReplay {
  std::string token_id;
  std::optional<absl::Time> previous_secret_expire_time;  // refresh only
};

struct NewToken {
  Token token;           // complete, with id and times set
  Digest secret_digest;  // of the token's first secret
  std::string actor;
  std::string audit_details_json;
};

struct CreateOutcome {
  Token token;
  bool replayed = false;  // true: an earlier request with the same key won
};

// The change a mutation callback decides on.
struct TokenMutation {
  bool changed = false;  // false: return the current token, write nothing
  Token updated;         // full new state
  std::string action;    // audit action: update, refresh, revoke
  std::string audit_details_json;
  // Refresh: the new current secret, and when the previous current secret
  // stops working. Older non-current secrets end at `now`.
  std::optional<Digest> new_secret_digest;
  absl::Time previous_secret_valid_until = absl::InfinitePast();
  // Revoke: every secret of the token ends at `now`.
  bool end_all_secrets = false;
};

struct MutationOutcome {
  Token token;
  bool replayed = false;
  std::optional<absl::Time> previous_secret_expire_time;
};

// Decides a mutation from the current state, read under a row lock. Must be
// a pure function of its inputs: it may be called more than once when a
// transaction is retried.
using MutationFn =
    std::function<absl::StatusOr<TokenMutation>(const Token& current)>;

// Decides whether a lifecycle change is still allowed for the plan as it is
// now (tier, admins). Called inside the write's transaction while the plan
// row is locked FOR SHARE until commit, so a concurrent UpsertPlan (which
// locks the row exclusively) commits either wholly before the check or
// wholly after the write. An error rolls the transaction back and is
// returned as is. Must be a pure function of its input (it may be called
// again when the transaction is retried).
using PlanCheckFn = std::function<absl::Status(const Plan& locked)>;

// What UpsertPlan does to the plan's tokens, decided by the lifecycle rules.
struct PlanSweep {
  // Called once per attempt, after the plan row is written and locked
  // exclusively, with the plan's new state. true: every token of the plan
  // that is not yet revoked is locked and changed by `mutate`, with its
  // audit event (by `actor`) and grant event, in the same transaction.
  // Null: no sweep.
  std::function<bool(const Plan& plan)> applies;
  MutationFn mutate;
  std::string actor;
};

struct ListTokensQuery {
  std::string plan_id;
  TokenKind kind = TokenKind::kUnspecified;  // kUnspecified: every kind
  std::vector<TokenStatus> statuses;         // empty: every status
  absl::Time now;
  int page_size = 50;
  // Keyset cursor: strictly after (create_time desc, id desc).
  std::optional<std::pair<absl::Time, std::string>> after;
};

struct ListAuditQuery {
  std::string plan_id;
  std::string token_id;  // empty: every token of the plan
  int page_size = 50;
  std::optional<int64_t> after_id;  // events with a smaller id (newest first)
};

// A secret's token and when the secret itself stops working (nullopt: the
// current secret, bounded by the token's expiry).
struct SecretLookup {
  Token token;
  std::optional<absl::Time> secret_valid_until;
};

// A secret lookup stamped with the feed revision it reflects.
struct SecretAtHead {
  std::optional<SecretLookup> lookup;  // nullopt: no token has the secret
  int64_t head = 0;
};

// One secret of a token, as the change feed carries it: the digest (never the
// secret) and when it stops working (nullopt: the current secret, bounded by
// the token's expiry).
struct SecretRecord {
  Digest digest{};
  std::optional<absl::Time> valid_until;
};

// A token's grant with the digests of its secrets.
struct GrantRecord {
  Token token;
  std::vector<SecretRecord> secrets;
};

// One row of the grant change feed (table grant_events), as written by the
// store: type "grant", "plan", "resource" or "resource_delete", and the JSON
// payload documented in server/grant_feed.h.
struct FeedEventRow {
  int64_t revision = 0;
  std::string type;
  std::string key;
  std::string payload_json;
};

// Everything a sidecar needs, read in one REPEATABLE READ transaction:
// `revision` is the feed head of that snapshot, so the state is exactly the
// result of every feed event up to and including `revision`.
struct FeedSnapshot {
  int64_t revision = 0;
  std::vector<Plan> plans;          // by id
  std::vector<Resource> resources;  // parents before children
  // Tokens whose grant still matters at `now` (see ReadFeedSnapshot).
  std::vector<GrantRecord> grants;
};

// Where a feed reader stands: the current head, and whether every event
// after a given revision is still retained.
struct FeedPosition {
  int64_t head = 0;
  bool resumable = false;
};

// A sidecar's report that a token was used.
struct UsageReport {
  std::string token_id;
  absl::Time last_used_time = absl::InfinitePast();
  std::string client_ip;  // empty: keep the stored one
};

class TokenStore {
 public:
  virtual ~TokenStore() = default;

  // Directory. Each change writes a grant-feed event in the same transaction.
  // The plan row is locked exclusively (conflicting with the FOR SHARE lock
  // of CreateToken and MutateToken) and `sweep` is applied under that lock
  // (see PlanSweep); mutations are stamped `now`.
  virtual absl::Status UpsertPlan(const Plan& plan, absl::Time now,
                                  const PlanSweep& sweep) = 0;
  virtual absl::StatusOr<Plan> GetPlan(const std::string& plan_id) = 0;
  virtual absl::StatusOr<std::vector<Plan>> ListPlansAdministeredBy(
      const std::string& user_id) = 0;
  // NOT_FOUND when the parent does not exist; FAILED_PRECONDITION when the
  // parent belongs to another plan or the resource would move plans.
  virtual absl::Status UpsertResource(const Resource& resource) = 0;
  virtual absl::Status DeleteResource(ResourceKind kind,
                                      const std::string& id) = 0;
  virtual absl::StatusOr<Resource> GetResource(ResourceKind kind,
                                               const std::string& id) = 0;

  // Locks the token's plan row FOR SHARE and calls `check` with it (NOT_FOUND
  // when the plan does not exist), then inserts the token, its first secret,
  // the audit event, the grant event and the idempotency record in the same
  // transaction. With a request_id already used by the same plan: the
  // earlier token when params match (replayed), INVALID_ARGUMENT when they
  // differ.
  virtual absl::StatusOr<CreateOutcome> CreateToken(
      const NewToken& token, const IdempotencyKey& key,
      const PlanCheckFn& check) = 0;

  // NOT_FOUND when the token does not exist in `plan_id`.
  virtual absl::StatusOr<Token> GetToken(const std::string& plan_id,
                                         const std::string& token_id) = 0;
  virtual absl::StatusOr<std::vector<Token>> ListTokens(
      const ListTokensQuery& query) = 0;

  // Locks the plan row FOR SHARE and calls `check` with it, then locks the
  // token row, calls `fn` with the current state and applies its mutation
  // with the audit event, the grant event and the idempotency record, all in
  // one transaction. NOT_FOUND when the token is not in `plan_id`.
  virtual absl::StatusOr<MutationOutcome> MutateToken(
      const std::string& plan_id, const std::string& token_id,
      const std::string& actor, absl::Time now, const IdempotencyKey& key,
      const PlanCheckFn& check, const MutationFn& fn) = 0;

  virtual absl::StatusOr<std::vector<AuditEvent>> ListAuditEvents(
      const ListAuditQuery& query) = 0;

  // The shared key named `name`: stored as `candidate` if none exists yet,
  // else the one stored first (every replica ends up with the same key).
  virtual absl::StatusOr<std::string> GetOrCreateServerKey(
      const std::string& name, const std::string& candidate) = 0;

  // NOT_FOUND when no secret has this digest.
  virtual absl::StatusOr<SecretLookup> LookupSecret(const Digest& digest) = 0;

  // --- Change feed and sidecar support --------------------------------------

  // Feed events with revision > `after`, in revision order, at most `limit`
  // of them. Revisions are dense (1, 2, 3, ...) and commit in order, so a
  // result is always a gapless run unless old events have been pruned: the
  // caller checks that the first revision is after + 1.
  virtual absl::StatusOr<std::vector<FeedEventRow>> ReadFeedEvents(
      int64_t after, int limit) = 0;

  // The feed head, and whether every event after `since` is retained
  // (since == head, or the event since + 1 still exists). A `since` beyond the
  // head is not resumable (e.g. a database restored from a backup).
  virtual absl::StatusOr<FeedPosition> GetFeedPosition(int64_t since) = 0;

  // The snapshot a new watcher starts from, in one REPEATABLE READ, read-only
  // transaction: every plan, every directory resource (parents before
  // children) and every token that has not been expired for more than
  // `keep_expired_for` at `now` (revoked tokens included, so that sidecars
  // can tell revoked from unknown), each with the secrets a sidecar may still
  // be shown: the current one, those ending after now - keep_expired_for, and
  // those a revoke ended. With !with_grants, plans and resources only (no
  // token is read).
  virtual absl::StatusOr<FeedSnapshot> ReadFeedSnapshot(
      absl::Time now, absl::Duration keep_expired_for, bool with_grants) = 0;

  // The resource and its ancestors up to the root, the resource first.
  // NOT_FOUND when the resource does not exist.
  virtual absl::StatusOr<std::vector<Resource>> ResolveResource(
      ResourceKind kind, const std::string& id) = 0;

  // In one transaction, for each report whose token exists:
  // last_used_time = greatest(stored, reported), and last_used_ip = the
  // reported IP when the reported time is not older than the stored one and
  // the IP is non-empty. Unknown token ids are ignored. No audit event and no
  // feed event (usage is not a lifecycle change). Returns how many tokens
  // were updated.
  virtual absl::StatusOr<int> RecordUsage(
      const std::vector<UsageReport>& reports) = 0;
};

}  // namespace pat

#endif  // PAT_SERVER_TOKEN_STORE_H_
