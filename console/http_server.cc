#include "console/http_server.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/bind_executor.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/strand.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/core/tcp_stream.hpp"
#include "boost/beast/http/error.hpp"
#include "boost/beast/http/parser.hpp"
#include "boost/beast/http/read.hpp"
#include "boost/beast/http/write.hpp"

namespace pat::console {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

HttpResponse PlainError(http::status status, absl::string_view text) {
  HttpResponse res{status, 11};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.set("x-content-type-options", "nosniff");
  res.body() = std::string(text);
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

// One connection: read a request, hand it to the handler, write the answer,
// repeat while keep-alive. All I/O runs on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpServerOptions& options,
          const HttpHandler& handler, std::shared_ptr<std::atomic<int>> open)
      : stream_(std::move(socket)),
        options_(options),
        handler_(handler),
        open_(std::move(open)) {
    boost::system::error_code ec;
    auto endpoint = stream_.socket().remote_endpoint(ec);
    if (!ec) peer_ = endpoint.address();
  }
  ~Session() { open_->fetch_sub(1); }

  void Start() { Read(); }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(options_.max_header_bytes));
    parser_->body_limit(options_.max_body_bytes);
    stream_.expires_after(absl::ToChronoNanoseconds(options_.idle_timeout));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->OnRead(ec);
                     });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof) {
      return Close();
    }
    if (ec == http::error::body_limit) {
      return Write(PlainError(http::status::payload_too_large,
                              "request body too large"));
    }
    if (ec == http::error::header_limit) {
      return Write(PlainError(http::status::request_header_fields_too_large,
                              "request headers too large"));
    }
    if (ec) return Write(PlainError(http::status::bad_request, "bad request"));
    HttpRequest request = parser_->release();
    keep_alive_ = request.keep_alive();
    stream_.expires_never();
    auto self = shared_from_this();
    Respond respond = [self](HttpResponse res) {
      auto shared = std::make_shared<HttpResponse>(std::move(res));
      asio::post(self->stream_.get_executor(),
                 [self, shared] { self->Write(std::move(*shared)); });
    };
    handler_(std::move(request), peer_, std::move(respond));
  }

  void Write(HttpResponse res) {
    if (!keep_alive_) res.keep_alive(false);
    response_ = std::make_shared<HttpResponse>(std::move(res));
    stream_.expires_after(absl::ToChronoNanoseconds(options_.idle_timeout));
    http::async_write(stream_, *response_,
                      [self = shared_from_this()](
                          beast::error_code ec, size_t) { self->OnWrite(ec); });
  }

  void OnWrite(beast::error_code ec) {
    const bool again = !ec && response_->keep_alive();
    response_.reset();
    if (!again) return Close();
    Read();
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  const HttpServerOptions& options_;
  const HttpHandler& handler_;
  std::shared_ptr<std::atomic<int>> open_;
  asio::ip::address peer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<HttpResponse> response_;
  bool keep_alive_ = true;
};

}  // namespace

struct HttpServer::State {
  State(HttpServerOptions o, HttpHandler h)
      : options(std::move(o)),
        handler(std::move(h)),
        ioc(options.threads),
        acceptor(asio::make_strand(ioc)) {}

  void Accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec,
                                                         tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        if (open->fetch_add(1) >= options.max_connections) {
          open->fetch_sub(1);
          beast::error_code ignored;
          socket.close(ignored);
        } else {
          std::make_shared<Session>(std::move(socket), options, handler, open)
              ->Start();
        }
      }
      Accept();
    });
  }

  const HttpServerOptions options;
  const HttpHandler handler;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  std::shared_ptr<std::atomic<int>> open =
      std::make_shared<std::atomic<int>>(0);
  std::vector<std::thread> threads;
  uint16_t port = 0;
  std::once_flag shutdown_once;
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const HttpServerOptions& options, HttpHandler handler) {
  auto state = std::make_shared<State>(options, std::move(handler));
  beast::error_code ec;
  const tcp::endpoint endpoint(options.address, options.port);
  state->acceptor.open(endpoint.protocol(), ec);
  if (!ec)
    state->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) state->acceptor.bind(endpoint, ec);
  if (!ec)
    state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.address.to_string(), ":",
                     options.port, ": ", ec.message()));
  }
  state->port = state->acceptor.local_endpoint().port();
  state->Accept();
  for (int i = 0; i < options.threads; ++i) {
    state->threads.emplace_back([s = state.get()] { s->ioc.run(); });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(state)));
}

HttpServer::HttpServer(std::shared_ptr<State> state)
    : state_(std::move(state)) {}

HttpServer::~HttpServer() { Shutdown(); }

uint16_t HttpServer::port() const { return state_->port; }

int HttpServer::open_connections() const { return state_->open->load(); }

void HttpServer::Shutdown() {
  std::call_once(state_->shutdown_once, [this] {
    asio::post(state_->acceptor.get_executor(), [s = state_.get()] {
      beast::error_code ignored;
      s->acceptor.close(ignored);
    });
    state_->ioc.stop();
    for (std::thread& t : state_->threads) t.join();
  });
}

}  // namespace pat::console
