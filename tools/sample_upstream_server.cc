#include "tools/sample_upstream_server.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/as_tuple.hpp"
#include "boost/asio/awaitable.hpp"
#include "boost/asio/co_spawn.hpp"
#include "boost/asio/detached.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "boost/asio/use_awaitable.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "nlohmann/json.hpp"
#include "sidecar/upstream_pool.h"

namespace pat::tools {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kChunk = 64 * 1024;
constexpr uint64_t kMaxBytes = 1ull << 30;
constexpr int64_t kMaxDelayMs = 10000;
constexpr auto kTimeout = std::chrono::seconds(60);

std::string S(beast::string_view s) { return std::string(s.data(), s.size()); }

// The value of query parameter `name` in `target`, or "".
std::string QueryParam(absl::string_view target, absl::string_view name) {
  const size_t q = target.find('?');
  if (q == absl::string_view::npos) return "";
  for (absl::string_view kv : absl::StrSplit(target.substr(q + 1), '&')) {
    const size_t eq = kv.find('=');
    if (eq != absl::string_view::npos && kv.substr(0, eq) == name) {
      return std::string(kv.substr(eq + 1));
    }
  }
  return "";
}

}  // namespace

uint64_t Fnv1a64(absl::string_view data, uint64_t hash) {
  for (unsigned char c : data) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

struct SampleUpstream::State {
  explicit State(int threads) : ioc(threads), acceptor(ioc) {}
  std::atomic<uint64_t> served{0};
  std::atomic<uint64_t> connections{0};
  absl::Mutex mu;
  bool shut_down ABSL_GUARDED_BY(mu) = false;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  int port = 0;
};

namespace {

asio::awaitable<void> Session(SampleUpstream::State* s, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  buffer.reserve(kChunk);  // reads are sized by the free capacity
  std::vector<char> scratch(kChunk);
  for (;;) {
    http::request_parser<http::buffer_body> parser;
    parser.header_limit(64 * 1024);
    parser.body_limit(boost::none);
    stream.expires_after(kTimeout);
    auto [hec, hn] =
        co_await http::async_read_header(stream, buffer, parser, kTok);
    if (hec) break;
    uint64_t body_length = 0;
    uint64_t hash = kFnv1a64Offset;
    bool failed = false;
    while (!parser.is_done()) {
      parser.get().body().data = scratch.data();
      parser.get().body().size = scratch.size();
      stream.expires_after(kTimeout);
      auto [ec, n] =
          co_await http::async_read_some(stream, buffer, parser, kTok);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        failed = true;
        break;
      }
      const size_t got = scratch.size() - parser.get().body().size;
      body_length += got;
      hash = Fnv1a64(absl::string_view(scratch.data(), got), hash);
    }
    if (failed) break;

    const auto& req = parser.get();
    const absl::string_view target(req.target().data(), req.target().size());
    const absl::string_view path = target.substr(0, target.find('?'));
    const bool keep = req.keep_alive();

    if (path == "/__pat_sample/count") {
      http::response<http::string_body> res{http::status::ok, req.version()};
      res.set(http::field::content_type, "application/json");
      res.body() =
          absl::StrCat("{\"count\":", s->served.load(),
                       ",\"connections\":", s->connections.load(), "}");
      res.keep_alive(keep);
      res.prepare_payload();
      stream.expires_after(kTimeout);
      auto [ec, n] = co_await http::async_write(stream, res, kTok);
      if (ec || !keep) break;
      continue;
    }
    s->served.fetch_add(1);

    if (path == "/__pat_sample/bytes") {
      uint64_t total = 0;
      if (!absl::SimpleAtoi(QueryParam(target, "n"), &total)) total = 0;
      total = std::min(total, kMaxBytes);
      http::response<http::buffer_body> res{http::status::ok, req.version()};
      res.set(http::field::content_type, "application/octet-stream");
      res.chunked(req.version() == 11);
      res.keep_alive(keep && req.version() == 11);
      http::response_serializer<http::buffer_body> sr(res);
      res.body().data = nullptr;
      res.body().more = true;
      stream.expires_after(kTimeout);
      auto [ec, n] = co_await http::async_write_header(stream, sr, kTok);
      if (ec) break;
      std::fill(scratch.begin(), scratch.end(), 'x');
      uint64_t sent = 0;
      bool write_failed = false;
      while (!sr.is_done()) {
        const size_t piece =
            static_cast<size_t>(std::min<uint64_t>(kChunk, total - sent));
        res.body().data = piece > 0 ? scratch.data() : nullptr;
        res.body().size = piece;
        sent += piece;
        res.body().more = sent < total;
        stream.expires_after(kTimeout);
        auto [wec, wn] = co_await http::async_write(stream, sr, kTok);
        if (wec == http::error::need_buffer) wec = {};
        if (wec) {
          write_failed = true;
          break;
        }
      }
      if (write_failed || !res.keep_alive()) break;
      continue;
    }

    if (path == "/__pat_sample/delay") {
      int64_t ms = 0;
      if (!absl::SimpleAtoi(QueryParam(target, "ms"), &ms)) ms = 0;
      asio::steady_timer timer(co_await asio::this_coro::executor);
      timer.expires_after(
          std::chrono::milliseconds(std::clamp<int64_t>(ms, 0, kMaxDelayMs)));
      co_await timer.async_wait(kTok);
    }

    nlohmann::json echo;
    echo["method"] = S(req.method_string());
    echo["target"] = std::string(target);
    echo["version"] = absl::StrCat(req.version() / 10, ".", req.version() % 10);
    nlohmann::json headers = nlohmann::json::object();
    for (const auto& f : req) {
      headers[absl::AsciiStrToLower(S(f.name_string()))].push_back(
          S(f.value()));
    }
    echo["headers"] = std::move(headers);
    echo["body_length"] = body_length;
    echo["body_fnv1a64"] = absl::StrFormat("%016x", hash);
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::content_type, "application/json");
    res.body() =
        echo.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    res.keep_alive(keep);
    res.prepare_payload();
    if (req.method() == http::verb::head) res.body().clear();
    http::response_serializer<http::string_body> sr(res);
    stream.expires_after(kTimeout);
    auto [ec, n] = req.method() == http::verb::head
                       ? co_await http::async_write_header(stream, sr, kTok)
                       : co_await http::async_write(stream, sr, kTok);
    if (ec || !keep) break;
  }
  error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.close();
}

asio::awaitable<void> AcceptLoop(SampleUpstream::State* s) {
  for (;;) {
    tcp::socket socket(asio::make_strand(s->ioc));
    auto [ec] = co_await s->acceptor.async_accept(socket, kTok);
    if (ec) {
      if (ec == asio::error::operation_aborted || !s->acceptor.is_open()) {
        break;
      }
      continue;
    }
    s->connections.fetch_add(1);
    const auto executor = socket.get_executor();
    asio::co_spawn(executor, Session(s, std::move(socket)), asio::detached);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<SampleUpstream>> SampleUpstream::Create(
    const SampleUpstreamConfig& config) {
  auto endpoint = sidecar::ResolveHostPort(config.listen);
  if (!endpoint.ok()) return endpoint.status();
  const int threads = std::max(1, config.threads);
  auto state = std::make_unique<State>(threads);
  error_code ec;
  state->acceptor.open(endpoint->protocol(), ec);
  if (!ec) state->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) state->acceptor.bind(*endpoint, ec);
  if (!ec)
    state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("listen on ", config.listen, ": ", ec.message()));
  }
  state->port = state->acceptor.local_endpoint(ec).port();
  asio::co_spawn(state->ioc, AcceptLoop(state.get()), asio::detached);
  for (int i = 0; i < threads; ++i) {
    State* s = state.get();
    state->threads.emplace_back([s] {
      for (;;) {
        try {
          s->ioc.run();
          return;
        } catch (const std::exception&) {
        }
      }
    });
  }
  return std::unique_ptr<SampleUpstream>(new SampleUpstream(std::move(state)));
}

SampleUpstream::SampleUpstream(std::unique_ptr<State> state)
    : state_(std::move(state)) {}

SampleUpstream::~SampleUpstream() { Shutdown(); }

int SampleUpstream::port() const { return state_->port; }

uint64_t SampleUpstream::requests_served() const {
  return state_->served.load();
}

uint64_t SampleUpstream::connections_accepted() const {
  return state_->connections.load();
}

void SampleUpstream::Shutdown() {
  State& s = *state_;
  {
    absl::MutexLock lock(&s.mu);
    if (s.shut_down) return;
    s.shut_down = true;
  }
  s.ioc.stop();
  for (std::thread& t : s.threads) t.join();
  s.threads.clear();
}

}  // namespace pat::tools
