// The upstream side of one client connection: a kept or pooled connection,
// the request (header and a buffered body in one write, or a streamed body),
// the response head (1xx skipped) and the response body relayed to the
// client. Reads may end anywhere, inside chunk framing included.

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <tuple>

#include "absl/strings/match.h"
#include "boost/asio/connect.hpp"
#include "boost/beast/http/read.hpp"
#include "boost/beast/http/write.hpp"
#include "sidecar/body_relay.h"
#include "sidecar/header_rewrite.h"
#include "sidecar/http_limits.h"
#include "sidecar/proxy_session.h"
#include "sidecar/upstream_pool.h"
#include "sidecar/wire_head.h"

namespace pat::sidecar {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using policy::Reason;

// 1xx responses skipped before the final one (more is a broken upstream).
constexpr int kMaxInterimResponses = 8;

absl::string_view AV(beast::string_view s) { return {s.data(), s.size()}; }

bool IsIdempotent(http::verb method) {
  switch (method) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::options:
    case http::verb::trace:
    case http::verb::put:
    case http::verb::delete_:
      return true;
    default:
      return false;
  }
}

bool IsParseError(const error_code& ec) {
  return ec.category() ==
             http::make_error_code(http::error::bad_method).category() &&
         ec != http::error::end_of_stream &&
         ec != http::error::partial_message;
}

std::chrono::steady_clock::time_point After(absl::Duration d) {
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(
             ToChrono(d));
}

}  // namespace

struct ProxySession::Exchange {
  Exchange(BodyParser& p, const AuthzResult& r, RequestLog& l,
           const std::string* body)
      : parser(p), result(r), log(l), buffered_body(body) {}

  BodyParser& parser;
  const AuthzResult& result;
  RequestLog& log;
  // Non-null: the whole request body, read before the decision.
  const std::string* buffered_body;
  BodyFraming framing;  // of the upstream request
  // The upstream request as a Beast message: only for a streamed body
  // (the serializer frames it); a whole request is written from the
  // client's parsed head straight to wire_head_.
  std::optional<http::request<http::buffer_body>> up;
  std::optional<http::response_parser<http::buffer_body>> rp;
  bool has_body = false;
  bool is_head = false;
  bool idempotent = false;
  bool expect_continue = false;
  unsigned client_version = 11;
  bool client_keep_alive = false;
  TimePoint upstream_deadline{};
  bool keep = false;  // the outcome after Step::kDone
};

asio::awaitable<bool> ProxySession::Forward(BodyParser& parser,
                                            const AuthzResult& result,
                                            RequestLog& log, bool has_body,
                                            const std::string* buffered_body) {
  const auto& req = parser.get();
  Exchange x(parser, result, log, buffered_body);
  x.has_body = has_body;
  x.is_head = req.method() == http::verb::head;
  x.idempotent = IsIdempotent(req.method());
  x.client_version = req.version();
  x.client_keep_alive = req.keep_alive();
  x.expect_continue =
      has_body && x.client_version == 11 &&
      absl::EqualsIgnoreCase(AV(req[http::field::expect]), "100-continue");
  if (buffered_body != nullptr) {
    x.framing = BodyFraming::Length(buffered_body->size());
  } else if (parser.chunked()) {
    x.framing.kind = BodyFraming::Kind::kChunked;
  } else if (parser.content_length()) {
    x.framing = BodyFraming::Length(*parser.content_length());
  }
  if (has_body && buffered_body == nullptr) {
    client_buffer_.reserve(client_buffer_.size() + kRelayBufferBytes);
  }
  for (int attempt = 0;; ++attempt) {
    const std::optional<bool> reused =
        co_await AcquireUpstream(attempt, x.idempotent && !x.has_body);
    if (!reused) co_return co_await UpstreamFailed(x, Reason::kUpstreamUnavailable);
    x.upstream_deadline = After(s_.config.upstream_timeout);
    Step step = co_await SendRequest(x, *reused, attempt);
    if (step == Step::kRetry) continue;
    if (step == Step::kDone) co_return x.keep;
    step = co_await ReadResponseHead(x, *reused, attempt);
    if (step == Step::kRetry) continue;
    if (step == Step::kDone) co_return x.keep;
    break;
  }
  co_return co_await RelayResponse(x);
}

asio::awaitable<std::optional<bool>> ProxySession::AcquireUpstream(
    int attempt, bool retry_safe) {
  upstream_buffer_.clear();
  upstream_buffer_.reserve(kRelayBufferBytes);
  bool reused = false;
  // The connection this session kept from its previous request (first
  // attempt only), if the upstream has not closed it meanwhile. A request
  // that can be sent again (bodiless and idempotent) skips the check (a
  // recv syscall): a connection found closed by the exchange is retried
  // once on another (SendRequest, ReadResponseHead).
  if (upstream_.socket().is_open()) {
    if (attempt == 0 && upstream_idle_ &&
        (retry_safe ||
         UpstreamPool::LooksHealthy(upstream_.socket().native_handle()))) {
      reused = true;
    } else {
      upstream_.close();
    }
  }
  upstream_idle_ = false;
  if (!reused) {
    if (const int fd = s_.upstream.TakeIdle(); fd >= 0) {
      error_code ec;
      upstream_.socket().assign(s_.upstream.endpoint().protocol(), fd, ec);
      if (ec) {
        ::close(fd);
      } else {
        reused = true;
      }
    }
  }
  if (!reused) {
    upstream_.expires_after(ToChrono(s_.config.upstream_connect_timeout));
    auto [ec] = co_await upstream_.async_connect(s_.upstream.endpoint(),
                                                 kAsTuple);
    if (ec) co_return std::nullopt;
    error_code ignored;
    upstream_.socket().set_option(tcp::no_delay(true), ignored);
  }
  co_return reused;
}

asio::awaitable<ProxySession::Step> ProxySession::SendRequest(Exchange& x,
                                                              bool reused,
                                                              int attempt) {
  const RewritePolicy policy{s_.credential_headers, s_.allowed_routing_headers};
  const UpstreamIdentity identity{x.result.token_id, x.result.plan_id,
                                  x.log.request_id, client_ip_,
                                  s_.upstream.authority()};
  // A bodiless request or a buffered body: the head is written from the
  // client's parsed head straight into wire_head_, then head and body go in
  // one gather write. A streamed body: a Beast message and its serializer.
  const bool whole = x.buffered_body != nullptr || !x.has_body;
  upstream_.expires_after(ToChrono(s_.config.io_timeout));
  error_code wec;
  std::size_t wn = 0;
  std::optional<http::serializer<true, http::buffer_body>> sr;
  if (whole) {
    wire_head_.clear();
    WireHeadWriter w(wire_head_);
    WriteUpstreamRequestHead(x.parser.get(), policy, identity, x.framing, w);
    w.End();
    const std::array<asio::const_buffer, 2> parts{
        asio::buffer(wire_head_), x.buffered_body != nullptr
                                      ? asio::buffer(*x.buffered_body)
                                      : asio::const_buffer()};
    std::tie(wec, wn) = co_await asio::async_write(upstream_, parts, kAsTuple);
  } else {
    x.up.emplace();
    MessageSink sink(*x.up);
    WriteUpstreamRequestHead(x.parser.get(), policy, identity, x.framing, sink);
    x.up->body().data = nullptr;
    x.up->body().size = 0;
    x.up->body().more = true;
    sr.emplace(*x.up);
    std::tie(wec, wn) =
        co_await http::async_write_header(upstream_, *sr, kAsTuple);
    if (wec == http::error::need_buffer) wec = {};
  }
  if (wec) {
    ReleaseUpstream(false);
    // A stale pooled connection that took none of the request: retry once.
    if (reused && attempt == 0 && wn == 0) co_return Step::kRetry;
    co_await UpstreamFailed(x, Reason::kUpstreamUnavailable);
    co_return Step::kDone;
  }
  if (whole) co_return Step::kOk;
  co_return co_await StreamRequestBody(x, *sr);
}

asio::awaitable<ProxySession::Step> ProxySession::StreamRequestBody(
    Exchange& x, http::serializer<true, http::buffer_body>& sr) {
  if (x.expect_continue && !co_await SendContinue()) {
    ReleaseUpstream(false);
    Finish(x.log, 499, Reason::kClientClosed);
    x.keep = false;
    co_return Step::kDone;
  }
  const RelayOutcome out = co_await RelayBody<true>(
      stream_, client_buffer_, x.parser, upstream_, *x.up, sr, RelayBuffer(),
      kRelayBufferBytes, body_deadline_, ToChrono(s_.config.io_timeout), [] {});
  if (out.status == RelayStatus::kWriteError) {
    co_await UpstreamFailed(x, Reason::kUpstreamUnavailable);
    co_return Step::kDone;
  }
  if (out.status == RelayStatus::kOk) co_return Step::kOk;
  // The client's body failed: the upstream got a truncated request and its
  // connection is dropped.
  ReleaseUpstream(false);
  x.keep = false;
  if (out.ec == http::error::body_limit) {
    co_await Respond(Refusal{Reason::kBodyTooLarge}, x.log, x.client_version,
                     false);
  } else if (out.ec == beast::error::timeout) {
    co_await Respond(Refusal{Reason::kRequestInvalid,
                             "the request body did not arrive in time"},
                     x.log, x.client_version, false);
  } else if (IsParseError(out.ec) && out.ec != http::error::need_more) {
    co_await Respond(Refusal{Reason::kRequestInvalid}, x.log,
                     x.client_version, false);
  } else {
    Finish(x.log, 499, Reason::kClientClosed);
  }
  co_return Step::kDone;
}

asio::awaitable<ProxySession::Step> ProxySession::ReadResponseHead(
    Exchange& x, bool reused, int attempt) {
  bool header_ok = false;
  bool received_any = false;
  bool timed_out = false;
  for (int interim = 0; interim <= kMaxInterimResponses; ++interim) {
    x.rp.emplace();
    x.rp->header_limit(static_cast<std::uint32_t>(kMaxUpstreamHeaderBytes));
    x.rp->body_limit(boost::none);
    if (x.is_head) x.rp->skip(true);
    upstream_.expires_at(std::min(
        x.upstream_deadline, After(s_.config.upstream_response_timeout)));
    auto [rec, rn] = co_await http::async_read_header(
        upstream_, upstream_buffer_, *x.rp, kAsTuple);
    if (rec) {
      timed_out = rec == beast::error::timeout;
      break;
    }
    received_any = true;
    const unsigned status = x.rp->get().result_int();
    if (status == 101) break;  // never asked for: a protocol error
    if (status >= 100 && status < 200) continue;
    header_ok = true;
    break;
  }
  if (header_ok) co_return Step::kOk;
  const bool nothing =
      !received_any && !x.rp->got_some() && upstream_buffer_.size() == 0;
  ReleaseUpstream(false);
  // A stale pooled connection closed before answering: a bodiless
  // idempotent request can safely be sent again, once.
  if (reused && attempt == 0 && nothing && !timed_out && !x.has_body &&
      x.idempotent) {
    co_return Step::kRetry;
  }
  co_await UpstreamFailed(x, timed_out ? Reason::kUpstreamTimeout
                                       : Reason::kUpstreamUnavailable);
  co_return Step::kDone;
}

std::optional<std::size_t> ProxySession::Prefetch(Exchange& x, char* buf) {
  auto& rp = *x.rp;
  rp.get().body().data = buf;
  rp.get().body().size = kRelayBufferBytes;
  while (!rp.is_done() && upstream_buffer_.size() > 0 &&
         rp.get().body().size > 0) {
    error_code ec;
    const std::size_t used = rp.put(upstream_buffer_.data(), ec);
    upstream_buffer_.consume(used);
    // The buffered bytes end inside the framing (a chunk-size line, a chunk
    // extension, a trailer): the relay reads the rest.
    if (ec == http::error::need_more) break;
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return std::nullopt;
    if (used == 0) break;
  }
  return kRelayBufferBytes - rp.get().body().size;
}

asio::awaitable<bool> ProxySession::RelayResponse(Exchange& x) {
  auto& rp = *x.rp;
  const auto& ures = rp.get();
  const unsigned status = ures.result_int();
  const bool no_body = x.is_head || status == 204 || status == 304;
  bool keep = x.client_keep_alive && !Draining();
  BodyFraming framing;
  if (no_body) {
    // Content-Length describes the representation here: pass it on as is.
    if (auto it = ures.find(http::field::content_length); it != ures.end()) {
      framing.kind = BodyFraming::Kind::kVerbatim;
      framing.verbatim = AV(it->value());
    }
  } else if (rp.content_length()) {
    framing = BodyFraming::Length(*rp.content_length());
  } else if (x.client_version == 11) {
    framing.kind = BodyFraming::Kind::kChunked;
  } else {
    keep = false;  // HTTP/1.0: the body is delimited by the close
  }
  // The upstream connection is kept as soon as its response is complete,
  // before the client has all of it.
  const auto release_upstream = [&] {
    ReleaseUpstream(rp.is_done() && rp.keep_alive() &&
                    upstream_buffer_.size() == 0);
  };
  char* const buf = RelayBuffer();
  const std::optional<std::size_t> prefetched = Prefetch(x, buf);
  if (!prefetched) {
    s_.upstream_errors.Inc();
    ReleaseUpstream(false);
    co_return co_await Respond(Refusal{Reason::kUpstreamUnavailable}, x.log,
                               x.client_version, keep);
  }
  if (rp.is_done()) release_upstream();
  if (rp.is_done() && framing.kind != BodyFraming::Kind::kChunked) {
    co_return co_await WriteWholeResponse(x, framing, keep, buf, *prefetched);
  }
  // A streamed body: the client's head as a Beast message for the
  // serializer, which frames the body.
  http::response<http::buffer_body> res;
  MessageSink sink(res);
  WriteClientResponseHead(ures, x.client_version, framing, x.log.request_id,
                          keep, sink);
  http::serializer<false, http::buffer_body> rsr(res);
  res.body().data = *prefetched > 0 ? buf : nullptr;
  res.body().size = *prefetched;
  res.body().more = !rp.is_done();
  stream_.expires_after(ToChrono(s_.config.io_timeout));
  auto [hec, hn] = *prefetched > 0 || rp.is_done()
                       ? co_await http::async_write(stream_, rsr, kAsTuple)
                       : co_await http::async_write_header(stream_, rsr,
                                                           kAsTuple);
  if (hec == http::error::need_buffer) hec = {};
  if (!hec) {
    const RelayOutcome out = co_await RelayBody<false>(
        upstream_, upstream_buffer_, rp, stream_, res, rsr, buf,
        kRelayBufferBytes, x.upstream_deadline,
        ToChrono(s_.config.io_timeout), release_upstream);
    if (out.status == RelayStatus::kOk) {
      release_upstream();  // no-op when already released
      Finish(x.log, static_cast<int>(status), Reason::kAllowed);
      co_return keep;
    }
    if (out.status == RelayStatus::kReadError) {
      // The upstream failed mid-body: the client sees a truncated response.
      s_.upstream_errors.Inc();
      ReleaseUpstream(false);
      Finish(x.log, static_cast<int>(status),
             out.ec == beast::error::timeout ? Reason::kUpstreamTimeout
                                             : Reason::kUpstreamUnavailable);
      co_return false;
    }
  }
  ReleaseUpstream(false);
  Finish(x.log, 499, Reason::kClientClosed);
  co_return false;
}

asio::awaitable<bool> ProxySession::WriteWholeResponse(
    Exchange& x, const BodyFraming& framing, bool keep, const char* body,
    std::size_t body_size) {
  const auto& ures = x.rp->get();
  wire_head_.clear();
  WireHeadWriter w(wire_head_);
  WriteClientResponseHead(ures, x.client_version, framing, x.log.request_id,
                          keep, w);
  w.End();
  const std::array<asio::const_buffer, 2> parts{asio::buffer(wire_head_),
                                                asio::buffer(body, body_size)};
  stream_.expires_after(ToChrono(s_.config.io_timeout));
  auto [ec, n] = co_await asio::async_write(stream_, parts, kAsTuple);
  if (ec) {
    Finish(x.log, 499, Reason::kClientClosed);
    co_return false;
  }
  Finish(x.log, static_cast<int>(ures.result_int()), Reason::kAllowed);
  co_return keep;
}

asio::awaitable<bool> ProxySession::UpstreamFailed(Exchange& x,
                                                   policy::Reason reason) {
  s_.upstream_errors.Inc();
  ReleaseUpstream(/*reusable=*/false);
  const bool body_unread = x.has_body && x.buffered_body == nullptr;
  x.keep = co_await Respond(Refusal{reason}, x.log, x.client_version,
                            x.client_keep_alive && !body_unread && !Draining());
  co_return x.keep;
}

void ProxySession::ReleaseUpstream(bool reusable) {
  if (!upstream_.socket().is_open()) return;
  upstream_.expires_never();
  // A reusable connection stays with this session for its next request (no
  // pool hand-off, no epoll re-registration); it goes back to the pool when
  // the client connection ends (ReturnUpstream).
  upstream_idle_ = reusable && !Draining();
  if (upstream_idle_) return;
  upstream_.close();
}

void ProxySession::ReturnUpstream() {
  if (!upstream_.socket().is_open()) return;
  upstream_.expires_never();
  if (upstream_idle_ && !Draining()) {
    error_code ec;
    const int fd = upstream_.socket().release(ec);
    if (!ec) {
      s_.upstream.PutIdle(fd);
      return;
    }
  }
  upstream_.close();
}

}  // namespace pat::sidecar
