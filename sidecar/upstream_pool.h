#ifndef PAT_SIDECAR_UPSTREAM_POOL_H_
#define PAT_SIDECAR_UPSTREAM_POOL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/asio/ip/tcp.hpp"
#include "sidecar/http_limits.h"

namespace pat::sidecar {

// Resolves "host:port", "[v6]:port" or ":port" (all interfaces) to one TCP
// endpoint. Port 0 is allowed (the caller binds an ephemeral port). Host
// names are resolved synchronously; the first address wins.
absl::StatusOr<boost::asio::ip::tcp::endpoint> ResolveHostPort(
    absl::string_view host_port);

// A keep-alive connection pool to one plain-HTTP upstream (the API on
// loopback).
//
// The pool holds idle connections as bare file descriptors, so it is not tied
// to any io_context: a proxy session adopts a descriptor into its own socket
// (TakeIdle), uses it for one exchange, and hands it back (PutIdle) when the
// exchange ended cleanly with the connection reusable. New connections are
// made by the caller (asynchronously, on its own executor) to endpoint().
//
// Thread-safe.
class UpstreamPool {
 public:
  // `url` is "http://host:port" (an optional trailing "/" is accepted; any
  // other path, a query, user info or another scheme is INVALID_ARGUMENT,
  // because the request-target is forwarded byte for byte). At most
  // `max_idle` idle connections are kept, each for at most `idle_timeout`.
  static absl::StatusOr<std::unique_ptr<UpstreamPool>> Create(
      absl::string_view url, std::size_t max_idle = kDefaultUpstreamMaxIdle,
      absl::Duration idle_timeout = kDefaultUpstreamIdleTimeout);

  // Closes every idle connection.
  ~UpstreamPool();

  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  const boost::asio::ip::tcp::endpoint& endpoint() const { return endpoint_; }
  // "host:port" as given in the URL: the Host header for requests that
  // arrive without one (HTTP/1.0).
  const std::string& authority() const { return authority_; }

  // Returns an idle connection's descriptor that still looks healthy (not
  // closed by the peer, no stray bytes pending, not idle too long), most
  // recently used first; or -1 when there is none. The caller owns the
  // descriptor.
  int TakeIdle();
  // True if the idle connection `fd` can carry another request: the peer has
  // not closed it and sent nothing unsolicited (either makes it unusable).
  // One non-blocking recv(MSG_PEEK).
  static bool LooksHealthy(int fd);

  // Returns a connection after a clean exchange. Takes ownership of `fd`
  // (ignored when negative); closes it when the pool is full.
  void PutIdle(int fd);

  // Number of idle connections held right now.
  std::size_t idle_count() const;

 private:
  struct Idle {
    int fd;
    absl::Time since;
  };
  UpstreamPool(boost::asio::ip::tcp::endpoint endpoint, std::string authority,
               std::size_t max_idle, absl::Duration idle_timeout);

  const boost::asio::ip::tcp::endpoint endpoint_;
  const std::string authority_;
  const std::size_t max_idle_;
  const absl::Duration idle_timeout_;
  mutable absl::Mutex mu_;
  std::vector<Idle> idle_ ABSL_GUARDED_BY(mu_);  // most recent last
};

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_UPSTREAM_POOL_H_
