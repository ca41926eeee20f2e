#include "sidecar/proxy_server.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "boost/asio/as_tuple.hpp"
#include "boost/asio/awaitable.hpp"
#include "boost/asio/co_spawn.hpp"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "boost/asio/use_awaitable.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "common/policy/reason.h"

namespace pat::sidecar {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

class ProxySession;

namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
// 1xx responses skipped before the final one (more is a broken upstream).
constexpr int kMaxInterimResponses = 8;

// Reason codes of the HTTP front itself (the authorizer supplies the rest).
constexpr absl::string_view kReasonAllowed = "allowed";
constexpr absl::string_view kReasonRequestInvalid = "request_invalid";
constexpr absl::string_view kReasonHeadersTooLarge = "headers_too_large";
constexpr absl::string_view kReasonBodyTooLarge = "body_too_large";
constexpr absl::string_view kReasonUpstreamUnavailable = "upstream_unavailable";
constexpr absl::string_view kReasonAuthorityUnavailable =
    "authority_unavailable";
constexpr absl::string_view kReasonInternal = "internal_error";
// Logged (not sent) when the client goes away mid-request.
constexpr absl::string_view kReasonClientClosed = "client_closed";

struct FrontError {
  int status;
  absl::string_view reason;
  absl::string_view message;
};
constexpr FrontError kBadRequest{400, kReasonRequestInvalid,
                                 "malformed or ambiguous HTTP request"};
constexpr FrontError kUpgradeNotSupported{
    400, kReasonRequestInvalid,
    "protocol upgrades and CONNECT are not supported"};
constexpr FrontError kHeadersTooLarge{431, kReasonHeadersTooLarge,
                                      "request header fields too large"};
constexpr FrontError kBodyTooLarge{413, kReasonBodyTooLarge,
                                   "request body too large"};
constexpr FrontError kUpstreamUnavailable{502, kReasonUpstreamUnavailable,
                                          "upstream unavailable"};
constexpr FrontError kInternalError{500, kReasonInternal, "internal error"};

absl::string_view AV(beast::string_view s) { return {s.data(), s.size()}; }
beast::string_view BV(absl::string_view s) { return {s.data(), s.size()}; }

std::chrono::nanoseconds ToChrono(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  return absl::ToChronoNanoseconds(d);
}

void LogLine(absl::string_view line) {
  std::string out(line);
  out += '\n';
  // One write(2) per line so concurrent lines never interleave.
  const ssize_t ignored = ::write(STDERR_FILENO, out.data(), out.size());
  (void)ignored;
}

void LogEvent(absl::string_view msg, absl::string_view detail) {
  LogLine(absl::StrCat("{\"msg\":", internal::JsonQuote(msg),
                       ",\"detail\":", internal::JsonQuote(detail), "}"));
}

// Header names removed in both directions (RFC 9110 §7.6.1), besides those
// nominated by Connection.
bool IsHopByHop(absl::string_view name) {
  return absl::EqualsIgnoreCase(name, "connection") ||
         absl::EqualsIgnoreCase(name, "keep-alive") ||
         absl::EqualsIgnoreCase(name, "te") ||
         absl::EqualsIgnoreCase(name, "trailer") ||
         absl::EqualsIgnoreCase(name, "trailers") ||
         absl::EqualsIgnoreCase(name, "transfer-encoding") ||
         absl::EqualsIgnoreCase(name, "upgrade") ||
         absl::StartsWithIgnoreCase(name, "proxy-");
}

// Case-insensitive field-name comparison that also treats '_' as '-'.
char FoldNameChar(char c) {
  c = absl::ascii_tolower(static_cast<unsigned char>(c));
  return c == '_' ? '-' : c;
}

bool LooseNameStartsWith(absl::string_view name, absl::string_view prefix) {
  if (name.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (FoldNameChar(name[i]) != FoldNameChar(prefix[i])) return false;
  }
  return true;
}

bool LooseNameEquals(absl::string_view name, absl::string_view other) {
  return name.size() == other.size() && LooseNameStartsWith(name, other);
}

// Field names listed in every Connection header of `fields`.
std::vector<std::string> ConnectionNominated(const http::fields& fields) {
  std::vector<std::string> out;
  auto range = fields.equal_range(http::field::connection);
  for (auto it = range.first; it != range.second; ++it) {
    for (absl::string_view token : absl::StrSplit(AV(it->value()), ',')) {
      token = absl::StripAsciiWhitespace(token);
      if (!token.empty()) out.push_back(absl::AsciiStrToLower(token));
    }
  }
  return out;
}

bool IsNominated(const std::vector<std::string>& nominated,
                 absl::string_view name) {
  for (const std::string& n : nominated) {
    if (absl::EqualsIgnoreCase(n, name)) return true;
  }
  return false;
}

bool AllDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return c >= '0' && c <= '9'; });
}

// A header value we are willing to emit: visible ASCII and spaces.
bool IsSafeHeaderValue(absl::string_view v) {
  return std::all_of(v.begin(), v.end(),
                     [](char c) { return c == ' ' || (c > 0x20 && c < 0x7f); });
}

bool IsToken(absl::string_view s) {
  static constexpr absl::string_view kExtra = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
           kExtra.find(c) != absl::string_view::npos;
  });
}

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

// Ambiguous framing and unsupported protocol features (see the header).
std::optional<FrontError> CheckRequestHead(
    const http::request<http::empty_body>& req) {
  const unsigned version = req.version();
  if (version != 10 && version != 11) return kBadRequest;
  int content_length = 0;
  int transfer_encoding = 0;
  int host = 0;
  for (const auto& f : req) {
    switch (f.name()) {
      case http::field::content_length:
        ++content_length;
        if (!AllDigits(AV(f.value()))) return kBadRequest;
        break;
      case http::field::transfer_encoding:
        ++transfer_encoding;
        if (!absl::EqualsIgnoreCase(AV(f.value()), "chunked")) {
          return kBadRequest;
        }
        break;
      case http::field::host:
        ++host;
        break;
      case http::field::upgrade:
        return kUpgradeNotSupported;
      default:
        break;
    }
  }
  if (content_length > 1 || transfer_encoding > 1 || host > 1 ||
      (content_length > 0 && transfer_encoding > 0)) {
    return kBadRequest;
  }
  if (transfer_encoding > 0 && version == 10) return kBadRequest;
  if (version == 11 && host == 0) return kBadRequest;
  if (req.method() == http::verb::connect) return kUpgradeNotSupported;
  return std::nullopt;
}

// The path for the access log: no query string, no fragment; targets that are
// not origin-form (which may carry user info) are not logged.
std::string LoggablePath(absl::string_view target) {
  if (target == "*") return "*";
  if (!absl::StartsWith(target, "/")) return "-";
  const size_t end = target.find_first_of("?#");
  absl::string_view path = target.substr(0, end);
  constexpr size_t kMaxLoggedPath = 2048;
  if (path.size() > kMaxLoggedPath) path = path.substr(0, kMaxLoggedPath);
  return std::string(path);
}

// Metric label values come from a bounded set of reason codes; anything
// unexpected is folded into "other" so a broken authorizer cannot explode
// the label space (or leak data into metrics).
std::string ReasonLabel(absl::string_view reason) {
  constexpr size_t kMaxReasonLength = 64;
  if (reason.empty() || reason.size() > kMaxReasonLength) return "other";
  for (char c : reason) {
    if (!(absl::ascii_islower(static_cast<unsigned char>(c)) ||
          absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '_')) {
      return "other";
    }
  }
  return std::string(reason);
}

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

// Per-request record for the access log and metrics.
struct RequestLog {
  absl::Time start_wall = absl::Now();
  std::chrono::steady_clock::time_point start =
      std::chrono::steady_clock::now();
  std::string request_id;
  std::string method;
  std::string path;
  int status = 0;
  std::string reason;
  std::string token_id;
};

enum class RelayStatus { kOk, kReadError, kWriteError };
struct RelayOutcome {
  RelayStatus status = RelayStatus::kOk;
  error_code ec;
};

// Streams a message body from `in` (parsed by `p`, whose header is done) to
// `out` (serialized by `sr` from `msg`, whose header is already written),
// through `buf`. Pieces are forwarded as soon as they arrive; the parser
// re-frames, so the output framing never depends on the input's.
// `on_input_done()` runs once the input message is complete, before its last
// piece is written (so the input connection can be reused early).
template <bool isRequest, typename OnInputDone>
asio::awaitable<RelayOutcome> RelayBody(
    beast::tcp_stream& in, beast::flat_buffer& in_buffer,
    http::parser<isRequest, http::buffer_body>& p, beast::tcp_stream& out,
    http::message<isRequest, http::buffer_body>& msg,
    http::serializer<isRequest, http::buffer_body>& sr, char* buf,
    std::size_t size, absl::Duration timeout, OnInputDone on_input_done) {
  while (!p.is_done()) {
    p.get().body().data = buf;
    p.get().body().size = size;
    in.expires_after(ToChrono(timeout));
    auto [rec, rn] = co_await http::async_read_some(in, in_buffer, p, kTok);
    if (rec == http::error::need_buffer) rec = {};
    if (rec) co_return RelayOutcome{RelayStatus::kReadError, rec};
    if (p.is_done()) on_input_done();
    const std::size_t got = size - p.get().body().size;
    // Never hand the serializer an empty piece: in chunked framing an empty
    // chunk is the last-chunk marker.
    if (got == 0 && !p.is_done()) continue;
    msg.body().data = got > 0 ? buf : nullptr;
    msg.body().size = got;
    msg.body().more = !p.is_done();
    out.expires_after(ToChrono(timeout));
    auto [wec, wn] = co_await http::async_write(out, sr, kTok);
    if (wec == http::error::need_buffer) wec = {};
    if (wec) co_return RelayOutcome{RelayStatus::kWriteError, wec};
  }
  if (!sr.is_done()) {
    // E.g. the last-chunk of a chunked body whose final read carried no data.
    msg.body().data = nullptr;
    msg.body().size = 0;
    msg.body().more = false;
    out.expires_after(ToChrono(timeout));
    auto [wec, wn] = co_await http::async_write(out, sr, kTok);
    if (wec == http::error::need_buffer) wec = {};
    if (wec) co_return RelayOutcome{RelayStatus::kWriteError, wec};
  }
  co_return RelayOutcome{};
}

}  // namespace

// ---------------------------------------------------------------------------
// internal helpers

namespace internal {

RequestHeadScanner::Result RequestHeadScanner::Scan(absl::string_view data) {
  for (;;) {
    const size_t newline = data.find('\n', search_from_);
    if (newline == absl::string_view::npos) {
      search_from_ = data.size();
      if (data.size() - head_begin_ >= kMaxRequestHeaderBytes) {
        return Result::kTooLarge;
      }
      return Result::kNeedMore;
    }
    const size_t next = newline + 1;
    search_from_ = next;
    if (next - head_begin_ > kMaxRequestHeaderBytes) return Result::kTooLarge;
    // CRLF only: a bare LF is a framing ambiguity.
    if (newline == line_start_ || data[newline - 1] != '\r') {
      return Result::kBad;
    }
    const absl::string_view line =
        data.substr(line_start_, newline - 1 - line_start_);
    if (!saw_request_line_) {
      if (line.empty()) {
        if (++leading_empty_lines_ > kMaxLeadingEmptyLines) {
          return Result::kBad;
        }
        line_start_ = next;
        head_begin_ = next;
        continue;
      }
      saw_request_line_ = true;
    } else if (line.empty()) {
      head_end_ = next;
      return Result::kComplete;
    } else {
      // obs-fold (or whitespace before the first field).
      if (line[0] == ' ' || line[0] == '\t') return Result::kBad;
      if (++fields_ > kMaxRequestHeaderCount) return Result::kTooLarge;
    }
    line_start_ = next;
  }
}

bool IsValidRequestId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
           c == '_' || c == '-';
  });
}

std::string NewRequestId() {
  // Request ids correlate log lines; they are not secrets. A per-thread
  // generator seeded once from the CSPRNG avoids a RAND_bytes call (and its
  // getpid() fork check) on every request.
  thread_local std::mt19937_64 gen = [] {
    uint64_t seed = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof(seed)) !=
        1) {
      seed = std::random_device{}();
    }
    return std::mt19937_64(seed);
  }();
  unsigned char bytes[16];
  for (size_t i = 0; i < sizeof(bytes); i += 8) {
    const uint64_t v = gen();
    for (size_t j = 0; j < 8; ++j) bytes[i + j] = (v >> (8 * j)) & 0xff;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(32, '0');
  for (size_t i = 0; i < sizeof(bytes); ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
  return out;
}

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if it is invalid.
size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  const auto byte = [&](size_t k) -> unsigned {
    return static_cast<unsigned char>(s[k]);
  };
  const unsigned c = byte(i);
  size_t len;
  unsigned lo = 0x80;
  unsigned hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  }
  return len;
}

}  // namespace

std::string JsonQuote(absl::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20 || c == 0x7f) {
            absl::StrAppendFormat(&out, "\\u%04x", c);
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    const size_t len = Utf8SequenceLength(s, i);
    if (len == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    out.append(s.data() + i, len);
    i += len;
  }
  out += '"';
  return out;
}

std::string ErrorBody(int status, absl::string_view message,
                      absl::string_view reason) {
  return absl::StrCat("{\"status\":", status, ",\"err\":", JsonQuote(message),
                      ",\"reason\":", JsonQuote(reason), "}");
}

}  // namespace internal

// ---------------------------------------------------------------------------
// Server state

struct ProxyServer::State {
  State(const ProxyServerConfig& c, std::vector<std::string> credentials,
        Authorizer& a, UpstreamPool& u, MetricsRegistry& m, int threads)
      : config(c),
        credential_headers(std::move(credentials)),
        authorizer(a),
        upstream(u),
        metrics(m),
        decision_seconds(m.GetHistogram(
            "pat_sidecar_decision_seconds",
            "Time spent in the authorization decision (Authorize()).")),
        proxy_seconds(m.GetHistogram(
            "pat_sidecar_proxy_seconds",
            "Whole-request latency at the sidecar, from the end of the "
            "request header to the end of the response.")),
        upstream_errors(m.GetCounter(
            "pat_sidecar_upstream_errors_total",
            "Requests that failed because of the upstream (connect, write, "
            "read or protocol errors).")),
        open_connections(m.GetGauge("pat_sidecar_open_connections",
                                    "Client connections currently open.")),
        loops(MakeLoops(threads)),
        acceptor_strand(asio::make_strand(*loops.front())),
        acceptor(acceptor_strand) {}

  static std::vector<std::unique_ptr<asio::io_context>> MakeLoops(int n) {
    std::vector<std::unique_ptr<asio::io_context>> loops;
    for (int i = 0; i < std::max(n, 1); ++i) {
      // Concurrency hint 1: each loop is run by exactly one thread.
      loops.push_back(std::make_unique<asio::io_context>(1));
    }
    return loops;
  }

  // The loop of the next accepted connection (round robin).
  asio::io_context& NextLoop() {
    return *loops[next_loop.fetch_add(1, std::memory_order_relaxed) %
                  loops.size()];
  }

  Counter& RequestsFor(absl::string_view reason) {
    const std::string label = ReasonLabel(reason);
    {
      absl::ReaderMutexLock lock(&reason_mu);
      auto it = reason_counters.find(label);
      if (it != reason_counters.end()) return *it->second;
    }
    Counter& counter = metrics.GetCounter(
        "pat_sidecar_requests_total",
        "Requests handled by the sidecar, by decision reason.",
        {{"reason", label}});
    absl::MutexLock lock(&reason_mu);
    reason_counters.emplace(label, &counter);
    return counter;
  }

  // Posts fn(session) to every live session's strand.
  template <typename Fn>
  void ForEachSession(Fn fn);

  bool Idle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return sessions.empty() && !accept_loop_running;
  }

  const ProxyServerConfig config;
  const std::vector<std::string> credential_headers;  // lower case
  Authorizer& authorizer;
  UpstreamPool& upstream;
  MetricsRegistry& metrics;
  Histogram& decision_seconds;
  Histogram& proxy_seconds;
  Counter& upstream_errors;
  Gauge& open_connections;

  absl::Mutex reason_mu;
  absl::flat_hash_map<std::string, Counter*> reason_counters
      ABSL_GUARDED_BY(reason_mu);

  // Declared before the io_context: sessions destroyed with it unregister
  // themselves here.
  mutable absl::Mutex mu;
  absl::flat_hash_map<uint64_t, std::weak_ptr<ProxySession>> sessions
      ABSL_GUARDED_BY(mu);
  uint64_t next_session_id ABSL_GUARDED_BY(mu) = 1;
  bool accept_loop_running ABSL_GUARDED_BY(mu) = false;
  std::atomic<bool> draining{false};

  absl::Mutex shutdown_mu;
  bool shut_down ABSL_GUARDED_BY(shutdown_mu) = false;

  // One single-threaded event loop per worker thread. A connection lives on
  // one loop for its whole life, so its handlers never hop threads (no
  // strand, no cross-thread wake-ups). A loop blocked in Authorize() (a
  // cache miss waiting for the authority, bounded by the RPC timeout) delays
  // only the connections on that loop.
  std::vector<std::unique_ptr<asio::io_context>> loops;
  std::atomic<size_t> next_loop{0};
  // Keep the workers running while idle, so handlers posted by Shutdown()
  // always run; released at the end of Shutdown().
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;
  asio::any_io_executor acceptor_strand;  // on loops[0]
  tcp::acceptor acceptor;                 // used only on acceptor_strand
  std::vector<std::thread> threads;
  int port = 0;
};

// ---------------------------------------------------------------------------
// One client connection. All members are used only on the session's strand
// (the executor of both sockets and of the coroutine).

class ProxySession : public std::enable_shared_from_this<ProxySession> {
 public:
  ProxySession(ProxyServer::State& server, tcp::socket socket, uint64_t id)
      : s_(server),
        id_(id),
        stream_(std::move(socket)),
        upstream_(stream_.get_executor()) {
    s_.open_connections.Add(1);
    client_ip_ = ClientIp(stream_.socket());
    error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
  }

  ~ProxySession() {
    s_.open_connections.Add(-1);
    absl::MutexLock lock(&s_.mu);
    s_.sessions.erase(id_);
  }

  ProxySession(const ProxySession&) = delete;
  ProxySession& operator=(const ProxySession&) = delete;

  asio::any_io_executor executor() { return stream_.get_executor(); }

  static asio::awaitable<void> Run(std::shared_ptr<ProxySession> self) {
    co_await self->Serve();
    co_await self->CloseConnection();
  }

  // Shutdown step 1: finish the request in flight, then close; an idle
  // connection closes at once.
  void BeginDrain() {
    draining_ = true;
    if (idle_) {
      error_code ec;
      stream_.socket().cancel(ec);
    }
  }

  // Shutdown step 2 (grace elapsed): close everything now.
  void ForceClose() {
    draining_ = true;
    linger_ = false;
    stream_.close();
    upstream_.close();
  }

 private:
  enum class HeadResult { kOk, kClosed, kBad, kTooLarge, kBodyTooLarge };

  bool Draining() const {
    return draining_ || s_.draining.load(std::memory_order_relaxed);
  }

  asio::awaitable<void> Serve();
  asio::awaitable<HeadResult> ReadRequestHead(
      std::optional<http::request_parser<http::empty_body>>& hp);
  asio::awaitable<bool> HandleRequest(
      http::request_parser<http::buffer_body>& parser, RequestLog& log);
  asio::awaitable<bool> Forward(http::request_parser<http::buffer_body>& parser,
                                const AuthzResult& result, RequestLog& log,
                                bool has_body);
  // Sends a JSON error and finishes the request log. Returns true when the
  // connection may carry another request.
  asio::awaitable<bool> Respond(const FrontError& e, RequestLog& log,
                                unsigned version, bool keep_alive,
                                int retry_after_seconds = 0);
  asio::awaitable<void> CloseConnection();
  // After a request: keeps a reusable upstream connection for this session's
  // next request, closes any other.
  void ReleaseUpstream(bool reusable);
  // When the client connection ends: the kept connection goes to the pool.
  void ReturnUpstream();
  void Finish(RequestLog& log, int status, absl::string_view reason);
  char* RelayBuffer() {
    if (relay_buffer_ == nullptr) {
      relay_buffer_ = std::make_unique_for_overwrite<char[]>(kRelayBufferBytes);
    }
    return relay_buffer_.get();
  }

  ProxyServer::State& s_;
  const uint64_t id_;
  beast::tcp_stream stream_;
  beast::tcp_stream upstream_;
  beast::flat_buffer client_buffer_;
  beast::flat_buffer upstream_buffer_;
  std::unique_ptr<char[]> relay_buffer_;
  std::string client_ip_;
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
    asio::post(session->executor(), [session, fn] { fn(*session); });
  }
  // `live` may hold the last reference: it is released here, outside mu.
}

asio::awaitable<void> ProxySession::Serve() {
  for (;;) {
    std::optional<http::request_parser<http::empty_body>> hp;
    const HeadResult head = co_await ReadRequestHead(hp);
    if (head == HeadResult::kClosed) co_return;
    RequestLog log;
    if (head != HeadResult::kOk) {
      log.request_id = internal::NewRequestId();
      const FrontError& e = head == HeadResult::kTooLarge ? kHeadersTooLarge
                            : head == HeadResult::kBodyTooLarge ? kBodyTooLarge
                                                                : kBadRequest;
      co_await Respond(e, log, 11, /*keep_alive=*/false);
      co_return;
    }
    const auto& req = hp->get();
    log.method = std::string(AV(req.method_string()).substr(0, 32));
    log.path = LoggablePath(AV(req.target()));
    if (std::optional<FrontError> e = CheckRequestHead(req)) {
      log.request_id = internal::NewRequestId();
      co_await Respond(*e, log, req.version() == 10 ? 10 : 11,
                       /*keep_alive=*/false);
      co_return;
    }
    // The header is done and valid: switch to a parser that streams the
    // body through a caller-provided buffer.
    http::request_parser<http::buffer_body> parser(std::move(*hp));
    if (!co_await HandleRequest(parser, log)) co_return;
  }
}

asio::awaitable<ProxySession::HeadResult> ProxySession::ReadRequestHead(
    std::optional<http::request_parser<http::empty_body>>& hp) {
  internal::RequestHeadScanner scanner;
  std::chrono::steady_clock::time_point header_deadline;
  idle_ = client_buffer_.size() == 0;
  if (idle_) {
    // Keep-alive connections wait with as little memory as possible.
    client_buffer_.shrink_to_fit();
    upstream_buffer_.shrink_to_fit();
    relay_buffer_.reset();
  }
  if (!idle_) {
    header_deadline =
        std::chrono::steady_clock::now() + ToChrono(s_.config.header_timeout);
  }
  for (;;) {
    if (client_buffer_.size() > 0) {
      if (idle_) {
        idle_ = false;
        header_deadline = std::chrono::steady_clock::now() +
                          ToChrono(s_.config.header_timeout);
      }
      const auto data = client_buffer_.data();
      const auto result = scanner.Scan(absl::string_view(
          static_cast<const char*>(data.data()), data.size()));
      if (result == internal::RequestHeadScanner::Result::kComplete) break;
      if (result == internal::RequestHeadScanner::Result::kBad) {
        co_return HeadResult::kBad;
      }
      if (result == internal::RequestHeadScanner::Result::kTooLarge) {
        co_return HeadResult::kTooLarge;
      }
    }
    if (idle_ && Draining()) co_return HeadResult::kClosed;
    if (idle_) {
      stream_.expires_after(ToChrono(s_.config.idle_timeout));
    } else {
      stream_.expires_at(header_deadline);
    }
    auto [ec, n] = co_await stream_.async_read_some(
        client_buffer_.prepare(idle_ ? kIdleReadChunk : kHeaderReadChunk),
        kTok);
    client_buffer_.commit(n);
    // EOF, timeout, reset or cancellation: close quietly (there is nobody to
    // answer, or the client sent nothing worth answering).
    if (ec) co_return HeadResult::kClosed;
  }
  idle_ = false;
  client_buffer_.consume(scanner.head_begin());
  const std::size_t head_size = scanner.head_end() - scanner.head_begin();
  hp.emplace();
  hp->header_limit(static_cast<std::uint32_t>(kMaxRequestHeaderBytes));
  hp->body_limit(s_.config.body_limit);
  hp->eager(false);
  error_code ec;
  const std::size_t used =
      hp->put(asio::buffer(client_buffer_.data().data(), head_size), ec);
  if (ec == http::error::header_limit) co_return HeadResult::kTooLarge;
  if (ec == http::error::body_limit) co_return HeadResult::kBodyTooLarge;
  if (ec || !hp->is_header_done() || used != head_size) {
    co_return HeadResult::kBad;
  }
  client_buffer_.consume(used);
  co_return HeadResult::kOk;
}

asio::awaitable<bool> ProxySession::HandleRequest(
    http::request_parser<http::buffer_body>& parser, RequestLog& log) {
  const auto& req = parser.get();
  {
    auto range = req.equal_range("X-Request-Id");
    if (range.first != range.second && std::next(range.first) == range.second &&
        internal::IsValidRequestId(AV(range.first->value()))) {
      log.request_id = std::string(AV(range.first->value()));
    } else {
      log.request_id = internal::NewRequestId();
    }
  }
  const bool has_body =
      parser.chunked() || parser.content_length().value_or(0) > 0;

  RequestView view;
  view.method = AV(req.method_string());
  view.target = AV(req.target());
  view.client_ip = client_ip_;
  view.request_id = log.request_id;
  for (const auto& f : req) {
    for (const std::string& name : s_.credential_headers) {
      if (absl::EqualsIgnoreCase(AV(f.name_string()), name)) {
        view.credentials.emplace_back(name, AV(f.value()));
        break;
      }
    }
  }
  AuthzResult result;
  const auto decision_start = std::chrono::steady_clock::now();
  try {
    // Transitional: waits for the decision on the event loop.
    absl::Notification decided;
    s_.authorizer.Authorize(view, [&](AuthzResult r) {
      result = std::move(r);
      decided.Notify();
    });
    decided.WaitForNotification();
  } catch (const std::exception& e) {
    // Fail closed (never forward on an authorizer failure).
    LogEvent("authorizer threw", e.what());
    result = AuthzResult{};
    result.http_status = 503;
    result.reason = policy::Reason::kAuthorityUnavailable;
    result.message = "authorization temporarily unavailable";
    result.retry_after_seconds = 1;
  }
  s_.decision_seconds.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                    decision_start)
          .count());
  log.token_id = result.token_id;

  if (!result.allowed()) {
    int status = result.http_status;
    if (status < 400 || status > 599) status = 403;
    // The body (if any) is not read: close rather than parse past it.
    const bool keep = req.keep_alive() && !has_body && !Draining();
    const FrontError e{status, policy::ReasonCode(result.reason),
                       result.message};
    co_return co_await Respond(e, log, req.version(), keep,
                               result.retry_after_seconds);
  }
  if (!IsSafeHeaderValue(result.token_id) ||
      !IsSafeHeaderValue(result.plan_id)) {
    co_return co_await Respond(kInternalError, log, req.version(),
                               req.keep_alive() && !has_body && !Draining());
  }
  co_return co_await Forward(parser, result, log, has_body);
}

asio::awaitable<bool> ProxySession::Forward(
    http::request_parser<http::buffer_body>& parser, const AuthzResult& result,
    RequestLog& log, bool has_body) {
  const auto& req = parser.get();
  const unsigned client_version = req.version();
  const bool is_head = req.method() == http::verb::head;
  const bool client_keep_alive = req.keep_alive();
  const bool expect_continue =
      has_body && client_version == 11 &&
      absl::EqualsIgnoreCase(AV(req[http::field::expect]), "100-continue");

  // The upstream request: same method and request-target bytes.
  http::request<http::buffer_body> up;
  up.method_string(req.method_string());
  up.target(req.target());
  up.version(11);
  {
    const std::vector<std::string> nominated = ConnectionNominated(req);
    std::string forwarded_for;
    for (const auto& f : req) {
      const absl::string_view name = AV(f.name_string());
      // Names we set or strip are matched loosely ('_' as '-'): frameworks
      // that map headers to X_PAT_TOKEN_ID-style variables would otherwise
      // let "X_Pat_Token_Id" or "X_Figma_Token" stand in for the real ones.
      if (LooseNameEquals(name, "x-forwarded-for")) {
        if (absl::EqualsIgnoreCase(name, "x-forwarded-for")) {
          absl::StrAppend(&forwarded_for, forwarded_for.empty() ? "" : ", ",
                          AV(f.value()));
        }
        continue;
      }
      if (IsHopByHop(name) || IsNominated(nominated, name) ||
          LooseNameStartsWith(name, "x-pat-") ||
          LooseNameEquals(name, "x-request-id") ||
          absl::EqualsIgnoreCase(name, "content-length") ||
          absl::EqualsIgnoreCase(name, "expect")) {
        continue;
      }
      bool credential = false;
      for (const std::string& c : s_.credential_headers) {
        if (LooseNameEquals(name, c)) {
          credential = true;
          break;
        }
      }
      if (credential) continue;
      up.insert(f.name(), f.name_string(), f.value());
    }
    if (up.find(http::field::host) == up.end()) {
      up.set(http::field::host, BV(s_.upstream.authority()));
    }
    if (!result.token_id.empty()) {
      up.set("X-Pat-Token-Id", BV(result.token_id));
    }
    if (!result.plan_id.empty()) up.set("X-Pat-Plan-Id", BV(result.plan_id));
    up.set("X-Request-Id", BV(log.request_id));
    absl::StrAppend(&forwarded_for, forwarded_for.empty() ? "" : ", ",
                    client_ip_);
    up.set("X-Forwarded-For", BV(forwarded_for));
    if (parser.chunked()) {
      up.chunked(true);
    } else if (parser.content_length()) {
      up.content_length(*parser.content_length());
    }
  }

  char* const buf = RelayBuffer();
  if (has_body) {
    client_buffer_.reserve(client_buffer_.size() + kRelayBufferBytes);
  }
  const auto upstream_failed = [&]() -> asio::awaitable<bool> {
    s_.upstream_errors.Inc();
    ReleaseUpstream(/*reusable=*/false);
    co_return co_await Respond(kUpstreamUnavailable, log, client_version,
                               client_keep_alive && !has_body && !Draining());
  };

  std::optional<http::response_parser<http::buffer_body>> rp;
  bool sent_continue = false;
  for (int attempt = 0;; ++attempt) {
    // A pooled connection, or a new one. Reads are sized by the buffer's
    // free capacity.
    upstream_buffer_.clear();
    upstream_buffer_.reserve(kRelayBufferBytes);
    bool reused = false;
    // The connection this session kept from its previous request, if the
    // upstream has not closed it meanwhile (first attempt only).
    if (upstream_.socket().is_open()) {
      if (attempt == 0 && upstream_idle_ &&
          UpstreamPool::LooksHealthy(upstream_.socket().native_handle())) {
        reused = true;
      } else {
        upstream_.close();
      }
    }
    upstream_idle_ = false;
    if (reused) {
      // Kept: already registered with this loop.
    } else if (const int fd = s_.upstream.TakeIdle(); fd >= 0) {
      error_code ec;
      upstream_.socket().assign(s_.upstream.endpoint().protocol(), fd, ec);
      if (ec) {
        ::close(fd);
      } else {
        reused = true;
      }
    }
    if (!reused) {
      upstream_.expires_after(ToChrono(s_.config.upstream_connect_timeout));
      auto [ec] =
          co_await upstream_.async_connect(s_.upstream.endpoint(), kTok);
      if (ec) co_return co_await upstream_failed();
      error_code ignored;
      upstream_.socket().set_option(tcp::no_delay(true), ignored);
    }

    http::serializer<true, http::buffer_body> sr(up);
    up.body().data = nullptr;
    up.body().size = 0;
    up.body().more = has_body;
    upstream_.expires_after(ToChrono(s_.config.io_timeout));
    auto [wec, wn] = co_await http::async_write_header(upstream_, sr, kTok);
    if (wec) {
      ReleaseUpstream(false);
      // A stale pooled connection that took none of the request: retry once.
      if (reused && attempt == 0 && wn == 0) continue;
      co_return co_await upstream_failed();
    }

    if (has_body) {
      if (expect_continue && !sent_continue) {
        sent_continue = true;
        static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
        stream_.expires_after(ToChrono(s_.config.io_timeout));
        auto [cec, cn] = co_await asio::async_write(
            stream_, asio::buffer(kContinue, sizeof(kContinue) - 1), kTok);
        if (cec) {
          ReleaseUpstream(false);
          Finish(log, 499, kReasonClientClosed);
          co_return false;
        }
      }
      const RelayOutcome out = co_await RelayBody<true>(
          stream_, client_buffer_, parser, upstream_, up, sr, buf,
          kRelayBufferBytes, s_.config.io_timeout, [] {});
      if (out.status == RelayStatus::kReadError) {
        // The client's body failed: the upstream got a truncated request and
        // its connection is dropped.
        ReleaseUpstream(false);
        if (out.ec == http::error::body_limit) {
          co_return co_await Respond(kBodyTooLarge, log, client_version, false);
        }
        if (IsParseError(out.ec)) {
          co_return co_await Respond(kBadRequest, log, client_version, false);
        }
        Finish(log, 499, kReasonClientClosed);
        co_return false;
      }
      if (out.status == RelayStatus::kWriteError) {
        co_return co_await upstream_failed();
      }
    }

    // The response header, skipping interim (1xx) responses.
    bool header_ok = false;
    bool received_any = false;
    for (int interim = 0; interim <= kMaxInterimResponses; ++interim) {
      rp.emplace();
      rp->header_limit(static_cast<std::uint32_t>(kMaxUpstreamHeaderBytes));
      rp->body_limit(boost::none);
      if (is_head) rp->skip(true);
      upstream_.expires_after(ToChrono(s_.config.upstream_response_timeout));
      auto [rec, rn] = co_await http::async_read_header(
          upstream_, upstream_buffer_, *rp, kTok);
      if (rec) break;
      received_any = true;
      const unsigned status = rp->get().result_int();
      if (status == 101) break;  // never asked for: a protocol error
      if (status >= 100 && status < 200) continue;
      header_ok = true;
      break;
    }
    if (!header_ok) {
      const bool nothing =
          !received_any && !rp->got_some() && upstream_buffer_.size() == 0;
      ReleaseUpstream(false);
      // A stale pooled connection closed before answering: a bodiless
      // idempotent request can safely be sent again, once.
      if (reused && attempt == 0 && nothing && !has_body &&
          IsIdempotent(req.method())) {
        continue;
      }
      co_return co_await upstream_failed();
    }
    break;
  }

  // The response to the client.
  const auto& ures = rp->get();
  const unsigned status = ures.result_int();
  http::response<http::buffer_body> res;
  res.version(client_version);
  res.result(status);
  res.reason(ures.reason());
  {
    const std::vector<std::string> nominated = ConnectionNominated(ures);
    for (const auto& f : ures) {
      const absl::string_view name = AV(f.name_string());
      if (IsHopByHop(name) || IsNominated(nominated, name) ||
          absl::EqualsIgnoreCase(name, "content-length")) {
        continue;
      }
      res.insert(f.name(), f.name_string(), f.value());
    }
  }
  const bool no_body = is_head || status == 204 || status == 304;
  bool keep = client_keep_alive && !Draining();
  if (no_body) {
    // Content-Length describes the representation here: pass it on as is.
    if (auto it = ures.find(http::field::content_length); it != ures.end()) {
      res.set(http::field::content_length, it->value());
    }
  } else if (rp->content_length()) {
    res.content_length(*rp->content_length());
  } else if (client_version == 11) {
    res.chunked(true);
  } else {
    keep = false;  // HTTP/1.0: the body is delimited by the close
  }
  if (res.find("X-Request-Id") == res.end()) {
    res.set("X-Request-Id", BV(log.request_id));
  }
  res.keep_alive(keep);

  // The upstream connection goes back to the pool as soon as its response
  // is complete, before the client has all of it.
  const auto release_upstream = [&] {
    ReleaseUpstream(rp->is_done() && rp->keep_alive() &&
                    upstream_buffer_.size() == 0);
  };
  // Small responses usually arrive whole with their header: parse what is
  // already buffered into the relay buffer, so that header and body (all of
  // it, or a first piece) leave in one write.
  std::size_t prefetched = 0;
  {
    rp->get().body().data = buf;
    rp->get().body().size = kRelayBufferBytes;
    while (!rp->is_done() && upstream_buffer_.size() > 0 &&
           rp->get().body().size > 0) {
      error_code pec;
      const std::size_t used = rp->put(upstream_buffer_.data(), pec);
      upstream_buffer_.consume(used);
      if (pec == http::error::need_buffer) pec = {};
      if (pec) {
        s_.upstream_errors.Inc();
        ReleaseUpstream(false);
        co_return co_await Respond(kUpstreamUnavailable, log, client_version,
                                   client_keep_alive && !Draining());
      }
      if (used == 0) break;
    }
    prefetched = kRelayBufferBytes - rp->get().body().size;
  }
  if (rp->is_done()) release_upstream();

  http::serializer<false, http::buffer_body> rsr(res);
  res.body().data = prefetched > 0 ? buf : nullptr;
  res.body().size = prefetched;
  res.body().more = !rp->is_done();
  stream_.expires_after(ToChrono(s_.config.io_timeout));
  auto [hec, hn] = prefetched > 0 || rp->is_done()
                       ? co_await http::async_write(stream_, rsr, kTok)
                       : co_await http::async_write_header(stream_, rsr, kTok);
  if (hec == http::error::need_buffer) hec = {};
  if (hec) {
    ReleaseUpstream(false);
    Finish(log, 499, kReasonClientClosed);
    co_return false;
  }
  const RelayOutcome out = co_await RelayBody<false>(
      upstream_, upstream_buffer_, *rp, stream_, res, rsr, buf,
      kRelayBufferBytes, s_.config.io_timeout, release_upstream);
  if (out.status == RelayStatus::kReadError) {
    // The upstream failed mid-body: the client sees a truncated response.
    s_.upstream_errors.Inc();
    ReleaseUpstream(false);
    Finish(log, static_cast<int>(status), kReasonUpstreamUnavailable);
    co_return false;
  }
  if (out.status == RelayStatus::kWriteError) {
    ReleaseUpstream(false);
    Finish(log, 499, kReasonClientClosed);
    co_return false;
  }
  release_upstream();  // no-op when already released
  Finish(log, static_cast<int>(status), kReasonAllowed);
  co_return keep;
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

asio::awaitable<bool> ProxySession::Respond(const FrontError& e,
                                            RequestLog& log, unsigned version,
                                            bool keep_alive,
                                            int retry_after_seconds) {
  http::response<http::string_body> res;
  res.version(version == 10 ? 10 : 11);
  res.result(static_cast<unsigned>(e.status));
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.set("X-Request-Id", BV(log.request_id));
  if (e.status == 401) {
    res.set(http::field::www_authenticate, "Bearer error=\"invalid_token\"");
  }
  if (retry_after_seconds > 0) {
    res.set(http::field::retry_after, std::to_string(retry_after_seconds));
  }
  res.body() = internal::ErrorBody(e.status, e.message, e.reason);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  stream_.expires_after(ToChrono(s_.config.io_timeout));
  auto [ec, n] = co_await http::async_write(stream_, res, kTok);
  Finish(log, e.status, e.reason);
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
  error_code ec;
  if (linger_ && stream_.socket().is_open()) {
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(ToChrono(kLingerTimeout));
    std::size_t drained = 0;
    char* const scratch = RelayBuffer();
    while (drained < kLingerMaxBytes) {
      auto [rec, n] = co_await stream_.async_read_some(
          asio::buffer(scratch, kRelayBufferBytes), kTok);
      drained += n;
      if (rec) break;
    }
  }
  stream_.close();
  ReturnUpstream();
}

void ProxySession::Finish(RequestLog& log, int status,
                          absl::string_view reason) {
  log.status = status;
  log.reason = std::string(reason);
  const auto elapsed = std::chrono::steady_clock::now() - log.start;
  s_.RequestsFor(reason).Inc();
  s_.proxy_seconds.Observe(std::chrono::duration<double>(elapsed).count());
  if (!s_.config.access_log) return;
  const int64_t latency_us =
      std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
  const std::string line = absl::StrCat(
      "{\"time\":",
      internal::JsonQuote(absl::FormatTime(
          "%Y-%m-%dT%H:%M:%E6SZ", log.start_wall, absl::UTCTimeZone())),
      ",\"request_id\":", internal::JsonQuote(log.request_id),
      ",\"method\":", internal::JsonQuote(log.method),
      ",\"path\":", internal::JsonQuote(log.path), ",\"status\":", log.status,
      ",\"reason\":", internal::JsonQuote(log.reason),
      ",\"token_id\":", internal::JsonQuote(log.token_id),
      ",\"latency_us\":", latency_us, "}");
  if (s_.config.access_log_sink) {
    s_.config.access_log_sink(line);
  } else {
    LogLine(line);
  }
}

// ---------------------------------------------------------------------------
// Accepting

namespace {

asio::awaitable<void> AcceptLoop(ProxyServer::State* s) {
  for (;;) {
    tcp::socket socket(s->NextLoop());
    auto [ec] = co_await s->acceptor.async_accept(socket, kTok);
    if (s->draining.load() || !s->acceptor.is_open()) break;
    if (ec) {
      if (ec == asio::error::operation_aborted) break;
      // E.g. out of file descriptors: back off instead of spinning.
      LogEvent("accept failed", ec.message());
      asio::steady_timer backoff(co_await asio::this_coro::executor);
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(kTok);
      continue;
    }
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

}  // namespace

// ---------------------------------------------------------------------------
// ProxyServer

absl::StatusOr<std::unique_ptr<ProxyServer>> ProxyServer::Create(
    const ProxyServerConfig& config, Authorizer& authorizer,
    UpstreamPool& upstream, MetricsRegistry& metrics) {
  if (config.workers < 0) {
    return absl::InvalidArgumentError("workers must be >= 0");
  }
  if (config.body_limit == 0) {
    return absl::InvalidArgumentError("body_limit must be positive");
  }
  for (absl::Duration d :
       {config.idle_timeout, config.header_timeout, config.io_timeout,
        config.upstream_connect_timeout, config.upstream_response_timeout}) {
    if (d <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError("timeouts must be positive");
    }
  }
  std::vector<std::string> credentials;
  for (const std::string& name : config.credential_headers) {
    if (!IsToken(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("credential header \"", name, "\" is not a field name"));
    }
    credentials.push_back(absl::AsciiStrToLower(name));
  }
  auto endpoint = ResolveHostPort(config.listen);
  if (!endpoint.ok()) return endpoint.status();
  const int workers =
      config.workers > 0
          ? config.workers
          : std::max(4,
                     2 * static_cast<int>(std::thread::hardware_concurrency()));

  auto state = std::make_unique<State>(config, std::move(credentials),
                                       authorizer, upstream, metrics, workers);
  // Make the "allowed" series visible from the start.
  state->RequestsFor(kReasonAllowed);
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
  s.work.clear();
  for (const auto& loop : s.loops) loop->stop();
  for (std::thread& t : s.threads) t.join();
  s.threads.clear();
}

}  // namespace pat::sidecar
