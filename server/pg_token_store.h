#ifndef PAT_SERVER_PG_TOKEN_STORE_H_
#define PAT_SERVER_PG_TOKEN_STORE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "server/db_pool.h"
#include "server/token_store.h"

namespace pat {

// TokenStore on PostgreSQL through libpqxx. All libpqxx exceptions are caught
// here and mapped to statuses. The pool must outlive the store.
class PgTokenStore final : public TokenStore {
 public:
  static absl::StatusOr<std::unique_ptr<PgTokenStore>> Create(DbPool& pool);

  absl::Status UpsertPlan(const Plan& plan, absl::Time now,
                          const PlanSweep& sweep) override;
  absl::StatusOr<Plan> GetPlan(const std::string& plan_id) override;
  absl::StatusOr<std::vector<Plan>> ListPlansAdministeredBy(
      const std::string& user_id) override;
  absl::Status UpsertResource(const Resource& resource) override;
  absl::Status DeleteResource(ResourceKind kind,
                              const std::string& id) override;
  absl::StatusOr<Resource> GetResource(ResourceKind kind,
                                       const std::string& id) override;
  absl::StatusOr<CreateOutcome> CreateToken(const NewToken& token,
                                            const IdempotencyKey& key,
                                            const PlanCheckFn& check) override;
  absl::StatusOr<Token> GetToken(const std::string& plan_id,
                                 const std::string& token_id) override;
  absl::StatusOr<std::vector<Token>> ListTokens(
      const ListTokensQuery& query) override;
  absl::StatusOr<MutationOutcome> MutateToken(
      const std::string& plan_id, const std::string& token_id,
      const std::string& actor, absl::Time now, const IdempotencyKey& key,
      const PlanCheckFn& check, const MutationFn& fn) override;
  absl::StatusOr<std::vector<AuditEvent>> ListAuditEvents(
      const ListAuditQuery& query) override;
  absl::StatusOr<std::string> GetOrCreateServerKey(
      const std::string& name, const std::string& candidate) override;
  absl::StatusOr<SecretLookup> LookupSecret(const Digest& digest) override;
  // LookupSecret's read and the committed feed head, from one snapshot: the
  // lookup (nullopt: no token has this secret) is the state after exactly
  // the feed events up to `head`.
  absl::StatusOr<SecretAtHead> LookupSecretWithHead(const Digest& digest);
  // LookupSecretWithHead for up to kMaxSecretsPerRead digests in one
  // statement (one snapshot: every answer has the same head), in the order
  // given; a digest may repeat. INVALID_ARGUMENT for an empty or too long
  // list.
  static constexpr size_t kMaxSecretsPerRead = 256;
  absl::StatusOr<std::vector<SecretAtHead>> LookupSecretsWithHead(
      absl::Span<const Digest> digests);
  absl::StatusOr<std::vector<FeedEventRow>> ReadFeedEvents(int64_t after,
                                                           int limit) override;
  absl::StatusOr<FeedPosition> GetFeedPosition(int64_t since) override;
  absl::StatusOr<FeedSnapshot> ReadFeedSnapshot(absl::Time now,
                                                absl::Duration keep_expired_for,
                                                bool with_grants) override;
  absl::StatusOr<std::vector<Resource>> ResolveResource(
      ResourceKind kind, const std::string& id) override;
  absl::StatusOr<int> RecordUsage(
      const std::vector<UsageReport>& reports) override;

 private:
  explicit PgTokenStore(DbPool& pool) : pool_(pool) {}
  DbPool& pool_;
};

}  // namespace pat

#endif  // PAT_SERVER_PG_TOKEN_STORE_H_
