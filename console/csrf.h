#ifndef PAT_CONSOLE_CSRF_H_
#define PAT_CONSOLE_CSRF_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "boost/beast/http/fields.hpp"
#include "common/clock.h"

// Cross-site request forgery protection for every state-changing call
// (pure logic; every /api POST goes through CheckStateChangingRequest).
//
// Three independent checks, all required:
//  1. A per-user token in the X-Pat-Csrf header. The token is
//     base64url(issued_unix_seconds (8 bytes, big endian) ||
//     HMAC-SHA-256(key, "pat-console-csrf" 0 user 0 issued)), valid for
//     kCsrfTokenLifetime; the page reads it from GET /api/session, which a
//     cross-site page cannot read (no CORS). It is bound to the user, so a
//     token of one user is useless for another.
//  2. Fetch metadata: Sec-Fetch-Site, when sent, must be same-origin.
//  3. Origin, when sent, must equal the console's origin (the configured
//     public origin, or http(s)://<Host>). Content-Type must be
//     application/json, which a cross-site form cannot send.
namespace pat::console {

inline constexpr absl::string_view kCsrfHeader = "x-pat-csrf";
inline constexpr absl::Duration kCsrfTokenLifetime = absl::Hours(12);

class CsrfTokens {
 public:
  // `key` at least 32 bytes; `clock` must outlive this.
  CsrfTokens(std::string key, const Clock& clock);

  std::string Issue(absl::string_view user) const;
  // PERMISSION_DENIED "csrf: ..." for a missing, malformed, forged, other
  // user's, expired or future token.
  absl::Status Verify(absl::string_view user, absl::string_view token) const;

 private:
  std::string Mac(absl::string_view user, int64_t issued) const;

  const std::string key_;
  const Clock& clock_;
};

// Checks 1-3 above. `public_origin` may be empty.
absl::Status CheckStateChangingRequest(const CsrfTokens& tokens,
                                       absl::string_view user,
                                       absl::string_view public_origin,
                                       const boost::beast::http::fields& h);

}  // namespace pat::console

#endif  // PAT_CONSOLE_CSRF_H_
