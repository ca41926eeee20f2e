#ifndef PAT_SIDECAR_GRANT_H_
#define PAT_SIDECAR_GRANT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/domain.h"
#include "common/secret.h"

// The sidecar's view of a token: what it needs to enforce it (SPEC §7), and
// nothing else (no name, no description, no secret, no digest). Built from
// the authority's pat.v1.Grant by authority_client.cc (the only place where
// protos become domain types) and held by the GrantCache.
namespace pat::sidecar {

// Sorted, unique scope names. Shared: the GrantCache interns equal scope
// sets so that 100,000 grants with a handful of distinct scope sets hold a
// handful of vectors.
using ScopeSet = std::shared_ptr<const std::vector<std::string>>;

struct Grant {
  std::string token_id;
  std::string plan_id;
  TokenKind kind = TokenKind::kUnspecified;
  // As reported by the authority at the time of the event or answer; the
  // sidecar additionally compares expire_time with its clock.
  TokenStatus status = TokenStatus::kUnspecified;
  bool all_resources = false;
  // Never null once built by authority_client.cc (may point to an empty
  // vector).
  ScopeSet scopes;
  // The selected resources (meaningful when !all_resources). The canonical
  // link is not kept (the sidecar never needs it), so `link` is empty.
  std::vector<TokenResource> resources;
  // The token's expiration; InfinitePast() when the authority sent none
  // (fail closed: treated as expired).
  absl::Time expire_time = absl::InfinitePast();
  // When the token was revoked; InfiniteFuture() when it was not.
  absl::Time revoke_time = absl::InfiniteFuture();

  absl::Span<const std::string> scope_span() const {
    return scopes == nullptr ? absl::Span<const std::string>()
                             : absl::Span<const std::string>(*scopes);
  }
};

// One secret of a token: its SHA-256 digest and when it stops working (the
// token's expiry for the current secret, the end of the 24-hour overlap for a
// previous one).
struct SecretState {
  Digest digest{};
  absl::Time expire_time = absl::InfinitePast();
};

// The full new state of one token as a watch event carries it (SPEC §6):
// applying it is idempotent.
struct GrantUpdate {
  Grant grant;
  std::vector<SecretState> secrets;
};

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_GRANT_H_
