// PatAuthorizer (SPEC §7) over real gRPC against a scripted in-process
// authority (fake_authority.h), with a FakeClock.

#include "sidecar/pat_authorizer.h"

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/secret.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sidecar/fake_authority.h"

namespace pat::sidecar {
namespace {

using ::pat::sidecar::testing::GrantSpec;
using ::pat::sidecar::testing::Harness;
using ::pat::sidecar::testing::kStart;
using ::pat::sidecar::testing::MakeGrant;
using ::pat::sidecar::testing::MakeResource;
using ::pat::sidecar::testing::WaitFor;
using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kFarFuture = kStart + absl::Hours(24 * 90);

// A fresh REST secret and a grant for it in the fake's truth.
std::string AddToken(Harness& h, GrantSpec spec) {
  std::string secret = GenerateSecret(spec.kind == v1::TOKEN_KIND_NPM_REGISTRY
                                          ? TokenKind::kNpmRegistry
                                          : TokenKind::kRestApi);
  h.fake.PutGrant(MakeGrant(spec), {{secret, spec.expire_time}});
  return secret;
}

void ExpectDenied(const AuthzResult& r, int status, absl::string_view reason) {
  EXPECT_FALSE(r.allowed());
  EXPECT_EQ(r.http_status, status)
      << policy::ReasonCode(r.reason) << " " << r.message;
  EXPECT_EQ(policy::ReasonCode(r.reason), reason) << r.message;
}

// A secret with the right shape and a wrong checksum.
std::string BadChecksum(std::string secret) {
  char& last = secret.back();
  last = last == 'A' ? 'B' : 'A';
  return secret;
}

TEST(ExtractCredentialTest, Shapes) {
  const std::string s = GenerateSecret(TokenKind::kRestApi);
  using internal::ExtractCredential;
  using policy::Reason;
  auto check =
      [](std::vector<std::pair<absl::string_view, absl::string_view>> creds) {
        return ExtractCredential(creds).reason;
      };
  const std::string bearer = "Bearer " + s;
  EXPECT_EQ(check({{"authorization", bearer}}), Reason::kAllowed);
  EXPECT_EQ(ExtractCredential({{"authorization", bearer}}).secret, s);
  const std::string lower = "bearer " + s;
  EXPECT_EQ(check({{"authorization", lower}}), Reason::kAllowed);
  const std::string upper = "BEARER " + s;
  EXPECT_EQ(check({{"authorization", upper}}), Reason::kAllowed);
  EXPECT_EQ(check({{"x-figma-token", s}}), Reason::kAllowed);
  EXPECT_EQ(check({}), Reason::kTokenMissing);
  EXPECT_EQ(check({{"authorization", bearer}, {"x-figma-token", s}}),
            Reason::kTokenAmbiguous);
  EXPECT_EQ(check({{"x-figma-token", s}, {"x-figma-token", s}}),
            Reason::kTokenAmbiguous);
  const std::string two = absl::StrCat("Bearer ", s, ", Bearer ", s);
  EXPECT_EQ(check({{"authorization", two}}), Reason::kTokenAmbiguous);
  const std::string two_bare = absl::StrCat(s, ",", s);
  EXPECT_EQ(check({{"x-figma-token", two_bare}}), Reason::kTokenAmbiguous);
  for (const std::string& bad :
       {std::string("Basic dXNlcjpwYXNz"), std::string("Bearer"),
        std::string("Bearer "), "Bearer  " + s, "Bearer\t" + s, "Token " + s,
        "Bearer " + s + " extra", "Bearer " + BadChecksum(s),
        "Bearer " + s.substr(0, s.size() - 1), std::string(""),
        "Bearer " + s + ","}) {
    EXPECT_EQ(check({{"authorization", bad}}), Reason::kTokenMalformed)
        << "value #" << bad.size();
  }
  const std::string bearer_in_bare = "Bearer " + s;
  EXPECT_EQ(check({{"x-figma-token", bearer_in_bare}}),
            Reason::kTokenMalformed);
  const std::string bad_bare = BadChecksum(s);
  EXPECT_EQ(check({{"x-figma-token", bad_bare}}), Reason::kTokenMalformed);
}

// The file most tests call (GET /v1/files/KEY1) belongs to plan_1.
void AddKey1(Harness& h) {
  h.fake.PutResource(MakeResource("plan_1", v1::RESOURCE_KIND_FILE, "KEY1"));
}

class PatAuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override { AddKey1(h); }
  Harness h;
};

TEST_F(PatAuthorizerTest, AllowsAndCarriesIds) {
  const std::string secret = AddToken(h, GrantSpec().Id("tok_a"));
  h.StartSynced();
  EXPECT_TRUE(h.authorizer->Ready());
  const AuthzResult r = h.Bearer(secret);
  EXPECT_TRUE(r.allowed()) << policy::ReasonCode(r.reason) << " " << r.message;
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(policy::ReasonCode(r.reason), "allowed");
  EXPECT_EQ(r.token_id, "tok_a");
  EXPECT_EQ(r.plan_id, "plan_1");
  // From the snapshot: no ValidateToken.
  EXPECT_EQ(h.fake.validate_calls(), 0);
  // X-Figma-Token works the same.
  const AuthzResult bare =
      h.Call("GET", "/v1/files/KEY1", {{"x-figma-token", secret}});
  EXPECT_TRUE(bare.allowed()) << policy::ReasonCode(bare.reason);
}

TEST_F(PatAuthorizerTest, Step1PathBeforeCredentials) {
  h.StartSynced();
  ExpectDenied(h.Call("GET", "/v1/files//KEY1", {}), 400, "path_invalid");
  ExpectDenied(h.Call("GET", "/v1/files/%2e%2e/x", {}), 400, "path_invalid");
  const std::string secret = GenerateSecret(TokenKind::kRestApi);
  ExpectDenied(h.Bearer(secret, "/v1/files/KEY1/../x"), 400, "path_invalid");
  const std::string in_query = absl::StrCat("/v1/files/KEY1?token=", secret);
  ExpectDenied(h.Call("GET", in_query, {}), 400, "token_in_query");
  EXPECT_EQ(h.fake.validate_calls(), 0);
}

TEST_F(PatAuthorizerTest, Every401FromHeaders) {
  const std::string active = AddToken(h, GrantSpec().Id("tok_active"));
  const std::string revoked = AddToken(
      h, GrantSpec().Id("tok_revoked").Status(v1::TOKEN_STATUS_REVOKED));
  const std::string expired = AddToken(
      h, GrantSpec().Id("tok_expired").Expires(kStart - absl::Hours(1)));
  const std::string npm = AddToken(h, GrantSpec()
                                          .Id("tok_npm")
                                          .Kind(v1::TOKEN_KIND_NPM_REGISTRY)
                                          .Scopes({"packages:read"}));
  h.StartSynced();

  ExpectDenied(h.Call("GET", "/v1/files/KEY1", {}), 401, "token_missing");
  ExpectDenied(h.Call("GET", "/v1/files/KEY1",
                      {{"authorization", "Bearer " + active},
                       {"x-figma-token", active}}),
               401, "token_ambiguous");
  const std::string two = absl::StrCat("Bearer ", active, ", Bearer ", active);
  ExpectDenied(h.Call("GET", "/v1/files/KEY1", {{"authorization", two}}), 401,
               "token_ambiguous");
  ExpectDenied(h.Bearer(BadChecksum(active)), 401, "token_malformed");
  ExpectDenied(
      h.Call("GET", "/v1/files/KEY1", {{"authorization", "Basic " + active}}),
      401, "token_malformed");
  ExpectDenied(h.Call("GET", "/v1/files/KEY1", {{"x-figma-token", "nope"}}),
               401, "token_malformed");
  // Decided offline: the authority was never asked.
  EXPECT_EQ(h.fake.validate_calls(), 0);

  ExpectDenied(h.Bearer(GenerateSecret(TokenKind::kRestApi)), 401,
               "token_unknown");
  EXPECT_EQ(h.fake.validate_calls(), 1);

  AuthzResult r = h.Bearer(revoked);
  ExpectDenied(r, 401, "token_revoked");
  EXPECT_EQ(r.token_id, "tok_revoked");
  ExpectDenied(h.Bearer(expired), 401, "token_expired");
  ExpectDenied(h.Bearer(npm), 401, "token_kind_mismatch");
  EXPECT_TRUE(h.Bearer(active).allowed());
  // The messages never contain the secret.
  for (const std::string& s : {active, revoked, expired, npm}) {
    EXPECT_THAT(h.Bearer(s).message, Not(HasSubstr(s)));
  }
}

TEST_F(PatAuthorizerTest, ExpiryFollowsTheClockAndTheSecretsEnd) {
  // The token lives long, but this (previous) secret ends in one hour.
  const std::string previous = GenerateSecret(TokenKind::kRestApi);
  const std::string current = GenerateSecret(TokenKind::kRestApi);
  h.fake.PutGrant(MakeGrant(GrantSpec().Expires(kStart + absl::Hours(48))),
                  {{previous, kStart + absl::Hours(1)},
                   {current, kStart + absl::Hours(48)}});
  h.StartSynced();
  EXPECT_TRUE(h.Bearer(previous).allowed());
  EXPECT_TRUE(h.Bearer(current).allowed());
  h.clock.Advance(absl::Hours(1));
  h.fake.Heartbeat();  // keep the stream fresh at the new time
  ASSERT_TRUE(
      WaitFor([&] { return h.grants->last_contact() >= h.clock.Now(); }));
  ExpectDenied(h.Bearer(previous), 401, "token_expired");
  EXPECT_TRUE(h.Bearer(current).allowed());
  h.clock.Advance(absl::Hours(47));
  h.fake.Heartbeat();
  ASSERT_TRUE(
      WaitFor([&] { return h.grants->last_contact() >= h.clock.Now(); }));
  ExpectDenied(h.Bearer(current), 401, "token_expired");
}

TEST_F(PatAuthorizerTest, Steps3To5) {
  const std::string selected =
      AddToken(h, GrantSpec()
                      .Id("tok_sel")
                      .Scopes({"file_content:read"})
                      .AllResources(false)
                      .Resources({{v1::RESOURCE_KIND_PROJECT, "P1"}}));
  h.fake.PutResource(MakeResource("plan_1", v1::RESOURCE_KIND_TEAM, "T1"));
  h.fake.PutResource(MakeResource("plan_1", v1::RESOURCE_KIND_PROJECT, "P1",
                                  v1::RESOURCE_KIND_TEAM, "T1"));
  h.fake.PutResource(MakeResource("plan_1", v1::RESOURCE_KIND_FILE, "F1",
                                  v1::RESOURCE_KIND_PROJECT, "P1"));
  h.fake.PutResource(MakeResource("plan_1", v1::RESOURCE_KIND_FILE, "F2"));
  h.fake.PutResource(MakeResource("plan_2", v1::RESOURCE_KIND_FILE, "OTHER"));
  h.StartSynced();

  EXPECT_TRUE(h.Bearer(selected, "/v1/files/F1").allowed());
  ExpectDenied(h.Bearer(selected, "/v1/files/F2"), 403, "resource_not_allowed");
  ExpectDenied(h.Bearer(selected, "/v1/files/OTHER"), 403,
               "resource_not_allowed");
  ExpectDenied(h.Bearer(selected, "/v1/files/F1/versions"), 403,
               "scope_missing");
  ExpectDenied(h.Bearer(selected, "/v1/nothing/here"), 403, "endpoint_unknown");
  ExpectDenied(h.Bearer(selected, "/v1/me"), 403, "endpoint_not_supported");
  const AuthzResult r = h.Bearer(selected, "/v1/files/F2");
  EXPECT_EQ(r.token_id, "tok_sel");
  EXPECT_EQ(r.plan_id, "plan_1");
}

// Issue #8 failure 8, the class: for every resource kind a path names, and
// for all-resources and selected tokens alike, a resource of another plan
// and an id nobody owns get the same decision (reason, status, message with
// the id elided, endpoint) from memory, and neither costs an RPC.
TEST_F(PatAuthorizerTest, UnknownAndOtherPlanResourcesAreIndistinguishable) {
  const std::vector<std::string> scopes = {"files:read"};
  const std::string all = AddToken(h, GrantSpec().Id("tok_all").Scopes(scopes));
  const std::string listed =
      AddToken(h, GrantSpec()
                      .Id("tok_list")
                      .Scopes(scopes)
                      .AllResources(false)
                      .Resources({{v1::RESOURCE_KIND_FILE, "KEY1"},
                                  {v1::RESOURCE_KIND_PROJECT, "P1"}}));
  h.fake.PutResource(MakeResource("plan_1", v1::RESOURCE_KIND_PROJECT, "P1"));
  h.fake.PutResource(MakeResource("plan_2", v1::RESOURCE_KIND_TEAM, "T2"));
  h.fake.PutResource(MakeResource("plan_2", v1::RESOURCE_KIND_PROJECT, "P2",
                                  v1::RESOURCE_KIND_TEAM, "T2"));
  h.fake.PutResource(MakeResource("plan_2", v1::RESOURCE_KIND_FILE, "F2",
                                  v1::RESOURCE_KIND_PROJECT, "P2"));
  // Known to ResolveResource only (as if created at the authority and not
  // delivered yet): still answered from memory, like any unknown id.
  h.fake.SetResolveOnly(MakeResource("plan_2", v1::RESOURCE_KIND_FILE, "F3"));
  h.StartSynced();
  const uint64_t rpcs_before = h.CounterValue(
      "pat_sidecar_authority_rpcs_total", {{"method", "ResolveResource"}});

  struct Shape {
    std::string prefix, suffix, other_plan;
  };
  const std::vector<Shape> shapes = {
      {"/v1/files/", "", "F2"},
      {"/v1/files/", "/versions", "F2"},
      {"/v1/projects/", "/files", "P2"},
      {"/v1/teams/", "/projects", "T2"},
  };
  for (const std::string& secret : {all, listed}) {
    for (const Shape& shape : shapes) {
      for (const std::string& unknown :
           {std::string("NOBODY"), std::string("F3")}) {
        const std::string target_other =
            absl::StrCat(shape.prefix, shape.other_plan, shape.suffix);
        const std::string target_unknown =
            absl::StrCat(shape.prefix, unknown, shape.suffix);
        SCOPED_TRACE(target_other + " vs " + target_unknown);
        const AuthzResult other = h.Bearer(secret, target_other);
        const AuthzResult nobody = h.Bearer(secret, target_unknown);
        ExpectDenied(other, 403, "resource_not_allowed");
        EXPECT_EQ(other.reason, nobody.reason);
        EXPECT_EQ(other.http_status, nobody.http_status);
        EXPECT_EQ(other.endpoint, nobody.endpoint);
        EXPECT_EQ(other.token_id, nobody.token_id);
        EXPECT_EQ(other.retry_after_seconds, nobody.retry_after_seconds);
        std::string a = other.message;
        std::string b = nobody.message;
        ASSERT_NE(a.find(shape.other_plan), std::string::npos) << a;
        ASSERT_NE(b.find(unknown), std::string::npos) << b;
        a.replace(a.find(shape.other_plan), shape.other_plan.size(), "<ID>");
        b.replace(b.find(unknown), unknown.size(), "<ID>");
        EXPECT_EQ(a, b);
      }
    }
  }
  EXPECT_EQ(h.fake.resolve_calls(), 0);
  EXPECT_EQ(h.CounterValue("pat_sidecar_authority_rpcs_total",
                           {{"method", "ResolveResource"}}),
            rpcs_before);
  EXPECT_EQ(h.CounterValue("pat_sidecar_directory_remote_lookups_total"), 0u);
  // The plan's own resources are still allowed from memory.
  EXPECT_TRUE(h.Bearer(all, "/v1/files/KEY1").allowed());
  EXPECT_TRUE(h.Bearer(listed, "/v1/projects/P1/files").allowed());
  EXPECT_EQ(h.fake.resolve_calls(), 0);
}

// While the watch is stale the directory copy is not trusted: every
// resource (known or not) is asked about, so both cases cost the same one
// RPC and still answer alike; the authority's answer decides.
TEST_F(PatAuthorizerTest, StaleResolvesEveryResourceWithTheAuthority) {
  const std::string secret = AddToken(h, GrantSpec().Id("tok_st"));
  h.fake.PutResource(MakeResource("plan_2", v1::RESOURCE_KIND_FILE, "F2"));
  h.StartSynced();
  h.clock.Advance(absl::Seconds(31));
  ASSERT_FALSE(h.authorizer->Ready());

  const AuthzResult other = h.Bearer(secret, "/v1/files/F2");
  EXPECT_EQ(h.fake.resolve_calls(), 1);
  const AuthzResult nobody = h.Bearer(secret, "/v1/files/F9");
  EXPECT_EQ(h.fake.resolve_calls(), 2);
  ExpectDenied(other, 403, "resource_not_allowed");
  ExpectDenied(nobody, 403, "resource_not_allowed");
  EXPECT_TRUE(h.Bearer(secret, "/v1/files/KEY1").allowed());
  EXPECT_EQ(h.fake.resolve_calls(), 3);
  // Moved to plan_1 at the authority, never delivered: the answer decides.
  h.fake.SetResolveOnly(MakeResource("plan_1", v1::RESOURCE_KIND_FILE, "F9"));
  EXPECT_TRUE(h.Bearer(secret, "/v1/files/F9").allowed());
  EXPECT_EQ(h.CounterValue("pat_sidecar_directory_remote_lookups_total"), 4u);

  // The authority gone: a resource that cannot be resolved is a 503.
  h.watcher->Stop();
  h.StopServer();
  // (The grant revalidation fails first, with the same answer.)
  const AuthzResult down = h.Bearer(secret, "/v1/files/KEY1");
  ExpectDenied(down, 503, "authority_unavailable");
  EXPECT_EQ(down.retry_after_seconds, 1);
}

TEST_F(PatAuthorizerTest, MemoryDecisionsCompleteInline) {
  const std::string secret = AddToken(h, GrantSpec().Id("tok_in"));
  h.StartSynced();
  bool inline_done = false;
  auto call = h.Start(secret, "10.0.0.1", "/v1/files/KEY1", &inline_done);
  EXPECT_TRUE(inline_done);
  EXPECT_TRUE(call->result.allowed());
  call = h.Start(secret, "10.0.0.1", "/v1/nothing", &inline_done);
  EXPECT_TRUE(inline_done);
  EXPECT_EQ(policy::ReasonCode(call->result.reason), "endpoint_unknown");
  call =
      h.Start(BadChecksum(secret), "10.0.0.1", "/v1/files/KEY1", &inline_done);
  EXPECT_TRUE(inline_done);
  EXPECT_EQ(policy::ReasonCode(call->result.reason), "token_malformed");
}

TEST_F(PatAuthorizerTest, NotReadyBeforeSync) {
  // No watcher: never synced.
  const std::string secret = AddToken(h, GrantSpec());
  EXPECT_FALSE(h.authorizer->Ready());
  const AuthzResult r = h.Bearer(secret);
  ExpectDenied(r, 503, "authority_unavailable");
  EXPECT_EQ(r.retry_after_seconds, 1);
  EXPECT_EQ(h.fake.validate_calls(), 0);
  // Offline checks still answer precisely.
  ExpectDenied(h.Call("GET", "/v1/files/KEY1", {}), 401, "token_missing");
  h.StartSynced();
  EXPECT_TRUE(h.authorizer->Ready());
  EXPECT_TRUE(h.Bearer(secret).allowed());
}

TEST_F(PatAuthorizerTest, SingleFlightForConcurrentMisses) {
  h.StartSynced();
  const std::string secret = GenerateSecret(TokenKind::kRestApi);
  h.fake.SetValidateAnswer(secret, MakeGrant(GrantSpec().Id("tok_sf")),
                           kFarFuture);
  h.fake.CloseValidateGate();
  constexpr int kThreads = 8;
  std::vector<AuthzResult> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { results[i] = h.Bearer(secret); });
  }
  // The first caller is inside ValidateToken; the others joined it.
  ASSERT_TRUE(WaitFor([&] {
    return h.fake.validate_calls() == 1 &&
           h.CounterValue("pat_sidecar_validate_shared_total") == kThreads - 1;
  }));
  h.fake.OpenValidateGate();
  for (std::thread& t : threads) t.join();
  for (const AuthzResult& r : results) {
    EXPECT_TRUE(r.allowed()) << policy::ReasonCode(r.reason);
    EXPECT_EQ(r.token_id, "tok_sf");
  }
  EXPECT_EQ(h.fake.validate_calls(), 1);
  // Cached now.
  EXPECT_TRUE(h.Bearer(secret).allowed());
  EXPECT_EQ(h.fake.validate_calls(), 1);
  // Only the digest travelled.
  for (const std::string& d : h.fake.validated_digests()) {
    EXPECT_EQ(d.size(), 32u);
    EXPECT_THAT(d, Not(HasSubstr(secret)));
  }
}

TEST_F(PatAuthorizerTest, UnknownDigestsAreRememberedBriefly) {
  h.StartSynced();
  const std::string secret = GenerateSecret(TokenKind::kRestApi);
  ExpectDenied(h.Bearer(secret), 401, "token_unknown");
  ExpectDenied(h.Bearer(secret), 401, "token_unknown");
  EXPECT_EQ(h.fake.validate_calls(), 1);
  // A grant event naming the digest replaces "unknown" at once.
  const int64_t rev = h.fake.PutGrant(MakeGrant(GrantSpec().Id("tok_new")),
                                      {{secret, kFarFuture}});
  ASSERT_TRUE(h.WaitRevision(rev));
  EXPECT_TRUE(h.Bearer(secret).allowed());
  EXPECT_EQ(h.fake.validate_calls(), 1);

  const std::string other = GenerateSecret(TokenKind::kRestApi);
  ExpectDenied(h.Bearer(other), 401, "token_unknown");
  EXPECT_EQ(h.fake.validate_calls(), 2);
  h.clock.Advance(absl::Seconds(6));
  h.fake.Heartbeat();
  ASSERT_TRUE(
      WaitFor([&] { return h.grants->last_contact() >= h.clock.Now(); }));
  ExpectDenied(h.Bearer(other), 401, "token_unknown");
  EXPECT_EQ(h.fake.validate_calls(), 3);
}

TEST_F(PatAuthorizerTest, RevokeEventDeniesEverySecretAtOnce) {
  const std::string s1 = GenerateSecret(TokenKind::kRestApi);
  const std::string s2 = GenerateSecret(TokenKind::kRestApi);
  GrantSpec spec = GrantSpec().Id("tok_r");
  h.fake.PutGrant(MakeGrant(spec),
                  {{s1, kStart + absl::Hours(2)}, {s2, spec.expire_time}});
  h.StartSynced();
  EXPECT_TRUE(h.Bearer(s1).allowed());
  EXPECT_TRUE(h.Bearer(s2).allowed());
  spec.status = v1::TOKEN_STATUS_REVOKED;
  const int64_t rev = h.fake.PutGrant(
      MakeGrant(spec), {{s1, kStart + absl::Hours(2)}, {s2, spec.expire_time}});
  ASSERT_TRUE(h.WaitRevision(rev));
  ExpectDenied(h.Bearer(s1), 401, "token_revoked");
  ExpectDenied(h.Bearer(s2), 401, "token_revoked");
  EXPECT_EQ(h.fake.validate_calls(), 0);
}

TEST_F(PatAuthorizerTest, ScopeEditEnforcedAtOnce) {
  GrantSpec spec = GrantSpec().Id("tok_e").Scopes({"file_content:read"});
  const std::string secret = AddToken(h, spec);
  h.fake.PutResource(MakeResource("plan_1", v1::RESOURCE_KIND_PROJECT, "P1"));
  h.StartSynced();
  EXPECT_TRUE(h.Bearer(secret, "/v1/files/KEY1").allowed());
  ExpectDenied(h.Bearer(secret, "/v1/projects/P1/files"), 403, "scope_missing");
  spec.scopes = {"projects:read"};
  const int64_t rev = h.fake.PutGrant(MakeGrant(spec), {{secret, kFarFuture}});
  ASSERT_TRUE(h.WaitRevision(rev));
  ExpectDenied(h.Bearer(secret, "/v1/files/KEY1"), 403, "scope_missing");
  EXPECT_TRUE(h.Bearer(secret, "/v1/projects/P1/files").allowed());
}

TEST_F(PatAuthorizerTest, StaleWithAuthorityDownFailsClosed) {
  const std::string secret = AddToken(h, GrantSpec());
  h.StartSynced();
  EXPECT_TRUE(h.Bearer(secret).allowed());
  h.watcher->Stop();
  h.StopServer();
  // Within the bound the cache is still trusted.
  h.clock.Advance(absl::Seconds(30));
  EXPECT_TRUE(h.Bearer(secret).allowed());
  EXPECT_TRUE(h.authorizer->Ready());
  h.clock.Advance(absl::Seconds(1));
  EXPECT_FALSE(h.authorizer->Ready());
  AuthzResult r = h.Bearer(secret);
  ExpectDenied(r, 503, "authority_unavailable");
  EXPECT_EQ(r.retry_after_seconds, 1);
  r = h.Bearer(GenerateSecret(TokenKind::kRestApi));
  ExpectDenied(r, 503, "authority_unavailable");
  EXPECT_EQ(r.retry_after_seconds, 1);
  // Offline denials do not need the authority.
  ExpectDenied(h.Call("GET", "/v1/files/KEY1", {}), 401, "token_missing");
}

TEST_F(PatAuthorizerTest, StaleRevalidatesWithTheAuthority) {
  GrantSpec spec = GrantSpec().Id("tok_s");
  const std::string secret = AddToken(h, spec);
  const std::string other = AddToken(h, GrantSpec().Id("tok_o"));
  h.StartSynced();
  EXPECT_TRUE(h.Bearer(secret).allowed());
  EXPECT_EQ(h.fake.validate_calls(), 0);

  // The watch goes quiet past the bound (the fake sends nothing).
  h.clock.Advance(absl::Seconds(31));
  EXPECT_FALSE(h.authorizer->Ready());
  // Each request is revalidated, and the answer decides.
  EXPECT_TRUE(h.Bearer(other).allowed());
  EXPECT_EQ(h.fake.validate_calls(), 1);
  EXPECT_TRUE(h.Bearer(other).allowed());
  EXPECT_EQ(h.fake.validate_calls(), 2);
  // The authority now says "revoked" (an event the sidecar never got).
  spec.status = v1::TOKEN_STATUS_REVOKED;
  h.fake.SetValidateAnswer(secret, MakeGrant(spec), kFarFuture);
  ExpectDenied(h.Bearer(secret), 401, "token_revoked");
  EXPECT_EQ(h.fake.validate_calls(), 3);
  // Revoked is final: no further question needed.
  ExpectDenied(h.Bearer(secret), 401, "token_revoked");
  EXPECT_EQ(h.fake.validate_calls(), 3);

  // Contact again: the cache is trusted again.
  h.fake.Heartbeat();
  ASSERT_TRUE(WaitFor([&] { return h.authorizer->Ready(); }));
  EXPECT_TRUE(h.Bearer(other).allowed());
  EXPECT_EQ(h.fake.validate_calls(), 3);
}

TEST_F(PatAuthorizerTest, MissWithAuthorityDownIs503) {
  h.StartSynced();
  h.watcher->Stop();
  h.StopServer();
  const AuthzResult r = h.Bearer(GenerateSecret(TokenKind::kRestApi));
  ExpectDenied(r, 503, "authority_unavailable");
  EXPECT_EQ(r.retry_after_seconds, 1);
}

TEST_F(PatAuthorizerTest, UsageIsBatched) {
  const std::string a = AddToken(h, GrantSpec().Id("tok_ua"));
  const std::string b = AddToken(h, GrantSpec().Id("tok_ub"));
  h.StartSynced();
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(h.Bearer(a).allowed());
    ASSERT_TRUE(h.Bearer(b).allowed());
  }
  h.clock.Advance(absl::Seconds(5));
  ASSERT_TRUE(h.Call("GET", "/v1/files/KEY1",
                     {{"authorization", "Bearer " + a}}, "192.0.2.7")
                  .allowed());
  EXPECT_TRUE(h.fake.usage_requests().empty());
  ASSERT_TRUE(h.usage->Flush().ok());
  const std::vector<v1::ReportUsageRequest> requests = h.fake.usage_requests();
  ASSERT_EQ(requests.size(), 1u);
  ASSERT_EQ(requests[0].records_size(), 2);
  for (const v1::UsageRecord& record : requests[0].records()) {
    if (record.token_id() == "tok_ua") {
      EXPECT_EQ(record.last_used_time().seconds(),
                absl::ToUnixSeconds(kStart + absl::Seconds(5)));
      EXPECT_EQ(record.client_ip(), "192.0.2.7");
    } else {
      EXPECT_EQ(record.token_id(), "tok_ub");
      EXPECT_EQ(record.last_used_time().seconds(), absl::ToUnixSeconds(kStart));
      EXPECT_EQ(record.client_ip(), "10.0.0.1");
    }
  }
  // Nothing pending: no empty report.
  ASSERT_TRUE(h.usage->Flush().ok());
  EXPECT_EQ(h.fake.usage_requests().size(), 1u);
}

TEST(PatAuthorizerUsageThreadTest, FlushesEarlyAtTheRecordThreshold) {
  Harness::Options options;
  options.usage_thread = true;
  options.usage.flush_interval = absl::Hours(1);
  options.usage.flush_records = 3;
  Harness h(options);
  AddKey1(h);
  std::vector<std::string> secrets;
  for (int i = 0; i < 3; ++i) {
    secrets.push_back(AddToken(h, GrantSpec().Id(absl::StrCat("tok_t", i))));
  }
  h.StartSynced();
  for (const std::string& s : secrets) ASSERT_TRUE(h.Bearer(s).allowed());
  ASSERT_TRUE(WaitFor([&] { return h.fake.usage_requests().size() == 1; }));
  EXPECT_EQ(h.fake.usage_requests()[0].records_size(), 3);
}

TEST(PatAuthorizerUsageThreadTest, FlushesEarlyAtHalfTheCountKeyBound) {
  Harness::Options options;
  options.usage_thread = true;
  options.usage.flush_interval = absl::Hours(1);
  options.usage.flush_records = 100;
  options.usage.max_count_keys = 4;
  Harness h(options);
  AddKey1(h);
  std::vector<std::string> secrets;
  for (int i = 0; i < 2; ++i) {
    secrets.push_back(AddToken(h, GrantSpec().Id(absl::StrCat("tok_c", i))));
  }
  h.StartSynced();
  for (const std::string& s : secrets) ASSERT_TRUE(h.Bearer(s).allowed());
  // Two tokens: two count keys, half of four; the records (2 < 100) alone
  // would not have flushed before the hour.
  ASSERT_TRUE(WaitFor([&] { return h.fake.usage_requests().size() == 1; }));
  EXPECT_EQ(h.fake.usage_requests()[0].records_size(), 2);
  EXPECT_EQ(h.fake.usage_requests()[0].counts_size(), 2);
}

// The flush thread's schedule: an early flush never comes before the
// spacing after the previous flush, and never while backing off.
TEST(UsageReporterScheduleTest, EarlyFlushesAreSpaced) {
  const absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  const absl::Time interval = t0 + absl::Seconds(10);
  const absl::Time spaced = t0 + absl::Seconds(1);
  using internal::NextFlushTime;
  EXPECT_EQ(NextFlushTime(interval, false, false, spaced), interval);
  EXPECT_EQ(NextFlushTime(interval, true, false, spaced), spaced);
  EXPECT_EQ(NextFlushTime(interval, true, true, spaced), interval);
  // The interval comes first: the early request changes nothing.
  EXPECT_EQ(NextFlushTime(t0 + absl::Milliseconds(500), true, false, spaced),
            t0 + absl::Milliseconds(500));
}

TEST(UsageReporterTest, BoundedAndKeptWhenTheAuthorityFails) {
  Harness::Options options;
  options.usage.max_records = 2;
  Harness h(options);
  h.usage->Record("tok_1", "10.0.0.1");
  h.usage->Record("tok_2", "10.0.0.2");
  h.usage->Record("tok_3", "10.0.0.3");  // over the bound: dropped
  h.usage->Record("tok_1", "10.0.0.9");  // pending already: updated
  EXPECT_EQ(h.usage->pending(), 2u);
  EXPECT_EQ(h.CounterValue("pat_sidecar_usage_dropped_total"), 1u);
  h.StopServer();
  EXPECT_FALSE(h.usage->Flush().ok());
  EXPECT_EQ(h.usage->pending(), 2u);  // kept for the next flush
  EXPECT_TRUE(h.fake.usage_requests().empty());
}

TEST_F(PatAuthorizerTest, MetricsNeverCarrySecretsOrDigests) {
  const std::string secret = AddToken(h, GrantSpec());
  h.StartSynced();
  EXPECT_TRUE(h.Bearer(secret).allowed());
  const std::string unknown = GenerateSecret(TokenKind::kRestApi);
  ExpectDenied(h.Bearer(unknown), 401, "token_unknown");
  const std::string text = h.metrics->RenderPrometheus();
  for (const std::string& s : {secret, unknown}) {
    EXPECT_THAT(text, Not(HasSubstr(s)));
    EXPECT_THAT(text, Not(HasSubstr(DigestHex(Sha256(s)))));
  }
  EXPECT_THAT(text, HasSubstr("pat_sidecar_cache_size 1"));
  EXPECT_THAT(text, HasSubstr("pat_sidecar_cache_hits_total"));
  EXPECT_THAT(text, HasSubstr("pat_sidecar_cache_misses_total 1"));
  EXPECT_THAT(text, HasSubstr("pat_sidecar_watch_connected 1"));
}

}  // namespace
}  // namespace pat::sidecar
