#ifndef PAT_SIDECAR_HTTP_LIMITS_H_
#define PAT_SIDECAR_HTTP_LIMITS_H_

#include <cstddef>
#include <cstdint>

#include "absl/time/time.h"

// Limits and defaults of the sidecar's HTTP front end (SPEC §7).
namespace pat::sidecar {

// Request header block (request line through the empty line): more bytes
// than this is 431 `headers_too_large`.
inline constexpr std::size_t kMaxRequestHeaderBytes = 60 * 1024;
// More request header fields than this is 431 `headers_too_large`.
inline constexpr int kMaxRequestHeaderCount = 100;
// Empty lines (CRLF) tolerated before a request line (RFC 9112 §2.2).
inline constexpr int kMaxLeadingEmptyLines = 4;

// Default request body limit; larger bodies are 413 `body_too_large`.
inline constexpr std::uint64_t kDefaultBodyLimit = 64ull * 1024 * 1024;

// Upstream response header block limit (the upstream is trusted, but a
// broken one must not exhaust memory).
inline constexpr std::size_t kMaxUpstreamHeaderBytes = 64 * 1024;

// Size of the buffer that body bytes flow through, and of the read buffers
// while a body is relayed. Allocated per request and released while the
// connection is idle, so idle keep-alive connections stay small.
inline constexpr std::size_t kRelayBufferBytes = 16 * 1024;
// Read size for the first bytes of a request (an idle connection holds just
// this much) and for the rest of its header block.
inline constexpr std::size_t kIdleReadChunk = 2 * 1024;
inline constexpr std::size_t kHeaderReadChunk = 16 * 1024;

// X-Request-Id values accepted from clients: 1..128 of [A-Za-z0-9._-].
inline constexpr std::size_t kMaxRequestIdLength = 128;

// After an error response the connection is half-closed and unread input is
// discarded for at most this long / this many bytes before the close, so the
// client reliably receives the response (no RST over unread data).
inline constexpr absl::Duration kLingerTimeout = absl::Seconds(2);
inline constexpr std::size_t kLingerMaxBytes = 256 * 1024;

// Default timeouts. header, body and upstream are TOTAL deadlines (from the
// first byte of the head / the end of the head / the request sent upstream),
// io is an inactivity bound for each read or write.
inline constexpr absl::Duration kDefaultIdleTimeout = absl::Seconds(60);
inline constexpr absl::Duration kDefaultHeaderTimeout = absl::Seconds(15);
inline constexpr absl::Duration kDefaultBodyTimeout = absl::Seconds(60);
inline constexpr absl::Duration kDefaultIoTimeout = absl::Seconds(60);
inline constexpr absl::Duration kDefaultUpstreamTimeout = absl::Seconds(300);
inline constexpr absl::Duration kDefaultUpstreamConnectTimeout =
    absl::Seconds(5);
inline constexpr absl::Duration kDefaultUpstreamResponseTimeout =
    absl::Seconds(60);
inline constexpr absl::Duration kDefaultUpstreamIdleTimeout = absl::Seconds(30);
inline constexpr std::size_t kDefaultUpstreamMaxIdle = 64;

// Bodies buffered before the decision when the endpoint's resource is in the
// JSON body (Authorizer::WantsBody); larger is 413 `body_too_large`.
inline constexpr std::uint64_t kDefaultBodyResourceLimit = 64 * 1024;

// Global budget for the buffers of unfinished request heads beyond each
// connection's first kIdleReadChunk bytes; a head that needs more while the
// budget is spent is refused 503 `overloaded` and its connection closed.
inline constexpr std::size_t kDefaultHeadMemoryBudget = 32u << 20;

// Default client connection cap (--max_connections 0): from RLIMIT_NOFILE
// (two descriptors per connection: client and upstream) and memory
// (kConnectionMemoryEstimate each within a quarter of the memory available
// to the process), clamped to [kMinDefaultConnections, kMaxDefaultConnections].
inline constexpr std::size_t kConnectionMemoryEstimate = 96 * 1024;
inline constexpr int kMinDefaultConnections = 64;
inline constexpr int kMaxDefaultConnections = 65536;
inline constexpr int kReservedDescriptors = 128;

// Admin server request limits.
inline constexpr std::size_t kMaxAdminHeaderBytes = 8 * 1024;
inline constexpr std::uint64_t kMaxAdminBodyBytes = 1024;

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_HTTP_LIMITS_H_
