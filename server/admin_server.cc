#include "server/admin_server.h"

#include <atomic>
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
#include "boost/asio/use_awaitable.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"

namespace pat {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
constexpr auto kRequestTimeout = std::chrono::seconds(10);
constexpr std::uint32_t kMaxHeaderBytes = 8 * 1024;
constexpr std::uint64_t kMaxBodyBytes = 0;

absl::StatusOr<tcp::endpoint> ParseEndpoint(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        "--admin_listen: must be host:port with port 0..65535");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec && host == "localhost") address = asio::ip::address_v4::loopback();
  else if (ec) {
    return absl::InvalidArgumentError(
        "--admin_listen: host must be an IP address (or localhost)");
  }
  return tcp::endpoint(address, static_cast<unsigned short>(port));
}

}  // namespace

struct AdminServer::State {
  State(std::function<Readiness()> r, const MetricsRegistry& m)
      : readiness(std::move(r)), metrics(m), ioc(1), acceptor(ioc) {}

  const std::function<Readiness()> readiness;
  const MetricsRegistry& metrics;
  absl::Mutex mu;
  bool shut_down ABSL_GUARDED_BY(mu) = false;
  asio::io_context ioc;
  tcp::acceptor acceptor;  // used only on the server thread
  std::thread thread;
  int port = 0;
  int connections = 0;  // server thread only
};

namespace {

http::response<http::string_body> Route(
    const AdminServer::State& s, const http::request<http::string_body>& req) {
  http::response<http::string_body> res;
  res.version(req.version());
  res.set(http::field::cache_control, "no-store");
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  beast::string_view target = req.target();
  target = target.substr(0, target.find('?'));
  const bool known =
      target == "/healthz" || target == "/readyz" || target == "/metrics";
  if (!known) {
    res.result(http::status::not_found);
    res.body() = "not found\n";
  } else if (req.method() != http::verb::get &&
             req.method() != http::verb::head) {
    res.result(http::status::method_not_allowed);
    res.set(http::field::allow, "GET, HEAD");
    res.body() = "method not allowed\n";
  } else if (target == "/healthz") {
    res.result(http::status::ok);
    res.body() = "ok\n";
  } else if (target == "/readyz") {
    const Readiness r = s.readiness();
    res.result(r.ready ? http::status::ok : http::status::service_unavailable);
    res.body() = r.ready ? "ready\n" : absl::StrCat("not ready: ", r.reason, "\n");
  } else {
    res.result(http::status::ok);
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    res.body() = s.metrics.RenderPrometheus();
  }
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();
  return res;
}

asio::awaitable<void> Session(AdminServer::State* s, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(kMaxBodyBytes);
    stream.expires_after(kRequestTimeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kTok);
    if (ec) break;
    const auto& req = parser.get();
    http::response<http::string_body> res = Route(*s, req);
    const bool keep = req.keep_alive();
    res.keep_alive(keep);
    stream.expires_after(kRequestTimeout);
    http::response_serializer<http::string_body> sr(res);
    if (req.method() == http::verb::head) sr.split(true);
    auto [wec, wn] = req.method() == http::verb::head
                         ? co_await http::async_write_header(stream, sr, kTok)
                         : co_await http::async_write(stream, sr, kTok);
    if (wec || !keep) break;
  }
  error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.close();
  --s->connections;
}

asio::awaitable<void> AcceptLoop(AdminServer::State* s) {
  for (;;) {
    auto [ec, socket] = co_await s->acceptor.async_accept(kTok);
    if (ec) {
      if (ec == asio::error::operation_aborted || !s->acceptor.is_open()) {
        break;
      }
      continue;
    }
    if (s->connections >= kMaxAdminConnections) {
      error_code ignored;
      socket.close(ignored);
      continue;
    }
    ++s->connections;
    asio::co_spawn(s->ioc, Session(s, std::move(socket)), asio::detached);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Create(
    const std::string& listen, std::function<Readiness()> readiness,
    const MetricsRegistry& metrics) {
  absl::StatusOr<tcp::endpoint> endpoint = ParseEndpoint(listen);
  if (!endpoint.ok()) return endpoint.status();
  auto state = std::make_unique<State>(std::move(readiness), metrics);
  error_code ec;
  state->acceptor.open(endpoint->protocol(), ec);
  if (!ec) state->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) state->acceptor.bind(*endpoint, ec);
  if (!ec) {
    state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("--admin_listen: cannot listen on ", listen, ": ",
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
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(state)));
}

AdminServer::AdminServer(std::unique_ptr<State> state)
    : state_(std::move(state)) {}

AdminServer::~AdminServer() { Shutdown(); }

int AdminServer::port() const { return state_->port; }

void AdminServer::Shutdown() {
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
}

}  // namespace pat
