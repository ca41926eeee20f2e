#ifndef PAT_SERVER_LEAK_HTTP_SERVER_H_
#define PAT_SERVER_LEAK_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/leak_metrics.h"
#include "server/leak_partner.h"

// The HTTP edge of the secret-scanning partner endpoint
// (--leak_intake_listen): HTTP/1.1 (Boost.Beast, one event-loop thread,
// coroutines), one request per connection (answered with Connection: close).
//   POST <path>  Github-Public-Key-Identifier / Github-Public-Key-Signature
//                headers and the raw JSON body go to the handler, which runs
//                on a small worker pool (it blocks on the database), never on
//                the event loop.
//   another path 404, another method 405, a body over max_body_bytes 413
//   (refused from Content-Length before reading, or when a chunked body
//   grows past it), a malformed request 400, headers over 8 KiB 431, a
//   head not complete within header_timeout or a body not complete within
//   body_timeout: the connection is closed (counted as 408).
// At most max_connections connections at once (more are closed at accept),
// so at most that many requests wait for the worker pool.
namespace pat {

struct LeakHttpOptions {
  std::string listen;  // host:port; port 0 picks one
  std::string path = "/secret-scanning/github";
  int max_connections = 64;
  uint64_t max_body_bytes = 1 << 20;
  absl::Duration header_timeout = absl::Seconds(10);
  absl::Duration body_timeout = absl::Seconds(30);
  absl::Duration write_timeout = absl::Seconds(10);
  int workers = 2;
};

class LeakHttpServer {
 public:
  // Binds and starts serving. The handler and metrics must outlive the
  // server. INVALID_ARGUMENT for a bad address, UNAVAILABLE when it cannot
  // be bound.
  static absl::StatusOr<std::unique_ptr<LeakHttpServer>> Create(
      const LeakHttpOptions& options, LeakPartnerHandler& handler,
      LeakMetrics& metrics);
  ~LeakHttpServer();  // Shutdown()

  LeakHttpServer(const LeakHttpServer&) = delete;
  LeakHttpServer& operator=(const LeakHttpServer&) = delete;

  int port() const;
  // Stops accepting, drops every connection, joins the threads. Idempotent.
  void Shutdown();

  struct State;

 private:
  explicit LeakHttpServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace pat

#endif  // PAT_SERVER_LEAK_HTTP_SERVER_H_
