// Threat #35 with the real binaries: a flow with several tokens (allowed and
// denied requests, both credential headers, secrets in query strings,
// ambiguous and tampered credentials, refresh with two live secrets, revoke,
// a token of the other kind) through pat-sidecar. Afterwards no secret -- nor
// its body, nor anything shaped like a secret -- appears in either process's
// output (logs), the sidecar's /metrics, or what the upstream received.

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_support.h"

namespace pat::testing {
namespace {

TEST(SecretExposureE2eTest, NoSecretInLogsMetricsOrUpstream) {
  std::unique_ptr<BinaryStack> stack = BinaryStack::Start();
  ASSERT_NE(stack, nullptr);
  ASSERT_NO_FATAL_FAILURE(stack->SeedWorld());
  ASSERT_TRUE(
      WaitFor([&] { return stack->SidecarReady(); }, absl::Seconds(15)));
  const int port = stack->sidecar_port();

  // Tokens: all resources, an allowlist, npm, one to refresh, one to revoke.
  std::vector<std::string> secrets;
  auto create = [&](v1::CreateTokenRequest req) {
    v1::CreateTokenResponse resp = CreateTokenVia(stack->tokens(), kAlice, req);
    secrets.push_back(resp.secret());
    return IssuedToken{resp.token().id(), resp.secret()};
  };
  const IssuedToken all = create(MakeCreateRequest());
  const IssuedToken listed =
      create(MakeCreateRequestWithLinks(kPlanA, {kLinkFileA1}));
  const IssuedToken npm =
      create(MakeCreateRequest(kPlanA, v1::TOKEN_KIND_NPM_REGISTRY));
  const IssuedToken refreshed = create(MakeCreateRequest());
  const IssuedToken revoked = create(MakeCreateRequest());
  ASSERT_FALSE(::testing::Test::HasFailure());
  for (const std::string& s : secrets) ASSERT_FALSE(s.empty());

  std::vector<std::string> upstream_bodies;
  auto call = [&](absl::string_view target, const HeaderList& headers) {
    HttpResponse r = HttpGet(port, target, headers);
    EXPECT_NE(r.status, 0) << r.error;
    if (r.status == 200) upstream_bodies.push_back(r.body);
    return r;
  };

  for (const IssuedToken& t : {all, listed, refreshed, revoked}) {
    EXPECT_EQ(call("/v1/files/FILEA1", Bearer(t.secret)).status, 200);
    EXPECT_EQ(call("/v1/files/FILEA1", {{"X-Figma-Token", t.secret}}).status,
              200);
    // Denied: scope, resource, endpoint.
    EXPECT_EQ(call("/v1/files/FILEA1/dev_resources", Bearer(t.secret)).status,
              403);
    EXPECT_EQ(call("/v1/me", Bearer(t.secret)).status, 403);
    EXPECT_EQ(call("/v1/files/FILEB1", Bearer(t.secret)).status, 403);
    // In the query string (refused), alone and with the header.
    EXPECT_EQ(call(absl::StrCat("/v1/files/FILEA1?access_token=", t.secret), {})
                  .status,
              400);
    EXPECT_EQ(
        call(absl::StrCat("/v1/files/FILEA1?x=", t.secret), Bearer(t.secret))
            .status,
        400);
    // Tampered (checksum), duplicated, listed twice, wrong scheme.
    std::string tampered = t.secret;
    tampered.back() = tampered.back() == 'a' ? 'b' : 'a';
    EXPECT_EQ(call("/v1/files/FILEA1", Bearer(tampered)).status, 401);
    EXPECT_EQ(
        call("/v1/files/FILEA1", {{"Authorization", "Bearer " + t.secret},
                                  {"Authorization", "Bearer " + t.secret}})
            .status,
        401);
    EXPECT_EQ(call("/v1/files/FILEA1",
                   {{"Authorization", absl::StrCat("Bearer ", t.secret,
                                                   ", Bearer ", all.secret)}})
                  .status,
              401);
    EXPECT_EQ(call("/v1/files/FILEA1", {{"Authorization", "Basic " + t.secret}})
                  .status,
              401);
  }
  // The npm token at the REST sidecar.
  EXPECT_EQ(call("/v1/files/FILEA1", Bearer(npm.secret)).status, 401);

  // Refresh: both secrets work; revoke: every secret stops.
  const v1::RefreshTokenResponse r =
      RefreshTokenVia(stack->tokens(), kAlice, kPlanA, refreshed.id);
  ASSERT_FALSE(r.secret().empty());
  secrets.push_back(r.secret());
  EXPECT_TRUE(WaitFor(
      [&] {
        return call("/v1/files/FILEA1", Bearer(r.secret())).status == 200;
      },
      absl::Seconds(1)));
  EXPECT_EQ(call("/v1/files/FILEA1", Bearer(refreshed.secret)).status, 200);
  RevokeTokenVia(stack->tokens(), kAlice, kPlanA, revoked.id);
  RevokeTokenVia(stack->tokens(), kAlice, kPlanA, refreshed.id);
  EXPECT_TRUE(WaitFor(
      [&] {
        return call("/v1/files/FILEA1", Bearer(revoked.secret)).status == 401;
      },
      absl::Seconds(1)));
  EXPECT_TRUE(WaitFor(
      [&] {
        return call("/v1/files/FILEA1", Bearer(r.secret())).status == 401;
      },
      absl::Seconds(1)));
  EXPECT_EQ(call("/v1/files/FILEA1", Bearer(refreshed.secret)).status, 401);

  const std::string metrics = stack->SidecarMetrics();
  ASSERT_TRUE(absl::StrContains(metrics, "pat_sidecar_requests_total"))
      << metrics.substr(0, 500);
  // Graceful stops: the sidecar flushes usage reports, both log shutdown.
  stack->sidecar().Stop(SIGTERM);
  // The sidecar's final usage flush reached the authority (SPEC §7).
  {
    v1::GetTokenRequest get;
    get.set_plan_id(kPlanA);
    get.set_token_id(all.id);
    v1::Token token;
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-pat-actor", kAlice);
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    ASSERT_TRUE(stack->tokens().GetToken(&ctx, get, &token).ok());
    EXPECT_TRUE(token.has_last_used_time()) << token.DebugString();
    EXPECT_EQ(token.last_used_ip(), "127.0.0.1");
  }
  stack->authority().Stop(SIGTERM);
  const std::string sidecar_logs = stack->sidecar().Logs();
  const std::string authority_logs = stack->authority().Logs();
  // The logs are real: one access line per request at least.
  EXPECT_TRUE(absl::StrContains(sidecar_logs, all.id)) << sidecar_logs;
  EXPECT_FALSE(authority_logs.empty());
  ASSERT_FALSE(upstream_bodies.empty());

  struct Sink {
    std::string name;
    std::string text;
  };
  std::vector<Sink> sinks = {
      {"pat-sidecar output", sidecar_logs},
      {"pat-authority output", authority_logs},
      {"sidecar /metrics", metrics},
      {"pat-sample-upstream output", stack->upstream().Logs()}};
  for (const std::string& body : upstream_bodies) {
    sinks.push_back({"upstream echo", body});
  }
  for (const Sink& sink : sinks) {
    SCOPED_TRACE(sink.name);
    for (const std::string& s : secrets) {
      EXPECT_FALSE(absl::StrContains(sink.text, s));
      EXPECT_FALSE(absl::StrContains(sink.text, SecretBody(s)));
    }
    EXPECT_FALSE(ContainsSecretShape(sink.text)) << sink.text.substr(0, 4000);
  }
  std::cout << "[secret exposure] checked " << secrets.size() << " secrets in "
            << sidecar_logs.size() << " B sidecar output, "
            << authority_logs.size() << " B authority output, "
            << metrics.size() << " B metrics, " << upstream_bodies.size()
            << " upstream echoes\n";
}

}  // namespace
}  // namespace pat::testing
