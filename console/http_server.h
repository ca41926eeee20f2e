#ifndef PAT_CONSOLE_HTTP_SERVER_H_
#define PAT_CONSOLE_HTTP_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "boost/asio/ip/address.hpp"
#include "boost/beast/http/message.hpp"
#include "boost/beast/http/string_body.hpp"

// The console's HTTP/1.1 edge (Boost.Beast): accepts connections, parses
// requests with Beast's parser under fixed limits, hands each request to the
// handler and writes the handler's response. It never blocks its event
// loop: the handler answers through a callback, from any thread.
//
// Limits: at most `max_connections` open connections (more are closed at
// accept), headers at most 16 KiB (431), bodies at most `max_body_bytes`
// (413), `idle_timeout` for each read and write, one request at a time per
// connection. Malformed requests get 400 and the connection is closed.
namespace pat::console {

using HttpRequest =
    boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse =
    boost::beast::http::response<boost::beast::http::string_body>;
// Must be called exactly once per request; may be called from any thread.
using Respond = std::function<void(HttpResponse)>;
using HttpHandler =
    std::function<void(HttpRequest request,
                       const boost::asio::ip::address& peer, Respond respond)>;

struct HttpServerOptions {
  boost::asio::ip::address address;
  uint16_t port = 0;  // 0 picks a free port
  int threads = 2;
  int max_connections = 256;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 64 * 1024;
  absl::Duration idle_timeout = absl::Seconds(30);
};

class HttpServer {
 public:
  // Binds, listens and starts the threads. UNAVAILABLE when it cannot bind.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const HttpServerOptions& options, HttpHandler handler);
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const;
  int open_connections() const;

  // Stops accepting, closes connections and joins the threads. Idempotent.
  void Shutdown();

  struct State;

 private:
  explicit HttpServer(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace pat::console

#endif  // PAT_CONSOLE_HTTP_SERVER_H_
