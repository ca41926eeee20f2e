#ifndef PAT_TESTS_SUPPORT_FORWARDING_TOKEN_STORE_H_
#define PAT_TESTS_SUPPORT_FORWARDING_TOKEN_STORE_H_

#include <string>
#include <vector>

#include "server/token_store.h"

namespace pat::testing {

// A TokenStore that forwards every call to `base` (which must outlive it).
// Test decorators derive from it and override what they intercept.
class ForwardingTokenStore : public TokenStore {
 public:
  explicit ForwardingTokenStore(TokenStore& base) : base_(base) {}

  absl::Status UpsertPlan(const Plan& plan, absl::Time now,
                          const PlanSweep& sweep) override {
    return base_.UpsertPlan(plan, now, sweep);
  }
  absl::StatusOr<Plan> GetPlan(const std::string& plan_id) override {
    return base_.GetPlan(plan_id);
  }
  absl::StatusOr<std::vector<Plan>> ListPlansAdministeredBy(
      const std::string& user_id) override {
    return base_.ListPlansAdministeredBy(user_id);
  }
  absl::Status UpsertResource(const Resource& resource) override {
    return base_.UpsertResource(resource);
  }
  absl::Status DeleteResource(ResourceKind kind,
                              const std::string& id) override {
    return base_.DeleteResource(kind, id);
  }
  absl::StatusOr<Resource> GetResource(ResourceKind kind,
                                       const std::string& id) override {
    return base_.GetResource(kind, id);
  }
  absl::StatusOr<CreateOutcome> CreateToken(const NewToken& token,
                                            const IdempotencyKey& key,
                                            const PlanCheckFn& check) override {
    return base_.CreateToken(token, key, check);
  }
  absl::StatusOr<Token> GetToken(const std::string& plan_id,
                                 const std::string& token_id) override {
    return base_.GetToken(plan_id, token_id);
  }
  absl::StatusOr<std::vector<Token>> ListTokens(
      const ListTokensQuery& query) override {
    return base_.ListTokens(query);
  }
  absl::StatusOr<MutationOutcome> MutateToken(
      const std::string& plan_id, const std::string& token_id,
      const std::string& actor, absl::Time now, const IdempotencyKey& key,
      const PlanCheckFn& check, const MutationFn& fn) override {
    return base_.MutateToken(plan_id, token_id, actor, now, key, check, fn);
  }
  absl::StatusOr<std::vector<AuditEvent>> ListAuditEvents(
      const ListAuditQuery& query) override {
    return base_.ListAuditEvents(query);
  }
  absl::StatusOr<std::string> GetOrCreateServerKey(
      const std::string& name, const std::string& candidate) override {
    return base_.GetOrCreateServerKey(name, candidate);
  }
  absl::StatusOr<SecretLookup> LookupSecret(const Digest& digest) override {
    return base_.LookupSecret(digest);
  }
  absl::StatusOr<std::vector<FeedEventRow>> ReadFeedEvents(int64_t after,
                                                           int limit) override {
    return base_.ReadFeedEvents(after, limit);
  }
  absl::StatusOr<FeedPosition> GetFeedPosition(int64_t since) override {
    return base_.GetFeedPosition(since);
  }
  absl::StatusOr<FeedSnapshot> ReadFeedSnapshot(absl::Time now,
                                                absl::Duration keep_expired_for,
                                                bool with_grants) override {
    return base_.ReadFeedSnapshot(now, keep_expired_for, with_grants);
  }
  absl::StatusOr<std::vector<Resource>> ResolveResource(
      ResourceKind kind, const std::string& id) override {
    return base_.ResolveResource(kind, id);
  }
  absl::StatusOr<int> RecordUsage(
      const std::vector<UsageReport>& reports) override {
    return base_.RecordUsage(reports);
  }

 protected:
  TokenStore& base() { return base_; }

 private:
  TokenStore& base_;
};

}  // namespace pat::testing

#endif  // PAT_TESTS_SUPPORT_FORWARDING_TOKEN_STORE_H_
