#ifndef PAT_CONSOLE_IDENTITY_H_
#define PAT_CONSOLE_IDENTITY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "boost/asio/ip/address.hpp"
#include "boost/beast/http/fields.hpp"
#include "console/console_config.h"

// Who is signed in (pure logic, no I/O).
//
// pat-console does not authenticate users itself: it sits behind an
// authenticating reverse proxy (oauth2-proxy and the like) that sets
// X-Auth-Request-User / X-Forwarded-User. Those headers are believed only
// when the request comes from a trusted proxy address or carries the shared
// X-Pat-Proxy-Secret; otherwise anyone could claim to be an admin.
namespace pat::console {

inline constexpr absl::string_view kProxySecretHeader = "x-pat-proxy-secret";

// 1-128 printable ASCII characters without spaces (the authority's rule for
// x-pat-actor).
bool IsValidUserId(absl::string_view user);

// The signed-in user, or:
//   UNAUTHENTICATED "not signed in: ..." when the request is not from a
//     trusted proxy, carries a wrong proxy secret, or names no user;
//   INVALID_ARGUMENT when a user header appears twice or is malformed.
// With a dev user configured, that user, always.
absl::StatusOr<std::string> IdentifyUser(
    const SignInPolicy& policy, const boost::asio::ip::address& peer,
    const boost::beast::http::fields& headers);

}  // namespace pat::console

#endif  // PAT_CONSOLE_IDENTITY_H_
