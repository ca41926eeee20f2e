#ifndef PAT_SERVER_TOKEN_STORE_H_
#define PAT_SERVER_TOKEN_STORE_H_

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
  std::string request_id;     // empty: no idempotency
  std::string operation;      // "create" or "refresh"
  Digest params_digest{};     // SHA-256 of the canonical request parameters
};

// What a replayed request resolves to.
struct IdempotentReplay {
  std::string token_id;
  std::optional<absl::Time> previous_secret_expire_time;  // refresh only
};

struct NewToken {
  Token token;          // complete, with id and times set
  Digest secret_digest; // of the token's first secret
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

class TokenStore {
 public:
  virtual ~TokenStore() = default;

  // Directory. Each change writes a grant-feed event in the same transaction.
  virtual absl::Status UpsertPlan(const Plan& plan) = 0;
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

  // Inserts the token, its first secret, the audit event, the grant event and
  // the idempotency record in one transaction. With a request_id already
  // used by the same plan: the earlier token when params match (replayed),
  // INVALID_ARGUMENT when they differ.
  virtual absl::StatusOr<CreateOutcome> CreateToken(
      const NewToken& token, const IdempotencyKey& key) = 0;

  // NOT_FOUND when the token does not exist in `plan_id`.
  virtual absl::StatusOr<Token> GetToken(const std::string& plan_id,
                                         const std::string& token_id) = 0;
  virtual absl::StatusOr<std::vector<Token>> ListTokens(
      const ListTokensQuery& query) = 0;

  // Locks the token row, calls `fn` with the current state and applies its
  // mutation with the audit event, the grant event and the idempotency record
  // in one transaction. NOT_FOUND when the token is not in `plan_id`.
  virtual absl::StatusOr<MutationOutcome> MutateToken(
      const std::string& plan_id, const std::string& token_id,
      const std::string& actor, absl::Time now, const IdempotencyKey& key,
      const MutationFn& fn) = 0;

  virtual absl::StatusOr<std::vector<AuditEvent>> ListAuditEvents(
      const ListAuditQuery& query) = 0;

  // The shared key named `name`: stored as `candidate` if none exists yet,
  // else the one stored first (every replica ends up with the same key).
  virtual absl::StatusOr<std::string> GetOrCreateServerKey(
      const std::string& name, const std::string& candidate) = 0;

  // NOT_FOUND when no secret has this digest.
  virtual absl::StatusOr<SecretLookup> LookupSecret(const Digest& digest) = 0;
};

}  // namespace pat

#endif  // PAT_SERVER_TOKEN_STORE_H_
