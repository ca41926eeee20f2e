#ifndef PAT_SIDECAR_PAT_AUTHORIZER_H_
#define PAT_SIDECAR_PAT_AUTHORIZER_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/domain.h"
#include "common/policy/reason.h"
#include "common/policy/route_matcher.h"
#include "common/secret.h"
#include "sidecar/authority_client.h"
#include "sidecar/authorizer.h"
#include "sidecar/directory_cache.h"
#include "sidecar/grant_cache.h"
#include "sidecar/metrics.h"
#include "sidecar/miss_limiter.h"
#include "sidecar/single_flight.h"
#include "sidecar/usage_reporter.h"

// The sidecar's Authorizer (SPEC §7), first failing rule decides:
//  1. the request-target is canonical and has no credential in its query
//     (pat_policy CheckTarget): 400 path_invalid / token_in_query;
//  2. exactly one credential: none -> 401 token_missing; two header values,
//     or one value listing several ("Bearer a, Bearer b") -> token_ambiguous;
//     `Authorization` must be "Bearer <secret>" (scheme case-insensitive,
//     one space, nothing else), other credential headers carry the bare
//     secret; bad shape or checksum (ParseSecret, offline, before any
//     lookup or RPC) -> token_malformed;
//     then, needing the authority's data:
//     never synced -> 503 authority_unavailable (Retry-After: 1);
//     digest lookup in the GrantCache, a miss asks ValidateToken (concurrent
//     misses for one digest share one call; an RPC failure -> 503);
//     unknown -> token_unknown; revoked -> token_revoked; expired (the
//     token's expiry or this secret's end, by the injected clock, or the
//     authority's status) -> token_expired; kind != the sidecar's API ->
//     token_kind_mismatch;
//  3-5. endpoint, scope, resource (pat_policy Decide, pure, with the
//     DirectoryCache's memory copy; see "Resources" below).
//
// Never blocks. A decision taken from memory completes inline; one that
// needs the authority (a miss, a revalidation, a remote resource lookup)
// holds a MissLimiter permit and completes on the authority client's thread
// when the answer (or the RPC deadline) arrives. Without a permit the
// request is answered at once: 503 authority_unavailable (Retry-After: 1)
// over the global bound, 429 rate_limited (Retry-After: 1) over the client
// address's bound. Callbacks never run under a lock of the authorizer.
//
// Staleness: when the watch stream has been silent for longer than
// `staleness_bound` (by the injected clock), cached grants are not trusted:
// each request's digest is revalidated with ValidateToken (single flight
// per digest) unless the cached state already denies for good (revoked, or
// expired by the clock); if the authority cannot answer -> 503.
//
// Resources: while fresh, the directory copy is complete (the watch
// snapshot carries the whole directory, see directory_cache.h), so every
// resource is resolved from memory, and an id nobody owns is refused exactly
// like an id of another plan: same reason, same body, no RPC (no existence
// oracle). While stale, every resource the decision needs is resolved with
// ResolveResource instead (known and unknown alike), at most
// `max_resource_lookups` per request, then Decide runs again with the
// answers; an authority that cannot answer -> 503.
//
// A usable token's use (token id, client IP) goes to the UsageReporter.
// Results carry the token id and plan id once known; never a secret or
// digest. Thread-safe.
namespace pat::sidecar {

struct PatAuthorizerOptions {
  // The API this sidecar guards (kRestApi or kNpmRegistry).
  TokenKind api = TokenKind::kUnspecified;
  absl::Duration staleness_bound = absl::Seconds(30);
  // Requests waiting on the authority, in all and per client address.
  MissLimits miss_limits;
  // Remote resource lookups of one request (while stale).
  int max_resource_lookups = 4;
};

class PatAuthorizer final : public Authorizer {
 public:
  // INVALID_ARGUMENT for an unspecified API, a non-positive bound or limit.
  // Every reference (and `usage`, which may be null) must outlive the
  // authorizer; so must the completion of every Authorize() call (the
  // AuthorityClient's destructor waits for its callbacks).
  static absl::StatusOr<std::unique_ptr<PatAuthorizer>> Create(
      const PatAuthorizerOptions& options, policy::RouteMatcher routes,
      GrantCache& grants, DirectoryCache& directory, AuthorityClient& client,
      UsageReporter* usage, const Clock& clock, MetricsRegistry& metrics);
  ~PatAuthorizer() override;

  void Authorize(const RequestView& request, AuthorizeCallback done) override;
  bool WantsBody(absl::string_view method,
                 absl::string_view target) const override;
  // Synced with the authority and not stale.
  bool Ready() const override;

  const MissLimiter& limiter() const { return limiter_; }

  // ValidateToken calls per miss when the cache cannot use the answers
  // (GrantCache::PutAnswer asks again); then 503 authority_unavailable.
  static constexpr int kAnswerAttempts = 3;

  // One request past step 2's offline part (moved along the pipeline, and
  // into the authority client's callback when it has to wait).
  struct Pending;

 private:
  // What the cache holds for a digest after a ValidateToken.
  using Fetched = absl::StatusOr<CacheEntry>;
  using GrantFlights = AsyncSingleFlight<Digest, Fetched, DigestHash, DigestEq>;

  PatAuthorizer(const PatAuthorizerOptions& options,
                policy::RouteMatcher routes, GrantCache& grants,
                DirectoryCache& directory, AuthorityClient& client,
                UsageReporter* usage, const Clock& clock,
                MetricsRegistry& metrics);

  // ValidateToken for `digest` (shared with concurrent callers), stored in
  // the cache, then Continue(). `overwrite`: replace what the cache holds
  // (revalidation).
  void FetchGrant(const Digest& digest, bool overwrite, Pending pending);
  // One ValidateToken call of the flight for `digest`; an answer the cache
  // cannot use (GrantCache::PutAnswer) is asked again, at most
  // kAnswerAttempts times in all, then the flight fails UNAVAILABLE.
  void Ask(const Digest& digest, bool overwrite, int attempt);
  // nullopt: ask again.
  std::optional<Fetched> Store(const Digest& digest,
                               absl::StatusOr<ValidateResult> answer,
                               bool overwrite);
  // Steps 2 (grant state) to 5 with the grant in `pending`.
  void Continue(Pending pending);
  // Steps 3-5; may go asynchronous for a remote resource lookup.
  void DecideResources(Pending pending);
  // A permit for `pending` if it has none; false (and answered) if refused.
  bool EnsurePermit(Pending& pending);

  const PatAuthorizerOptions options_;
  const policy::RouteMatcher routes_;
  GrantCache& grants_;
  DirectoryCache& directory_;
  AuthorityClient& client_;
  UsageReporter* const usage_;
  const Clock& clock_;
  Counter& validate_shared_;
  Counter& revalidations_;

  MissLimiter limiter_;
  GrantFlights flights_;
};

namespace internal {

// Step 2's offline part: the single secret among the credential header
// values, or the reason to refuse. `secret` views into `credentials`.
struct CredentialCheck {
  policy::Reason reason = policy::Reason::kTokenMissing;  // kAllowed: ok
  absl::string_view secret;
};
CredentialCheck ExtractCredential(
    const std::vector<std::pair<absl::string_view, absl::string_view>>&
        credentials);

}  // namespace internal
}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_PAT_AUTHORIZER_H_
