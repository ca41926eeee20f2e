// pat-console's pure logic: configuration, sign-in trust, CSRF tokens and
// checks, rate limits, the JSON error mapping, link checks.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "boost/asio/ip/address.hpp"
#include "boost/beast/http/fields.hpp"
#include "common/clock.h"
#include "console/console_config.h"
#include "console/csrf.h"
#include "console/identity.h"
#include "console/local_api.h"
#include "console/rate_limiter.h"
#include "console/token_api.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pat/v1/pat.grpc.pb.h"

namespace pat::console {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace ip = boost::asio::ip;

ConsoleFlags DevFlags() {
  ConsoleFlags f;
  f.authority = "127.0.0.1:7443";
  f.insecure = true;
  f.dev_user = "alice";
  return f;
}

TEST(ConsoleConfig, DevUserOnlyOnLoopback) {
  for (const char* listen : {"127.0.0.1:0", "[::1]:8090", "localhost:1"}) {
    ConsoleFlags f = DevFlags();
    f.listen = listen;
    EXPECT_TRUE(BuildConsoleConfig(f).ok()) << listen;
  }
  for (const char* listen : {"0.0.0.0:0", "[::]:0", "10.1.2.3:80"}) {
    ConsoleFlags f = DevFlags();
    f.listen = listen;
    auto c = BuildConsoleConfig(f);
    EXPECT_TRUE(absl::IsInvalidArgument(c.status())) << listen;
    EXPECT_THAT(c.status().message(), HasSubstr("--dev_user")) << listen;
  }
}

TEST(ConsoleConfig, RefusesInconsistentFlags) {
  ConsoleFlags none = DevFlags();
  none.dev_user.clear();
  EXPECT_THAT(BuildConsoleConfig(none).status().message(),
              HasSubstr("sign-in"));
  ConsoleFlags tls = DevFlags();
  tls.insecure = false;
  tls.tls_ca = "/nonexistent";
  EXPECT_TRUE(absl::IsInvalidArgument(BuildConsoleConfig(tls).status()));
  ConsoleFlags both = DevFlags();
  both.tls_cert = "x";
  EXPECT_TRUE(absl::IsInvalidArgument(BuildConsoleConfig(both).status()));
  ConsoleFlags proxies = DevFlags();
  proxies.trusted_proxies = "10.0.0.0/33";
  EXPECT_TRUE(absl::IsInvalidArgument(BuildConsoleConfig(proxies).status()));
  ConsoleFlags limits = DevFlags();
  limits.max_connections = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(BuildConsoleConfig(limits).status()));
  ConsoleFlags origin = DevFlags();
  origin.public_origin = "https://x/";
  EXPECT_TRUE(absl::IsInvalidArgument(BuildConsoleConfig(origin).status()));
}

TEST(IpNetworks, ContainsAcrossFamilies) {
  auto n = ParseIpNetwork("10.0.0.0/8");
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(NetworkContains(*n, ip::make_address("10.9.8.7")));
  EXPECT_TRUE(NetworkContains(*n, ip::make_address("::ffff:10.9.8.7")));
  EXPECT_FALSE(NetworkContains(*n, ip::make_address("11.0.0.1")));
  EXPECT_FALSE(NetworkContains(*n, ip::make_address("::1")));
  auto one = ParseIpNetwork("127.0.0.1");
  ASSERT_TRUE(one.ok());
  EXPECT_TRUE(NetworkContains(*one, ip::make_address("127.0.0.1")));
  EXPECT_FALSE(NetworkContains(*one, ip::make_address("127.0.0.2")));
  auto v6 = ParseIpNetwork("fd00::/8");
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(NetworkContains(*v6, ip::make_address("fd12::1")));
  EXPECT_FALSE(NetworkContains(*v6, ip::make_address("fe80::1")));
  EXPECT_FALSE(ParseIpNetwork("nope").ok());
}

SignInPolicy ProxyPolicy() {
  SignInPolicy p;
  p.trusted_proxies.push_back(*ParseIpNetwork("10.0.0.5"));
  p.proxy_secret = std::string(40, 'k');
  p.user_headers = {"x-auth-request-user", "x-forwarded-user"};
  return p;
}

TEST(Identity, TrustsOnlyTheProxy) {
  const SignInPolicy p = ProxyPolicy();
  boost::beast::http::fields h;
  h.set("X-Auth-Request-User", "alice");
  EXPECT_EQ(*IdentifyUser(p, ip::make_address("10.0.0.5"), h), "alice");
  EXPECT_TRUE(absl::IsUnauthenticated(
      IdentifyUser(p, ip::make_address("10.0.0.6"), h).status()));
  h.set("X-Pat-Proxy-Secret", std::string(40, 'k'));
  EXPECT_EQ(*IdentifyUser(p, ip::make_address("192.0.2.1"), h), "alice");
  // A wrong secret fails even from the trusted address.
  h.set("X-Pat-Proxy-Secret", std::string(39, 'k'));
  EXPECT_TRUE(absl::IsUnauthenticated(
      IdentifyUser(p, ip::make_address("10.0.0.5"), h).status()));
}

TEST(Identity, UserHeaderRules) {
  const SignInPolicy p = ProxyPolicy();
  const auto peer = ip::make_address("10.0.0.5");
  boost::beast::http::fields none;
  EXPECT_TRUE(absl::IsUnauthenticated(IdentifyUser(p, peer, none).status()));
  boost::beast::http::fields fallback;
  fallback.set("X-Forwarded-User", "bob");
  EXPECT_EQ(*IdentifyUser(p, peer, fallback), "bob");
  boost::beast::http::fields twice;
  twice.insert("X-Auth-Request-User", "a");
  twice.insert("X-Auth-Request-User", "b");
  EXPECT_TRUE(absl::IsInvalidArgument(IdentifyUser(p, peer, twice).status()));
  for (std::string bad : {std::string("a b"), std::string(129, 'a'),
                          std::string("caf\xc3\xa9"), std::string("\t")}) {
    boost::beast::http::fields h;
    h.set("X-Auth-Request-User", bad);
    EXPECT_FALSE(IdentifyUser(p, peer, h).ok()) << bad;
  }
  SignInPolicy dev;
  dev.dev_user = "alice";
  EXPECT_EQ(*IdentifyUser(dev, peer, twice), "alice");
}

TEST(Csrf, TokensAreBoundToUserAndTime) {
  FakeClock clock;
  CsrfTokens tokens(std::string(32, 'x'), clock);
  const std::string t = tokens.Issue("alice");
  EXPECT_TRUE(tokens.Verify("alice", t).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(tokens.Verify("bob", t)));
  CsrfTokens other_key(std::string(32, 'y'), clock);
  EXPECT_TRUE(absl::IsPermissionDenied(other_key.Verify("alice", t)));
  EXPECT_TRUE(absl::IsPermissionDenied(tokens.Verify("alice", "")));
  EXPECT_TRUE(absl::IsPermissionDenied(tokens.Verify("alice", "!!!")));
  // Every single-character change is refused.
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (size_t i = 0; i < t.size(); ++i) {
    std::string m = t;
    m[i] = alphabet[(alphabet.find(t[i]) + 1) % alphabet.size()];
    EXPECT_FALSE(tokens.Verify("alice", m).ok()) << i;
  }
  clock.Advance(kCsrfTokenLifetime - absl::Seconds(1));
  EXPECT_TRUE(tokens.Verify("alice", t).ok());
  clock.Advance(absl::Seconds(2));
  EXPECT_THAT(tokens.Verify("alice", t).message(), HasSubstr("expired"));
}

TEST(Csrf, StateChangingRequestChecks) {
  FakeClock clock;
  CsrfTokens tokens(std::string(32, 'x'), clock);
  auto good = [&] {
    boost::beast::http::fields h;
    h.set("Host", "console.test:8090");
    h.set("Origin", "http://console.test:8090");
    h.set("Sec-Fetch-Site", "same-origin");
    h.set("Content-Type", "application/json; charset=utf-8");
    h.set("X-Pat-Csrf", tokens.Issue("alice"));
    return h;
  };
  EXPECT_TRUE(CheckStateChangingRequest(tokens, "alice", "", good()).ok());
  auto without = good();
  without.erase("Origin");
  without.erase("Sec-Fetch-Site");
  EXPECT_TRUE(CheckStateChangingRequest(tokens, "alice", "", without).ok());
  struct Case {
    const char* header;
    const char* value;
  } cases[] = {{"Origin", "http://evil.test"},
               {"Origin", "null"},
               {"Origin", "http://console.test:8091"},
               {"Sec-Fetch-Site", "cross-site"},
               {"Sec-Fetch-Site", "same-site"},
               {"Sec-Fetch-Site", "none"},
               {"Content-Type", "text/plain"},
               {"Content-Type", "multipart/form-data"},
               {"Content-Type", "application/x-www-form-urlencoded"},
               {"X-Pat-Csrf", "AAAA"}};
  for (const Case& c : cases) {
    auto h = good();
    h.set(c.header, c.value);
    EXPECT_TRUE(absl::IsPermissionDenied(
        CheckStateChangingRequest(tokens, "alice", "", h)))
        << c.header << ": " << c.value;
  }
  auto no_type = good();
  no_type.erase("Content-Type");
  EXPECT_FALSE(CheckStateChangingRequest(tokens, "alice", "", no_type).ok());
  // With a public origin only that origin is accepted.
  auto h = good();
  h.set("Origin", "https://console.example.com");
  EXPECT_TRUE(CheckStateChangingRequest(tokens, "alice",
                                        "https://console.example.com", h)
                  .ok());
  EXPECT_FALSE(CheckStateChangingRequest(tokens, "alice",
                                         "https://console.example.com", good())
                   .ok());
}

TEST(RateLimiter, PerUserBucketsRefillAndStayBounded) {
  FakeClock clock;
  RateLimiter limiter(60, 3, 2, clock);
  EXPECT_TRUE(limiter.Allow("a"));
  EXPECT_TRUE(limiter.Allow("a"));
  EXPECT_TRUE(limiter.Allow("a"));
  EXPECT_FALSE(limiter.Allow("a"));
  EXPECT_TRUE(limiter.Allow("b"));
  // Two users mid-burst fill the table: a third is refused (fail closed).
  EXPECT_FALSE(limiter.Allow("c"));
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(limiter.Allow("a"));
  EXPECT_FALSE(limiter.Allow("a"));
  // Once the buckets are full again they are forgotten and c gets one.
  clock.Advance(absl::Seconds(10));
  EXPECT_TRUE(limiter.Allow("c"));
}

TEST(TokenApiErrors, FieldAndStatusMapping) {
  EXPECT_EQ(FieldOfMessage("expires_in_days: must be between 1 and 365"),
            "expires_in_days");
  EXPECT_EQ(FieldOfMessage("resource_links[3]: no such file"),
            "resource_links[3]");
  EXPECT_EQ(FieldOfMessage("plan.tier: required"), "plan.tier");
  EXPECT_EQ(FieldOfMessage("not signed in: no user header"), "");
  EXPECT_EQ(FieldOfMessage("Token not found"), "");
  const ApiResponse r = ErrorResponse(grpc::StatusCode::FAILED_PRECONDITION,
                                      "token_id: token is revoked");
  EXPECT_EQ(r.status, 412u);
  const auto j = nlohmann::json::parse(r.json);
  EXPECT_EQ(j["error"]["code"], "FAILED_PRECONDITION");
  EXPECT_EQ(j["error"]["field"], "token_id");
  EXPECT_EQ(ErrorResponse(grpc::StatusCode::PERMISSION_DENIED, "x").status,
            403u);
  EXPECT_EQ(ErrorResponse(grpc::StatusCode::UNAVAILABLE, "x").status, 503u);
  EXPECT_TRUE(TokenApi::HasMethod("CreateToken"));
  EXPECT_FALSE(TokenApi::HasMethod("UpsertPlan"));
}

// Calls `method` on a TokenApi whose authority refuses connections (port 1);
// returns the console's answer. The TokenApi lives for the whole process, as
// in pat-console: a gRPC callback may still be unwinding after `done` runs.
ApiResponse CallUnreachable(const std::string& method,
                            const std::string& body) {
  static TokenApi* const api =
      new TokenApi(std::shared_ptr<v1::TokenService::StubInterface>(
                       v1::TokenService::NewStub(MakeAuthorityChannel(
                           "127.0.0.1:1", true, "", "", "", ""))),
                   absl::Seconds(5), 4);
  absl::Notification done;
  ApiResponse out;
  api->Call(method, "alice", body, [&](ApiResponse r) {
    out = std::move(r);
    done.Notify();
  });
  EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(20))) << method;
  return out;
}

// Every TokenService method, GetTokenUsageReport included, is mapped: its
// request is parsed and the RPC is made (the unreachable authority's 503),
// never the console's "no such TokenService method" 404.
TEST(TokenApiMapping, EveryTokenServiceMethodIsRouted) {
  const auto* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          "pat.v1.TokenService");
  ASSERT_NE(service, nullptr);
  ASSERT_NE(service->FindMethodByName("GetTokenUsageReport"), nullptr);
  EXPECT_TRUE(TokenApi::HasMethod("GetTokenUsageReport"));
  for (int i = 0; i < service->method_count(); ++i) {
    const std::string name(service->method(i)->name());
    const ApiResponse r = CallUnreachable(name, "{}");
    EXPECT_EQ(r.status, 503u) << name << " " << r.json;
    EXPECT_THAT(r.json, Not(HasSubstr("no such TokenService method"))) << name;
  }
  EXPECT_EQ(CallUnreachable("ReportUsage", "{}").status, 404u);
}

// GetTokenUsageReport's request in proto field names; unknown fields and
// wrong types are the console's 400, before any RPC.
TEST(TokenApiMapping, UsageReportRequestFields) {
  ApiResponse r = CallUnreachable(
      "GetTokenUsageReport",
      R"({"plan_id":"1234567890","token_id":"tok_x","window_hours":72})");
  EXPECT_EQ(r.status, 503u) << r.json;
  for (const char* bad :
       {R"({"plan_id":"1","token":"tok_x"})", R"({"window_hours":"many"})",
        R"({"plan_id":"1","token_id":"t","actor":"bob"})", "[]"}) {
    r = CallUnreachable("GetTokenUsageReport", bad);
    EXPECT_EQ(r.status, 400u) << bad << " " << r.json;
    const auto j = nlohmann::json::parse(r.json, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r.json;
    EXPECT_EQ(j["error"]["code"], "INVALID_ARGUMENT") << bad;
    EXPECT_THAT(j["error"].value("message", ""),
                HasSubstr("not a GetTokenUsageReportRequest"))
        << bad;
  }
}

TEST(LocalApi, LinkChecksUseTheAuthorityParser) {
  auto check = [](const std::string& kind, const std::string& link) {
    const ApiResponse r = ValidateLink(nlohmann::json{
        {"kind", kind},
        {"plan_id", "1234567890"},
        {"link", link}}.dump());
    EXPECT_EQ(r.status, 200u);
    return nlohmann::json::parse(r.json);
  };
  auto ok = check("TOKEN_KIND_REST_API", "https://figma.com/design/KEY1/x?y=1");
  EXPECT_TRUE(ok["valid"]);
  EXPECT_EQ(ok["canonical"], "https://www.figma.com/design/KEY1");
  auto project = check("TOKEN_KIND_REST_API",
                       "https://figma.com/files/1234567890/project/7");
  EXPECT_EQ(project["resource_kind"], "project");
  EXPECT_FALSE(check("TOKEN_KIND_REST_API",
                     "https://figma.com/files/999/project/7")["valid"]);
  EXPECT_FALSE(
      check("TOKEN_KIND_REST_API", "http://figma.com/design/K")["valid"]);
  EXPECT_FALSE(check("TOKEN_KIND_REST_API", "@acme")["valid"]);
  EXPECT_TRUE(check("TOKEN_KIND_NPM_REGISTRY", "@acme")["valid"]);
  EXPECT_FALSE(check("TOKEN_KIND_NPM_REGISTRY",
                     "https://figma.com/design/KEY1")["valid"]);
  EXPECT_EQ(ValidateLink("{").status, 400u);
  EXPECT_EQ(ValidateLink(R"({"kind":"X","link":"a"})").status, 400u);
  const auto scopes = nlohmann::json::parse(ScopesJson());
  for (const auto& s : scopes["rest"]) {
    EXPECT_NE(s, "file_comments:write");
    EXPECT_NE(s, "file_variables:write");
    EXPECT_NE(s, "file_code_connect:write");
  }
  EXPECT_EQ(scopes["npm"].size(), 2u);
}

}  // namespace
}  // namespace pat::console
