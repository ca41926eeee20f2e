// The sidecar's HTTP front end over real sockets on 127.0.0.1: a ProxyServer
// in front of an in-process pat-sample-upstream, with a fake Authorizer that
// decides by credential value and path. Raw TCP clients send exact bytes, so
// request-smuggling shapes reach the server as written.

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "common/policy/policy.h"
#include "common/policy/reason.h"
#include "sidecar/admin_server.h"
#include "sidecar/authorizer.h"
#include "sidecar/http_limits.h"
#include "sidecar/metrics.h"
#include "sidecar/proxy_server.h"
#include "sidecar/upstream_pool.h"
#include "tools/sample_upstream_server.h"

namespace pat::sidecar {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

constexpr char kGoodToken[] = "good";
constexpr char kTokenId[] = "tok_good";
constexpr char kPlanId[] = "plan_1";

std::string S(beast::string_view s) { return std::string(s.data(), s.size()); }

// Polls `cond` until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& cond,
             absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!cond()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

bool IsHex32(absl::string_view s) {
  return s.size() == 32 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// ---------------------------------------------------------------------------
// Fake authorizer: the credential value decides.
//   "good" (as "Bearer good" or X-Figma-Token: good)  allowed, unless the path
//                                                      starts with /forbidden
//   "unavailable"                                      503 + Retry-After: 7
//   "throw"                                            throws
//   anything else                                      401 token_unknown
// No credential: 401 token_missing; several: 401 token_ambiguous; a target
// that does not start with "/": 400 path_invalid.

struct RecordedCall {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> credentials;
  std::string client_ip;
  std::string request_id;
};

// Decisions complete inline, or (set_async(true), and always for paths
// starting with /async) later from the authorizer's own thread, as the real
// authorizer does for cache misses.
class FakeAuthorizer : public Authorizer {
 public:
  FakeAuthorizer() : completer_([this] { RunCompleter(); }) {}
  ~FakeAuthorizer() override {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    completer_.join();
  }

  void Authorize(const RequestView& request, AuthorizeCallback done) override {
    AuthzResult result = Decide(request);
    if (!async_.load() && !absl::StartsWith(request.target, "/async")) {
      std::move(done)(std::move(result));
      return;
    }
    absl::MutexLock lock(&mu_);
    queue_.emplace_back(std::move(done), std::move(result));
  }
  void set_async(bool async) { async_.store(async); }
  bool WantsBody(absl::string_view, absl::string_view) const override {
    return false;
  }

  AuthzResult Decide(const RequestView& request) {
    RecordedCall call{std::string(request.method),
                      std::string(request.target),
                      {},
                      std::string(request.client_ip),
                      std::string(request.request_id)};
    for (const auto& [name, value] : request.credentials) {
      call.credentials.emplace_back(std::string(name), std::string(value));
    }
    {
      absl::MutexLock lock(&mu_);
      calls_.push_back(call);
    }
    AuthzResult r;
    const auto deny = [&r](int status, absl::string_view reason,
                           std::string message) {
      r.http_status = status;
      r.reason = *policy::ReasonFromCode(reason);
      r.message = std::move(message);
      return r;
    };
    if (!absl::StartsWith(call.target, "/")) {
      return deny(400, "path_invalid", "the request path is not canonical");
    }
    if (call.credentials.empty()) {
      return deny(401, "token_missing", "no token");
    }
    if (call.credentials.size() > 1) {
      return deny(401, "token_ambiguous", "more than one token");
    }
    std::string secret = call.credentials[0].second;
    if (call.credentials[0].first == "authorization") {
      if (!absl::StartsWith(secret, "Bearer ")) {
        return deny(401, "token_malformed", "malformed token");
      }
      secret = secret.substr(7);
    }
    if (secret == "throw") throw std::runtime_error("decoder exploded");
    if (secret == "unavailable") {
      deny(503, "authority_unavailable", "try again");
      r.retry_after_seconds = 7;
      return r;
    }
    if (secret != kGoodToken) {
      // Quotes and a backslash exercise the JSON escaping of "err".
      return deny(401, "token_unknown", "unknown \"token\" \\ here");
    }
    r.token_id = kTokenId;
    r.plan_id = kPlanId;
    if (absl::StartsWith(call.target, "/forbidden")) {
      return deny(403, "scope_missing", "the token lacks a scope");
    }
    r.http_status = 200;
    r.reason = policy::Reason::kAllowed;
    return r;
  }

  bool Ready() const override { return ready_.load(); }
  void set_ready(bool ready) { ready_.store(ready); }

  std::vector<RecordedCall> calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  size_t call_count() const {
    absl::MutexLock lock(&mu_);
    return calls_.size();
  }
  RecordedCall last_call() const {
    absl::MutexLock lock(&mu_);
    return calls_.empty() ? RecordedCall{} : calls_.back();
  }

 private:
  void RunCompleter() {
    for (;;) {
      std::vector<std::pair<AuthorizeCallback, AuthzResult>> batch;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](FakeAuthorizer* a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(a->mu_) {
              return a->stop_ || !a->queue_.empty();
            },
            this));
        if (queue_.empty() && stop_) return;
        batch.swap(queue_);
      }
      for (auto& [done, result] : batch) std::move(done)(std::move(result));
    }
  }

  mutable absl::Mutex mu_;
  std::vector<RecordedCall> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<AuthorizeCallback, AuthzResult>> queue_
      ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> async_{false};
  std::atomic<bool> ready_{true};
  std::thread completer_;
};

// ---------------------------------------------------------------------------
// A raw TCP client: writes exact bytes, reads with a timeout.

using Response = http::response<http::string_body>;

class RawClient {
 public:
  explicit RawClient(int port) : socket_(ioc_) {
    buffer_.reserve(64 * 1024);
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                  static_cast<unsigned short>(port)));
  }

  error_code Send(absl::string_view bytes) {
    bool done = false;
    error_code result;
    asio::async_write(socket_, asio::buffer(bytes.data(), bytes.size()),
                      [&](error_code ec, size_t) {
                        result = ec;
                        done = true;
                      });
    if (!Run(done)) return asio::error::timed_out;
    return result;
  }

  // Reads one response; nullopt on EOF, error or timeout.
  std::optional<Response> Read(bool head = false) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (head) parser.skip(true);
    bool done = false;
    error_code result;
    http::async_read(socket_, buffer_, parser, [&](error_code ec, size_t) {
      result = ec;
      done = true;
    });
    if (!Run(done) || result) {
      last_error_ = result;
      return std::nullopt;
    }
    return parser.release();
  }

  // True when the server has closed the connection: EOF (or a reset) with
  // no further bytes. Checked on the descriptor directly: Asio does not
  // re-report an EOF it has already delivered to an earlier read.
  bool ClosedByPeer() {
    if (buffer_.size() > 0) return false;
    pollfd p{socket_.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, /*timeout_ms=*/20000) <= 0) return false;
    char c;
    const ssize_t n =
        ::recv(socket_.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

  error_code last_error() const { return last_error_; }

 private:
  bool Run(bool& done) {
    ioc_.restart();
    ioc_.run_for(std::chrono::seconds(20));
    if (!done) {
      error_code ec;
      socket_.cancel(ec);
      ioc_.restart();
      ioc_.run();
      return false;
    }
    return true;
  }

  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  error_code last_error_;
};

// "METHOD target HTTP/1.1" with Host, the given header lines and body
// (Content-Length added when the body is not empty and `add_length`).
std::string Request(absl::string_view method, absl::string_view target,
                    const std::vector<std::string>& header_lines = {},
                    absl::string_view body = "", bool add_length = true) {
  std::string out = absl::StrCat(method, " ", target, " HTTP/1.1\r\n");
  absl::StrAppend(&out, "Host: api.example\r\n");
  for (const std::string& line : header_lines) {
    absl::StrAppend(&out, line, "\r\n");
  }
  if (!body.empty() && add_length) {
    absl::StrAppend(&out, "Content-Length: ", body.size(), "\r\n");
  }
  absl::StrAppend(&out, "\r\n", body);
  return out;
}

std::string GoodGet(absl::string_view target) {
  return Request("GET", target, {"Authorization: Bearer good"});
}

nlohmann::json Echo(const Response& r) {
  return nlohmann::json::parse(r.body(), nullptr, /*allow_exceptions=*/false);
}

std::vector<std::string> EchoHeader(const nlohmann::json& echo,
                                    const std::string& name) {
  std::vector<std::string> out;
  if (!echo.contains("headers") || !echo["headers"].contains(name)) return out;
  for (const auto& v : echo["headers"][name])
    out.push_back(v.get<std::string>());
  return out;
}

// ---------------------------------------------------------------------------

class ProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tools::SampleUpstreamConfig upstream_config;
    upstream_config.listen = "127.0.0.1:0";
    auto upstream = tools::SampleUpstream::Create(upstream_config);
    ASSERT_TRUE(upstream.ok()) << upstream.status();
    upstream_ = std::move(*upstream);
    auto pool = UpstreamPool::Create(
        absl::StrCat("http://127.0.0.1:", upstream_->port()), 8);
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
    StartProxy(DefaultConfig());
  }

  ProxyServerConfig DefaultConfig() {
    ProxyServerConfig config;
    config.listen = "127.0.0.1:0";
    config.workers = 4;
    config.access_log_sink = [this](absl::string_view line) {
      absl::MutexLock lock(&log_mu_);
      log_lines_.emplace_back(line);
    };
    return config;
  }

  void StartProxy(const ProxyServerConfig& config) {
    auto proxy = ProxyServer::Create(config, auth_, *pool_, metrics_);
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = std::move(*proxy);
  }

  int port() const { return proxy_->port(); }
  uint64_t served() const { return upstream_->requests_served(); }

  std::vector<std::string> LogLines() {
    absl::MutexLock lock(&log_mu_);
    return log_lines_;
  }

  // Sends `bytes` (a request the proxy must reject, followed by a pipelined
  // good request) and expects `status`/`reason`, then the connection closed
  // and nothing forwarded.
  void ExpectRejectedAndClosed(absl::string_view bytes, unsigned status,
                               absl::string_view reason) {
    const uint64_t before = served();
    RawClient client(port());
    ASSERT_FALSE(client.Send(absl::StrCat(bytes, GoodGet("/smuggled"))));
    std::optional<Response> r = client.Read();
    ASSERT_TRUE(r.has_value()) << client.last_error().message();
    EXPECT_EQ(r->result_int(), status);
    const nlohmann::json body = Echo(*r);
    EXPECT_EQ(body.value("reason", ""), reason);
    EXPECT_EQ(body.value("status", 0), static_cast<int>(status));
    EXPECT_EQ(S((*r)[http::field::content_type]), "application/json");
    EXPECT_FALSE(r->keep_alive());
    EXPECT_TRUE(client.ClosedByPeer());
    EXPECT_EQ(served(), before);
  }

  void TearDown() override {
    // Servers first: their threads use everything declared before them.
    proxy_.reset();
    pool_.reset();
    upstream_.reset();
  }

  MetricsRegistry metrics_;
  FakeAuthorizer auth_;
  absl::Mutex log_mu_;
  std::vector<std::string> log_lines_ ABSL_GUARDED_BY(log_mu_);
  std::unique_ptr<tools::SampleUpstream> upstream_;
  std::unique_ptr<UpstreamPool> pool_;
  std::unique_ptr<ProxyServer> proxy_;
};

TEST_F(ProxyTest, AllowedRequestIsForwardedWithSameMethodAndTarget) {
  RawClient client(port());
  ASSERT_FALSE(
      client.Send("GET /v1/files/abc%2Fdef?x=1&y=two HTTP/1.1\r\n"
                  "Host: api.example\r\n"
                  "Authorization: Bearer good\r\n"
                  "X-Pat-Token-Id: forged\r\n"
                  "x-pat-plan-id: forged\r\n"
                  "X-PAT-Anything: z\r\n"
                  "X_Pat_Token_Id: underscored\r\n"
                  "x-pat_plan-id: underscored\r\n"
                  "X_Figma_Token: good\r\n"
                  "X_Request_Id: spoofed\r\n"
                  "X_Forwarded_For: 6.6.6.6\r\n"
                  "Connection: keep-alive, X-Hop\r\n"
                  "X-Hop: 1\r\n"
                  "Keep-Alive: timeout=5\r\n"
                  "TE: trailers\r\n"
                  "Proxy-Authorization: Basic abc\r\n"
                  "X-Forwarded-For: 10.0.0.1\r\n"
                  "X-Custom: kept\r\n"
                  "X-Custom: twice\r\n"
                  "\r\n"));
  std::optional<Response> r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200u);
  const nlohmann::json echo = Echo(*r);
  ASSERT_TRUE(echo.is_object()) << r->body();
  EXPECT_EQ(echo["method"], "GET");
  EXPECT_EQ(echo["target"], "/v1/files/abc%2Fdef?x=1&y=two");
  EXPECT_EQ(echo["version"], "1.1");
  for (const char* removed :
       {"authorization", "x-figma-token", "x-pat-anything", "connection",
        "x-hop", "keep-alive", "te", "proxy-authorization", "x_pat_token_id",
        "x-pat_plan-id", "x_figma_token", "x_request_id", "x_forwarded_for"}) {
    EXPECT_THAT(EchoHeader(echo, removed), ::testing::IsEmpty()) << removed;
  }
  EXPECT_THAT(EchoHeader(echo, "x-pat-token-id"), ElementsAre(kTokenId));
  EXPECT_THAT(EchoHeader(echo, "x-pat-plan-id"), ElementsAre(kPlanId));
  EXPECT_THAT(EchoHeader(echo, "x-custom"), ElementsAre("kept", "twice"));
  EXPECT_THAT(EchoHeader(echo, "host"), ElementsAre("api.example"));
  EXPECT_THAT(EchoHeader(echo, "x-forwarded-for"),
              ElementsAre("10.0.0.1, 127.0.0.1"));
  const std::vector<std::string> ids = EchoHeader(echo, "x-request-id");
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_TRUE(IsHex32(ids[0])) << ids[0];
  EXPECT_EQ(S((*r)["X-Request-Id"]), ids[0]);

  const RecordedCall call = auth_.last_call();
  EXPECT_EQ(call.method, "GET");
  EXPECT_EQ(call.target, "/v1/files/abc%2Fdef?x=1&y=two");
  EXPECT_THAT(call.credentials,
              ElementsAre(Pair("authorization", "Bearer good")));
  EXPECT_EQ(call.client_ip, "127.0.0.1");
  EXPECT_EQ(call.request_id, ids[0]);
  EXPECT_EQ(served(), 1u);
}

TEST_F(ProxyTest, UnusualMethodsAndFigmaTokenHeaderAreForwarded) {
  RawClient client(port());
  ASSERT_FALSE(
      client.Send(Request("PURGE", "/v1/x", {"X-Figma-Token: good"}, "abc")));
  std::optional<Response> r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200u);
  nlohmann::json echo = Echo(*r);
  EXPECT_EQ(echo["method"], "PURGE");
  EXPECT_EQ(echo["body_length"], 3);
  EXPECT_THAT(EchoHeader(echo, "x-figma-token"), ::testing::IsEmpty());

  ASSERT_FALSE(client.Send(Request("PATCH", "/v1/files/K/x;y?a=%20",
                                   {"Authorization: Bearer good"}, "{}")));
  r = client.Read();
  ASSERT_TRUE(r.has_value());
  echo = Echo(*r);
  EXPECT_EQ(echo["method"], "PATCH");
  EXPECT_EQ(echo["target"], "/v1/files/K/x;y?a=%20");
}

TEST_F(ProxyTest, EveryCredentialOccurrenceReachesTheAuthorizerInOrder) {
  RawClient client(port());
  ASSERT_FALSE(client.Send(Request(
      "GET", "/v1/x",
      {"X-Figma-Token: a", "Authorization: Bearer b", "authorization: Basic c",
       "AUTHORIZATION: Bearer x, Bearer y"})));
  std::optional<Response> r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 401u);
  EXPECT_EQ(Echo(*r).value("reason", ""), "token_ambiguous");
  EXPECT_THAT(
      auth_.last_call().credentials,
      ElementsAre(Pair("x-figma-token", "a"), Pair("authorization", "Bearer b"),
                  Pair("authorization", "Basic c"),
                  Pair("authorization", "Bearer x, Bearer y")));
  EXPECT_EQ(served(), 0u);
}

TEST_F(ProxyTest, DeniedRequestsGetJsonErrorsAndNeverReachUpstream) {
  auth_.set_async(true);  // decisions complete on another thread
  RawClient client(port());
  // 401 with WWW-Authenticate and an exact, escaped body.
  ASSERT_FALSE(client.Send(Request(
      "GET", "/v1/x", {"Authorization: Bearer nope", "X-Request-Id: req-1"})));
  std::optional<Response> r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 401u);
  EXPECT_EQ(r->body(),
            policy::ErrorBody(policy::Reason::kTokenUnknown,
                              "unknown \"token\" \\ here"));
  EXPECT_THAT(r->body(), HasSubstr(R"(: unknown \"token\" \\ here",)"
                                   R"("reason":"token_unknown"})"));
  EXPECT_EQ(S((*r)[http::field::www_authenticate]),
            R"(Bearer error="invalid_token")");
  EXPECT_EQ(S((*r)[http::field::content_type]), "application/json");
  EXPECT_EQ(S((*r)["X-Request-Id"]), "req-1");
  EXPECT_TRUE(r->keep_alive());

  // Missing credential, same connection (keep-alive after a denial).
  ASSERT_FALSE(client.Send(Request("GET", "/v1/x")));
  r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 401u);
  EXPECT_EQ(r->body(),
            policy::ErrorBody(policy::Reason::kTokenMissing, "no token"));

  // 403: no WWW-Authenticate.
  ASSERT_FALSE(client.Send(GoodGet("/forbidden/thing")));
  r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 403u);
  EXPECT_EQ(Echo(*r).value("reason", ""), "scope_missing");
  EXPECT_EQ(r->find(http::field::www_authenticate), r->end());

  // 503 with Retry-After.
  ASSERT_FALSE(client.Send(
      Request("GET", "/v1/x", {"Authorization: Bearer unavailable"})));
  r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 503u);
  EXPECT_EQ(S((*r)[http::field::retry_after]), "7");
  EXPECT_EQ(Echo(*r).value("reason", ""), "authority_unavailable");

  // Malformed Authorization values still reach the authorizer.
  ASSERT_FALSE(
      client.Send(Request("GET", "/v1/x", {"Authorization: Basic Zm9v"})));
  r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(Echo(*r).value("reason", ""), "token_malformed");

  EXPECT_EQ(served(), 0u);

  // The connection still works for an allowed request.
  ASSERT_FALSE(client.Send(GoodGet("/v1/ok")));
  r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200u);
  EXPECT_EQ(served(), 1u);
}

TEST_F(ProxyTest, DeniedRequestWithBodyClosesTheConnection) {
  RawClient client(port());
  ASSERT_FALSE(client.Send(
      Request("POST", "/v1/x", {"Authorization: Bearer nope"}, "hello") +
      GoodGet("/v1/after")));
  std::optional<Response> r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 401u);
  EXPECT_FALSE(r->keep_alive());
  EXPECT_TRUE(client.ClosedByPeer());
  EXPECT_EQ(served(), 0u);
}

TEST_F(ProxyTest, AuthorizerFailureFailsClosed) {
  RawClient client(port());
  ASSERT_FALSE(
      client.Send(Request("GET", "/v1/x", {"Authorization: Bearer throw"})));
  std::optional<Response> r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 503u);
  EXPECT_EQ(Echo(*r).value("reason", ""), "authority_unavailable");
  EXPECT_EQ(served(), 0u);
}

TEST_F(ProxyTest, AbsoluteFormTargetGoesToTheAuthorizerUnchanged) {
  RawClient client(port());
  ASSERT_FALSE(client.Send(Request("GET", "http://evil.example/v1/x?q=1",
                                   {"Authorization: Bearer good"})));
  std::optional<Response> r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 400u);
  EXPECT_EQ(Echo(*r).value("reason", ""), "path_invalid");
  EXPECT_EQ(auth_.last_call().target, "http://evil.example/v1/x?q=1");
  EXPECT_EQ(served(), 0u);
}

TEST_F(ProxyTest, MoreThan100HeadersIs431) {
  std::vector<std::string> lines = {"Authorization: Bearer good"};
  // Host + Authorization + 98 = 100 fields: accepted.
  for (int i = 0; i < 98; ++i) lines.push_back(absl::StrCat("X-H", i, ": v"));
  {
    RawClient client(port());
    ASSERT_FALSE(client.Send(Request("GET", "/v1/x", lines)));
    std::optional<Response> r = client.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->result_int(), 200u);
  }
  // 101 fields.
  lines.push_back("X-One-Too-Many: v");
  ExpectRejectedAndClosed(Request("GET", "/v1/x", lines), 431,
                          "headers_too_large");
  EXPECT_EQ(auth_.call_count(), 1u);  // the rejected request was never decided
}

TEST_F(ProxyTest, ManyTinyHeadersAre431) {
  std::string head = "GET /v1/x HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 10000; ++i) head += "a:\r\n";
  head += "\r\n";
  ExpectRejectedAndClosed(head, 431, "headers_too_large");
}

TEST_F(ProxyTest, MoreThan60KiBOfHeadersIs431) {
  {
    // Just under the limit: accepted.
    RawClient client(port());
    ASSERT_FALSE(client.Send(
        Request("GET", "/v1/x",
                {"Authorization: Bearer good",
                 absl::StrCat("X-Big: ", std::string(58 * 1024, 'a'))})));
    std::optional<Response> r = client.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->result_int(), 200u);
  }
  const uint64_t before = served();
  ExpectRejectedAndClosed(
      Request("GET", "/v1/x",
              {"Authorization: Bearer good",
               absl::StrCat("X-Big: ", std::string(61 * 1024, 'a'))}),
      431, "headers_too_large");
  EXPECT_EQ(served(), before);
}

struct SmugglingCase {
  const char* name;
  std::string bytes;
};

std::vector<SmugglingCase> SmugglingCases() {
  const std::string auth = "Authorization: Bearer good\r\n";
  const std::string start = "POST /v1/upload HTTP/1.1\r\nHost: h\r\n" + auth;
  return {
      {"CL then TE",
       start + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
               "0\r\n\r\n"},
      {"TE then CL",
       start + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
               "0\r\n\r\n"},
      {"two equal CL",
       start + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
      {"two different CL",
       start + "Content-Length: 5\r\nContent-Length: 0\r\n\r\nhello"},
      {"CL list", start + "Content-Length: 5, 5\r\n\r\nhello"},
      {"CL sign", start + "Content-Length: +5\r\n\r\nhello"},
      {"space before colon", start + "Content-Length : 5\r\n\r\nhello"},
      {"TE chunked, identity",
       start + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"},
      {"TE identity", start + "Transfer-Encoding: identity\r\n\r\nhello"},
      {"TE gzip, chunked",
       start + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
      {"two TE",
       start + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
               "0\r\n\r\n"},
      {"duplicate TE chunked",
       start + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
               "\r\n0\r\n\r\n"},
      {"tab in name", start + "Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n"},
      {"TE value with vertical tab", start + "Transfer-Encoding: \x0b"
                                             "chunked\r\n\r\n0\r\n\r\n"},
      {"obs-fold", start + "X-A: a\r\n b\r\nContent-Length: 0\r\n\r\n"},
      {"obs-fold into TE",
       start + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"},
      {"whitespace before first field",
       "POST /v1/upload HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: "
       "h\r\n" +
           auth + "\r\n0\r\n\r\n"},
      {"bare LF", "GET /v1/x HTTP/1.1\nHost: h\n" + auth + "\n"},
      {"HTTP/1.0 with TE", "POST /v1/upload HTTP/1.0\r\n" + auth +
                               "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"two Host",
       "GET /v1/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n" + auth + "\r\n"},
      {"no Host on HTTP/1.1", "GET /v1/x HTTP/1.1\r\n" + auth + "\r\n"},
      {"NUL in credential",
       std::string("GET /v1/x HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer "
                   "good") +
           '\0' + "x\r\n\r\n"},
      {"DEL in credential",
       "GET /v1/x HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer go\x7fod\r\n"
       "\r\n"},
      {"CR in credential",
       "GET /v1/x HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer go\rod\r\n"
       "\r\n"},
      {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
      {"HTTP/1.2", "GET /v1/x HTTP/1.2\r\nHost: h\r\n" + auth + "\r\n"},
      {"Upgrade", "GET /v1/x HTTP/1.1\r\nHost: h\r\n" + auth +
                      "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"},
      {"CONNECT", "CONNECT api.example:443 HTTP/1.1\r\nHost: api.example\r\n" +
                      auth + "\r\n"},
  };
}

TEST_F(ProxyTest, SmugglingShapesAre400AndCloseTheConnection) {
  for (const SmugglingCase& c : SmugglingCases()) {
    SCOPED_TRACE(c.name);
    ExpectRejectedAndClosed(c.bytes, 400, "request_invalid");
  }
  EXPECT_EQ(served(), 0u);
}

TEST_F(ProxyTest, MalformedChunkIs400AndClosesTheConnection) {
  for (absl::string_view body :
       {"zz\r\nhello\r\n0\r\n\r\n", "5\r\nhelloXX0\r\n\r\n",
        "-1\r\nhello\r\n0\r\n\r\n"}) {
    SCOPED_TRACE(body);
    ExpectRejectedAndClosed(
        Request("POST", "/v1/upload",
                {"Authorization: Bearer good", "Transfer-Encoding: chunked"},
                body, /*add_length=*/false),
        400, "request_invalid");
  }
  // The truncated requests never completed at the upstream.
  EXPECT_EQ(served(), 0u);
}

TEST_F(ProxyTest, KeepAliveCarriesThreeRequestsOverPooledUpstreamConnections) {
  auth_.set_async(true);  // decisions complete on another thread
  RawClient client(port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_FALSE(
        client.Send(i == 1 ? Request("POST", "/v1/p",
                                     {"Authorization: Bearer good"}, "payload")
                           : GoodGet(absl::StrCat("/v1/k", i))));
    std::optional<Response> r = client.Read();
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->result_int(), 200u);
    EXPECT_TRUE(r->keep_alive());
  }
  EXPECT_EQ(served(), 3u);
  // One upstream connection, reused from the pool.
  EXPECT_EQ(upstream_->connections_accepted(), 1u);

  // The sample upstream's own counter endpoint agrees (through the proxy).
  ASSERT_FALSE(client.Send(GoodGet("/__pat_sample/count")));
  std::optional<Response> r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(Echo(*r).value("count", -1), 3);
}

TEST_F(ProxyTest, PipelinedRequestsAreAnsweredInOrder) {
  auth_.set_async(true);  // decisions complete on another thread
  RawClient client(port());
  ASSERT_FALSE(client.Send(
      GoodGet("/v1/a") + Request("GET", "/v1/b", {"Authorization: Bearer no"}) +
      GoodGet("/v1/c")));
  std::optional<Response> a = client.Read();
  std::optional<Response> b = client.Read();
  std::optional<Response> c = client.Read();
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(Echo(*a)["target"], "/v1/a");
  EXPECT_EQ(b->result_int(), 401u);
  EXPECT_EQ(Echo(*c)["target"], "/v1/c");
}

TEST_F(ProxyTest, FiveMebibyteBodiesStreamIntact) {
  auth_.set_async(true);  // decisions complete on another thread
  std::string body(5 * 1024 * 1024, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 31);
  const std::string hash = absl::StrFormat("%016x", tools::Fnv1a64(body));
  RawClient client(port());
  // Content-Length.
  ASSERT_FALSE(client.Send(
      Request("POST", "/v1/upload", {"Authorization: Bearer good"}, body)));
  std::optional<Response> r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200u);
  nlohmann::json echo = Echo(*r);
  EXPECT_EQ(echo["body_length"], body.size());
  EXPECT_EQ(echo["body_fnv1a64"], hash);

  // Chunked, in uneven chunks.
  std::string chunked;
  for (size_t pos = 0; pos < body.size();) {
    const size_t n = std::min<size_t>(body.size() - pos, 700001);
    absl::StrAppend(&chunked, absl::StrFormat("%x", n), "\r\n",
                    absl::string_view(body).substr(pos, n), "\r\n");
    pos += n;
  }
  chunked += "0\r\n\r\n";
  ASSERT_FALSE(client.Send(Request(
      "PUT", "/v1/upload",
      {"Authorization: Bearer good", "Transfer-Encoding: chunked"}, chunked,
      /*add_length=*/false)));
  r = client.Read();
  ASSERT_TRUE(r.has_value());
  echo = Echo(*r);
  EXPECT_EQ(echo["body_length"], body.size());
  EXPECT_EQ(echo["body_fnv1a64"], hash);
  EXPECT_THAT(EchoHeader(echo, "transfer-encoding"), ElementsAre("chunked"));
}

TEST_F(ProxyTest, LargeChunkedResponsesStreamToHttp11AndHttp10Clients) {
  constexpr size_t kSize = 3 * 1024 * 1024 + 17;
  {
    RawClient client(port());
    ASSERT_FALSE(
        client.Send(GoodGet(absl::StrCat("/__pat_sample/bytes?n=", kSize))));
    std::optional<Response> r = client.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->result_int(), 200u);
    EXPECT_TRUE(r->chunked());
    EXPECT_EQ(r->body(), std::string(kSize, 'x'));
    // Still usable afterwards.
    ASSERT_FALSE(client.Send(GoodGet("/v1/after")));
    ASSERT_TRUE(client.Read().has_value());
  }
  {
    RawClient client(port());
    ASSERT_FALSE(
        client.Send(absl::StrCat("GET /__pat_sample/bytes?n=", kSize,
                                 " HTTP/1.0\r\nAuthorization: Bearer good\r\n"
                                 "Connection: keep-alive\r\n\r\n")));
    std::optional<Response> r = client.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->version(), 10u);
    EXPECT_FALSE(r->chunked());
    EXPECT_EQ(r->body().size(), kSize);
    EXPECT_TRUE(client.ClosedByPeer());
  }
}

TEST_F(ProxyTest, HeadResponsesCarryNoBody) {
  RawClient client(port());
  ASSERT_FALSE(
      client.Send(Request("HEAD", "/v1/x", {"Authorization: Bearer good"})));
  std::optional<Response> r = client.Read(/*head=*/true);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200u);
  EXPECT_NE(S((*r)[http::field::content_length]), "0");
  // No stray body bytes: the next response parses cleanly.
  ASSERT_FALSE(client.Send(GoodGet("/v1/next")));
  r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(Echo(*r)["target"], "/v1/next");
}

TEST_F(ProxyTest, Http10ClientsAreServed) {
  {
    RawClient client(port());
    ASSERT_FALSE(client.Send(
        "GET /v1/old HTTP/1.0\r\nAuthorization: Bearer good\r\n\r\n"));
    std::optional<Response> r = client.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->result_int(), 200u);
    EXPECT_EQ(r->version(), 10u);
    const nlohmann::json echo = Echo(*r);
    // No Host from the client: the upstream authority is used.
    EXPECT_THAT(EchoHeader(echo, "host"),
                ElementsAre(absl::StrCat("127.0.0.1:", upstream_->port())));
    EXPECT_TRUE(client.ClosedByPeer());
  }
  {
    RawClient client(port());
    const std::string req =
        "GET /v1/old HTTP/1.0\r\nAuthorization: Bearer good\r\n"
        "Connection: keep-alive\r\n\r\n";
    ASSERT_FALSE(client.Send(req));
    std::optional<Response> r = client.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->keep_alive());
    ASSERT_FALSE(client.Send(req));
    ASSERT_TRUE(client.Read().has_value());
  }
}

TEST_F(ProxyTest, Expect100ContinueIsAnsweredByTheProxy) {
  RawClient client(port());
  ASSERT_FALSE(client.Send(
      "POST /v1/upload HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer good\r\n"
      "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  std::optional<Response> interim = client.Read();
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->result_int(), 100u);
  ASSERT_FALSE(client.Send("hello"));
  std::optional<Response> r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200u);
  const nlohmann::json echo = Echo(*r);
  EXPECT_EQ(echo["body_length"], 5);
  EXPECT_THAT(EchoHeader(echo, "expect"), ::testing::IsEmpty());
}

TEST_F(ProxyTest, RequestIdIsPassedOnWhenValidAndCreatedOtherwise) {
  struct Case {
    std::vector<std::string> lines;
    std::optional<std::string> expected;  // nullopt: a generated id
  };
  const std::string max_id(kMaxRequestIdLength, 'a');
  const std::vector<Case> cases = {
      {{"X-Request-Id: abc-123.X_y"}, "abc-123.X_y"},
      {{absl::StrCat("X-Request-Id: ", max_id)}, max_id},
      {{}, std::nullopt},
      {{"X-Request-Id: has space"}, std::nullopt},
      {{"X-Request-Id: semi;colon"}, std::nullopt},
      {{absl::StrCat("X-Request-Id: ", max_id, "b")}, std::nullopt},
      {{"X-Request-Id: one", "X-Request-Id: two"}, std::nullopt},
  };
  RawClient client(port());
  std::vector<std::string> seen;
  for (const Case& c : cases) {
    std::vector<std::string> lines = c.lines;
    lines.push_back("Authorization: Bearer good");
    ASSERT_FALSE(client.Send(Request("GET", "/v1/id", lines)));
    std::optional<Response> r = client.Read();
    ASSERT_TRUE(r.has_value());
    const std::vector<std::string> upstream_ids =
        EchoHeader(Echo(*r), "x-request-id");
    ASSERT_EQ(upstream_ids.size(), 1u);
    const std::string id = upstream_ids[0];
    if (c.expected) {
      EXPECT_EQ(id, *c.expected);
    } else {
      EXPECT_TRUE(IsHex32(id)) << id;
    }
    EXPECT_EQ(S((*r)["X-Request-Id"]), id);
    EXPECT_EQ(auth_.last_call().request_id, id);
    seen.push_back(id);
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::unique(seen.begin(), seen.end()), seen.end());
}

TEST_F(ProxyTest, AccessLogHasNoCredentialsOrQueryStrings) {
  RawClient client(port());
  ASSERT_FALSE(client.Send(Request(
      "GET", "/v1/x?access_token=canaryquery",
      {"Authorization: Bearer canarysecret", "X-Request-Id: logged-1"})));
  ASSERT_TRUE(client.Read().has_value());
  ASSERT_FALSE(client.Send(
      Request("GET", "/v1/y?token=canaryquery2",
              {"Authorization: Bearer good", "X-Request-Id: logged-2"})));
  ASSERT_TRUE(client.Read().has_value());
  ASSERT_TRUE(WaitFor([&] { return LogLines().size() >= 2; }));
  const std::vector<std::string> lines = LogLines();
  for (const std::string& line : lines) {
    EXPECT_THAT(line, Not(HasSubstr("canary")));
    EXPECT_THAT(line, Not(HasSubstr("Bearer")));
  }
  const nlohmann::json denied = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(denied["request_id"], "logged-1");
  EXPECT_EQ(denied["method"], "GET");
  EXPECT_EQ(denied["path"], "/v1/x");
  EXPECT_EQ(denied["status"], 401);
  EXPECT_EQ(denied["reason"], "token_unknown");
  EXPECT_TRUE(denied.contains("time"));
  EXPECT_TRUE(denied["latency_us"].is_number_integer());
  const nlohmann::json allowed = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(allowed["path"], "/v1/y");
  EXPECT_EQ(allowed["status"], 200);
  EXPECT_EQ(allowed["reason"], "allowed");
  EXPECT_EQ(allowed["token_id"], kTokenId);
}

TEST_F(ProxyTest, MetricsCountDecisionsAndLatencies) {
  RawClient client(port());
  ASSERT_FALSE(client.Send(GoodGet("/v1/a")));
  ASSERT_TRUE(client.Read().has_value());
  ASSERT_FALSE(
      client.Send(Request("GET", "/v1/a", {"Authorization: Bearer bad"})));
  ASSERT_TRUE(client.Read().has_value());
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(metrics_.RenderPrometheus(),
                             "pat_sidecar_proxy_seconds_count 2\n");
  }));
  const std::string text = metrics_.RenderPrometheus();
  EXPECT_THAT(text,
              HasSubstr("pat_sidecar_requests_total{reason=\"allowed\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr("pat_sidecar_requests_total{reason=\"token_unknown\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("pat_sidecar_decision_seconds_count 2\n"));
  EXPECT_THAT(text,
              HasSubstr("# TYPE pat_sidecar_decision_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("pat_sidecar_upstream_errors_total 0\n"));
}

TEST_F(ProxyTest, UnreachableUpstreamIs502) {
  // A port with nothing listening: bind, note the port, close.
  int dead_port;
  {
    asio::io_context ioc;
    tcp::acceptor acceptor(
        ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    dead_port = acceptor.local_endpoint().port();
  }
  auto dead_pool =
      UpstreamPool::Create(absl::StrCat("http://127.0.0.1:", dead_port));
  ASSERT_TRUE(dead_pool.ok());
  auto proxy =
      ProxyServer::Create(DefaultConfig(), auth_, **dead_pool, metrics_);
  ASSERT_TRUE(proxy.ok());
  RawClient client((*proxy)->port());
  ASSERT_FALSE(client.Send(GoodGet("/v1/x")));
  std::optional<Response> r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 502u);
  EXPECT_EQ(r->body(), R"({"status":502,"err":"Upstream unavailable",)"
                       R"("reason":"upstream_unavailable"})");
  EXPECT_TRUE(r->keep_alive());
  EXPECT_THAT(metrics_.RenderPrometheus(),
              HasSubstr("pat_sidecar_upstream_errors_total 1\n"));
}

TEST_F(ProxyTest, BodiesOverTheLimitAre413) {
  ProxyServerConfig config = DefaultConfig();
  config.body_limit = 1024;
  StartProxy(config);
  // Declared too large: rejected before anything is forwarded.
  ExpectRejectedAndClosed(
      Request("POST", "/v1/upload", {"Authorization: Bearer good"},
              std::string(2048, 'b')),
      413, "body_too_large");
  // Chunked, discovered while streaming.
  std::string chunked;
  for (int i = 0; i < 4; ++i)
    chunked += "200\r\n" + std::string(512, 'c') + "\r\n";
  chunked += "0\r\n\r\n";
  ExpectRejectedAndClosed(
      Request("POST", "/v1/upload",
              {"Authorization: Bearer good", "Transfer-Encoding: chunked"},
              chunked, /*add_length=*/false),
      413, "body_too_large");
  // At the limit: fine.
  RawClient client(port());
  ASSERT_FALSE(
      client.Send(Request("POST", "/v1/upload", {"Authorization: Bearer good"},
                          std::string(1024, 'd'))));
  std::optional<Response> r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(Echo(*r)["body_length"], 1024);
}

TEST_F(ProxyTest, ShutdownLetsInFlightRequestsFinishAndClosesIdleOnes) {
  RawClient idle(port());
  ASSERT_FALSE(idle.Send(GoodGet("/v1/warmup")));
  ASSERT_TRUE(idle.Read().has_value());

  std::optional<Response> slow_response;
  std::thread slow([&] {
    RawClient client(port());
    if (client.Send(GoodGet("/__pat_sample/delay?ms=300"))) return;
    slow_response = client.Read();
  });
  // The slow request is in flight once the authorizer has seen it.
  ASSERT_TRUE(WaitFor([&] { return auth_.call_count() >= 2; }));
  proxy_->Shutdown(absl::Seconds(10));
  slow.join();
  ASSERT_TRUE(slow_response.has_value());
  EXPECT_EQ(slow_response->result_int(), 200u);
  EXPECT_TRUE(idle.ClosedByPeer());
  // No longer accepting.
  asio::io_context ioc;
  tcp::socket socket(ioc);
  error_code ec;
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                               static_cast<unsigned short>(port())),
                 ec);
  EXPECT_TRUE(ec);
}

TEST_F(ProxyTest, ShutdownGraceBoundsSlowRequests) {
  std::optional<Response> slow_response;
  std::thread slow([&] {
    RawClient client(port());
    if (client.Send(GoodGet("/__pat_sample/delay?ms=8000"))) return;
    slow_response = client.Read();
  });
  ASSERT_TRUE(WaitFor([&] { return auth_.call_count() >= 1; }));
  const absl::Time start = absl::Now();
  proxy_->Shutdown(absl::Milliseconds(100));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  slow.join();
  EXPECT_FALSE(slow_response.has_value());
}

// ---------------------------------------------------------------------------
// Admin server

Response AdminGet(int port, absl::string_view target,
                  absl::string_view method = "GET") {
  RawClient client(port);
  EXPECT_FALSE(client.Send(
      absl::StrCat(method, " ", target, " HTTP/1.1\r\nHost: admin\r\n\r\n")));
  std::optional<Response> r = client.Read();
  EXPECT_TRUE(r.has_value());
  return r.value_or(Response{});
}

TEST_F(ProxyTest, AdminServesHealthReadinessAndMetrics) {
  AdminServerConfig config;
  config.listen = "127.0.0.1:0";
  auto admin = AdminServer::Create(config, auth_, metrics_);
  ASSERT_TRUE(admin.ok()) << admin.status();
  const int admin_port = (*admin)->port();

  Response r = AdminGet(admin_port, "/healthz");
  EXPECT_EQ(r.result_int(), 200u);
  EXPECT_EQ(r.body(), "ok");

  r = AdminGet(admin_port, "/readyz");
  EXPECT_EQ(r.result_int(), 200u);
  auth_.set_ready(false);
  r = AdminGet(admin_port, "/readyz");
  EXPECT_EQ(r.result_int(), 503u);
  auth_.set_ready(true);

  // Generate some traffic first.
  RawClient client(port());
  ASSERT_FALSE(client.Send(GoodGet("/v1/x")));
  ASSERT_TRUE(client.Read().has_value());
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(
        metrics_.RenderPrometheus(),
        "pat_sidecar_requests_total{reason=\"allowed\"} 1");
  }));
  r = AdminGet(admin_port, "/metrics");
  EXPECT_EQ(r.result_int(), 200u);
  EXPECT_EQ(S(r[http::field::content_type]), "text/plain; version=0.0.4");
  EXPECT_THAT(r.body(),
              HasSubstr("pat_sidecar_requests_total{reason=\"allowed\"} 1\n"));
  EXPECT_THAT(r.body(), HasSubstr("pat_sidecar_decision_seconds_bucket{le="));
  EXPECT_THAT(r.body(), HasSubstr("pat_sidecar_proxy_seconds_count"));
  EXPECT_THAT(r.body(), HasSubstr("pat_sidecar_upstream_errors_total"));

  EXPECT_EQ(AdminGet(admin_port, "/nope").result_int(), 404u);
  EXPECT_EQ(AdminGet(admin_port, "/healthz", "POST").result_int(), 405u);
  (*admin)->Shutdown();
}

// ---------------------------------------------------------------------------
// Pure pieces

TEST(RequestHeadScannerTest, FindsTheHeadIncrementally) {
  const std::string head = "\r\nGET / HTTP/1.1\r\nHost: h\r\nA: b\r\n\r\nBODY";
  internal::RequestHeadScanner scanner;
  internal::RequestHeadScanner::Result result =
      internal::RequestHeadScanner::Result::kNeedMore;
  size_t fed = 0;
  while (result == internal::RequestHeadScanner::Result::kNeedMore &&
         fed < head.size()) {
    ++fed;
    result = scanner.Scan(absl::string_view(head).substr(0, fed));
  }
  ASSERT_EQ(result, internal::RequestHeadScanner::Result::kComplete);
  EXPECT_EQ(scanner.head_begin(), 2u);
  EXPECT_EQ(head.substr(scanner.head_begin(),
                        scanner.head_end() - scanner.head_begin()),
            "GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n\r\n");
  EXPECT_EQ(scanner.field_count(), 2);
}

TEST(RequestHeadScannerTest, RejectsFoldsBareLfAndOversizedHeads) {
  using Result = internal::RequestHeadScanner::Result;
  EXPECT_EQ(internal::RequestHeadScanner().Scan(
                "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n"),
            Result::kBad);
  EXPECT_EQ(internal::RequestHeadScanner().Scan("GET / HTTP/1.1\nA: b\r\n\r\n"),
            Result::kBad);
  EXPECT_EQ(internal::RequestHeadScanner().Scan("\r\n\r\n\r\n\r\n\r\nGET"),
            Result::kBad);
  EXPECT_EQ(internal::RequestHeadScanner().Scan(
                std::string(kMaxRequestHeaderBytes, 'a')),
            Result::kTooLarge);
  EXPECT_EQ(internal::RequestHeadScanner().Scan("GET / HTTP/1.1\r\nA: b"),
            Result::kNeedMore);
}

TEST(ProxyHelpersTest, JsonQuoteEscapes) {
  EXPECT_EQ(internal::JsonQuote("a\"b\\c\nd\x01"), R"("a\"b\\c\nd\u0001")");
  EXPECT_EQ(internal::JsonQuote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(internal::JsonQuote("bad\xff"), R"("bad\ufffd")");
}

TEST(ProxyHelpersTest, RequestIds) {
  EXPECT_TRUE(internal::IsValidRequestId("a-B_9.z"));
  EXPECT_FALSE(internal::IsValidRequestId(""));
  EXPECT_FALSE(internal::IsValidRequestId("a b"));
  EXPECT_FALSE(internal::IsValidRequestId(std::string(129, 'a')));
  const std::string id = internal::NewRequestId();
  EXPECT_TRUE(IsHex32(id)) << id;
  EXPECT_NE(id, internal::NewRequestId());
}

TEST(UpstreamPoolTest, CreateValidatesTheUrl) {
  EXPECT_TRUE(UpstreamPool::Create("http://127.0.0.1:9000").ok());
  EXPECT_TRUE(UpstreamPool::Create("http://127.0.0.1:9000/").ok());
  EXPECT_TRUE(UpstreamPool::Create("http://[::1]:9000").ok());
  for (const char* bad :
       {"https://127.0.0.1:9000", "http://127.0.0.1", "http://127.0.0.1:0",
        "http://127.0.0.1:9000/api", "http://u:p@127.0.0.1:9000",
        "http://127.0.0.1:99999", "127.0.0.1:9000"}) {
    EXPECT_FALSE(UpstreamPool::Create(bad).ok()) << bad;
  }
}

TEST(UpstreamPoolTest, DiscardsConnectionsClosedByThePeer) {
  asio::io_context ioc;
  tcp::acceptor acceptor(ioc,
                         tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto pool = UpstreamPool::Create(
      absl::StrCat("http://127.0.0.1:", acceptor.local_endpoint().port()));
  ASSERT_TRUE(pool.ok());
  EXPECT_EQ((*pool)->TakeIdle(), -1);

  tcp::socket alive(ioc);
  alive.connect(acceptor.local_endpoint());
  tcp::socket alive_peer = acceptor.accept();
  tcp::socket dead(ioc);
  dead.connect(acceptor.local_endpoint());
  tcp::socket dead_peer = acceptor.accept();
  const int dead_fd = dead.release();
  dead_peer.close();
  // Wait until the peer's FIN is visible on the dead connection.
  ASSERT_TRUE(WaitFor([&] {
    char c;
    return ::recv(dead_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
  }));
  (*pool)->PutIdle(alive.release());
  (*pool)->PutIdle(dead_fd);  // most recent: offered first
  EXPECT_EQ((*pool)->idle_count(), 2u);
  const int fd = (*pool)->TakeIdle();  // skips (and closes) the dead one
  ASSERT_GE(fd, 0);
  EXPECT_EQ((*pool)->idle_count(), 0u);
  tcp::socket adopted(ioc);
  adopted.assign(tcp::v4(), fd);
  EXPECT_EQ(adopted.local_endpoint().port(),
            alive_peer.remote_endpoint().port());
  EXPECT_EQ((*pool)->TakeIdle(), -1);
}

TEST(ResolveHostPortTest, ParsesAddresses) {
  auto ep = ResolveHostPort("127.0.0.1:8080");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->port(), 8080);
  ep = ResolveHostPort(":0");
  ASSERT_TRUE(ep.ok());
  EXPECT_TRUE(ep->address().is_unspecified());
  ep = ResolveHostPort("[::1]:1");
  ASSERT_TRUE(ep.ok());
  EXPECT_TRUE(ep->address().is_v6());
  EXPECT_TRUE(ResolveHostPort("localhost:80").ok());
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:x",
                          "::1:80", "[::1]80", "127.0.0.1:65536"}) {
    EXPECT_FALSE(ResolveHostPort(bad).ok()) << bad;
  }
}

// ---------------------------------------------------------------------------
// Metrics

TEST(MetricsTest, CountersAndGaugesRenderWithSortedEscapedLabels) {
  MetricsRegistry registry;
  Counter& c = registry.GetCounter("x_total", "Things.\nSecond line",
                                   {{"b", "2"}, {"a", "1"}});
  c.Inc(3);
  // Same labels in another order: the same series.
  EXPECT_EQ(&registry.GetCounter("x_total", "", {{"a", "1"}, {"b", "2"}}), &c);
  registry.GetCounter("x_total", "", {{"a", "q\"b\\c\nd"}}).Inc();
  registry.GetGauge("g", "A gauge.").Set(-4);
  const std::string text = registry.RenderPrometheus();
  EXPECT_EQ(text,
            "# HELP x_total Things.\\nSecond line\n"
            "# TYPE x_total counter\n"
            "x_total{a=\"1\",b=\"2\"} 3\n"
            "x_total{a=\"q\\\"b\\\\c\\nd\"} 1\n"
            "# HELP g A gauge.\n"
            "# TYPE g gauge\n"
            "g -4\n");
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  MetricsRegistry registry;
  Histogram& h =
      registry.GetHistogram("lat_seconds", "Latency.", {{"op", "x"}}, {1, 0.1});
  for (double v : {0.05, 0.1, 0.5, 2.0}) h.Observe(v);
  EXPECT_THAT(h.CumulativeCounts(), ElementsAre(2, 3, 4));
  EXPECT_EQ(h.count(), 4u);
  EXPECT_NEAR(h.sum(), 2.65, 1e-9);
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{op=\"x\",le=\"0.1\"} 2\n"
            "lat_seconds_bucket{op=\"x\",le=\"1\"} 3\n"
            "lat_seconds_bucket{op=\"x\",le=\"+Inf\"} 4\n"
            "lat_seconds_sum{op=\"x\"} 2.650000000\n"
            "lat_seconds_count{op=\"x\"} 4\n");
}

TEST(MetricsTest, DefaultBucketsSpanMicrosecondsToSeconds) {
  const std::vector<double> b = DefaultLatencyBuckets();
  ASSERT_FALSE(b.empty());
  EXPECT_DOUBLE_EQ(b.front(), 1e-6);
  EXPECT_DOUBLE_EQ(b.back(), 10);
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
  MetricsRegistry registry;
  registry.GetHistogram("d_seconds", "D.").Observe(3e-6);
  const std::string text = registry.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("d_seconds_bucket{le=\"1e-06\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("d_seconds_bucket{le=\"5e-06\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("d_seconds_bucket{le=\"0.0001\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("d_seconds_bucket{le=\"+Inf\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("d_seconds_count 1\n"));
}

TEST(MetricsTest, ConcurrentUpdatesAreCounted) {
  MetricsRegistry registry;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&registry] {
      for (int i = 0; i < 1000; ++i) {
        registry.GetCounter("c_total", "C.", {{"r", "x"}}).Inc();
        registry.GetHistogram("h_seconds", "H.").Observe(0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  const std::string text = registry.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("c_total{r=\"x\"} 4000\n"));
  EXPECT_THAT(text, HasSubstr("h_seconds_count 4000\n"));
}

}  // namespace
}  // namespace pat::sidecar
