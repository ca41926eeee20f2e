#ifndef PAT_SIDECAR_PROXY_SERVER_H_
#define PAT_SIDECAR_PROXY_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sidecar/authorizer.h"
#include "sidecar/http_limits.h"
#include "sidecar/metrics.h"
#include "sidecar/upstream_pool.h"

// The sidecar's HTTP front (SPEC §7): an HTTP/1.1 reverse proxy that asks an
// Authorizer about every request and forwards the allowed ones to the
// upstream API.
//
// Per request:
//  * The header block is read and checked before anything else: at most
//    kMaxRequestHeaderBytes and kMaxRequestHeaderCount fields (else 431
//    `headers_too_large`); CRLF line endings only, no obs-fold; framing must
//    be unambiguous: no Content-Length together with Transfer-Encoding, one
//    Content-Length of digits only, Transfer-Encoding exactly "chunked" (and
//    only on HTTP/1.1), one Host (required on HTTP/1.1). Anything else is 400
//    `request_invalid` and the connection is closed, so bytes after a
//    malformed request are never interpreted as another request. Upgrade and
//    CONNECT are 400 too (not supported).
//  * Authorizer::Authorize() gets the method, the raw request-target, every
//    value of every configured credential header, the client IP and the
//    request id (the client's X-Request-Id when it is 1-128 of
//    [A-Za-z0-9._-], else a fresh random 128-bit hex id).
//  * Denied: a JSON error {"status":N,"err":"...","reason":"..."} with
//    X-Request-Id, WWW-Authenticate on 401 and Retry-After when asked for.
//    The connection stays open unless the request had a body (which is not
//    read) or the client asked to close.
//  * Allowed: the request goes upstream with the same method and
//    request-target bytes, without credential headers, client-sent X-Pat-*
//    headers and hop-by-hop headers, with X-Pat-Token-Id, X-Pat-Plan-Id,
//    X-Request-Id and X-Forwarded-For set. Bodies stream through in both
//    directions (never fully buffered). Upstream failures before a response
//    are 502 `upstream_unavailable`.
//  * One JSON access-log line (no credential, no query string) and metrics:
//    pat_sidecar_requests_total{reason}, pat_sidecar_decision_seconds,
//    pat_sidecar_proxy_seconds, pat_sidecar_upstream_errors_total.
namespace pat::sidecar {

struct ProxyServerConfig {
  // "host:port"; port 0 picks a free port (see ProxyServer::port()).
  std::string listen = "0.0.0.0:8080";
  // Threads running the event loop. Authorize() may block briefly (a cache
  // miss asks the authority), so there are more threads than cores.
  // 0: max(4, 2 * hardware_concurrency).
  int workers = 0;
  // Credential headers (case-insensitive), SPEC §7 rule 2.
  std::vector<std::string> credential_headers = {"authorization",
                                                 "x-figma-token"};
  // Request bodies larger than this are 413 `body_too_large`.
  std::uint64_t body_limit = kDefaultBodyLimit;
  // Keep-alive wait for the first byte of the next request.
  absl::Duration idle_timeout = kDefaultIdleTimeout;
  // From the first byte of a request to the end of its header block.
  absl::Duration header_timeout = kDefaultHeaderTimeout;
  // Inactivity bound for each body read/write and response write.
  absl::Duration io_timeout = kDefaultIoTimeout;
  absl::Duration upstream_connect_timeout = kDefaultUpstreamConnectTimeout;
  // Wait for the upstream's response header once the request is sent.
  absl::Duration upstream_response_timeout = kDefaultUpstreamResponseTimeout;
  // Per-request JSON access log lines.
  bool access_log = true;
  // Receives each access log line (without the trailing newline); when
  // empty, lines go to stderr. Called concurrently from worker threads, until
  // Shutdown() returns.
  std::function<void(absl::string_view line)> access_log_sink;
};

class ProxyServer {
 public:
  // Binds config.listen and starts serving on config.workers threads. The
  // authorizer, pool and registry must outlive the server.
  // INVALID_ARGUMENT for a bad config, UNAVAILABLE when the address cannot be
  // bound.
  static absl::StatusOr<std::unique_ptr<ProxyServer>> Create(
      const ProxyServerConfig& config, Authorizer& authorizer,
      UpstreamPool& upstream, MetricsRegistry& metrics);

  // Shutdown(absl::ZeroDuration()) if it has not been called.
  ~ProxyServer();

  ProxyServer(const ProxyServer&) = delete;
  ProxyServer& operator=(const ProxyServer&) = delete;

  // The bound port.
  int port() const;

  // Stops accepting and closes idle connections at once; requests in flight
  // may finish (their connections are then closed) for up to `grace`, after
  // which every connection is closed. Returns when all worker threads have
  // exited. Idempotent; must not be called from a handler (worker thread).
  void Shutdown(absl::Duration grace);

  struct State;  // implementation

 private:
  explicit ProxyServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

namespace internal {

// Incremental scanner of a request's header block, run on raw bytes before
// the HTTP parser sees them. It enforces what the parser does not: the
// header byte and field-count limits, CRLF-only line endings and no obs-fold
// (a field line starting with SP or HTAB). Up to kMaxLeadingEmptyLines empty
// lines before the request line are skipped.
class RequestHeadScanner {
 public:
  enum class Result { kNeedMore, kComplete, kBad, kTooLarge };

  // `data` is everything received so far for this request (it only grows
  // between calls, starting at the same byte). On kComplete the request
  // line starts at head_begin() and the header block (including the final
  // empty line) ends at head_end().
  Result Scan(absl::string_view data);

  std::size_t head_begin() const { return head_begin_; }
  std::size_t head_end() const { return head_end_; }
  int field_count() const { return fields_; }

 private:
  std::size_t line_start_ = 0;   // first byte of the line being scanned
  std::size_t search_from_ = 0;  // where to resume looking for '\n'
  std::size_t head_begin_ = 0;
  std::size_t head_end_ = 0;
  int leading_empty_lines_ = 0;
  int fields_ = 0;
  bool saw_request_line_ = false;
};

// True for an acceptable client X-Request-Id: 1..kMaxRequestIdLength
// characters of [A-Za-z0-9._-].
bool IsValidRequestId(absl::string_view id);

// A fresh random request id: 32 lower-case hex digits (128 bits).
std::string NewRequestId();

// `s` as a JSON string literal (with quotes). Valid UTF-8 is kept, invalid
// bytes become U+FFFD, control characters are escaped.
std::string JsonQuote(absl::string_view s);

// The sidecar's error body: {"status":N,"err":"<message>","reason":"<reason>"}.
std::string ErrorBody(int status, absl::string_view message,
                      absl::string_view reason);

}  // namespace internal
}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_PROXY_SERVER_H_
