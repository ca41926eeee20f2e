#ifndef PAT_SIDECAR_FRONT_TEXT_H_
#define PAT_SIDECAR_FRONT_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

// Pure text helpers of the sidecar's HTTP front: JSON quoting, request ids,
// header-name folding and the secret-shape scanner that keeps token secrets
// out of the upstream, the logs and responses.
namespace pat::sidecar::internal {

// True for an acceptable client X-Request-Id: 1..kMaxRequestIdLength
// characters of [A-Za-z0-9._-] and not secret-shaped.
bool IsValidRequestId(absl::string_view id);

// A fresh random request id: 32 lower-case hex digits (128 bits).
std::string NewRequestId();

// `s` as a JSON string literal (with quotes). Valid UTF-8 is kept, invalid
// bytes become U+FFFD, control characters are escaped.
std::string JsonQuote(absl::string_view s);

// The offset of the first secret-shaped substring of `s`
// (pat_(rest|npm)_[0-9A-Za-z]{49}, common/secret.h, without the word
// boundaries: stricter than the published regex), or npos.
std::size_t FindSecretShaped(absl::string_view s);
inline bool ContainsSecretShaped(absl::string_view s) {
  return FindSecretShaped(s) != absl::string_view::npos;
}
// `s` with every secret-shaped substring replaced by "[redacted]".
std::string RedactSecrets(absl::string_view s);

// Field-name comparison that ignores case and treats '_' as '-' (frameworks
// map both spellings to the same CGI-style variable).
bool LooseNameEquals(absl::string_view name, absl::string_view other);
bool LooseNameStartsWith(absl::string_view name, absl::string_view prefix);

// RFC 9110 token (field names, methods).
bool IsToken(absl::string_view s);
bool AllDigits(absl::string_view s);
// A header value we are willing to emit: visible ASCII and spaces.
bool IsSafeHeaderValue(absl::string_view v);

}  // namespace pat::sidecar::internal

#endif  // PAT_SIDECAR_FRONT_TEXT_H_
