#ifndef PAT_SIDECAR_AUTHORIZER_H_
#define PAT_SIDECAR_AUTHORIZER_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace pat::sidecar {

// What the HTTP front hands to the authorizer for one request. Views point
// into the request and are valid only during Authorize().
struct RequestView {
  absl::string_view method;
  // The raw request-target exactly as received (path and query).
  absl::string_view target;
  // Every value of every configured credential header, in order, as
  // (lower-case header name, raw value). Two entries means two credentials.
  std::vector<std::pair<absl::string_view, absl::string_view>> credentials;
  absl::string_view client_ip;
  absl::string_view request_id;
};

// The decision for one request (SPEC §7).
struct AuthzResult {
  bool allowed = false;
  int http_status = 403;
  std::string
      reason;  // reason code, e.g. "scope_missing"; "allowed" if allowed
  std::string message;          // human-readable, never contains the secret
  std::string token_id;         // when known
  std::string plan_id;          // when known
  int retry_after_seconds = 0;  // > 0: send Retry-After (503)
};

// Decides requests. Implementations are thread-safe and may block briefly
// (a cache miss asks the authority), so callers run them on worker threads.
class Authorizer {
 public:
  virtual ~Authorizer() = default;
  virtual AuthzResult Authorize(const RequestView& request) = 0;
  // Readiness for /readyz: synced with the authority and not stale.
  virtual bool Ready() const = 0;
};

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_AUTHORIZER_H_
