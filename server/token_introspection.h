#ifndef PAT_SERVER_TOKEN_INTROSPECTION_H_
#define PAT_SERVER_TOKEN_INTROSPECTION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/clock.h"
#include "common/domain.h"
#include "server/token_store.h"
#include "server/token_types.h"

// What pat.v1.IntrospectionService answers sidecars (no actor), independent
// of gRPC: secret lookups, the feed reads that WatchGrants is built from
// (its streaming stays with server/grant_feed.h and the service), resource
// chains and usage reports. Thread-safe.
namespace pat {

// Where ValidateToken reads secrets (the store when none is given; the
// authority gives it server/validate_memory.h's in-memory view).
class SecretSource {
 public:
  virtual ~SecretSource() = default;
  // The secret's token (lookup == nullopt: no token has it) and the feed
  // revision the answer reflects (`head`: every event up to it, none after;
  // 0 when unknown). May block (a database read).
  virtual absl::StatusOr<SecretAtHead> LookupSecret(const Digest& digest) = 0;
  // The same answer when it is at hand without waiting (memory); nullopt
  // when only LookupSecret can answer. Never blocks.
  virtual std::optional<absl::StatusOr<SecretAtHead>> TryLookupSecret(
      const Digest& digest) = 0;
  // LookupSecret for several digests, answers in the order given; one
  // status for the whole read. A source that reads the database reads them
  // in one statement; this default asks LookupSecret for each.
  virtual absl::StatusOr<std::vector<SecretAtHead>> LookupSecrets(
      absl::Span<const Digest> digests);
};

struct TokenIntrospectionConfig {
  // Feed snapshots keep tokens that expired less than this long ago (and
  // every revoked token that is not yet that long expired).
  absl::Duration snapshot_keep_expired = kSnapshotKeepExpired;
};

class TokenIntrospection {
 public:
  // INVALID_ARGUMENT for a config outside its bounds.
  // `secrets` (optional, must outlive the object) answers ValidateToken's
  // lookups instead of the store.
  static absl::StatusOr<std::unique_ptr<TokenIntrospection>> Create(
      const TokenIntrospectionConfig& config, ComponentDeps deps,
      SecretSource* secrets = nullptr);

  TokenIntrospection(const TokenIntrospection&) = delete;
  TokenIntrospection& operator=(const TokenIntrospection&) = delete;

  // The token holding a secret with this digest (32 bytes, else
  // INVALID_ARGUMENT); found=false for none, or for a previous secret past
  // its overlap.
  absl::StatusOr<ValidateResult> ValidateToken(absl::string_view digest_bytes);
  // ValidateToken's answer when the SecretSource has it without waiting;
  // nullopt when only ValidateToken (which may block) can answer. Never
  // blocks.
  std::optional<absl::StatusOr<ValidateResult>> TryValidateToken(
      absl::string_view digest_bytes);
  // ValidateToken for several digests with one SecretSource read (the
  // batched misses of server/validate_batcher.h), answers in the order
  // given. A read error is every answer's error.
  std::vector<absl::StatusOr<ValidateResult>> ValidateTokens(
      absl::Span<const std::string> digests_bytes);

  // The snapshot a new feed watcher starts from (see TokenStore), with
  // tokens expired less than snapshot_keep_expired ago; plans and resources
  // only when !with_grants.
  absl::StatusOr<FeedSnapshot> ReadFeedSnapshot(bool with_grants = true);
  // INVALID_ARGUMENT for since < 0.
  absl::StatusOr<FeedPosition> GetFeedPosition(int64_t since);
  absl::StatusOr<std::vector<FeedEventRow>> ReadFeedEvents(int64_t after,
                                                           int limit);
  // The resource first, then its ancestors to the root. INVALID_ARGUMENT for
  // an unspecified kind or an empty id; NOT_FOUND for an unknown resource
  // (an id the directory cannot hold included).
  absl::StatusOr<std::vector<Resource>> ResolveResource(ResourceKind kind,
                                                        const std::string& id);
  // At most kMaxUsageRecords records (INVALID_ARGUMENT beyond), each with a
  // well-formed token id, a last-used time and an empty or IPv4/IPv6 client
  // IP of at most kMaxClientIpLength characters (INVALID_ARGUMENT naming the
  // record otherwise). Times after now are recorded as now. Unknown tokens
  // are ignored.
  absl::Status ReportUsage(std::vector<UsageReport> reports);

  // Current time of the injected clock (grant statuses of feed events).
  absl::Time Now() const { return clock_.Now(); }

 private:
  // ValidateToken's answer from a lookup.
  absl::StatusOr<ValidateResult> ResultOf(
      absl::StatusOr<SecretAtHead> found) const;

  TokenIntrospection(const TokenIntrospectionConfig& config, ComponentDeps deps,
                     SecretSource* secrets)
      : config_(config),
        store_(deps.store),
        secrets_(secrets),
        clock_(deps.clock) {}

  const TokenIntrospectionConfig config_;
  TokenStore& store_;
  SecretSource* const secrets_;
  const Clock& clock_;
};

}  // namespace pat

#endif  // PAT_SERVER_TOKEN_INTROSPECTION_H_
