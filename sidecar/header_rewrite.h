#ifndef PAT_SIDECAR_HEADER_REWRITE_H_
#define PAT_SIDECAR_HEADER_REWRITE_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "boost/beast/http/fields.hpp"

// Pipeline step 4 of the sidecar's HTTP front: the header rewrite, pure (no
// sockets, no state): the client's request fields in, the upstream's out;
// and the upstream response's fields in, the client's out.
namespace pat::sidecar {

// Routing headers that upstream frameworks honour to serve another endpoint,
// method or host than the request line names (also matched in their '_'
// spellings). Stripped unless allowed by name (--allow_routing_headers).
inline constexpr absl::string_view kRoutingHeaders[] = {
    "x-original-url",     "x-rewrite-url",     "x-http-method-override",
    "x-http-method",      "x-method-override", "x-forwarded-host",
    "x-forwarded-prefix", "x-forwarded-proto", "x-forwarded-port",
    "x-forwarded-scheme", "x-forwarded-server", "x-original-host",
    "x-host",             "forwarded",
};

// True when `name` is one of kRoutingHeaders (ignoring case and '_' vs '-').
bool IsRoutingHeader(absl::string_view name);

struct RewritePolicy {
  // Lower-case credential header names (KnownCredentialHeaders).
  absl::Span<const std::string> credential_headers;
  // Lower-case routing header names that pass through.
  absl::Span<const std::string> allowed_routing_headers;
};

// What the sidecar tells the upstream about the request.
struct UpstreamIdentity {
  absl::string_view token_id;   // X-Pat-Token-Id (omitted when empty)
  absl::string_view plan_id;    // X-Pat-Plan-Id (omitted when empty)
  absl::string_view request_id; // X-Request-Id
  absl::string_view client_ip;  // appended to X-Forwarded-For
  absl::string_view default_host;  // Host when the client sent none
};

// Appends to `out` every field of `in` that the upstream may see, then the
// sidecar's own. Removed: hop-by-hop fields (RFC 9110 §7.6.1) and those
// nominated by Connection; Content-Length, Transfer-Encoding and Expect (the
// caller frames the body); every credential header; client-sent X-Pat-*,
// X-Request-Id and X-Forwarded-For (replaced); routing headers not allowed;
// any field whose value is secret-shaped (the front refuses such requests
// before; this is the last line). Names the sidecar sets or strips are
// matched ignoring case and '_' vs '-'.
void RewriteRequestHeaders(const boost::beast::http::fields& in,
                           const RewritePolicy& policy,
                           const UpstreamIdentity& identity,
                           boost::beast::http::fields& out);

// Appends to `out` the upstream response's fields the client may see:
// without hop-by-hop fields, Content-Length (the caller frames the body) and
// any field whose value is secret-shaped.
void RewriteResponseHeaders(const boost::beast::http::fields& in,
                            boost::beast::http::fields& out);

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_HEADER_REWRITE_H_
