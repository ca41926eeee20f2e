// The pure steps of the sidecar's HTTP front (no sockets): secret scanning,
// credential collection, head checks, the header rewrite, response shaping,
// the access log, flag validation and the fuzz entry point.

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "boost/beast/http.hpp"
#include "common/policy/catalog.h"
#include "common/policy/policy.h"
#include "common/secret.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sidecar/access_log.h"
#include "sidecar/credentials.h"
#include "sidecar/front_fuzz_entry.h"
#include "sidecar/front_text.h"
#include "sidecar/header_rewrite.h"
#include "sidecar/proxy_config.h"
#include "sidecar/request_head.h"
#include "sidecar/response_shaping.h"
#include "sidecar/sidecar_config.h"

namespace pat::sidecar {
namespace {

namespace http = boost::beast::http;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

std::string S(boost::beast::string_view s) { return {s.data(), s.size()}; }

std::string Dump(const http::fields& f) {
  std::string out;
  for (const auto& field : f) {
    absl::StrAppend(&out, S(field.name_string()), ": ", S(field.value()),
                    "\n");
  }
  return out;
}

TEST(SecretScanTest, FindsAndRedactsEverySecretShape) {
  const std::string rest = GenerateSecret(TokenKind::kRestApi);
  const std::string npm = GenerateSecret(TokenKind::kNpmRegistry);
  EXPECT_EQ(internal::FindSecretShaped("x" + rest), 1u);
  EXPECT_TRUE(internal::ContainsSecretShaped("Bearer " + npm));
  EXPECT_FALSE(internal::ContainsSecretShaped(rest.substr(0, rest.size() - 1)));
  EXPECT_FALSE(internal::ContainsSecretShaped("pat_rest_short"));
  EXPECT_EQ(internal::RedactSecrets(absl::StrCat("/a/", rest, "/b?", npm)),
            "/a/[redacted]/b?[redacted]");
  EXPECT_FALSE(internal::IsValidRequestId(rest));
  EXPECT_TRUE(internal::IsValidRequestId("req-1.a_b"));
}

TEST(CredentialsTest, EveryKnownHeaderIsCollectedWhateverIsConfigured) {
  const std::vector<std::string> known =
      KnownCredentialHeaders({"x-figma-token", "X-Api-Token"});
  EXPECT_THAT(known, ElementsAre("authorization", "x-figma-token",
                                 "x-api-token"));
  http::fields f;
  f.insert("X-Figma-Token", "a");
  f.insert("Authorization", "Bearer b");
  f.insert("x_figma_token", "c");
  f.insert("X-Api-Token", "d");
  f.insert("X-Other", "e");
  const CollectedCredentials c = CollectCredentials(f, known);
  EXPECT_THAT(c.values,
              ElementsAre(Pair("x-figma-token", "a"),
                          Pair("authorization", "Bearer b"),
                          Pair("x-api-token", "d")));
  EXPECT_FALSE(c.stray_secret);
  f.insert("X_Figma_Token", GenerateSecret(TokenKind::kRestApi));
  EXPECT_TRUE(CollectCredentials(f, known).stray_secret);
  f.erase("X_Figma_Token");
  f.insert("X-Request-Id", GenerateSecret(TokenKind::kRestApi));
  EXPECT_TRUE(CollectCredentials(f, known).stray_secret);
}

TEST(CredentialsTest, SecretShapedRequestIdsAreReplaced) {
  http::fields f;
  f.insert("X-Request-Id", GenerateSecret(TokenKind::kNpmRegistry));
  const std::string id = RequestIdFor(f);
  EXPECT_EQ(id.size(), 32u);
  EXPECT_FALSE(internal::ContainsSecretShaped(id));
  http::fields ok;
  ok.insert("X-Request-Id", "abc-1");
  EXPECT_EQ(RequestIdFor(ok), "abc-1");
}

RequestHead Head(const std::vector<std::pair<std::string, std::string>>& f,
                 std::string target = "/v1/a") {
  RequestHead req;
  req.method(http::verb::get);
  req.target(target);
  req.version(11);
  req.set(http::field::host, "h");
  for (const auto& [n, v] : f) req.insert(n, v);
  return req;
}

TEST(RequestHeadTest, ExpectAndSecretsInTheTargetAreRefused) {
  EXPECT_FALSE(CheckRequestHead(Head({{"Expect", "100-continue"}})));
  EXPECT_FALSE(CheckRequestHead(Head({{"Expect", "100-Continue"}})));
  for (const char* v : {"200-ok", "", "100-continue, x"}) {
    auto r = CheckRequestHead(Head({{"Expect", v}}));
    ASSERT_TRUE(r.has_value()) << v;
    EXPECT_EQ(r->reason, policy::Reason::kExpectationFailed);
  }
  auto two = CheckRequestHead(
      Head({{"Expect", "100-continue"}, {"Expect", "100-continue"}}));
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(two->reason, policy::Reason::kExpectationFailed);
  const std::string secret = GenerateSecret(TokenKind::kRestApi);
  auto path = CheckRequestHead(Head({}, "/v1/files/" + secret + "/x"));
  ASSERT_TRUE(path.has_value());
  EXPECT_EQ(path->reason, policy::Reason::kTokenInPath);
  auto query = CheckRequestHead(Head({}, "/v1/files?k=" + secret));
  ASSERT_TRUE(query.has_value());
  EXPECT_EQ(query->reason, policy::Reason::kTokenInQuery);
}

TEST(RequestHeadTest, OnlyKnownMethodsPass) {
  for (http::verb v : {http::verb::get, http::verb::head, http::verb::post,
                       http::verb::put, http::verb::delete_, http::verb::patch,
                       http::verb::options}) {
    RequestHead req = Head({});
    req.method(v);
    EXPECT_FALSE(CheckRequestHead(req)) << http::to_string(v);
  }
  const std::string secret = GenerateSecret(TokenKind::kNpmRegistry);
  for (const std::string& m : {std::string("BREW"), "x" + secret + "GET"}) {
    RequestHead req = Head({});
    req.method_string(m);
    auto r = CheckRequestHead(req);
    ASSERT_TRUE(r.has_value()) << m;
    EXPECT_EQ(r->reason, policy::Reason::kRequestInvalid);
  }
}

TEST(HeaderRewriteTest, UpstreamSeesNoCredentialRoutingHopByHopOrSecret) {
  const std::vector<std::string> known = KnownCredentialHeaders({});
  const std::vector<std::string> allowed = {"x-forwarded-prefix"};
  http::fields in;
  in.insert("Host", "api.example");
  in.insert("Authorization", "Bearer x");
  in.insert("X_Figma_Token", "y");
  in.insert("Connection", "keep-alive, X-Drop-Me");
  in.insert("X-Drop-Me", "1");
  in.insert("Keep-Alive", "timeout=5");
  in.insert("TE", "trailers");
  in.insert("Transfer-Encoding", "chunked");
  in.insert("Content-Length", "5");
  in.insert("Expect", "100-continue");
  in.insert("X-Pat-Token-Id", "forged");
  in.insert("X_Pat_Plan_Id", "forged");
  in.insert("X-Request-Id", "client");
  in.insert("X-Forwarded-For", "10.0.0.1");
  in.insert("X-Forwarded-Prefix", "/kept");
  in.insert("X-Leak", GenerateSecret(TokenKind::kRestApi));
  for (absl::string_view r : kRoutingHeaders) {
    if (r != "x-forwarded-prefix") in.insert(std::string(r), "/evil");
  }
  in.insert("X_Original_URL", "/evil");
  in.insert("Accept", "application/json");
  http::fields out;
  RewriteRequestHeaders(in, RewritePolicy{known, allowed},
                        UpstreamIdentity{"tok", "plan", "rid", "127.0.0.2",
                                         "up:80"},
                        out);
  const std::string dump = Dump(out);
  EXPECT_EQ(dump,
            "Host: api.example\n"
            "X-Forwarded-Prefix: /kept\n"
            "Accept: application/json\n"
            "X-Pat-Token-Id: tok\n"
            "X-Pat-Plan-Id: plan\n"
            "X-Request-Id: rid\n"
            "X-Forwarded-For: 10.0.0.1, 127.0.0.2\n");
  http::fields bare;
  http::fields out2;
  RewriteRequestHeaders(bare, RewritePolicy{known, {}},
                        UpstreamIdentity{"", "", "rid", "1.2.3.4", "up:80"},
                        out2);
  EXPECT_EQ(Dump(out2),
            "Host: up:80\nX-Request-Id: rid\nX-Forwarded-For: 1.2.3.4\n");
}

TEST(HeaderRewriteTest, ResponseLosesHopByHopAndSecretShapedFields) {
  http::fields in;
  in.insert("Content-Type", "text/plain");
  in.insert("Connection", "close, X-Hop");
  in.insert("X-Hop", "1");
  in.insert("Content-Length", "3");
  in.insert("Transfer-Encoding", "chunked");
  in.insert("X-Echo", "t=" + GenerateSecret(TokenKind::kNpmRegistry));
  http::fields out;
  RewriteResponseHeaders(in, out);
  EXPECT_EQ(Dump(out), "Content-Type: text/plain\n");
}

TEST(ResponseShapingTest, RefusalsAreRenderedFromTheTypedReason) {
  Refusal r{policy::Reason::kTokenUnknown, "detail"};
  LocalResponse res =
      RenderRefusal(r, policy::ErrorStyle::kA, "rid", 11, true);
  EXPECT_EQ(res.result_int(), 401u);
  EXPECT_EQ(res.body(), policy::ErrorBody(policy::Reason::kTokenUnknown,
                                          "detail"));
  EXPECT_EQ(S(res[http::field::www_authenticate]),
            R"(Bearer error="invalid_token")");
  EXPECT_EQ(S(res[http::field::cache_control]), "no-store");
  EXPECT_EQ(S(res["X-Request-Id"]), "rid");
  EXPECT_TRUE(res.keep_alive());

  // The endpoint's style wins over the default; the default applies without
  // one.
  policy::Endpoint b;
  b.error_style = policy::ErrorStyle::kB;
  Refusal with_endpoint{policy::Reason::kScopeMissing, "", 0, &b};
  EXPECT_THAT(RenderRefusal(with_endpoint, policy::ErrorStyle::kA, "r", 11,
                            false)
                  .body(),
              HasSubstr(R"("error":true)"));
  Refusal plain{policy::Reason::kScopeMissing};
  EXPECT_THAT(RenderRefusal(plain, policy::ErrorStyle::kAB, "r", 11, false)
                  .body(),
              HasSubstr(R"("error":true)"));
  EXPECT_THAT(
      RenderRefusal(plain, policy::ErrorStyle::kA, "r", 11, false).body(),
      Not(HasSubstr(R"("error")")));

  Refusal retry{policy::Reason::kAuthorityUnavailable, "", 7};
  LocalResponse busy =
      RenderRefusal(retry, policy::ErrorStyle::kA, "rid", 10, false);
  EXPECT_EQ(busy.result_int(), 503u);
  EXPECT_EQ(S(busy[http::field::retry_after]), "7");
  EXPECT_EQ(busy.find(http::field::www_authenticate), busy.end());
  EXPECT_EQ(busy.version(), 10u);

  // A detail carrying a secret is redacted.
  const std::string secret = GenerateSecret(TokenKind::kRestApi);
  Refusal leaky{policy::Reason::kTokenMalformed, "got " + secret};
  EXPECT_THAT(RenderRefusal(leaky, policy::ErrorStyle::kA, "r", 11, false)
                  .body(),
              Not(HasSubstr(secret)));
}

TEST(ResponseShapingTest, AuthorizerMessagesAreNotPrefixedTwice) {
  AuthzResult a;
  a.reason = policy::Reason::kScopeMissing;
  a.message = policy::DecisionMessage(a.reason, "needs files:read");
  EXPECT_EQ(RefusalFrom(a).detail, "needs files:read");
  a.message = std::string(policy::ReasonMessage(a.reason));
  EXPECT_EQ(RefusalFrom(a).detail, "");
  a.message = "free text";
  EXPECT_EQ(RefusalFrom(a).detail, "free text");
  EXPECT_EQ(RenderWhoami("tok_1", "r", 11, true).body(),
            R"({"username":"tok_1"})");
  EXPECT_THAT(std::string(OverloadedResponseBytes()),
              HasSubstr(R"("reason":"overloaded")"));
}

TEST(AccessLogTest, SecretsInPathsAndFieldsAreRedacted) {
  const std::string secret = GenerateSecret(TokenKind::kRestApi);
  EXPECT_EQ(LoggablePath("/a/" + secret + "?q=" + secret), "/a/[redacted]");
  RequestLog log;
  log.request_id = secret;
  log.method = "GET";
  log.path = LoggablePath("/x");
  log.token_id = secret;
  log.reason = "allowed";
  const std::string line = AccessLogLine(log, 5);
  EXPECT_THAT(line, Not(HasSubstr(secret)));
  EXPECT_THAT(line, HasSubstr(R"("path":"/x")"));
}

TEST(FrontConfigTest, NewFlagsAreValidatedAndCarriedToTheProxyConfig) {
  SidecarConfig raw;
  raw.upstream = "http://127.0.0.1:9000";
  raw.authority = "127.0.0.1:9001";
  raw.insecure = true;
  raw.max_connections = 10;
  raw.body_resource_limit = 1024;
  raw.body_timeout = absl::Seconds(3);
  raw.allow_routing_headers = "X-Forwarded-Host, forwarded";
  absl::StatusOr<SidecarConfig> config = ValidateSidecarConfig(raw);
  ASSERT_TRUE(config.ok()) << config.status();
  const ProxyServerConfig proxy = MakeProxyServerConfig(*config);
  EXPECT_EQ(proxy.max_connections, 10);
  EXPECT_EQ(proxy.body_resource_limit, 1024u);
  EXPECT_EQ(proxy.body_timeout, absl::Seconds(3));
  EXPECT_THAT(proxy.allowed_routing_headers,
              ElementsAre("x-forwarded-host", "forwarded"));
  EXPECT_EQ(proxy.header_timeout, absl::Seconds(15));
  EXPECT_EQ(proxy.upstream_timeout, absl::Seconds(300));

  for (auto mutate : std::vector<void (*)(SidecarConfig&)>{
           [](SidecarConfig& c) { c.allow_routing_headers = "x-not-routing"; },
           [](SidecarConfig& c) { c.max_connections = -1; },
           [](SidecarConfig& c) { c.body_resource_limit = 0; },
           [](SidecarConfig& c) { c.body_timeout = absl::ZeroDuration(); },
           [](SidecarConfig& c) { c.head_memory_budget = 1; },
       }) {
    SidecarConfig bad = raw;
    mutate(bad);
    EXPECT_FALSE(ValidateSidecarConfig(bad).ok());
  }
}

TEST(FrontFuzzEntryTest, SeedsRunWithoutTrapping) {
  const std::string secret = GenerateSecret(TokenKind::kRestApi);
  const std::vector<std::string> seeds = {
      "",
      "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer " + secret +
          "\r\nX-Original-URL: /x\r\n\r\n",
      "GET /" + secret + " HTTP/1.1\r\nHost: h\r\n\r\n",
      "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;x\r\nhello\r\n0\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: " + secret + "\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX-Echo: " + secret + "\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: h\r\nExpect: nope\r\n\r\n",
  };
  for (const std::string& s : seeds) {
    EXPECT_EQ(FuzzHttpFront(reinterpret_cast<const uint8_t*>(s.data()),
                            s.size()),
              0);
  }
}

}  // namespace
}  // namespace pat::sidecar
