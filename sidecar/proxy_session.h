#ifndef PAT_SIDECAR_PROXY_SESSION_H_
#define PAT_SIDECAR_PROXY_SESSION_H_

// Internal to the proxy (proxy_server.cc, proxy_session.cc,
// upstream_exchange.cc): the server state shared by all connections and one
// client connection. Not part of the library's interface.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/awaitable.hpp"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http/buffer_body.hpp"
#include "boost/beast/http/empty_body.hpp"
#include "boost/beast/http/parser.hpp"
#include "boost/beast/http/serializer.hpp"
#include "common/policy/reason.h"
#include "sidecar/access_log.h"
#include "sidecar/async_authorize.h"
#include "sidecar/buffer_pool.h"
#include "sidecar/connection_limits.h"
#include "sidecar/deadline_stream.h"
#include "sidecar/header_rewrite.h"
#include "sidecar/http_limits.h"
#include "sidecar/metrics.h"
#include "sidecar/proxy_server.h"
#include "sidecar/request_head.h"
#include "sidecar/response_shaping.h"

namespace pat::sidecar {

class ProxySession;

struct ProxyServer::State {
  State(const ProxyServerConfig& c, std::vector<std::string> credentials,
        std::vector<std::string> allowed_routing, int max_conns,
        Authorizer& a, UpstreamPool& u, MetricsRegistry& m, int threads);

  // The loop of the next accepted connection (round robin).
  boost::asio::io_context& NextLoop() {
    return *loops[next_loop.fetch_add(1, std::memory_order_relaxed) %
                  loops.size()];
  }
  // pat_sidecar_requests_total{reason}; every series exists from the start.
  Counter& RequestsFor(policy::Reason reason) {
    return *reason_counters[static_cast<std::size_t>(reason)];
  }
  // Posts fn(session) to every live session's executor.
  template <typename Fn>
  void ForEachSession(Fn fn);

  bool Idle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return sessions.empty() && !accept_loop_running;
  }

  const ProxyServerConfig config;
  const std::vector<std::string> credential_headers;       // lower case
  const std::vector<std::string> allowed_routing_headers;  // lower case
  const int max_connections;
  Authorizer& authorizer;
  UpstreamPool& upstream;
  MetricsRegistry& metrics;
  Histogram& decision_seconds;
  Histogram& proxy_seconds;
  Counter& upstream_errors;
  Gauge& open_connections;
  std::vector<Counter*> reason_counters;  // indexed by policy::Reason

  // Buffers of unfinished request heads, beyond each connection's free part.
  MemoryBudget head_budget;
  std::atomic<int> connections{0};
  // Authorize() calls whose completion has not been posted yet.
  PendingCounter pending_decisions{0};

  // Declared before the io_contexts: sessions destroyed with them
  // unregister themselves here.
  mutable absl::Mutex mu;
  absl::flat_hash_map<uint64_t, std::weak_ptr<ProxySession>> sessions
      ABSL_GUARDED_BY(mu);
  uint64_t next_session_id ABSL_GUARDED_BY(mu) = 1;
  bool accept_loop_running ABSL_GUARDED_BY(mu) = false;
  std::atomic<bool> draining{false};

  absl::Mutex shutdown_mu;
  bool shut_down ABSL_GUARDED_BY(shutdown_mu) = false;

  // One single-threaded event loop per worker thread. A connection lives on
  // one loop for its whole life; nothing on a loop blocks (decisions are
  // awaited, see async_authorize.h).
  std::vector<std::unique_ptr<boost::asio::io_context>> loops;
  std::atomic<std::size_t> next_loop{0};
  // Keep the workers running while idle, so handlers posted by Shutdown()
  // always run; released at the end of Shutdown().
  std::vector<boost::asio::executor_work_guard<
      boost::asio::io_context::executor_type>>
      work;
  boost::asio::any_io_executor acceptor_strand;  // on loops[0]
  boost::asio::ip::tcp::acceptor acceptor;       // only on acceptor_strand
  std::vector<std::thread> threads;
  int port = 0;
};

// One client connection. All members are used only on the session's
// executor (its loop).
class ProxySession : public std::enable_shared_from_this<ProxySession> {
 public:
  using tcp = boost::asio::ip::tcp;
  using BodyParser =
      boost::beast::http::request_parser<boost::beast::http::buffer_body>;
  using HeadParser =
      boost::beast::http::request_parser<boost::beast::http::empty_body>;
  using TimePoint = std::chrono::steady_clock::time_point;

  ProxySession(ProxyServer::State& server, tcp::socket socket, uint64_t id);
  ~ProxySession();

  ProxySession(const ProxySession&) = delete;
  ProxySession& operator=(const ProxySession&) = delete;

  boost::asio::any_io_executor executor() { return stream_.get_executor(); }

  static boost::asio::awaitable<void> Run(std::shared_ptr<ProxySession> self);

  // Shutdown step 1: finish the request in flight, then close; an idle
  // connection closes at once.
  void BeginDrain();
  // Shutdown step 2 (grace elapsed): close everything now.
  void ForceClose();

 private:
  enum class HeadResult {
    kOk, kClosed, kBad, kTooLarge, kBodyTooLarge, kOverloaded
  };
  struct Exchange;  // upstream_exchange.cc
  enum class Step { kOk, kRetry, kDone };

  bool Draining() const {
    return draining_ || s_.draining.load(std::memory_order_relaxed);
  }

  // proxy_session.cc: the request side.
  boost::asio::awaitable<void> Serve();
  boost::asio::awaitable<HeadResult> ReadRequestHead(
      std::optional<HeadParser>& hp);
  boost::asio::awaitable<HeadResult> ReceiveHead(
      internal::RequestHeadScanner& scanner);
  HeadResult ParseHead(const internal::RequestHeadScanner& scanner,
                       std::optional<HeadParser>& hp);
  // Makes room for `chunk` more head bytes, within the global budget.
  bool ReserveHeadBuffer(std::size_t chunk);
  void ReleaseHeadCharge();
  boost::asio::awaitable<bool> HandleRequest(BodyParser& parser,
                                             RequestLog& log);
  boost::asio::awaitable<std::optional<Refusal>> BufferBody(
      BodyParser& parser, std::string& body);
  boost::asio::awaitable<bool> SendContinue();
  // Writes a refusal and finishes the log. True when the connection may
  // carry another request.
  boost::asio::awaitable<bool> Respond(const Refusal& refusal,
                                       RequestLog& log, unsigned version,
                                       bool keep_alive);
  boost::asio::awaitable<bool> WriteLocal(LocalResponse& res, RequestLog& log,
                                          policy::Reason reason);
  boost::asio::awaitable<void> CloseConnection();
  void Finish(RequestLog& log, int status, policy::Reason reason);
  char* RelayBuffer();
  TimePoint IoDeadline(TimePoint total) const;

  // upstream_exchange.cc: the upstream side.
  boost::asio::awaitable<bool> Forward(BodyParser& parser,
                                       const AuthzResult& result,
                                       RequestLog& log, bool has_body,
                                       const std::string* buffered_body);
  // The upstream connection for `attempt`; true when it is a reused one,
  // nullopt when none could be had. `retry_safe`: the request may be sent
  // again if a reused connection turns out closed.
  boost::asio::awaitable<std::optional<bool>> AcquireUpstream(int attempt,
                                                              bool retry_safe);
  boost::asio::awaitable<Step> SendRequest(Exchange& x, bool reused,
                                           int attempt);
  boost::asio::awaitable<Step> StreamRequestBody(
      Exchange& x,
      boost::beast::http::serializer<true, boost::beast::http::buffer_body>&
          sr);
  boost::asio::awaitable<Step> ReadResponseHead(Exchange& x, bool reused,
                                                int attempt);
  boost::asio::awaitable<bool> RelayResponse(Exchange& x);
  // A response whose body is all in `body` (the upstream finished it within
  // the first read): head and body in one write, no serializer.
  boost::asio::awaitable<bool> WriteWholeResponse(Exchange& x,
                                                  const BodyFraming& framing,
                                                  bool keep, const char* body,
                                                  std::size_t body_size);
  std::optional<std::size_t> Prefetch(Exchange& x, char* buf);
  boost::asio::awaitable<bool> UpstreamFailed(Exchange& x,
                                              policy::Reason reason);
  // After a request: keeps a reusable upstream connection for this
  // session's next request, closes any other.
  void ReleaseUpstream(bool reusable);
  // When the client connection ends: the kept connection goes to the pool.
  void ReturnUpstream();

  ProxyServer::State& s_;
  const uint64_t id_;
  DeadlineStream stream_;
  DeadlineStream upstream_;
  // Given back to the loop's buffer pool whenever the connection is idle.
  PooledFlatBuffer client_buffer_;
  PooledFlatBuffer upstream_buffer_;
  PooledBlock<kRelayBufferBytes> relay_buffer_;
  // The head of a whole message being written (wire_head.h), reused.
  std::string wire_head_;
  std::string client_ip_;
  std::size_t head_charge_ = 0;  // bytes charged to s_.head_budget
  TimePoint body_deadline_{};    // of the request in progress
  bool sent_continue_ = false;   // 100 Continue sent for this request
  bool idle_ = false;      // waiting for the first byte of a request
  bool draining_ = false;  // close after the request in flight
  bool linger_ = false;    // half-close and drain input before closing
  // upstream_ is open, idle and finished its last response cleanly.
  bool upstream_idle_ = false;
};

template <typename Fn>
void ProxyServer::State::ForEachSession(Fn fn) {
  std::vector<std::shared_ptr<ProxySession>> live;
  {
    absl::MutexLock lock(&mu);
    for (auto& [id, weak] : sessions) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
  }
  for (auto& session : live) {
    boost::asio::post(session->executor(), [session, fn] { fn(*session); });
  }
  // `live` may hold the last reference: it is released here, outside mu.
}

// Converts a (possibly negative) duration for Asio timers.
inline std::chrono::nanoseconds ToChrono(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  return absl::ToChronoNanoseconds(d);
}

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_PROXY_SESSION_H_
