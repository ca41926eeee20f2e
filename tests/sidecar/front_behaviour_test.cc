// Issue #8 items 3 (front part), 4 (front part), 5, 6 and 7 over real
// sockets: a ProxyServer in front of a scripted upstream, with an authorizer
// the test controls.

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <sstream>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/policy/catalog.h"
#include "common/secret.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sidecar/header_rewrite.h"
#include "sidecar/metrics.h"
#include "sidecar/proxy_server.h"
#include "sidecar/upstream_pool.h"
#include "tests/sidecar/front_test_util.h"

namespace pat::sidecar {
namespace {

namespace http = boost::beast::http;
using front_test::ControlledAuthorizer;
using front_test::Response;
using front_test::S;
using front_test::ScriptedUpstream;
using front_test::TestClient;
using front_test::WaitFor;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kOk[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

std::string Reason(const Response& r) {
  return nlohmann::json::parse(r.body(), nullptr, false).value("reason", "");
}

class FrontTest : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_.SetScript({{kOk}, false});
    auto pool = UpstreamPool::Create(
        absl::StrCat("http://127.0.0.1:", upstream_.port()), 8);
    ASSERT_TRUE(pool.ok());
    pool_ = std::move(*pool);
  }
  ProxyServerConfig Config() {
    ProxyServerConfig c;
    c.listen = "127.0.0.1:0";
    c.workers = 2;
    c.access_log_sink = [this](absl::string_view line) {
      absl::MutexLock lock(&log_mu_);
      log_.emplace_back(line);
    };
    return c;
  }
  void Start(const ProxyServerConfig& c) {
    proxy_.reset();
    auto proxy = ProxyServer::Create(c, auth_, *pool_, metrics_);
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = std::move(*proxy);
  }
  int port() const { return proxy_->port(); }
  std::string Log() {
    absl::MutexLock lock(&log_mu_);
    return absl::StrJoin(log_, "\n");
  }
  std::optional<Response> Exchange(absl::string_view bytes) {
    TestClient client(port());
    if (client.Send(bytes)) return std::nullopt;
    return client.Read();
  }
  void TearDown() override { proxy_.reset(); }

  ScriptedUpstream upstream_;
  std::unique_ptr<UpstreamPool> pool_;
  MetricsRegistry metrics_;
  ControlledAuthorizer auth_;
  absl::Mutex log_mu_;
  std::vector<std::string> log_ ABSL_GUARDED_BY(log_mu_);
  std::unique_ptr<ProxyServer> proxy_;
};

std::string Get(absl::string_view target,
                const std::vector<std::string>& lines = {
                    "Authorization: Bearer x"}) {
  std::string out = absl::StrCat("GET ", target,
                                 " HTTP/1.1\r\nHost: api.example\r\n");
  for (const std::string& l : lines) absl::StrAppend(&out, l, "\r\n");
  return out + "\r\n";
}

// --- Async authorize (item 4, front part) ----------------------------------

TEST_F(FrontTest, PendingDecisionDoesNotHoldUpAnotherConnectionOnTheLoop) {
  ProxyServerConfig c = Config();
  c.workers = 1;  // both connections share one event loop
  Start(c);
  auth_.set_hold_prefix("/slow");
  TestClient slow(port());
  ASSERT_FALSE(slow.Send(Get("/slow")));
  ASSERT_TRUE(WaitFor([&] { return auth_.held() == 1; }));
  // Decided inline while the other decision is still pending.
  std::optional<Response> fast = Exchange(Get("/fast"));
  ASSERT_TRUE(fast.has_value());
  EXPECT_EQ(fast->result_int(), 200u);
  EXPECT_EQ(auth_.held(), 1u);
  auth_.Release();  // completes from another thread
  std::optional<Response> r = slow.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200u);
  EXPECT_EQ(r->body(), "ok");
}

// --- Body resources (item 3, front part) -----------------------------------

TEST_F(FrontTest, BodyOfABodyResourceEndpointIsBufferedDecidedAndForwarded) {
  ProxyServerConfig c = Config();
  c.body_resource_limit = 64;
  Start(c);
  const std::string json = R"({"team_id":"123","x":1})";
  // Content-Length, chunked (split chunks) and Expect: 100-continue.
  const std::vector<std::string> requests = {
      absl::StrCat("POST /body/a HTTP/1.1\r\nHost: h\r\n"
                   "Authorization: Bearer x\r\nContent-Length: ",
                   json.size(), "\r\n\r\n", json),
      absl::StrCat("POST /body/b HTTP/1.1\r\nHost: h\r\n"
                   "Authorization: Bearer x\r\nTransfer-Encoding: chunked"
                   "\r\n\r\n5\r\n",
                   json.substr(0, 5), "\r\n", absl::Hex(json.size() - 5),
                   "\r\n", json.substr(5), "\r\n0\r\n\r\n"),
  };
  for (const std::string& request : requests) {
    std::optional<Response> r = Exchange(request);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->result_int(), 200u);
    const auto seen = auth_.seen();
    ASSERT_FALSE(seen.empty());
    EXPECT_TRUE(seen.back().has_body);
    EXPECT_EQ(seen.back().body, json);
    EXPECT_EQ(upstream_.last_body(), json);
    EXPECT_THAT(absl::AsciiStrToLower(upstream_.last_head()),
                HasSubstr(absl::StrCat("content-length: ", json.size())));
  }
  TestClient client(port());
  ASSERT_FALSE(client.Send(absl::StrCat(
      "POST /body/c HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer x\r\n"
      "Expect: 100-continue\r\nContent-Length: ",
      json.size(), "\r\n\r\n")));
  std::optional<Response> interim = client.Read();
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->result_int(), 100u);
  ASSERT_FALSE(client.Send(json));
  std::optional<Response> r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200u);
  EXPECT_EQ(auth_.seen().back().body, json);
}

TEST_F(FrontTest, BodyResourceOverTheBufferLimitIs413BeforeDeciding) {
  ProxyServerConfig c = Config();
  c.body_resource_limit = 16;
  Start(c);
  const std::string big(17, 'b');
  const size_t before = upstream_.heads().size();
  for (const std::string& request :
       {absl::StrCat("POST /body/x HTTP/1.1\r\nHost: h\r\nAuthorization: "
                     "Bearer x\r\nContent-Length: 17\r\n\r\n",
                     big),
        absl::StrCat("POST /body/x HTTP/1.1\r\nHost: h\r\nAuthorization: "
                     "Bearer x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "8\r\nbbbbbbbb\r\n9\r\nbbbbbbbbb\r\n0\r\n\r\n")}) {
    std::optional<Response> r = Exchange(request);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->result_int(), 413u);
    EXPECT_EQ(Reason(*r), "body_too_large");
  }
  EXPECT_TRUE(auth_.seen().empty());
  EXPECT_EQ(upstream_.heads().size(), before);
  // Other endpoints stream bodies of any size up to body_limit.
  std::optional<Response> r = Exchange(absl::StrCat(
      "POST /stream HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer x\r\n"
      "Content-Length: 17\r\n\r\n",
      big));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200u);
  EXPECT_FALSE(auth_.seen().back().has_body);
  EXPECT_EQ(upstream_.last_body(), big);
}

TEST_F(FrontTest, WhoamiIsAnsweredLocallyAndNeverForwarded) {
  policy::Endpoint whoami;
  whoami.method = "GET";
  whoami.answer = policy::LocalAnswer::kWhoami;
  auth_.set_endpoint(&whoami);
  Start(Config());
  const size_t before = upstream_.heads().size();
  std::optional<Response> r = Exchange(Get("/-/whoami"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200u);
  EXPECT_EQ(r->body(), R"({"username":"tok"})");
  EXPECT_EQ(S((*r)[http::field::content_type]), "application/json");
  EXPECT_EQ(upstream_.heads().size(), before);
}

// --- Secrets (item 6) ------------------------------------------------------

// Asserts that nothing the test can observe carries `secret`: the response
// bytes, the access log and every request head the upstream received.
void ExpectNowhere(const std::string& secret, const Response& r,
                   const std::string& log,
                   const std::vector<std::string>& heads) {
  std::ostringstream raw;
  raw << r;
  EXPECT_THAT(raw.str(), Not(HasSubstr(secret)));
  EXPECT_THAT(log, Not(HasSubstr(secret)));
  for (const std::string& h : heads) EXPECT_THAT(h, Not(HasSubstr(secret)));
}

TEST_F(FrontTest, SecretsNeverReachUpstreamLogsOrResponses) {
  ProxyServerConfig c = Config();
  c.credential_headers = {"x-figma-token"};  // Authorization is still known
  Start(c);
  for (TokenKind kind : {TokenKind::kRestApi, TokenKind::kNpmRegistry}) {
    const std::string secret = GenerateSecret(kind);
    struct Case {
      std::string request;
      unsigned status;
      std::string reason;
    };
    const std::vector<Case> cases = {
        // A second credential in a known header: both reach the authorizer.
        {Get("/v1/a", {"X-Figma-Token: x", "Authorization: Bearer " + secret}),
         401, "token_ambiguous"},
        {Get("/v1/a", {"X-Figma-Token: x", "X_Figma_Token: " + secret}), 401,
         "token_ambiguous"},
        // A secret in any other header.
        {Get("/v1/a", {"X-Figma-Token: x", "X-Request-Id: " + secret}), 401,
         "token_ambiguous"},
        {Get("/v1/a", {"X-Figma-Token: x", "X-Api-Key: " + secret}), 401,
         "token_ambiguous"},
        {Get("/v1/a", {"X-Figma-Token: x", "Cookie: s=" + secret + "; a=b"}),
         401, "token_ambiguous"},
        {Get("/v1/a", {"X-Figma-Token: x", "User-Agent: ua/" + secret}), 401,
         "token_ambiguous"},
        // In the path or the query.
        {Get("/v1/files/" + secret, {"X-Figma-Token: x"}), 400,
         "token_in_path"},
        {Get("/v1/" + secret + "/x?y=1", {"X-Figma-Token: x"}), 400,
         "token_in_path"},
        {Get("/v1/files?token=" + secret, {"X-Figma-Token: x"}), 400,
         "token_in_query"},
        // In the method: an extension method is never forwarded (a fuzz
        // finding: any token is a valid method, up to the head limit).
        {"x" + secret + "GET /v1/a HTTP/1.1\r\nHost: h\r\n"
                        "X-Figma-Token: x\r\n\r\n",
         400, "request_invalid"},
        {"PROPFINDX /v1/a HTTP/1.1\r\nHost: h\r\nX-Figma-Token: x\r\n\r\n",
         400, "request_invalid"},
    };
    for (const Case& k : cases) {
      std::optional<Response> r = Exchange(k.request);
      ASSERT_TRUE(r.has_value()) << k.request;
      EXPECT_EQ(r->result_int(), k.status) << k.request;
      EXPECT_EQ(Reason(*r), k.reason) << k.request;
      if (k.status == 401) {
        EXPECT_EQ(S((*r)[http::field::www_authenticate]),
                  R"(Bearer error="invalid_token")");
      }
      EXPECT_EQ(S((*r)[http::field::cache_control]), "no-store");
      ExpectNowhere(secret, *r, Log(), upstream_.heads());
    }
    // The credentials the authorizer saw for the first case: both.
    bool saw_both = false;
    for (const auto& seen : auth_.seen()) {
      if (seen.credentials.size() == 2 &&
          seen.credentials[1].first == "authorization") {
        saw_both = true;
      }
    }
    EXPECT_TRUE(saw_both);
  }
}

TEST_F(FrontTest, SecretEchoedByTheUpstreamInAHeaderIsNotRelayed) {
  const std::string secret = GenerateSecret(TokenKind::kRestApi);
  upstream_.SetScript({{absl::StrCat("HTTP/1.1 200 OK\r\nX-Echo: ", secret,
                                     "\r\nContent-Length: 2\r\n\r\nok")},
                       false});
  Start(Config());
  std::optional<Response> r = Exchange(Get("/v1/a"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200u);
  EXPECT_EQ(r->find("X-Echo"), r->end());
}

TEST_F(FrontTest, CredentialHeadersAreNeverForwardedWhateverTheirSpelling) {
  Start(Config());
  std::optional<Response> r =
      Exchange(Get("/v1/a", {"authorization: Bearer x"}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200u);
  const std::string head = absl::AsciiStrToLower(upstream_.last_head());
  EXPECT_THAT(head, Not(HasSubstr("authorization")));
  EXPECT_THAT(head, HasSubstr("x-pat-token-id: tok"));
  EXPECT_THAT(head, HasSubstr("x-pat-plan-id: plan"));
}

// --- Routing headers and Expect (item 7) -----------------------------------

TEST_F(FrontTest, RoutingHeadersAreStrippedUnlessAllowedByName) {
  ProxyServerConfig c = Config();
  c.allowed_routing_headers = {"X-Forwarded-Host"};
  Start(c);
  for (absl::string_view name : kRoutingHeaders) {
    std::string underscore(name);
    std::replace(underscore.begin(), underscore.end(), '-', '_');
    for (const std::string& spelling : {std::string(name), underscore}) {
      std::optional<Response> r = Exchange(Get(
          "/v1/a", {"Authorization: Bearer x", spelling + ": /admin/evil"}));
      ASSERT_TRUE(r.has_value());
      EXPECT_EQ(r->result_int(), 200u);
      const bool allowed = name == "x-forwarded-host";
      EXPECT_EQ(absl::StrContains(upstream_.last_head(), "/admin/evil"),
                allowed)
          << spelling;
    }
  }
}

TEST_F(FrontTest, ExpectOtherThan100ContinueIs417) {
  Start(Config());
  const size_t before = upstream_.heads().size();
  for (const std::string& expect :
       {std::string("Expect: 200-ok"), std::string("Expect: 100-continue, x"),
        std::string("Expect: ")}) {
    std::optional<Response> r =
        Exchange(Get("/v1/a", {"Authorization: Bearer x", expect}));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->result_int(), 417u) << expect;
    EXPECT_EQ(Reason(*r), "expectation_failed");
  }
  EXPECT_EQ(upstream_.heads().size(), before);
}

// --- Connections and deadlines (item 5) ------------------------------------

TEST_F(FrontTest, ConnectionsOverTheCapGet503OverloadedAndClose) {
  ProxyServerConfig c = Config();
  c.max_connections = 3;
  Start(c);
  std::vector<std::unique_ptr<TestClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<TestClient>(port()));
    ASSERT_FALSE(held.back()->Send(Get("/v1/a")));
    ASSERT_TRUE(held.back()->Read().has_value());  // accepted and served
  }
  TestClient over(port());
  std::optional<Response> r = over.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 503u);
  EXPECT_EQ(Reason(*r), "overloaded");
  EXPECT_TRUE(over.ClosedByPeer());
  held.pop_back();  // one slot frees up
  ASSERT_TRUE(WaitFor([&] {
    auto ok = Exchange(Get("/v1/a"));
    return ok.has_value() && ok->result_int() == 200u;
  }));
}

TEST_F(FrontTest, TrickledBodyEndsAtTheBodyDeadline) {
  ProxyServerConfig c = Config();
  c.body_timeout = absl::Milliseconds(300);
  Start(c);
  TestClient client(port());
  ASSERT_FALSE(client.Send(
      "POST /v1/a HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer x\r\n"
      "Content-Length: 1000\r\n\r\nx"));
  // One byte every 50 ms (io_timeout is 60 s: only the total deadline can
  // end this) until the proxy answers or closes.
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  bool ended = false;
  while (!ended && absl::Now() < give_up) {
    ended = client.ClosedByPeer(50) ||
            ::send(client.fd(), "x", 1, MSG_NOSIGNAL) != 1;
    pollfd p{client.fd(), POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) ended = true;  // a response arrived
  }
  EXPECT_TRUE(ended);
}

TEST_F(FrontTest, TrickledHeadEndsAtTheHeaderDeadline) {
  ProxyServerConfig c = Config();
  c.header_timeout = absl::Milliseconds(300);
  Start(c);
  TestClient client(port());
  ASSERT_FALSE(client.Send("GET /v1/a HTTP/1.1\r\nHost: h\r\n"));
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  bool closed = false;
  while (!closed && absl::Now() < give_up) {
    closed = client.ClosedByPeer(50) ||
             ::send(client.fd(), "X-A: b\r\n", 8, MSG_NOSIGNAL) != 8;
  }
  EXPECT_TRUE(closed);
}

TEST_F(FrontTest, UnfinishedHeadsBeyondTheMemoryBudgetAre503) {
  ProxyServerConfig c = Config();
  c.head_memory_budget = 96 * 1024;
  Start(c);
  std::string head = "GET /flood HTTP/1.1\r\nHost: h\r\n";
  while (head.size() < 40000) {
    absl::StrAppend(&head, "X-Pad: ", std::string(900, 'a'), "\r\n");
  }
  std::vector<std::unique_ptr<TestClient>> flood;
  int overloaded = 0;
  for (int i = 0; i < 8; ++i) {
    flood.push_back(std::make_unique<TestClient>(port()));
    ASSERT_FALSE(flood.back()->Send(head));
  }
  // Refusals arrive as the proxy reads the heads; the others stay pending.
  std::vector<bool> answered(flood.size(), false);
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (overloaded < 4 && absl::Now() < give_up) {
    for (size_t i = 0; i < flood.size(); ++i) {
      pollfd p{flood[i]->fd(), POLLIN, 0};
      if (answered[i] || ::poll(&p, 1, 0) <= 0) continue;
      answered[i] = true;
      std::optional<Response> r = flood[i]->Read();
      if (r && r->result_int() == 503u && Reason(*r) == "overloaded") {
        ++overloaded;
      }
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_GE(overloaded, 4);  // at most 96 KiB / ~32 KiB heads fit
  std::optional<Response> r = Exchange(Get("/v1/real"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200u);
}

}  // namespace
}  // namespace pat::sidecar
