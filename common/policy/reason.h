#ifndef PAT_COMMON_POLICY_REASON_H_
#define PAT_COMMON_POLICY_REASON_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

// Decision reasons of the sidecar (SPEC §7). Each reason has a stable
// snake_case code (the "reason" field of error bodies, metric labels and
// CheckAccess responses) and a fixed HTTP status.
namespace pat::policy {

enum class Reason : uint8_t {
  kAllowed = 0,           // 200 "allowed": forward the request
  kPathInvalid,           // 400 non-canonical request-target (§7 rule 1)
  kTokenInQuery,          // 400 a credential in the query string
  kTokenMissing,          // 401
  kTokenAmbiguous,        // 401 more than one credential
  kTokenMalformed,        // 401 bad shape or checksum (offline)
  kTokenUnknown,          // 401 no token has this secret
  kTokenExpired,          // 401
  kTokenRevoked,          // 401
  kTokenKindMismatch,     // 401 an npm token at the REST API or vice versa
  kEndpointUnknown,       // 403 not in the catalog (default deny)
  kEndpointNotSupported,  // 403 in the catalog, not for plan tokens (R12)
  kScopeMissing,          // 403 none of the endpoint's scopes
  kResourceNotAllowed,    // 403 R13
  kAuthorityUnavailable,  // 503 fail closed
  // Reasons decided by the HTTP front (framing, limits, upstream) rather than
  // by the policy engine. Typed like the others so that one response-shaping
  // step renders every refusal and metrics/logs share one label set.
  kTokenInPath,          // 400 a secret-shaped value in the path
  kRequestInvalid,       // 400 malformed or ambiguous HTTP (connection closed)
  kBodyTooLarge,         // 413 body over the limit (or over the buffered
                         //     limit of a body-resource endpoint)
  kExpectationFailed,    // 417 Expect other than 100-continue
  kRateLimited,          // 429 too many authority lookups pending for this
                         //     client
  kHeadersTooLarge,      // 431 more than the header limits
  kInternalError,        // 500 never forwarded
  kUpstreamUnavailable,  // 502 the upstream did not answer
  kOverloaded,           // 503 connection cap or memory budget reached
  kUpstreamTimeout,      // 504 the upstream's response deadline passed
  kClientClosed,         // 499 logged only: the client went away
};

// Every reason, in declaration order.
absl::Span<const Reason> AllReasons();

// "allowed", "path_invalid", "token_in_query", "token_missing", ...
absl::string_view ReasonCode(Reason reason);

// Inverse of ReasonCode.
std::optional<Reason> ReasonFromCode(absl::string_view code);

// 200 for kAllowed; otherwise the status in the enum's comment.
int ReasonHttpStatus(Reason reason);

// A short, fixed, human-readable sentence for error bodies (never contains
// request data).
absl::string_view ReasonMessage(Reason reason);

// The WWW-Authenticate header value that must accompany a 401 for `reason`
// (SPEC §7: Bearer error="invalid_token"); empty for non-401 reasons.
absl::string_view WwwAuthenticate(Reason reason);

}  // namespace pat::policy

#endif  // PAT_COMMON_POLICY_REASON_H_
