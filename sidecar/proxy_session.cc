// The request side of one client connection: head, checks, credentials, the
// decision and every response the sidecar writes itself.

#include "sidecar/proxy_session.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "boost/asio/buffer.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/http/read.hpp"
#include "boost/beast/http/write.hpp"
#include "common/policy/catalog.h"
#include "sidecar/body_relay.h"
#include "sidecar/credentials.h"
#include "sidecar/front_text.h"
#include "sidecar/http_limits.h"
#include "sidecar/wire_head.h"

namespace pat::sidecar {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using policy::Reason;

// Every connection may buffer this much of a head without charging the
// global budget (an ordinary request head never touches the budget).
constexpr std::size_t kFreeHeadBytes = 4 * kIdleReadChunk;

// The buffers a steady keep-alive request takes are pool-sized.
static_assert(kIdleReadChunk == buffer_pool::kPooledBlockSizes[0]);
static_assert(kRelayBufferBytes == buffer_pool::kPooledBlockSizes[1]);

absl::string_view AV(beast::string_view s) { return {s.data(), s.size()}; }

std::string ClientIp(const tcp::socket& socket) {
  error_code ec;
  const tcp::endpoint ep = socket.remote_endpoint(ec);
  if (ec) return "";
  asio::ip::address address = ep.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address.to_string();
}

// Errors of the HTTP parser that mean "the bytes were not valid HTTP" (as
// opposed to the peer going away).
bool IsParseError(const error_code& ec) {
  if (ec.category() !=
      http::make_error_code(http::error::bad_method).category()) {
    return false;
  }
  return ec != http::error::end_of_stream &&
         ec != http::error::partial_message && ec != http::error::need_more &&
         ec != http::error::need_buffer;
}

}  // namespace

ProxySession::ProxySession(ProxyServer::State& server, tcp::socket socket,
                           uint64_t id)
    : s_(server),
      id_(id),
      stream_(std::move(socket)),
      upstream_(stream_.get_executor()) {
  s_.open_connections.Add(1);
  s_.connections.fetch_add(1, std::memory_order_relaxed);
  client_ip_ = ClientIp(stream_.socket());
  error_code ec;
  stream_.socket().set_option(tcp::no_delay(true), ec);
}

ProxySession::~ProxySession() {
  ReleaseHeadCharge();
  s_.open_connections.Add(-1);
  s_.connections.fetch_sub(1, std::memory_order_relaxed);
  absl::MutexLock lock(&s_.mu);
  s_.sessions.erase(id_);
}

asio::awaitable<void> ProxySession::Run(std::shared_ptr<ProxySession> self) {
  co_await self->Serve();
  co_await self->CloseConnection();
}

void ProxySession::BeginDrain() {
  draining_ = true;
  if (idle_) {
    error_code ec;
    stream_.socket().cancel(ec);
  }
}

void ProxySession::ForceClose() {
  draining_ = true;
  linger_ = false;
  stream_.close();
  upstream_.close();
}

char* ProxySession::RelayBuffer() { return relay_buffer_.get(); }

ProxySession::TimePoint ProxySession::IoDeadline(TimePoint total) const {
  return std::min(total, std::chrono::steady_clock::now() +
                             std::chrono::duration_cast<
                                 std::chrono::steady_clock::duration>(
                                 ToChrono(s_.config.io_timeout)));
}

asio::awaitable<void> ProxySession::Serve() {
  for (;;) {
    std::optional<HeadParser> hp;
    const HeadResult head = co_await ReadRequestHead(hp);
    if (head == HeadResult::kClosed) co_return;
    RequestLog log;
    if (head != HeadResult::kOk) {
      // The unfinished head is dropped with its memory before answering.
      client_buffer_.clear();
      client_buffer_.shrink_to_fit();
      log.request_id = internal::NewRequestId();
      const Reason reason = head == HeadResult::kTooLarge
                                ? Reason::kHeadersTooLarge
                            : head == HeadResult::kBodyTooLarge
                                ? Reason::kBodyTooLarge
                            : head == HeadResult::kOverloaded
                                ? Reason::kOverloaded
                                : Reason::kRequestInvalid;
      co_await Respond(Refusal{reason}, log, 11, /*keep_alive=*/false);
      co_return;
    }
    const auto& req = hp->get();
    log.method = std::string(AV(req.method_string()).substr(0, 32));
    log.path = LoggablePath(AV(req.target()));
    if (std::optional<HeadRefusal> r = CheckRequestHead(req)) {
      log.request_id = internal::NewRequestId();
      co_await Respond(Refusal{r->reason, std::string(r->detail)}, log,
                       req.version() == 10 ? 10 : 11, /*keep_alive=*/false);
      co_return;
    }
    // The header is done and valid: switch to a parser that streams the
    // body through a caller-provided buffer.
    BodyParser parser(std::move(*hp));
    body_deadline_ = std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<
                         std::chrono::steady_clock::duration>(
                         ToChrono(s_.config.body_timeout));
    sent_continue_ = false;
    if (!co_await HandleRequest(parser, log)) co_return;
  }
}

asio::awaitable<ProxySession::HeadResult> ProxySession::ReadRequestHead(
    std::optional<HeadParser>& hp) {
  internal::RequestHeadScanner scanner;
  idle_ = client_buffer_.size() == 0;
  if (idle_) {
    // Keep-alive connections wait with no buffer: each goes back to the
    // loop's pool (buffer_pool.h), where the next request takes it again.
    client_buffer_.shrink_to_fit();
    upstream_buffer_.shrink_to_fit();
    relay_buffer_.reset();
    if (wire_head_.capacity() > kIdleReadChunk) std::string().swap(wire_head_);
  }
  const HeadResult received = co_await ReceiveHead(scanner);
  idle_ = false;
  ReleaseHeadCharge();
  if (received != HeadResult::kOk) co_return received;
  co_return ParseHead(scanner, hp);
}

asio::awaitable<ProxySession::HeadResult> ProxySession::ReceiveHead(
    internal::RequestHeadScanner& scanner) {
  using Scan = internal::RequestHeadScanner::Result;
  TimePoint header_deadline{};
  const auto start_head = [&] {
    idle_ = false;
    header_deadline = std::chrono::steady_clock::now() +
                      std::chrono::duration_cast<
                          std::chrono::steady_clock::duration>(
                          ToChrono(s_.config.header_timeout));
  };
  if (!idle_) start_head();
  for (;;) {
    if (client_buffer_.size() > 0) {
      if (idle_) start_head();
      const auto data = client_buffer_.data();
      const Scan result = scanner.Scan(absl::string_view(
          static_cast<const char*>(data.data()), data.size()));
      if (result == Scan::kComplete) co_return HeadResult::kOk;
      if (result == Scan::kBad) co_return HeadResult::kBad;
      if (result == Scan::kTooLarge) co_return HeadResult::kTooLarge;
    }
    if (idle_ && Draining()) co_return HeadResult::kClosed;
    if (idle_) {
      stream_.expires_after(ToChrono(s_.config.idle_timeout));
    } else {
      stream_.expires_at(header_deadline);
    }
    const std::size_t chunk = idle_ ? kIdleReadChunk : kHeaderReadChunk;
    if (!ReserveHeadBuffer(chunk)) co_return HeadResult::kOverloaded;
    auto [ec, n] = co_await stream_.async_read_some(
        client_buffer_.prepare(chunk), kAsTuple);
    client_buffer_.commit(n);
    // EOF, timeout, reset or cancellation: close quietly (there is nobody to
    // answer, or the client sent nothing worth answering).
    if (ec) co_return HeadResult::kClosed;
  }
}

ProxySession::HeadResult ProxySession::ParseHead(
    const internal::RequestHeadScanner& scanner,
    std::optional<HeadParser>& hp) {
  client_buffer_.consume(scanner.head_begin());
  const std::size_t head_size = scanner.head_end() - scanner.head_begin();
  hp.emplace();
  hp->header_limit(static_cast<std::uint32_t>(kMaxRequestHeaderBytes));
  hp->body_limit(s_.config.body_limit);
  hp->eager(false);
  error_code ec;
  const std::size_t used =
      hp->put(asio::buffer(client_buffer_.data().data(), head_size), ec);
  if (ec == http::error::header_limit) return HeadResult::kTooLarge;
  if (ec == http::error::body_limit) return HeadResult::kBodyTooLarge;
  if (ec || !hp->is_header_done() || used != head_size) {
    return HeadResult::kBad;
  }
  client_buffer_.consume(used);
  return HeadResult::kOk;
}

bool ProxySession::ReserveHeadBuffer(std::size_t chunk) {
  // Grow to exactly what the next read needs (no doubling), charging the
  // budget before allocating.
  const std::size_t need = client_buffer_.size() + chunk;
  if (need <= client_buffer_.capacity()) return true;
  const std::size_t want = need > kFreeHeadBytes ? need - kFreeHeadBytes : 0;
  if (want > head_charge_) {
    if (!s_.head_budget.TryAcquire(want - head_charge_)) return false;
    head_charge_ = want;
  }
  client_buffer_.reserve(need);
  return true;
}

void ProxySession::ReleaseHeadCharge() {
  if (head_charge_ == 0) return;
  s_.head_budget.Release(head_charge_);
  head_charge_ = 0;
}

asio::awaitable<bool> ProxySession::HandleRequest(BodyParser& parser,
                                                  RequestLog& log) {
  const auto& req = parser.get();
  log.request_id = RequestIdFor(req);
  const bool has_body =
      parser.chunked() || parser.content_length().value_or(0) > 0;
  const bool keep = req.keep_alive() && !Draining();
  CollectedCredentials credentials =
      CollectCredentials(req, s_.credential_headers);
  if (credentials.stray_secret) {
    co_return co_await Respond(
        Refusal{Reason::kTokenAmbiguous,
                "a token was sent outside the credential headers"},
        log, req.version(), keep && !has_body);
  }
  RequestView view;
  view.method = AV(req.method_string());
  view.target = AV(req.target());
  view.client_ip = client_ip_;
  view.request_id = log.request_id;
  view.credentials = std::move(credentials.values);
  std::string body;
  if (has_body && s_.authorizer.WantsBody(view.method, view.target)) {
    if (std::optional<Refusal> r = co_await BufferBody(parser, body)) {
      if (r->reason == Reason::kClientClosed) {
        Finish(log, 499, Reason::kClientClosed);
        co_return false;
      }
      co_return co_await Respond(*r, log, req.version(), false);
    }
    view.body = body;
    view.has_body = true;
  }
  const auto decision_start = std::chrono::steady_clock::now();
  AuthzResult result =
      co_await AwaitDecision(s_.authorizer, view, s_.pending_decisions);
  s_.decision_seconds.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                    decision_start)
          .count());
  log.token_id = result.token_id;
  // A body that was not read leaves the connection unusable.
  const bool keep_after = keep && (!has_body || view.has_body);
  if (!result.allowed()) {
    co_return co_await Respond(RefusalFrom(result), log, req.version(),
                               keep_after);
  }
  if (!internal::IsSafeHeaderValue(result.token_id) ||
      !internal::IsSafeHeaderValue(result.plan_id)) {
    co_return co_await Respond(Refusal{Reason::kInternalError}, log,
                               req.version(), keep_after);
  }
  if (result.endpoint != nullptr &&
      result.endpoint->answer == policy::LocalAnswer::kWhoami) {
    LocalResponse res = RenderWhoami(result.token_id, log.request_id,
                                     req.version(), keep_after);
    co_return co_await WriteLocal(res, log, Reason::kAllowed);
  }
  co_return co_await Forward(parser, result, log, has_body,
                             view.has_body ? &body : nullptr);
}

asio::awaitable<bool> ProxySession::SendContinue() {
  if (sent_continue_) co_return true;
  sent_continue_ = true;
  static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
  stream_.expires_after(ToChrono(s_.config.io_timeout));
  auto [ec, n] = co_await asio::async_write(
      stream_, asio::buffer(kContinue, sizeof(kContinue) - 1), kAsTuple);
  co_return !ec;
}

asio::awaitable<std::optional<Refusal>> ProxySession::BufferBody(
    BodyParser& parser, std::string& body) {
  const std::uint64_t limit = s_.config.body_resource_limit;
  const auto length = parser.content_length();
  if (length && *length > limit) co_return Refusal{Reason::kBodyTooLarge};
  const auto& req = parser.get();
  if (req.version() == 11 &&
      absl::EqualsIgnoreCase(AV(req[http::field::expect]), "100-continue") &&
      !co_await SendContinue()) {
    co_return Refusal{Reason::kClientClosed};
  }
  // One byte more than the limit tells a too-large chunked body apart.
  const std::size_t capacity =
      length ? static_cast<std::size_t>(*length) + 1
             : static_cast<std::size_t>(limit) + 1;
  body.resize(capacity);
  std::size_t got = 0;
  while (!parser.is_done()) {
    if (got > limit) co_return Refusal{Reason::kBodyTooLarge};
    parser.get().body().data = body.data() + got;
    parser.get().body().size = capacity - got;
    stream_.expires_at(IoDeadline(body_deadline_));
    auto [ec, n] =
        co_await http::async_read_some(stream_, client_buffer_, parser,
                                       kAsTuple);
    if (ec == http::error::need_buffer) ec = {};
    got = capacity - parser.get().body().size;
    if (ec == http::error::body_limit) co_return Refusal{Reason::kBodyTooLarge};
    if (IsParseError(ec)) co_return Refusal{Reason::kRequestInvalid};
    if (ec == beast::error::timeout) {
      co_return Refusal{Reason::kRequestInvalid,
                        "the request body did not arrive in time"};
    }
    if (ec) co_return Refusal{Reason::kClientClosed};
  }
  if (got > limit) co_return Refusal{Reason::kBodyTooLarge};
  body.resize(got);
  co_return std::nullopt;
}

asio::awaitable<bool> ProxySession::Respond(const Refusal& refusal,
                                            RequestLog& log, unsigned version,
                                            bool keep_alive) {
  LocalResponse res = RenderRefusal(refusal, s_.config.default_error_style,
                                    log.request_id, version, keep_alive);
  co_return co_await WriteLocal(res, log, refusal.reason);
}

asio::awaitable<bool> ProxySession::WriteLocal(LocalResponse& res,
                                               RequestLog& log,
                                               policy::Reason reason) {
  const bool keep_alive = res.keep_alive();
  stream_.expires_after(ToChrono(s_.config.io_timeout));
  error_code ec;
  if (!res.chunked()) {
    // Head and body in one gather write.
    wire_head_.clear();
    AppendWireHead(res, wire_head_);
    const std::array<asio::const_buffer, 2> parts{asio::buffer(wire_head_),
                                                  asio::buffer(res.body())};
    std::tie(ec, std::ignore) =
        co_await asio::async_write(stream_, parts, kAsTuple);
  } else {
    std::tie(ec, std::ignore) =
        co_await http::async_write(stream_, res, kAsTuple);
  }
  Finish(log, static_cast<int>(res.result_int()), reason);
  if (ec) {
    linger_ = false;
    co_return false;
  }
  // Unread input may follow (a body, pipelined requests): drain it briefly
  // before closing so the client gets this response rather than a reset.
  if (!keep_alive) linger_ = true;
  co_return keep_alive;
}

asio::awaitable<void> ProxySession::CloseConnection() {
  ReleaseHeadCharge();
  if (linger_ && stream_.socket().is_open()) {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(ToChrono(kLingerTimeout));
    // Drains into the buffer the connection already has (no allocation
    // beyond a small one for a connection that has none).
    client_buffer_.clear();
    const std::size_t chunk = std::clamp<std::size_t>(
        client_buffer_.capacity(), kIdleReadChunk, kRelayBufferBytes);
    std::size_t drained = 0;
    while (drained < kLingerMaxBytes) {
      auto [rec, n] =
          co_await stream_.async_read_some(client_buffer_.prepare(chunk),
                                           kAsTuple);
      client_buffer_.clear();
      drained += n;
      if (rec) break;
    }
  }
  stream_.close();
  ReturnUpstream();
}

void ProxySession::Finish(RequestLog& log, int status, policy::Reason reason) {
  log.status = status;
  log.reason = policy::ReasonCode(reason);
  const auto elapsed = std::chrono::steady_clock::now() - log.start;
  s_.RequestsFor(reason).Inc();
  s_.proxy_seconds.Observe(std::chrono::duration<double>(elapsed).count());
  if (!s_.config.access_log) return;
  const std::string line = AccessLogLine(
      log,
      std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
  if (s_.config.access_log_sink) {
    s_.config.access_log_sink(line);
  } else {
    WriteLogLine(line);
  }
}

}  // namespace pat::sidecar
