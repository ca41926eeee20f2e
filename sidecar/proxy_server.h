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
#include "common/policy/catalog.h"
#include "sidecar/authorizer.h"
#include "sidecar/front_text.h"
#include "sidecar/request_head.h"
#include "sidecar/http_limits.h"
#include "sidecar/metrics.h"
#include "sidecar/upstream_pool.h"

// The sidecar's HTTP front (SPEC §7): an HTTP/1.1 reverse proxy that asks an
// Authorizer about every request and forwards the allowed ones to the
// upstream API. Each request goes through a one-way pipeline of steps, each
// in its own file, passing typed values:
//
//  1. request_head.h     framing and head checks (431 headers_too_large,
//                        400 request_invalid, 417 expectation_failed,
//                        400 token_in_path / token_in_query); the head is
//                        read under a total deadline (header_timeout) and a
//                        global memory budget (503 overloaded);
//  2. credentials.h      every value of every known credential header is
//                        collected for the authorizer; a secret-shaped value
//                        in any other header is 401 token_ambiguous; the
//                        request id (never secret-shaped);
//  3. async_authorize.h  Authorizer::Authorize, awaited without blocking the
//                        event loop (bodies of WantsBody() endpoints are
//                        buffered first, up to body_resource_limit, else 413);
//  4. header_rewrite.h   the pure header rewrite (credentials, hop-by-hop,
//                        X-Pat-*, routing headers, secret-shaped values out;
//                        X-Pat-Token-Id, X-Pat-Plan-Id, X-Request-Id,
//                        X-Forwarded-For in);
//  5. response_shaping.h every refusal and local answer (npm whoami);
//  6. upstream_exchange.cc  the upstream exchange (kept connections, one
//                        write for header and body, 1xx skipped, any read
//                        split, total deadline upstream_timeout: 504).
//
// Connections: at most max_connections (over it: 503 overloaded and close);
// idle keep-alive connections hold no relay or parse buffers.
namespace pat::sidecar {

struct ProxyServerConfig {
  // "host:port"; port 0 picks a free port (see ProxyServer::port()).
  std::string listen = "0.0.0.0:8080";
  // Threads running the event loops (one loop each).
  // 0: max(4, 2 * hardware_concurrency).
  int workers = 0;
  // Credential headers (case-insensitive), SPEC §7 rule 2. Authorization and
  // X-Figma-Token are always collected (and never forwarded) as well.
  std::vector<std::string> credential_headers = {"authorization",
                                                 "x-figma-token"};
  // Routing headers (header_rewrite.h kRoutingHeaders) that pass through.
  std::vector<std::string> allowed_routing_headers;
  // Request bodies larger than this are 413 `body_too_large`.
  std::uint64_t body_limit = kDefaultBodyLimit;
  // Bodies of Authorizer::WantsBody() endpoints are buffered before the
  // decision up to this size; larger is 413 `body_too_large`.
  std::uint64_t body_resource_limit = kDefaultBodyResourceLimit;
  // Client connections; more are answered 503 `overloaded` and closed.
  // 0: DefaultMaxConnections() (connection_limits.h).
  int max_connections = 0;
  // Bytes all unfinished request heads may buffer together beyond each
  // connection's first kIdleReadChunk bytes (503 `overloaded` beyond).
  std::size_t head_memory_budget = kDefaultHeadMemoryBudget;
  // Keep-alive wait for the first byte of the next request.
  absl::Duration idle_timeout = kDefaultIdleTimeout;
  // Total: from the first byte of a request to the end of its header block.
  absl::Duration header_timeout = kDefaultHeaderTimeout;
  // Total: from the end of the header block to the end of the body.
  absl::Duration body_timeout = kDefaultBodyTimeout;
  // Inactivity bound for each body read/write and response write.
  absl::Duration io_timeout = kDefaultIoTimeout;
  absl::Duration upstream_connect_timeout = kDefaultUpstreamConnectTimeout;
  // Wait for the upstream's response header once the request is sent.
  absl::Duration upstream_response_timeout = kDefaultUpstreamResponseTimeout;
  // Total: from the request sent upstream to the end of the response (504
  // `upstream_timeout` before the response header; a truncated response
  // after it).
  absl::Duration upstream_timeout = kDefaultUpstreamTimeout;
  // Error envelope of refusals that matched no catalog endpoint.
  policy::ErrorStyle default_error_style = policy::ErrorStyle::kA;
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

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_PROXY_SERVER_H_
