#ifndef PAT_SIDECAR_CREDENTIALS_H_
#define PAT_SIDECAR_CREDENTIALS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "boost/beast/http/fields.hpp"

// Pipeline step 2 of the sidecar's HTTP front: credential collection and the
// request id. The front never interprets a credential (the authorizer's
// ExtractCredential decides missing / ambiguous / malformed); it makes sure
// every credential the request carries reaches the authorizer, and that no
// secret hides in any other header.
namespace pat::sidecar {

// Credential headers the front always knows (whatever --credential_headers
// says), so that a second token can never slip past as an ordinary header.
inline constexpr absl::string_view kBuiltinCredentialHeaders[] = {
    "authorization", "x-figma-token"};

// Lower-case, deduplicated: the built-in names followed by `configured`.
std::vector<std::string> KnownCredentialHeaders(
    absl::Span<const std::string> configured);

struct CollectedCredentials {
  // Every value of every field whose name equals a known name (ignoring case
  // and '_' vs '-'), in request order, as (known lower-case name, value).
  // Views into `known` and the request's fields.
  std::vector<std::pair<absl::string_view, absl::string_view>> values;
  // Some other field's name or value is secret-shaped: the request is
  // refused 401 token_ambiguous (a secret is never forwarded as data).
  bool stray_secret = false;
};

CollectedCredentials CollectCredentials(
    const boost::beast::http::fields& fields,
    absl::Span<const std::string> known);

// The request id: the client's single X-Request-Id when it is valid
// (internal::IsValidRequestId: charset, length, not secret-shaped), else a
// fresh random one.
std::string RequestIdFor(const boost::beast::http::fields& fields);

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_CREDENTIALS_H_
