// Every decision reason of SPEC §7, each produced by a real HTTP request
// through an in-process sidecar (production wiring) to a real authority on
// PostgreSQL: status, JSON body {"status","err","reason"}, WWW-Authenticate on
// 401s, Retry-After on 503s, and nothing forwarded upstream on a denial.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/secret.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_support.h"

namespace pat::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kFileA1[] = "/v1/files/FILEA1";

class ReasonsTest : public SharedE2eTest {
 protected:
  // `r` is the denial `status`/`reason` and the upstream saw nothing.
  void ExpectDeniedNotForwarded(const std::function<HttpResponse()>& send,
                                int status, absl::string_view reason) {
    const int64_t before = env().sidecar().upstream_count();
    ASSERT_GE(before, 0);
    const HttpResponse r = send();
    ExpectDenied(r, status, reason);
    EXPECT_EQ(env().sidecar().upstream_count(), before)
        << "a denied request reached the upstream";
  }

  IssuedToken FilesReadToken() { return env().Create({"files:read"}); }
};

TEST_F(ReasonsTest, PathInvalid) {
  const IssuedToken t = FilesReadToken();
  ASSERT_FALSE(HasFailure());
  for (const char* target :
       {"/v1/files//FILEA1", "/v1/files/./FILEA1", "/v1/x/../files/FILEA1",
        "/v1/files/FILEA1/", "/v1/files%2FFILEA1", "/v1/files/FILEA1%00"}) {
    SCOPED_TRACE(target);
    ExpectDeniedNotForwarded([&] { return env().Get(target, t.secret); }, 400,
                             "path_invalid");
  }
  // Before any credential check: no token at all is still path_invalid.
  ExpectDeniedNotForwarded([&] { return HttpGet(env().port(), "/v1//me"); },
                           400, "path_invalid");
}

TEST_F(ReasonsTest, TokenMissing) {
  ExpectDeniedNotForwarded([&] { return HttpGet(env().port(), kFileA1); }, 401,
                           "token_missing");
  // An empty-named scheme or other headers are not credentials.
  ExpectDeniedNotForwarded(
      [&] {
        return HttpGet(env().port(), kFileA1, {{"Cookie", "token=x"}});
      },
      401, "token_missing");
}

TEST_F(ReasonsTest, TokenAmbiguous) {
  const IssuedToken a = FilesReadToken();
  const IssuedToken b = FilesReadToken();
  ASSERT_FALSE(HasFailure());
  const std::vector<HeaderList> cases = {
      // Two Authorization headers, same and different.
      {{"Authorization", "Bearer " + a.secret},
       {"Authorization", "Bearer " + a.secret}},
      {{"Authorization", "Bearer " + a.secret},
       {"Authorization", "Bearer " + b.secret}},
      // Both credential headers.
      {{"Authorization", "Bearer " + a.secret}, {"X-Figma-Token", a.secret}},
      {{"X-Figma-Token", a.secret}, {"X-Figma-Token", b.secret}},
      // One header listing two.
      {{"Authorization",
        absl::StrCat("Bearer ", a.secret, ", Bearer ", b.secret)}},
      {{"X-Figma-Token", absl::StrCat(a.secret, ", ", b.secret)}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("case ", i));
    ExpectDeniedNotForwarded(
        [&] { return HttpGet(env().port(), kFileA1, cases[i]); }, 401,
        "token_ambiguous");
  }
}

TEST_F(ReasonsTest, TokenMalformed) {
  const IssuedToken t = FilesReadToken();
  ASSERT_FALSE(HasFailure());
  std::string bad_checksum = t.secret;
  bad_checksum.back() = bad_checksum.back() == 'A' ? 'B' : 'A';
  std::string bad_body = t.secret;
  bad_body[12] = bad_body[12] == 'x' ? 'y' : 'x';
  const std::vector<HeaderList> cases = {
      Bearer("abc"),
      Bearer(bad_checksum),
      Bearer(bad_body),
      Bearer(t.secret.substr(0, t.secret.size() - 1)),
      Bearer(t.secret + "0"),
      Bearer("pat_rest_"),
      {{"Authorization", "Basic " + t.secret}},
      {{"Authorization", "Token " + t.secret}},
      {{"Authorization", "Bearer  " + t.secret}},  // two spaces
      {{"Authorization", t.secret}},               // no scheme
      {{"X-Figma-Token", "Bearer " + t.secret}},   // bare secret expected
      {{"X-Figma-Token", bad_checksum}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("case ", i));
    ExpectDeniedNotForwarded(
        [&] { return HttpGet(env().port(), kFileA1, cases[i]); }, 401,
        "token_malformed");
  }
}

TEST_F(ReasonsTest, TokenUnknown) {
  // Well-formed, correct checksum, but no token has it: asks the authority.
  const std::string unknown = GenerateSecret(TokenKind::kRestApi);
  ExpectDeniedNotForwarded([&] { return env().Get(kFileA1, unknown); }, 401,
                           "token_unknown");
  // Again (now remembered as unknown), and through X-Figma-Token.
  ExpectDeniedNotForwarded([&] { return env().Get(kFileA1, unknown); }, 401,
                           "token_unknown");
  ExpectDeniedNotForwarded(
      [&] {
        return HttpGet(env().port(), kFileA1, {{"X-Figma-Token", unknown}});
      },
      401, "token_unknown");
}

TEST_F(ReasonsTest, TokenRevoked) {
  // A token the sidecar has served, and one it has never been asked about.
  const IssuedToken hot = FilesReadToken();
  const IssuedToken cold = FilesReadToken();
  ASSERT_FALSE(HasFailure());
  ExpectForwarded(env().Get(kFileA1, hot.secret));
  // Revoked in this order, the feed applies `cold` before `hot`: once `hot`
  // is denied, so is `cold`.
  MustRevoke(env().h(), kAlice, kPlanA, cold.id);
  MustRevoke(env().h(), kAlice, kPlanA, hot.id);
  ASSERT_FALSE(HasFailure());
  EXPECT_TRUE(
      WaitFor([&] { return env().Get(kFileA1, hot.secret).status == 401; },
              absl::Seconds(1)));
  ExpectDeniedNotForwarded([&] { return env().Get(kFileA1, hot.secret); }, 401,
                           "token_revoked");
  ExpectDeniedNotForwarded([&] { return env().Get(kFileA1, cold.secret); }, 401,
                           "token_revoked");
  ExpectDeniedNotForwarded(
      [&] {
        return HttpGet(env().port(), kFileA1, {{"X-Figma-Token", hot.secret}});
      },
      401, "token_revoked");
}

TEST_F(ReasonsTest, TokenKindMismatch) {
  // An npm token (valid, all resources) at the REST sidecar.
  const IssuedToken npm =
      env().Create({"packages:read"}, true, {}, v1::TOKEN_KIND_NPM_REGISTRY);
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(absl::StartsWith(npm.secret, "pat_npm_"));
  ExpectDeniedNotForwarded([&] { return env().Get(kFileA1, npm.secret); }, 401,
                           "token_kind_mismatch");
  ExpectDeniedNotForwarded(
      [&] {
        return HttpGet(env().port(), kFileA1, {{"X-Figma-Token", npm.secret}});
      },
      401, "token_kind_mismatch");
}

TEST_F(ReasonsTest, EndpointUnknown) {
  const IssuedToken t = env().Create(AllGrantableRestScopes());
  ASSERT_FALSE(HasFailure());
  for (const auto& [method, target] :
       std::vector<std::pair<std::string, std::string>>{
           {"GET", "/v1/nothing_here"},
           {"GET", "/"},
           {"DELETE", kFileA1},  // known path, unknown method
           {"GET", "/v1/files"},
           {"GET", "/v1/files/FILEA1/nodes/extra"},
           {"POST", "/v1/oauth/token"},
           {"GET", "/v3/files/FILEA1"},
       }) {
    SCOPED_TRACE(method + " " + target);
    ExpectDeniedNotForwarded(
        [&] {
          return HttpCall(env().port(), method, target, Bearer(t.secret));
        },
        403, "endpoint_unknown");
  }
}

TEST_F(ReasonsTest, EndpointNotSupported) {
  const IssuedToken t = env().Create(AllGrantableRestScopes());
  ASSERT_FALSE(HasFailure());
  ExpectDeniedNotForwarded([&] { return env().Get("/v1/me", t.secret); }, 403,
                           "endpoint_not_supported");
}

TEST_F(ReasonsTest, ScopeMissing) {
  const IssuedToken meta = env().Create({"file_metadata:read"});
  ASSERT_FALSE(HasFailure());
  ExpectDeniedNotForwarded([&] { return env().Get(kFileA1, meta.secret); }, 403,
                           "scope_missing");
  ExpectDeniedNotForwarded(
      [&] { return env().Get("/v1/files/FILEA1/comments", meta.secret); }, 403,
      "scope_missing");
  // The scope it holds works.
  ExpectForwarded(env().Get("/v1/files/FILEA1/meta", meta.secret));
}

TEST_F(ReasonsTest, ResourceNotAllowed) {
  const IssuedToken only_a1 =
      env().Create({"files:read"}, false, {kLinkFileA1});
  ASSERT_FALSE(HasFailure());
  ExpectForwarded(env().Get(kFileA1, only_a1.secret));
  ExpectDeniedNotForwarded(
      [&] { return env().Get("/v1/files/FILEA2", only_a1.secret); }, 403,
      "resource_not_allowed");
}

TEST_F(ReasonsTest, AllowedForwardsWithIdentityHeadersAndNoCredential) {
  const IssuedToken t = FilesReadToken();
  ASSERT_FALSE(HasFailure());
  const int64_t before = env().sidecar().upstream_count();
  const HttpResponse r =
      HttpGet(env().port(), "/v1/files/FILEA1?depth=2&ids=1%3A2",
              {{"Authorization", "Bearer " + t.secret},
               {"X-Pat-Token-Id", "tok_forgedforgedforgedforg"},
               {"X-Pat-Plan-Id", kPlanB},
               {"x-pat-scopes", "*"},
               {"X-PAT-All-Resources", "true"},
               {"X-Request-Id", "e2e-allowed-1"},
               {"X-Custom", "kept"}});
  const nlohmann::json echo = ExpectForwarded(r);
  EXPECT_EQ(env().sidecar().upstream_count(), before + 1);
  EXPECT_EQ(echo.value("method", ""), "GET");
  EXPECT_EQ(echo.value("target", ""), "/v1/files/FILEA1?depth=2&ids=1%3A2");
  EXPECT_THAT(EchoedHeader(echo, "x-pat-token-id"), ElementsAre(t.id));
  EXPECT_THAT(EchoedHeader(echo, "x-pat-plan-id"), ElementsAre(kPlanA));
  EXPECT_THAT(EchoedHeader(echo, "x-pat-scopes"), IsEmpty());
  EXPECT_THAT(EchoedHeader(echo, "x-pat-all-resources"), IsEmpty());
  EXPECT_THAT(EchoedHeader(echo, "authorization"), IsEmpty());
  EXPECT_THAT(EchoedHeader(echo, "x-figma-token"), IsEmpty());
  EXPECT_THAT(EchoedHeader(echo, "x-request-id"), ElementsAre("e2e-allowed-1"));
  EXPECT_THAT(EchoedHeader(echo, "x-custom"), ElementsAre("kept"));
  EXPECT_EQ(r.Header("X-Request-Id"), "e2e-allowed-1");
  // The upstream never sees the secret, anywhere in what it received.
  EXPECT_FALSE(absl::StrContains(r.body, t.secret));
  EXPECT_FALSE(ContainsSecretShape(r.body)) << r.body;

  // The other credential header works the same way.
  const nlohmann::json echo2 = ExpectForwarded(
      HttpGet(env().port(), kFileA1, {{"X-Figma-Token", t.secret}}));
  EXPECT_THAT(EchoedHeader(echo2, "x-pat-token-id"), ElementsAre(t.id));
  EXPECT_THAT(EchoedHeader(echo2, "x-figma-token"), IsEmpty());
  EXPECT_FALSE(ContainsSecretShape(echo2.dump()));
}

TEST_F(ReasonsTest, TokenInQueryStringIsNeverAccepted) {
  const IssuedToken t = FilesReadToken();
  ASSERT_FALSE(HasFailure());
  const std::vector<std::string> queries = {
      "access_token=" + t.secret, "token=" + t.secret, "api_key=" + t.secret,
      "ACCESS_TOKEN=" + t.secret, "x=" + t.secret,     "a=1&token=" + t.secret,
  };
  for (const std::string& q : queries) {
    const std::string target = absl::StrCat(kFileA1, "?", q);
    SCOPED_TRACE(q.substr(0, 16));
    // Without a header: refused, not treated as "missing" and never used.
    ExpectDeniedNotForwarded([&] { return HttpGet(env().port(), target); }, 400,
                             "token_in_query");
    // With a valid header too: still refused (the leak is surfaced).
    ExpectDeniedNotForwarded([&] { return env().Get(target, t.secret); }, 400,
                             "token_in_query");
  }
  // The access log never holds the query's secret.
  for (const std::string& line : env().sidecar().access_log()) {
    EXPECT_FALSE(absl::StrContains(line, t.secret)) << line;
  }
}

// --- Reasons that need their own clock or a partition
// -------------------------

TEST(ReasonsClockTest, TokenExpired) {
  std::unique_ptr<E2eEnv> env = E2eEnv::Start();
  ASSERT_NE(env, nullptr);
  v1::CreateTokenRequest req = MakeCreateRequest();
  req.set_expires_in_days(1);
  const v1::CreateTokenResponse hot = MustCreate(env->h(), kAlice, req);
  req.set_request_id(NewRequestId());
  const v1::CreateTokenResponse cold = MustCreate(env->h(), kAlice, req);
  ASSERT_FALSE(::testing::Test::HasFailure());
  ExpectForwarded(env->Get(kFileA1, hot.secret()));

  // One microsecond before the expiry instant it still works; at it, not.
  env->clock().Set(ToTime(hot.token().expire_time()) - absl::Microseconds(1));
  ExpectForwarded(env->Get(kFileA1, hot.secret()));
  env->clock().Set(ToTime(hot.token().expire_time()) + absl::Seconds(1));
  const int64_t before = env->sidecar().upstream_count();
  // Held in the cache (expired by the clock) and never seen (the authority
  // reports it expired).
  ExpectDenied(env->Get(kFileA1, hot.secret()), 401, "token_expired");
  ExpectDenied(env->Get(kFileA1, cold.secret()), 401, "token_expired");
  EXPECT_EQ(env->sidecar().upstream_count(), before);
}

TEST(ReasonsPartitionTest, AuthorityUnavailableBeforeFirstSync) {
  std::unique_ptr<E2eEnv> env = E2eEnv::Start();
  ASSERT_NE(env, nullptr);
  const IssuedToken t = env->Create({"files:read"});
  ASSERT_FALSE(::testing::Test::HasFailure());

  // A second sidecar whose authority cannot be reached (a relay that
  // refuses every connection): never synced, so it fails closed.
  std::unique_ptr<TcpRelay> dead = TcpRelay::Start(1);
  ASSERT_NE(dead, nullptr);
  dead->Cut();
  SidecarStackOptions options;
  options.authority_target = dead->target();
  options.wait_for_sync = false;
  std::unique_ptr<SidecarStack> cold =
      SidecarStack::Start(env->clock(), options);
  ASSERT_NE(cold, nullptr);
  EXPECT_FALSE(cold->Ready());
  const int64_t before = cold->upstream_count();
  const HttpResponse r = HttpGet(cold->port(), kFileA1, Bearer(t.secret));
  ExpectDenied(r, 503, "authority_unavailable");
  EXPECT_EQ(r.Header("Retry-After"), "1");
  // Unknown tokens too (nothing to decide with).
  ExpectDenied(HttpGet(cold->port(), kFileA1,
                       Bearer(GenerateSecret(TokenKind::kRestApi))),
               503, "authority_unavailable");
  EXPECT_EQ(cold->upstream_count(), before);
  // Offline checks still answer precisely.
  ExpectDenied(HttpGet(cold->port(), kFileA1), 401, "token_missing");
  ExpectDenied(HttpGet(cold->port(), kFileA1, Bearer("nope")), 401,
               "token_malformed");
}

TEST(ReasonsPartitionTest, AuthorityUnavailableWhenAuthorityDownPastBound) {
  SidecarStackOptions options;
  options.staleness_bound = absl::Seconds(30);
  std::unique_ptr<E2eEnv> env = E2eEnv::Start(options, /*via_relay=*/true);
  ASSERT_NE(env, nullptr);
  const IssuedToken t = env->Create({"files:read"});
  ASSERT_FALSE(::testing::Test::HasFailure());
  ExpectForwarded(env->Get(kFileA1, t.secret));

  env->relay()->Cut();
  ASSERT_TRUE(WaitFor([&] { return !env->sidecar().watcher().connected(); }));
  // Within the bound the cached grant is still trusted.
  env->clock().Advance(absl::Seconds(29));
  ExpectForwarded(env->Get(kFileA1, t.secret));
  // Past it: revalidation fails, so 503.
  env->clock().Advance(absl::Seconds(2));
  const int64_t before = env->sidecar().upstream_count();
  const HttpResponse r = env->Get(kFileA1, t.secret);
  ExpectDenied(r, 503, "authority_unavailable");
  EXPECT_EQ(r.Header("Retry-After"), "1");
  ExpectDenied(env->Get(kFileA1, GenerateSecret(TokenKind::kRestApi)), 503,
               "authority_unavailable");
  EXPECT_EQ(env->sidecar().upstream_count(), before);
  EXPECT_FALSE(env->sidecar().Ready());

  // Healed: the watch reconnects (ready again) and the token is served.
  env->relay()->Restore();
  EXPECT_TRUE(WaitFor([&] { return env->sidecar().Ready(); }));
  ExpectForwarded(env->Get(kFileA1, t.secret));
}

}  // namespace
}  // namespace pat::testing
