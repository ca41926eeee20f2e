#include "server/leak_http_server.h"

#include <chrono>
#include <exception>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/as_tuple.hpp"
#include "boost/asio/awaitable.hpp"
#include "boost/asio/co_spawn.hpp"
#include "boost/asio/detached.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/thread_pool.hpp"
#include "boost/asio/use_awaitable.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "nlohmann/json.hpp"

namespace pat {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
constexpr std::uint32_t kMaxHeaderBytes = 8 * 1024;
constexpr const char* kKeyIdHeader = "Github-Public-Key-Identifier";
constexpr const char* kSignatureHeader = "Github-Public-Key-Signature";

std::chrono::steady_clock::duration Chrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

absl::StatusOr<tcp::endpoint> ParseEndpoint(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        "--leak_intake_listen: must be host:port with port 0..65535");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec && host == "localhost") {
    address = asio::ip::address_v4::loopback();
  } else if (ec) {
    return absl::InvalidArgumentError(
        "--leak_intake_listen: host must be an IP address (or localhost)");
  }
  return tcp::endpoint(address, static_cast<unsigned short>(port));
}

PartnerReply Message(int status, absl::string_view message) {
  return {status, nlohmann::json{{"message", std::string(message)}}.dump()};
}

}  // namespace

struct LeakHttpServer::State {
  State(const LeakHttpOptions& o, LeakPartnerHandler& h, LeakMetrics& m)
      : options(o),
        handler(h),
        metrics(m),
        ioc(1),
        acceptor(ioc),
        pool(static_cast<size_t>(std::max(1, o.workers))) {}

  const LeakHttpOptions options;
  LeakPartnerHandler& handler;
  LeakMetrics& metrics;
  absl::Mutex mu;
  bool shut_down ABSL_GUARDED_BY(mu) = false;
  asio::io_context ioc;
  tcp::acceptor acceptor;  // server thread only
  asio::thread_pool pool;  // runs the (blocking) handler
  std::thread thread;
  int port = 0;
  int connections = 0;  // server thread only
};

namespace {

asio::awaitable<void> Reply(LeakHttpServer::State* s, beast::tcp_stream& stream,
                            const PartnerReply& reply) {
  http::response<http::string_body> res{static_cast<http::status>(reply.status),
                                        11};
  res.set(http::field::content_type, "application/json");
  res.keep_alive(false);
  res.body() = reply.body;
  res.prepare_payload();
  s->metrics.RecordHttp(reply.status);
  stream.expires_after(Chrono(s->options.write_timeout));
  co_await http::async_write(stream, res, kTok);
}

// The handler as a coroutine of its own (a free function, arguments by
// value: GCC 12 miscompiles capturing coroutine lambdas passed to co_spawn).
asio::awaitable<PartnerReply> RunHandler(LeakPartnerHandler* handler,
                                         std::string key_id,
                                         std::string signature,
                                         std::string body) {
  co_return handler->Handle(key_id, signature, body);
}

// The request's reply, or nullopt when the connection is just closed.
asio::awaitable<std::optional<PartnerReply>> Serve(LeakHttpServer::State* s,
                                                   beast::tcp_stream& stream) {
  beast::flat_buffer buffer;  // bounded by the parser's header and body limits
  http::request_parser<http::string_body> parser;
  parser.header_limit(kMaxHeaderBytes);
  parser.body_limit(s->options.max_body_bytes);
  stream.expires_after(Chrono(s->options.header_timeout));
  auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, kTok);
  if (hec == beast::error::timeout) {
    s->metrics.RecordHttp(408);
    co_return std::nullopt;
  }
  if (hec == http::error::header_limit) co_return Message(431, "headers too large");
  // Beast refuses a Content-Length over the body limit with the head.
  if (hec == http::error::body_limit) co_return Message(413, "body too large");
  if (hec) co_return std::nullopt;
  const auto& head = parser.get();
  if (head.target() != s->options.path) co_return Message(404, "not found");
  if (head.method() != http::verb::post) {
    co_return Message(405, "method not allowed");
  }
  if (parser.content_length().has_value() &&
      *parser.content_length() > s->options.max_body_bytes) {
    co_return Message(413, "body too large");
  }
  if (beast::iequals(head[http::field::expect], "100-continue")) {
    http::response<http::empty_body> cont{http::status::continue_, 11};
    stream.expires_after(Chrono(s->options.write_timeout));
    auto [cec, cn] = co_await http::async_write(stream, cont, kTok);
    if (cec) co_return std::nullopt;
  }
  stream.expires_after(Chrono(s->options.body_timeout));
  auto [bec, bn] = co_await http::async_read(stream, buffer, parser, kTok);
  if (bec == http::error::body_limit) co_return Message(413, "body too large");
  if (bec == beast::error::timeout) {
    s->metrics.RecordHttp(408);
    co_return std::nullopt;
  }
  if (bec) co_return Message(400, "malformed request");
  const auto& req = parser.get();
  std::string key_id(req[kKeyIdHeader]);
  std::string signature(req[kSignatureHeader]);
  std::string body = req.body();
  // The handler blocks on the database: run it on the pool, resume here.
  PartnerReply reply = co_await asio::co_spawn(
      s->pool.get_executor(),
      RunHandler(&s->handler, std::move(key_id), std::move(signature),
                 std::move(body)),
      asio::use_awaitable);
  co_return reply;
}

asio::awaitable<void> Session(LeakHttpServer::State* s, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  try {
    std::optional<PartnerReply> reply = co_await Serve(s, stream);
    if (reply.has_value()) co_await Reply(s, stream, *reply);
  } catch (const std::exception&) {
    // A handler failure (a bug): close the connection, keep serving.
  }
  // Lingering close: read what the client still sends (e.g. the rest of a
  // refused body), bounded in bytes and time, so that closing with unread
  // data does not reset the connection before the client reads the reply.
  error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(Chrono(s->options.write_timeout));
  uint64_t drained = 0;
  char sink[16 * 1024];
  while (drained <= 2 * s->options.max_body_bytes) {
    auto [rec, rn] =
        co_await stream.async_read_some(asio::buffer(sink), kTok);
    if (rec) break;
    drained += rn;
  }
  stream.close();
  --s->connections;
}

asio::awaitable<void> AcceptLoop(LeakHttpServer::State* s) {
  for (;;) {
    auto [ec, socket] = co_await s->acceptor.async_accept(kTok);
    if (ec) {
      if (ec == asio::error::operation_aborted || !s->acceptor.is_open()) {
        break;
      }
      continue;
    }
    if (s->connections >= s->options.max_connections) {
      error_code ignored;
      socket.close(ignored);
      continue;
    }
    ++s->connections;
    asio::co_spawn(s->ioc, Session(s, std::move(socket)), asio::detached);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<LeakHttpServer>> LeakHttpServer::Create(
    const LeakHttpOptions& options, LeakPartnerHandler& handler,
    LeakMetrics& metrics) {
  absl::StatusOr<tcp::endpoint> endpoint = ParseEndpoint(options.listen);
  if (!endpoint.ok()) return endpoint.status();
  auto state = std::make_unique<State>(options, handler, metrics);
  error_code ec;
  state->acceptor.open(endpoint->protocol(), ec);
  if (!ec) state->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) state->acceptor.bind(*endpoint, ec);
  if (!ec) state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat(
        "--leak_intake_listen: cannot listen on ", options.listen, ": ",
        ec.message()));
  }
  state->port = state->acceptor.local_endpoint(ec).port();
  asio::co_spawn(state->ioc, AcceptLoop(state.get()), asio::detached);
  State* s = state.get();
  state->thread = std::thread([s] {
    for (;;) {
      try {
        s->ioc.run();
        return;
      } catch (const std::exception&) {
        // A handler threw (a bug); keep serving.
      }
    }
  });
  return std::unique_ptr<LeakHttpServer>(new LeakHttpServer(std::move(state)));
}

LeakHttpServer::LeakHttpServer(std::unique_ptr<State> state)
    : state_(std::move(state)) {}

LeakHttpServer::~LeakHttpServer() { Shutdown(); }

int LeakHttpServer::port() const { return state_->port; }

void LeakHttpServer::Shutdown() {
  State& s = *state_;
  {
    absl::MutexLock lock(&s.mu);
    if (s.shut_down) return;
    s.shut_down = true;
  }
  asio::post(s.ioc, [&s] {
    error_code ec;
    s.acceptor.close(ec);
  });
  s.ioc.stop();
  if (s.thread.joinable()) s.thread.join();
  s.pool.join();
}

}  // namespace pat
