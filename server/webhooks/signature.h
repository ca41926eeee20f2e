#ifndef PAT_SERVER_WEBHOOKS_SIGNATURE_H_
#define PAT_SERVER_WEBHOOKS_SIGNATURE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

// Webhook signatures (Stripe-style, docs/webhooks.md "Verifying"):
//   X-Pat-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t "." body)>
// The key is the subscription's signing secret exactly as shown at creation
// ("whsec_..."). The timestamp is inside the MAC, so a receiver that refuses
// timestamps outside a tolerance bounds replays to that window; the payload's
// idempotency_key removes duplicates inside it.
namespace pat::webhooks {

inline constexpr absl::string_view kSignatureHeader = "X-Pat-Signature";
inline constexpr absl::string_view kSecretPrefix = "whsec_";

// A new signing secret: "whsec_" + 32 random bytes, base64url unpadded.
std::string GenerateSigningSecret();
// The header value for `body` signed at `t`.
std::string SignatureHeader(absl::string_view secret, absl::Time t,
                            absl::string_view body);
// OK when `header` carries a v1 signature of `body` under `secret` whose
// timestamp is within `tolerance` of `now`; UNAUTHENTICATED otherwise
// (malformed header, stale timestamp, or no matching v1). Constant-time
// comparison.
absl::Status VerifySignature(absl::string_view secret, absl::string_view header,
                             absl::string_view body, absl::Time now,
                             absl::Duration tolerance);

}  // namespace pat::webhooks

#endif  // PAT_SERVER_WEBHOOKS_SIGNATURE_H_
