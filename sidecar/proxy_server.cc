// The proxy's server: event loops, the accept loop (with the connection
// cap), Create and Shutdown. A connection's life is in proxy_session.cc and
// upstream_exchange.cc.

#include "sidecar/proxy_server.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "boost/asio/co_spawn.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "sidecar/body_relay.h"
#include "sidecar/credentials.h"
#include "sidecar/front_text.h"
#include "sidecar/header_rewrite.h"
#include "sidecar/proxy_session.h"

namespace pat::sidecar {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// How long Shutdown() waits for decisions still running in the authorizer
// (their completions are posted to the event loops, which must outlive
// them).
constexpr absl::Duration kPendingDecisionWait = absl::Seconds(30);

std::vector<std::unique_ptr<asio::io_context>> MakeLoops(int n) {
  std::vector<std::unique_ptr<asio::io_context>> loops;
  for (int i = 0; i < std::max(n, 1); ++i) {
    // Concurrency hint 1: each loop is run by exactly one thread.
    loops.push_back(std::make_unique<asio::io_context>(1));
  }
  return loops;
}

// Over the connection cap: the canned 503 without a session (non-blocking,
// best effort), then close.
void RefuseOverloaded(tcp::socket& socket) {
  error_code ec;
  socket.non_blocking(true, ec);
  const absl::string_view bytes = OverloadedResponseBytes();
  socket.send(asio::buffer(bytes.data(), bytes.size()), 0, ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

void SpawnSession(ProxyServer::State* s, tcp::socket socket) {
  std::shared_ptr<ProxySession> session;
  {
    absl::MutexLock lock(&s->mu);
    const uint64_t id = s->next_session_id++;
    session = std::make_shared<ProxySession>(*s, std::move(socket), id);
    s->sessions.emplace(id, session);
  }
  asio::co_spawn(session->executor(), ProxySession::Run(session),
                 [](std::exception_ptr e) {
                   if (!e) return;
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& ex) {
                     LogEvent("connection failed", ex.what());
                   } catch (...) {
                     LogEvent("connection failed", "unknown exception");
                   }
                 });
}

asio::awaitable<void> AcceptLoop(ProxyServer::State* s) {
  for (;;) {
    tcp::socket socket(s->NextLoop());
    auto [ec] = co_await s->acceptor.async_accept(socket, kAsTuple);
    if (s->draining.load() || !s->acceptor.is_open()) break;
    if (ec) {
      if (ec == asio::error::operation_aborted) break;
      // E.g. out of file descriptors: back off instead of spinning.
      LogEvent("accept failed", ec.message());
      asio::steady_timer backoff(co_await asio::this_coro::executor);
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(kAsTuple);
      continue;
    }
    if (s->connections.load(std::memory_order_relaxed) >= s->max_connections) {
      s->RequestsFor(policy::Reason::kOverloaded).Inc();
      RefuseOverloaded(socket);
      continue;
    }
    SpawnSession(s, std::move(socket));
  }
  absl::MutexLock lock(&s->mu);
  s->accept_loop_running = false;
}

void RunWorker(asio::io_context& ioc) {
  for (;;) {
    try {
      ioc.run();
      return;
    } catch (const std::exception& e) {
      LogEvent("worker caught exception", e.what());
    }
  }
}

absl::Status ValidateConfig(const ProxyServerConfig& config) {
  if (config.workers < 0) {
    return absl::InvalidArgumentError("workers must be >= 0");
  }
  if (config.body_limit == 0 || config.body_resource_limit == 0) {
    return absl::InvalidArgumentError("body limits must be positive");
  }
  if (config.max_connections < 0) {
    return absl::InvalidArgumentError("max_connections must be >= 0");
  }
  for (absl::Duration d :
       {config.idle_timeout, config.header_timeout, config.body_timeout,
        config.io_timeout, config.upstream_connect_timeout,
        config.upstream_response_timeout, config.upstream_timeout}) {
    if (d <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError("timeouts must be positive");
    }
  }
  for (const auto* names :
       {&config.credential_headers, &config.allowed_routing_headers}) {
    for (const std::string& name : *names) {
      if (!internal::IsToken(name)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "header \"", absl::CEscape(name), "\" is not a field name"));
      }
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> Lower(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  out.reserve(names.size());
  for (const std::string& n : names) out.push_back(absl::AsciiStrToLower(n));
  return out;
}

}  // namespace

ProxyServer::State::State(const ProxyServerConfig& c,
                          std::vector<std::string> credentials,
                          std::vector<std::string> allowed_routing,
                          int max_conns, Authorizer& a, UpstreamPool& u,
                          MetricsRegistry& m, int threads)
    : config(c),
      credential_headers(std::move(credentials)),
      allowed_routing_headers(std::move(allowed_routing)),
      max_connections(max_conns),
      authorizer(a),
      upstream(u),
      metrics(m),
      decision_seconds(m.GetHistogram(
          "pat_sidecar_decision_seconds",
          "Time from asking the authorizer to its decision.")),
      proxy_seconds(m.GetHistogram(
          "pat_sidecar_proxy_seconds",
          "Whole-request latency at the sidecar, from the end of the "
          "request header to the end of the response.")),
      upstream_errors(m.GetCounter(
          "pat_sidecar_upstream_errors_total",
          "Requests that failed because of the upstream (connect, write, "
          "read, timeout or protocol errors).")),
      open_connections(m.GetGauge("pat_sidecar_open_connections",
                                  "Client connections currently open.")),
      head_budget(c.head_memory_budget),
      loops(MakeLoops(threads)),
      acceptor_strand(asio::make_strand(*loops.front())),
      acceptor(acceptor_strand) {
  for (policy::Reason reason : policy::AllReasons()) {
    const std::size_t index = static_cast<std::size_t>(reason);
    if (reason_counters.size() <= index) reason_counters.resize(index + 1);
    reason_counters[index] = &m.GetCounter(
        "pat_sidecar_requests_total",
        "Requests handled by the sidecar, by decision reason.",
        {{"reason", std::string(policy::ReasonCode(reason))}});
  }
}

absl::StatusOr<std::unique_ptr<ProxyServer>> ProxyServer::Create(
    const ProxyServerConfig& config, Authorizer& authorizer,
    UpstreamPool& upstream, MetricsRegistry& metrics) {
  if (absl::Status s = ValidateConfig(config); !s.ok()) return s;
  auto endpoint = ResolveHostPort(config.listen);
  if (!endpoint.ok()) return endpoint.status();
  const int workers =
      config.workers > 0
          ? config.workers
          : std::max(4,
                     2 * static_cast<int>(std::thread::hardware_concurrency()));
  const int max_connections = config.max_connections > 0
                                  ? config.max_connections
                                  : DefaultMaxConnections();
  auto state = std::make_unique<State>(
      config, KnownCredentialHeaders(config.credential_headers),
      Lower(config.allowed_routing_headers), max_connections, authorizer,
      upstream, metrics, workers);
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
  {
    absl::MutexLock lock(&state->mu);
    state->accept_loop_running = true;
  }
  asio::co_spawn(state->acceptor_strand, AcceptLoop(state.get()),
                 [](std::exception_ptr e) {
                   if (e) LogEvent("accept loop failed", "exception");
                 });
  for (const auto& loop : state->loops) {
    state->work.push_back(asio::make_work_guard(*loop));
  }
  for (const auto& loop : state->loops) {
    asio::io_context* l = loop.get();
    state->threads.emplace_back([l] { RunWorker(*l); });
  }
  return std::unique_ptr<ProxyServer>(new ProxyServer(std::move(state)));
}

ProxyServer::ProxyServer(std::unique_ptr<State> state)
    : state_(std::move(state)) {}

ProxyServer::~ProxyServer() { Shutdown(absl::ZeroDuration()); }

int ProxyServer::port() const { return state_->port; }

void ProxyServer::Shutdown(absl::Duration grace) {
  State& s = *state_;
  {
    absl::MutexLock lock(&s.shutdown_mu);
    if (s.shut_down) return;
    s.shut_down = true;
  }
  s.draining.store(true);
  asio::post(s.acceptor_strand, [&s] {
    error_code ec;
    s.acceptor.close(ec);
  });
  s.ForEachSession([](ProxySession& session) { session.BeginDrain(); });
  const auto idle = [&s]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
    return s.Idle();
  };
  bool done;
  {
    absl::MutexLock lock(&s.mu);
    done = s.mu.AwaitWithTimeout(absl::Condition(&idle),
                                 std::max(grace, absl::ZeroDuration()));
  }
  if (!done) {
    s.ForEachSession([](ProxySession& session) { session.ForceClose(); });
    absl::MutexLock lock(&s.mu);
    s.mu.AwaitWithTimeout(absl::Condition(&idle), absl::Seconds(5));
  }
  // A decision still running in the authorizer posts its completion to a
  // loop: the loops must still exist then.
  const absl::Time pending_deadline = absl::Now() + kPendingDecisionWait;
  while (s.pending_decisions.load() > 0 && absl::Now() < pending_deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  s.work.clear();
  for (const auto& loop : s.loops) loop->stop();
  for (std::thread& t : s.threads) t.join();
  s.threads.clear();
}

}  // namespace pat::sidecar
