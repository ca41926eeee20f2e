// One test per domain rule (SPEC §3: R1–R11, R14) against an in-process
// authority on a real PostgreSQL database, plus ListTokens pagination and
// CreateToken idempotency.

#include <algorithm>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/secret.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pat/v1/pat.pb.h"
#include "tests/support/fixtures.h"
#include "tests/support/status_matchers.h"

namespace pat::testing {
namespace {

namespace v1 = ::pat::v1;
using ::absl::StatusCode;
using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

constexpr char kPlanP[] = "4444444444";  // PROFESSIONAL, admin "pam"

class RulesTest : public SeededAuthorityTest {};

std::vector<std::string> Ids(const std::vector<v1::Token>& tokens) {
  std::vector<std::string> ids;
  for (const v1::Token& t : tokens) ids.push_back(t.id());
  return ids;
}

std::string ResourceString(const v1::TokenResource& r) {
  return absl::StrCat(v1::ResourceKind_Name(r.kind()), "|", r.id(), "|",
                      r.link());
}

struct TamperResult {
  int tried = 0;
  int accepted = 0;
  std::string example;  // an accepted variant
};

// Calls `call` with every single-character variant of `good` (each position
// replaced by several base64url characters) and expects INVALID_ARGUMENT
// naming page_token. Variants that decode to the very same bytes (unused
// trailing bits of a base64 character) are not tampering and are skipped.
TamperResult TamperEachCharacter(
    const std::string& good,
    const std::function<grpc::Status(const std::string&)>& call) {
  TamperResult result;
  std::string good_bytes;
  const bool base64 = absl::WebSafeBase64Unescape(good, &good_bytes);
  for (size_t pos = 0; pos < good.size(); ++pos) {
    for (char c : {'A', 'z', '0', '9', '_', '-'}) {
      if (good[pos] == c) continue;
      std::string t = good;
      t[pos] = c;
      std::string bytes;
      if (base64 && absl::WebSafeBase64Unescape(t, &bytes) &&
          bytes == good_bytes) {
        continue;
      }
      ++result.tried;
      grpc::Status s = call(t);
      if (s.ok()) {
        if (result.accepted++ == 0) result.example = t;
      } else {
        EXPECT_THAT(
            s, StatusIs(StatusCode::kInvalidArgument, HasSubstr("page_token")));
      }
    }
  }
  return result;
}

// ---------------------------------------------------------------------------
// R1: tokens only on ORGANIZATION and ENTERPRISE plans.

TEST_F(RulesTest, R1_TokensOnlyOnOrganizationAndEnterprisePlans) {
  v1::CreateTokenResponse created;
  EXPECT_THAT(CreateToken(h(), kAlice, MakeCreateRequest(kPlanA), &created),
              IsOk());  // ORGANIZATION
  EXPECT_THAT(CreateToken(h(), kBob, MakeCreateRequest(kPlanB), &created),
              IsOk());  // ENTERPRISE

  UpsertPlan(h(), kPlanP, v1::PLAN_TIER_PROFESSIONAL, {"pam"});
  ASSERT_FALSE(HasFailure());
  const std::vector<std::pair<std::string, std::string>> small_plans = {
      {kPlanS, kSam}, {kPlanP, "pam"}};
  for (const auto& [plan, admin] : small_plans) {
    for (const PlanRpc& rpc : AllPlanRpcs()) {
      SCOPED_TRACE(absl::StrCat(rpc.name, " on plan ", plan, " as ", admin));
      grpc::Status s = rpc.call(h(), admin, plan, kUnknownTokenId);
      EXPECT_THAT(s, StatusCodeIs(StatusCode::kFailedPrecondition));
    }
  }
  EXPECT_EQ(CountRows(h(), "tokens"), 2);

  // A plan that is downgraded loses token management too.
  constexpr char kPlanD[] = "5555555555";
  UpsertPlan(h(), kPlanD, v1::PLAN_TIER_ORGANIZATION, {"dave"});
  v1::CreateTokenResponse on_d =
      MustCreate(h(), "dave", MakeCreateRequest(kPlanD));
  ASSERT_FALSE(HasFailure());
  UpsertPlan(h(), kPlanD, v1::PLAN_TIER_PROFESSIONAL, {"dave"});
  v1::Token got;
  EXPECT_THAT(GetToken(h(), "dave", kPlanD, on_d.token().id(), &got),
              StatusCodeIs(StatusCode::kFailedPrecondition));
  v1::RefreshTokenResponse refreshed;
  EXPECT_THAT(RefreshToken(h(), "dave", kPlanD, on_d.token().id(),
                           NewRequestId(), &refreshed),
              StatusCodeIs(StatusCode::kFailedPrecondition));

  // A plan the actor does not administer, existing or not: PERMISSION_DENIED
  // (existence is never revealed).
  for (const char* plan : {kUnknownPlan, kPlanB, kPlanS}) {
    SCOPED_TRACE(plan);
    EXPECT_THAT(CreateToken(h(), kAlice, MakeCreateRequest(plan), &created),
                StatusCodeIs(StatusCode::kPermissionDenied));
  }
}

// ---------------------------------------------------------------------------
// R2: admins only; other plans' tokens are NOT_FOUND; no actor is
// UNAUTHENTICATED.

TEST_F(RulesTest, R2_AdminsOnly) {
  v1::CreateTokenResponse a =
      MustCreate(h(), kAlice, MakeCreateRequest(kPlanA));
  v1::CreateTokenResponse b = MustCreate(h(), kBob, MakeCreateRequest(kPlanB));
  ASSERT_FALSE(HasFailure());

  // ListPlans: only the plans the actor administers.
  v1::ListPlansResponse plans;
  ASSERT_THAT(h().tokens().ListPlans(AuthorityHarness::Ctx(kAlice).get(),
                                     v1::ListPlansRequest(), &plans),
              IsOk());
  ASSERT_THAT(plans.plans(), SizeIs(1));
  EXPECT_EQ(plans.plans(0).id(), kPlanA);
  EXPECT_EQ(plans.plans(0).tier(), v1::PLAN_TIER_ORGANIZATION);
  plans.Clear();
  ASSERT_THAT(h().tokens().ListPlans(AuthorityHarness::Ctx(kMallory).get(),
                                     v1::ListPlansRequest(), &plans),
              IsOk());
  EXPECT_THAT(plans.plans(), IsEmpty());
  EXPECT_THAT(h().tokens().ListPlans(AuthorityHarness::Ctx(kNoActor).get(),
                                     v1::ListPlansRequest(), &plans),
              StatusCodeIs(StatusCode::kUnauthenticated));

  for (const PlanRpc& rpc : AllPlanRpcs()) {
    SCOPED_TRACE(rpc.name);
    auto expect_code = [&](const grpc::Status& s, StatusCode code) {
      EXPECT_THAT(s, StatusCodeIs(code));
    };
    // A non-admin, on an existing plan and token.
    expect_code(rpc.call(h(), kMallory, kPlanA, a.token().id()),
                StatusCode::kPermissionDenied);
    // The admin of another plan.
    expect_code(rpc.call(h(), kBob, kPlanA, a.token().id()),
                StatusCode::kPermissionDenied);
    // An unknown plan.
    expect_code(rpc.call(h(), kAlice, kUnknownPlan, kUnknownTokenId),
                StatusCode::kPermissionDenied);
    // No actor at all.
    expect_code(rpc.call(h(), kNoActor, kPlanA, a.token().id()),
                StatusCode::kUnauthenticated);
    if (rpc.takes_token_id) {
      // Another plan's token under the actor's own plan: NOT_FOUND.
      expect_code(rpc.call(h(), kAlice, kPlanA, b.token().id()),
                  StatusCode::kNotFound);
      // A malformed token id.
      expect_code(rpc.call(h(), kAlice, kPlanA, "tok_bad"),
                  StatusCode::kInvalidArgument);
    }
  }
  // Nothing above changed either token.
  EXPECT_TRUE(MessageDifferencer::Equals(
      MustGet(h(), kAlice, kPlanA, a.token().id()), a.token()));
  EXPECT_TRUE(MessageDifferencer::Equals(
      MustGet(h(), kBob, kPlanB, b.token().id()), b.token()));

  // Admin membership is read at every call: removing alice locks her out.
  UpsertPlan(h(), kPlanA, v1::PLAN_TIER_ORGANIZATION, {"carol"});
  v1::Token got;
  EXPECT_THAT(GetToken(h(), kAlice, kPlanA, a.token().id(), &got),
              StatusCodeIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(GetToken(h(), "carol", kPlanA, a.token().id(), &got), IsOk());
}

// ---------------------------------------------------------------------------
// R3: two kinds, distinct prefixes and scope sets, listing per kind.

TEST_F(RulesTest, R3_Kinds) {
  v1::CreateTokenResponse rest = MustCreate(h(), kAlice, MakeCreateRequest());
  v1::CreateTokenRequest npm_req = MakeCreateRequestWithLinks(
      kPlanA, {kNpmScopeA}, v1::TOKEN_KIND_NPM_REGISTRY);
  npm_req.clear_scopes();
  npm_req.add_scopes("packages:read");
  npm_req.add_scopes("packages:write");
  v1::CreateTokenResponse npm = MustCreate(h(), kAlice, npm_req);
  ASSERT_FALSE(HasFailure());

  EXPECT_EQ(rest.token().kind(), v1::TOKEN_KIND_REST_API);
  EXPECT_TRUE(rest.secret().starts_with("pat_rest_")) << "wrong prefix";
  EXPECT_EQ(npm.token().kind(), v1::TOKEN_KIND_NPM_REGISTRY);
  EXPECT_TRUE(npm.secret().starts_with("pat_npm_")) << "wrong prefix";
  EXPECT_THAT(npm.token().scopes(),
              UnorderedElementsAre("packages:read", "packages:write"));
  ASSERT_THAT(npm.token().resources(), SizeIs(1));
  EXPECT_EQ(npm.token().resources(0).kind(), v1::RESOURCE_KIND_NPM_SCOPE);
  EXPECT_EQ(npm.token().resources(0).id(), "@acme");
  EXPECT_EQ(npm.token().resources(0).link(), "@acme");
  EXPECT_EQ(Validate(h(), npm.secret()).grant().kind(),
            v1::TOKEN_KIND_NPM_REGISTRY);
  EXPECT_EQ(Validate(h(), rest.secret()).grant().kind(),
            v1::TOKEN_KIND_REST_API);

  EXPECT_THAT(Ids(ListAllTokens(h(), kAlice, kPlanA, v1::TOKEN_KIND_REST_API)),
              ElementsAre(rest.token().id()));
  EXPECT_THAT(
      Ids(ListAllTokens(h(), kAlice, kPlanA, v1::TOKEN_KIND_NPM_REGISTRY)),
      ElementsAre(npm.token().id()));

  // Scope sets do not mix.
  v1::CreateTokenResponse resp;
  v1::CreateTokenRequest npm_with_rest_scope =
      MakeCreateRequest(kPlanA, v1::TOKEN_KIND_NPM_REGISTRY);
  npm_with_rest_scope.clear_scopes();
  npm_with_rest_scope.add_scopes("files:read");
  EXPECT_THAT(CreateToken(h(), kAlice, npm_with_rest_scope, &resp),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("files:read")));
  v1::CreateTokenRequest rest_with_npm_scope = MakeCreateRequest();
  rest_with_npm_scope.clear_scopes();
  rest_with_npm_scope.add_scopes("packages:read");
  EXPECT_THAT(
      CreateToken(h(), kAlice, rest_with_npm_scope, &resp),
      StatusIs(StatusCode::kInvalidArgument, HasSubstr("packages:read")));
  // Resources do not mix either.
  EXPECT_THAT(
      CreateToken(h(), kAlice, MakeCreateRequestWithLinks(kPlanA, {kNpmScopeA}),
                  &resp),
      StatusIs(StatusCode::kInvalidArgument, HasSubstr("resource_links")));
  EXPECT_THAT(
      CreateToken(h(), kAlice,
                  MakeCreateRequestWithLinks(kPlanA, {kLinkFileA1},
                                             v1::TOKEN_KIND_NPM_REGISTRY),
                  &resp),
      StatusIs(StatusCode::kInvalidArgument, HasSubstr("resource_links")));
  EXPECT_EQ(CountRows(h(), "tokens"), 2);
}

// ---------------------------------------------------------------------------
// R4: create, its limits, and a secret shown only once.

TEST_F(RulesTest, R4_Create) {
  const absl::Time t0 = Now();
  v1::CreateTokenRequest req = MakeCreateRequest();
  req.set_name(std::string(128, 'n'));  // longest allowed name
  req.set_description(std::string(1024, 'd'));
  req.set_expires_in_days(45);
  v1::CreateTokenResponse created = MustCreate(h(), kAlice, req);
  ASSERT_FALSE(HasFailure());

  const v1::Token& t = created.token();
  EXPECT_TRUE(std::regex_match(t.id(), std::regex("tok_[0-9A-Za-z]{22}")))
      << t.id();
  EXPECT_EQ(t.plan_id(), kPlanA);
  EXPECT_EQ(t.kind(), v1::TOKEN_KIND_REST_API);
  EXPECT_EQ(t.name(), req.name());
  EXPECT_EQ(t.description(), req.description());
  EXPECT_THAT(t.scopes(), ElementsAre("files:read"));
  EXPECT_TRUE(t.all_resources());
  EXPECT_THAT(t.resources(), IsEmpty());
  EXPECT_EQ(t.status(), v1::TOKEN_STATUS_ACTIVE);
  EXPECT_EQ(t.created_by(), kAlice);
  EXPECT_EQ(ToTime(t.create_time()), t0);
  EXPECT_EQ(ToTime(t.expire_time()), t0 + absl::Hours(24 * 45));
  EXPECT_EQ(t.lifetime_days(), 45);
  EXPECT_FALSE(t.has_revoke_time());
  EXPECT_TRUE(t.revoked_by().empty());
  EXPECT_FALSE(t.has_last_refresh_time());

  // The secret: documented format, works at once.
  const std::string& secret = created.secret();
  EXPECT_TRUE(std::regex_match(secret, std::regex(std::string(kSecretRegex))))
      << "secret does not match the published regex";
  EXPECT_EQ(secret.size(), kRestSecretPrefix.size() + 49);
  v1::ValidateTokenResponse v = Validate(h(), secret);
  EXPECT_TRUE(v.found());
  EXPECT_EQ(v.grant().token_id(), t.id());
  EXPECT_EQ(v.grant().status(), v1::TOKEN_STATUS_ACTIVE);
  EXPECT_EQ(ToTime(v.secret_expire_time()), ToTime(t.expire_time()));

  // Never returned again: Token has no secret field, and no serialized
  // Get/List response carries it.
  EXPECT_EQ(v1::Token::descriptor()->FindFieldByName("secret"), nullptr);
  v1::Token got = MustGet(h(), kAlice, kPlanA, t.id());
  EXPECT_TRUE(MessageDifferencer::Equals(got, t));
  v1::ListTokensRequest list_req;
  list_req.set_plan_id(kPlanA);
  v1::ListTokensResponse listed;
  ASSERT_THAT(ListTokens(h(), kAlice, list_req, &listed), IsOk());
  for (const std::string& bytes :
       {got.SerializeAsString(), listed.SerializeAsString()}) {
    EXPECT_EQ(bytes.find(secret), std::string::npos);
    EXPECT_EQ(bytes.find(SecretBody(secret)), std::string::npos);
    EXPECT_EQ(bytes.find(SecretDigestBytes(secret)), std::string::npos);
  }

  // Boundaries that are accepted.
  for (int days : {1, 365}) {
    v1::CreateTokenRequest r = MakeCreateRequest();
    r.set_expires_in_days(days);
    r.set_name("x");        // shortest allowed name
    r.clear_description();  // description is optional
    v1::CreateTokenResponse ok = MustCreate(h(), kAlice, r);
    EXPECT_EQ(ToTime(ok.token().expire_time()), t0 + absl::Hours(24 * days));
  }

  // Boundaries that are refused.
  struct Bad {
    std::string what;
    std::function<void(v1::CreateTokenRequest&)> edit;
    std::string field;
  };
  const std::vector<Bad> bad = {
      {"empty name", [](auto& r) { r.set_name(""); }, "name"},
      {"129-char name", [](auto& r) { r.set_name(std::string(129, 'n')); },
       "name"},
      {"1025-char description",
       [](auto& r) { r.set_description(std::string(1025, 'd')); },
       "description"},
      {"0 days", [](auto& r) { r.set_expires_in_days(0); }, "expires_in_days"},
      {"366 days", [](auto& r) { r.set_expires_in_days(366); },
       "expires_in_days"},
      {"-1 days", [](auto& r) { r.set_expires_in_days(-1); },
       "expires_in_days"},
      {"no scopes", [](auto& r) { r.clear_scopes(); }, "scopes"},
      {"no resources",
       [](auto& r) {
         r.set_all_resources(false);
         r.clear_resource_links();
       },
       "resource_links"},
      {"both all_resources and links",
       [](auto& r) {
         r.set_all_resources(true);
         r.add_resource_links(kLinkFileA1);
       },
       "resource_links"},
  };
  const int64_t tokens_before = CountRows(h(), "tokens");
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.what);
    v1::CreateTokenRequest r = MakeCreateRequest();
    b.edit(r);
    v1::CreateTokenResponse resp;
    EXPECT_THAT(CreateToken(h(), kAlice, r, &resp),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr(b.field)));
  }
  EXPECT_EQ(CountRows(h(), "tokens"), tokens_before);
}

// ---------------------------------------------------------------------------
// R5: scope sets; the three excluded REST scopes are named when refused.

TEST_F(RulesTest, R5_Scopes) {
  v1::CreateTokenResponse resp;
  for (const char* excluded : {"file_comments:write", "file_variables:write",
                               "file_code_connect:write"}) {
    SCOPED_TRACE(excluded);
    v1::CreateTokenRequest r = MakeCreateRequest();
    r.add_scopes(excluded);
    EXPECT_THAT(CreateToken(h(), kAlice, r, &resp),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr(excluded)));
  }
  v1::CreateTokenRequest all_three = MakeCreateRequest();
  all_three.add_scopes("file_comments:write");
  all_three.add_scopes("file_variables:write");
  all_three.add_scopes("file_code_connect:write");
  grpc::Status s = CreateToken(h(), kAlice, all_three, &resp);
  EXPECT_THAT(s, StatusIs(StatusCode::kInvalidArgument,
                          HasSubstr("file_comments:write")));
  EXPECT_THAT(s, StatusIs(StatusCode::kInvalidArgument,
                          HasSubstr("file_variables:write")));
  EXPECT_THAT(s, StatusIs(StatusCode::kInvalidArgument,
                          HasSubstr("file_code_connect:write")));

  for (const char* unknown : {"files:delete", "admin", "FILES:READ", ""}) {
    SCOPED_TRACE(unknown);
    v1::CreateTokenRequest r = MakeCreateRequest();
    r.add_scopes(unknown);
    EXPECT_THAT(CreateToken(h(), kAlice, r, &resp),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr("scopes")));
  }
  EXPECT_EQ(CountRows(h(), "tokens"), 0);

  // Grantable scopes are kept, de-duplicated.
  v1::CreateTokenRequest ok = MakeCreateRequest();
  ok.clear_scopes();
  for (const char* scope : {"webhooks:read", "files:read", "file_comments:read",
                            "file_variables:read", "files:read"}) {
    ok.add_scopes(scope);
  }
  v1::CreateTokenResponse created = MustCreate(h(), kAlice, ok);
  EXPECT_THAT(created.token().scopes(),
              UnorderedElementsAre("file_comments:read", "file_variables:read",
                                   "files:read", "webhooks:read"));
  EXPECT_THAT(Validate(h(), created.secret()).grant().scopes(),
              UnorderedElementsAre("file_comments:read", "file_variables:read",
                                   "files:read", "webhooks:read"));
}

// ---------------------------------------------------------------------------
// R6: resource links, accepted forms, canonical form, ownership.

TEST_F(RulesTest, R6_ResourceLinks) {
  struct Accepted {
    std::string link;
    v1::ResourceKind kind;
    std::string id;
    std::string canonical;
  };
  const std::vector<Accepted> accepted = {
      {"https://figma.com/design/FILEA1", v1::RESOURCE_KIND_FILE, "FILEA1",
       kCanonicalFileA1},
      {"https://www.figma.com/design/FILEA1", v1::RESOURCE_KIND_FILE, "FILEA1",
       kCanonicalFileA1},
      {"https://figma.com/file/FILEA1", v1::RESOURCE_KIND_FILE, "FILEA1",
       kCanonicalFileA1},
      {"https://figma.com/board/FILEA1", v1::RESOURCE_KIND_FILE, "FILEA1",
       kCanonicalFileA1},
      {"https://figma.com/proto/FILEA1", v1::RESOURCE_KIND_FILE, "FILEA1",
       kCanonicalFileA1},
      {"https://www.figma.com/slides/FILEA1", v1::RESOURCE_KIND_FILE, "FILEA1",
       kCanonicalFileA1},
      {"https://www.figma.com/design/FILEA2/My-Design-File",
       v1::RESOURCE_KIND_FILE, "FILEA2", kCanonicalFileA2},
      {"https://figma.com/design/FILEA2/My-Design?node-id=0-1&t=abc",
       v1::RESOURCE_KIND_FILE, "FILEA2", kCanonicalFileA2},
      {"https://figma.com/file/FILEA2?node-id=1-2", v1::RESOURCE_KIND_FILE,
       "FILEA2", kCanonicalFileA2},
      {kLinkProjectA, v1::RESOURCE_KIND_PROJECT, "projA", kCanonicalProjectA},
      {"https://www.figma.com/files/1111111111/project/projA",
       v1::RESOURCE_KIND_PROJECT, "projA", kCanonicalProjectA},
      {kLinkTeamA, v1::RESOURCE_KIND_TEAM, "teamA", kCanonicalTeamA},
      {kLinkWorkspaceA, v1::RESOURCE_KIND_WORKSPACE, "wsA",
       kCanonicalWorkspaceA},
  };
  for (const Accepted& a : accepted) {
    SCOPED_TRACE(a.link);
    v1::CreateTokenResponse created =
        MustCreate(h(), kAlice, MakeCreateRequestWithLinks(kPlanA, {a.link}));
    EXPECT_FALSE(created.token().all_resources());
    ASSERT_THAT(created.token().resources(), SizeIs(1));
    EXPECT_EQ(created.token().resources(0).kind(), a.kind);
    EXPECT_EQ(created.token().resources(0).id(), a.id);
    EXPECT_EQ(created.token().resources(0).link(), a.canonical);
    // Stored canonical: Get says the same.
    v1::Token got = MustGet(h(), kAlice, kPlanA, created.token().id());
    EXPECT_TRUE(MessageDifferencer::Equals(got.resources(0),
                                           created.token().resources(0)));
  }

  // Several at once, every kind.
  v1::CreateTokenResponse mixed = MustCreate(
      h(), kAlice,
      MakeCreateRequestWithLinks(
          kPlanA, {kLinkFileA1, kLinkProjectA, kLinkTeamA, kLinkWorkspaceA}));
  std::vector<std::string> got_resources;
  for (const v1::TokenResource& r : mixed.token().resources()) {
    got_resources.push_back(ResourceString(r));
  }
  EXPECT_THAT(
      got_resources,
      UnorderedElementsAre(
          absl::StrCat("RESOURCE_KIND_FILE|FILEA1|", kCanonicalFileA1),
          absl::StrCat("RESOURCE_KIND_PROJECT|projA|", kCanonicalProjectA),
          absl::StrCat("RESOURCE_KIND_TEAM|teamA|", kCanonicalTeamA),
          absl::StrCat("RESOURCE_KIND_WORKSPACE|wsA|", kCanonicalWorkspaceA)));
  // The sidecar sees the same allowlist.
  v1::ValidateTokenResponse v = Validate(h(), mixed.secret());
  EXPECT_FALSE(v.grant().all_resources());
  EXPECT_THAT(v.grant().resources(), SizeIs(4));

  // Refused: not in the directory, another plan's resources, another org.
  const int64_t tokens_before = CountRows(h(), "tokens");
  for (const char* link : {
           "https://figma.com/design/NOSUCHFILE",
           kLinkFileB1,
           kLinkProjectB,
           "https://figma.com/files/2222222222/team/teamB",
           "https://figma.com/files/2222222222/workspace/wsB",
           // B's project under A's organization id.
           "https://figma.com/files/1111111111/project/projB",
           // A's project under B's organization id.
           "https://figma.com/files/2222222222/project/projA",
           // A's team addressed as a project.
           "https://figma.com/files/1111111111/project/teamA",
           "http://figma.com/design/FILEA1",
           "https://evil.com/design/FILEA1",
           "https://figma.com.evil.com/design/FILEA1",
           "https://figma.com/unknown/FILEA1",
           "not a link",
       }) {
    SCOPED_TRACE(link);
    v1::CreateTokenResponse resp;
    EXPECT_THAT(
        CreateToken(h(), kAlice, MakeCreateRequestWithLinks(kPlanA, {link}),
                    &resp),
        StatusIs(StatusCode::kInvalidArgument, HasSubstr("resource_links")));
  }
  // npm: a scope of the plan's directory only.
  v1::CreateTokenResponse resp;
  EXPECT_THAT(
      CreateToken(h(), kAlice,
                  MakeCreateRequestWithLinks(kPlanA, {"@other"},
                                             v1::TOKEN_KIND_NPM_REGISTRY),
                  &resp),
      StatusIs(StatusCode::kInvalidArgument, HasSubstr("resource_links")));
  EXPECT_THAT(
      CreateToken(h(), kBob,
                  MakeCreateRequestWithLinks(kPlanB, {kNpmScopeA},
                                             v1::TOKEN_KIND_NPM_REGISTRY),
                  &resp),
      StatusIs(StatusCode::kInvalidArgument, HasSubstr("resource_links")));
  EXPECT_EQ(CountRows(h(), "tokens"), tokens_before);
}

// ---------------------------------------------------------------------------
// R7: edit with a field mask.

TEST_F(RulesTest, R7_Edit) {
  v1::CreateTokenRequest req = MakeCreateRequest();
  req.set_name("n1");
  req.set_description("d1");
  v1::CreateTokenResponse created = MustCreate(h(), kAlice, req);
  ASSERT_FALSE(HasFailure());
  const v1::Token original = created.token();
  const std::string id = original.id();
  clock().Advance(absl::Hours(1));

  // Only masked fields change; the others carry junk that must be ignored.
  auto junk = [&](v1::UpdateTokenRequest& r) {
    if (r.name().empty()) r.set_name("junk name");
    if (r.description().empty()) r.set_description("junk description");
    if (r.scopes().empty()) r.add_scopes("webhooks:read");
    if (r.resource_links().empty() && !r.all_resources()) {
      r.add_resource_links(kLinkFileA2);
    }
  };
  v1::UpdateTokenRequest u = MakeUpdateRequest(kPlanA, id, {"name"});
  u.set_name("n2");
  u.set_all_resources(false);
  junk(u);
  v1::Token t = MustUpdate(h(), kAlice, u);
  EXPECT_EQ(t.name(), "n2");
  EXPECT_EQ(t.description(), "d1");
  EXPECT_THAT(t.scopes(), ElementsAre("files:read"));
  EXPECT_TRUE(t.all_resources());

  u = MakeUpdateRequest(kPlanA, id, {"description"});
  u.set_description("d2");
  junk(u);
  t = MustUpdate(h(), kAlice, u);
  EXPECT_EQ(t.name(), "n2");
  EXPECT_EQ(t.description(), "d2");
  EXPECT_THAT(t.scopes(), ElementsAre("files:read"));

  u = MakeUpdateRequest(kPlanA, id, {"scopes"});
  u.add_scopes("files:read");
  u.add_scopes("projects:read");
  junk(u);
  t = MustUpdate(h(), kAlice, u);
  EXPECT_THAT(t.scopes(), UnorderedElementsAre("files:read", "projects:read"));
  EXPECT_EQ(t.name(), "n2");
  EXPECT_TRUE(t.all_resources());

  u = MakeUpdateRequest(kPlanA, id, {"resources"});
  u.set_all_resources(false);
  u.add_resource_links(kLinkFileA1);
  u.add_resource_links(kLinkTeamA);
  junk(u);
  t = MustUpdate(h(), kAlice, u);
  EXPECT_FALSE(t.all_resources());
  std::vector<std::string> resources;
  for (const v1::TokenResource& r : t.resources()) {
    resources.push_back(ResourceString(r));
  }
  EXPECT_THAT(resources,
              UnorderedElementsAre(
                  absl::StrCat("RESOURCE_KIND_FILE|FILEA1|", kCanonicalFileA1),
                  absl::StrCat("RESOURCE_KIND_TEAM|teamA|", kCanonicalTeamA)));
  EXPECT_THAT(t.scopes(), UnorderedElementsAre("files:read", "projects:read"));
  EXPECT_EQ(t.description(), "d2");

  // Several paths at once, and back to all resources.
  u = MakeUpdateRequest(kPlanA, id, {"name", "resources"});
  u.set_name("n3");
  u.set_all_resources(true);
  t = MustUpdate(h(), kAlice, u);
  EXPECT_EQ(t.name(), "n3");
  EXPECT_TRUE(t.all_resources());
  EXPECT_THAT(t.resources(), IsEmpty());

  // Immutable fields.
  EXPECT_EQ(t.id(), id);
  EXPECT_EQ(t.kind(), original.kind());
  EXPECT_EQ(t.plan_id(), original.plan_id());
  EXPECT_EQ(ToTime(t.expire_time()), ToTime(original.expire_time()));
  EXPECT_EQ(ToTime(t.create_time()), ToTime(original.create_time()));
  EXPECT_EQ(t.created_by(), original.created_by());
  EXPECT_EQ(t.lifetime_days(), original.lifetime_days());
  EXPECT_TRUE(MessageDifferencer::Equals(MustGet(h(), kAlice, kPlanA, id), t));
  // Changes reach the grant the sidecars see, the secret keeps working.
  v1::ValidateTokenResponse v = Validate(h(), created.secret());
  EXPECT_TRUE(WorksAt(v, Now()));
  EXPECT_THAT(v.grant().scopes(),
              UnorderedElementsAre("files:read", "projects:read"));

  // Bad masks.
  v1::Token out;
  for (const std::vector<std::string>& mask :
       std::vector<std::vector<std::string>>{{},
                                             {"id"},
                                             {"kind"},
                                             {"plan_id"},
                                             {"expire_time"},
                                             {"lifetime_days"},
                                             {"status"},
                                             {"name", "nonsense"}}) {
    SCOPED_TRACE(absl::StrCat("mask size ", mask.size()));
    u = MakeUpdateRequest(kPlanA, id, mask);
    u.set_name("n4");
    EXPECT_THAT(
        UpdateToken(h(), kAlice, u, &out),
        StatusIs(StatusCode::kInvalidArgument, HasSubstr("update_mask")));
  }
  // Masked values are validated like at create.
  u = MakeUpdateRequest(kPlanA, id, {"name"});
  EXPECT_THAT(UpdateToken(h(), kAlice, u, &out),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("name")));
  u = MakeUpdateRequest(kPlanA, id, {"scopes"});
  u.add_scopes("file_variables:write");
  EXPECT_THAT(UpdateToken(h(), kAlice, u, &out),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("file_variables:write")));
  u = MakeUpdateRequest(kPlanA, id, {"resources"});
  u.add_resource_links(kLinkFileB1);
  EXPECT_THAT(
      UpdateToken(h(), kAlice, u, &out),
      StatusIs(StatusCode::kInvalidArgument, HasSubstr("resource_links")));
  EXPECT_TRUE(MessageDifferencer::Equals(MustGet(h(), kAlice, kPlanA, id), t));

  // Revoked and expired tokens cannot be edited.
  MustRevoke(h(), kAlice, kPlanA, id);
  u = MakeUpdateRequest(kPlanA, id, {"name"});
  u.set_name("after revoke");
  EXPECT_THAT(UpdateToken(h(), kAlice, u, &out),
              StatusCodeIs(StatusCode::kFailedPrecondition));

  v1::CreateTokenRequest short_lived = MakeCreateRequest();
  short_lived.set_expires_in_days(1);
  v1::CreateTokenResponse expiring = MustCreate(h(), kAlice, short_lived);
  clock().Advance(absl::Hours(24));
  u = MakeUpdateRequest(kPlanA, expiring.token().id(), {"name"});
  u.set_name("after expiry");
  EXPECT_THAT(UpdateToken(h(), kAlice, u, &out),
              StatusCodeIs(StatusCode::kFailedPrecondition));
  EXPECT_EQ(MustGet(h(), kAlice, kPlanA, expiring.token().id()).name(),
            "ci token");
}

// ---------------------------------------------------------------------------
// R8: the id is stable across edit and refresh.

TEST_F(RulesTest, R8_IdStable) {
  v1::CreateTokenResponse created =
      MustCreate(h(), kAlice, MakeCreateRequest());
  ASSERT_FALSE(HasFailure());
  const std::string id = created.token().id();

  v1::UpdateTokenRequest u = MakeUpdateRequest(kPlanA, id, {"name"});
  u.set_name("renamed");
  EXPECT_EQ(MustUpdate(h(), kAlice, u).id(), id);
  clock().Advance(absl::Hours(2));
  v1::RefreshTokenResponse refreshed = MustRefresh(h(), kAlice, kPlanA, id);
  EXPECT_EQ(refreshed.token().id(), id);
  EXPECT_EQ(Validate(h(), refreshed.secret()).grant().token_id(), id);
  EXPECT_EQ(Validate(h(), created.secret()).grant().token_id(), id);
  EXPECT_EQ(MustGet(h(), kAlice, kPlanA, id).name(), "renamed");
  EXPECT_THAT(Ids(ListAllTokens(h(), kAlice, kPlanA)), ElementsAre(id));
  // The id is not secret-derived: it is not part of the secret.
  EXPECT_EQ(created.secret().find(id.substr(4)), std::string::npos);
}

// ---------------------------------------------------------------------------
// R9: refresh.

TEST_F(RulesTest, R9_Refresh) {
  v1::CreateTokenResponse created =
      MustCreate(h(), kAlice, MakeCreateRequest());
  ASSERT_FALSE(HasFailure());
  const std::string id = created.token().id();
  clock().Advance(absl::Hours(24 * 10));
  const absl::Time refresh_time = Now();

  const std::string request_id = NewRequestId();
  v1::RefreshTokenResponse refreshed;
  ASSERT_THAT(RefreshToken(h(), kAlice, kPlanA, id, request_id, &refreshed),
              IsOk());
  EXPECT_FALSE(refreshed.replayed());
  EXPECT_TRUE(refreshed.secret().starts_with("pat_rest_"));
  EXPECT_NE(refreshed.secret(), created.secret());
  EXPECT_EQ(refreshed.token().id(), id);
  EXPECT_EQ(refreshed.token().status(), v1::TOKEN_STATUS_ACTIVE);
  EXPECT_EQ(ToTime(refreshed.token().expire_time()),
            refresh_time + absl::Hours(24 * 30));
  EXPECT_EQ(refreshed.token().lifetime_days(), 30);
  EXPECT_EQ(ToTime(refreshed.token().last_refresh_time()), refresh_time);
  EXPECT_EQ(ToTime(refreshed.previous_secret_expire_time()),
            refresh_time + absl::Hours(24));

  // Both secrets work; each reports its own end.
  v1::ValidateTokenResponse old_v = Validate(h(), created.secret());
  EXPECT_TRUE(WorksAt(old_v, Now()));
  EXPECT_EQ(ToTime(old_v.secret_expire_time()), refresh_time + absl::Hours(24));
  v1::ValidateTokenResponse new_v = Validate(h(), refreshed.secret());
  EXPECT_TRUE(WorksAt(new_v, Now()));
  EXPECT_EQ(ToTime(new_v.secret_expire_time()),
            refresh_time + absl::Hours(24 * 30));
  EXPECT_EQ(ToTime(new_v.grant().expire_time()),
            refresh_time + absl::Hours(24 * 30));

  // A retry of the same request: same result, no second secret.
  clock().Advance(absl::Minutes(5));
  v1::RefreshTokenResponse retried;
  ASSERT_THAT(RefreshToken(h(), kAlice, kPlanA, id, request_id, &retried),
              IsOk());
  EXPECT_TRUE(retried.replayed());
  EXPECT_TRUE(retried.secret().empty());
  EXPECT_EQ(retried.token().id(), id);
  EXPECT_EQ(ToTime(retried.token().expire_time()),
            refresh_time + absl::Hours(24 * 30));
  EXPECT_EQ(ToTime(retried.previous_secret_expire_time()),
            refresh_time + absl::Hours(24));
  EXPECT_EQ(
      CountActions(ListAllAuditEvents(h(), kAlice, kPlanA, id), "refresh"), 1);
  EXPECT_TRUE(WorksAt(Validate(h(), refreshed.secret()), Now()));

  // Only active tokens can be refreshed.
  v1::RefreshTokenResponse resp;
  MustRevoke(h(), kAlice, kPlanA, id);
  EXPECT_THAT(RefreshToken(h(), kAlice, kPlanA, id, NewRequestId(), &resp),
              StatusCodeIs(StatusCode::kFailedPrecondition));
  v1::CreateTokenRequest short_lived = MakeCreateRequest();
  short_lived.set_expires_in_days(1);
  v1::CreateTokenResponse expiring = MustCreate(h(), kAlice, short_lived);
  clock().Advance(absl::Hours(24));
  EXPECT_THAT(RefreshToken(h(), kAlice, kPlanA, expiring.token().id(),
                           NewRequestId(), &resp),
              StatusCodeIs(StatusCode::kFailedPrecondition));
  EXPECT_FALSE(WorksAt(Validate(h(), expiring.secret()), Now()));
}

// ---------------------------------------------------------------------------
// R10: revoke.

TEST_F(RulesTest, R10_Revoke) {
  v1::CreateTokenResponse created =
      MustCreate(h(), kAlice, MakeCreateRequest());
  ASSERT_FALSE(HasFailure());
  const std::string id = created.token().id();
  clock().Advance(absl::Hours(1));
  v1::RefreshTokenResponse refreshed = MustRefresh(h(), kAlice, kPlanA, id);
  ASSERT_FALSE(HasFailure());
  // Both secrets work before the revoke (previous one in its overlap).
  ASSERT_TRUE(WorksAt(Validate(h(), created.secret()), Now()));
  ASSERT_TRUE(WorksAt(Validate(h(), refreshed.secret()), Now()));

  clock().Advance(absl::Hours(1));
  const absl::Time revoke_time = Now();
  v1::Token revoked = MustRevoke(h(), kAlice, kPlanA, id);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(revoked.id(), id);
  EXPECT_EQ(revoked.status(), v1::TOKEN_STATUS_REVOKED);
  ASSERT_TRUE(revoked.has_revoke_time());
  EXPECT_EQ(ToTime(revoked.revoke_time()), revoke_time);
  EXPECT_EQ(revoked.revoked_by(), kAlice);
  EXPECT_TRUE(
      MessageDifferencer::Equals(MustGet(h(), kAlice, kPlanA, id), revoked));

  // Every secret now reads REVOKED.
  for (const std::string& secret : {created.secret(), refreshed.secret()}) {
    v1::ValidateTokenResponse v = Validate(h(), secret);
    EXPECT_TRUE(v.found());
    EXPECT_EQ(v.grant().status(), v1::TOKEN_STATUS_REVOKED);
    EXPECT_EQ(ToTime(v.grant().revoke_time()), revoke_time);
    EXPECT_FALSE(WorksAt(v, Now()));
  }

  // Revoking again returns the token unchanged.
  clock().Advance(absl::Hours(1));
  v1::Token again = MustRevoke(h(), kAlice, kPlanA, id);
  EXPECT_TRUE(MessageDifferencer::Equals(again, revoked));
  EXPECT_EQ(CountActions(ListAllAuditEvents(h(), kAlice, kPlanA, id), "revoke"),
            1);

  // Nothing makes it active again.
  v1::RefreshTokenResponse r;
  EXPECT_THAT(RefreshToken(h(), kAlice, kPlanA, id, NewRequestId(), &r),
              StatusCodeIs(StatusCode::kFailedPrecondition));
  v1::UpdateTokenRequest u = MakeUpdateRequest(kPlanA, id, {"name"});
  u.set_name("revived?");
  v1::Token out;
  EXPECT_THAT(UpdateToken(h(), kAlice, u, &out),
              StatusCodeIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(Ids(ListAllTokens(h(), kAlice, kPlanA, v1::TOKEN_KIND_UNSPECIFIED,
                                {v1::TOKEN_STATUS_REVOKED})),
              ElementsAre(id));
  EXPECT_THAT(Ids(ListAllTokens(h(), kAlice, kPlanA, v1::TOKEN_KIND_UNSPECIFIED,
                                {v1::TOKEN_STATUS_ACTIVE})),
              IsEmpty());
  // Revoked wins over expired.
  clock().Advance(absl::Hours(24 * 60));
  EXPECT_EQ(MustGet(h(), kAlice, kPlanA, id).status(),
            v1::TOKEN_STATUS_REVOKED);
  EXPECT_EQ(Validate(h(), refreshed.secret()).grant().status(),
            v1::TOKEN_STATUS_REVOKED);
}

// ---------------------------------------------------------------------------
// R11: expiry at the expiration instant.

TEST_F(RulesTest, R11_Expiry) {
  v1::CreateTokenRequest req = MakeCreateRequest();
  req.set_expires_in_days(2);
  v1::CreateTokenResponse created = MustCreate(h(), kAlice, req);
  ASSERT_FALSE(HasFailure());
  const std::string id = created.token().id();
  const absl::Time expire_time = ToTime(created.token().expire_time());
  ASSERT_EQ(expire_time, Now() + absl::Hours(48));

  clock().Set(expire_time - absl::Seconds(1));
  EXPECT_EQ(MustGet(h(), kAlice, kPlanA, id).status(), v1::TOKEN_STATUS_ACTIVE);
  EXPECT_TRUE(WorksAt(Validate(h(), created.secret()), Now()));

  clock().Set(expire_time);
  v1::Token got = MustGet(h(), kAlice, kPlanA, id);
  EXPECT_EQ(got.status(), v1::TOKEN_STATUS_EXPIRED);
  EXPECT_FALSE(got.has_revoke_time());
  v1::ValidateTokenResponse v = Validate(h(), created.secret());
  EXPECT_TRUE(v.found());
  EXPECT_EQ(v.grant().status(), v1::TOKEN_STATUS_EXPIRED);
  EXPECT_FALSE(WorksAt(v, Now()));

  EXPECT_THAT(Ids(ListAllTokens(h(), kAlice, kPlanA, v1::TOKEN_KIND_UNSPECIFIED,
                                {v1::TOKEN_STATUS_EXPIRED})),
              ElementsAre(id));
  EXPECT_THAT(Ids(ListAllTokens(h(), kAlice, kPlanA, v1::TOKEN_KIND_UNSPECIFIED,
                                {v1::TOKEN_STATUS_ACTIVE})),
              IsEmpty());
  EXPECT_THAT(
      Ids(ListAllTokens(h(), kAlice, kPlanA, v1::TOKEN_KIND_UNSPECIFIED,
                        {v1::TOKEN_STATUS_ACTIVE, v1::TOKEN_STATUS_EXPIRED})),
      ElementsAre(id));

  v1::RefreshTokenResponse r;
  EXPECT_THAT(RefreshToken(h(), kAlice, kPlanA, id, NewRequestId(), &r),
              StatusCodeIs(StatusCode::kFailedPrecondition));
}

// ---------------------------------------------------------------------------
// R14: audit.

TEST_F(RulesTest, R14_Audit) {
  const absl::Time t_create = Now();
  v1::CreateTokenRequest req = MakeCreateRequest();
  req.set_name("before-name");
  v1::CreateTokenResponse created = MustCreate(h(), kAlice, req);
  ASSERT_FALSE(HasFailure());
  const std::string id = created.token().id();

  clock().Advance(absl::Minutes(1));
  const absl::Time t_update = Now();
  v1::UpdateTokenRequest u = MakeUpdateRequest(kPlanA, id, {"name"});
  u.set_name("after-name");
  MustUpdate(h(), kAlice, u);

  clock().Advance(absl::Minutes(1));
  const absl::Time t_refresh = Now();
  v1::RefreshTokenResponse refreshed = MustRefresh(h(), kAlice, kPlanA, id);

  clock().Advance(absl::Minutes(1));
  const absl::Time t_revoke = Now();
  MustRevoke(h(), kAlice, kPlanA, id);
  ASSERT_FALSE(HasFailure());

  // Another token, another plan: not in this token's history.
  v1::CreateTokenResponse other = MustCreate(h(), kAlice, MakeCreateRequest());
  MustCreate(h(), kBob, MakeCreateRequest(kPlanB));

  std::vector<v1::AuditEvent> events =
      ListAllAuditEvents(h(), kAlice, kPlanA, id);
  ASSERT_THAT(events, SizeIs(4));
  std::map<std::string, v1::AuditEvent> by_action;
  for (const v1::AuditEvent& e : events) {
    EXPECT_EQ(e.plan_id(), kPlanA);
    EXPECT_EQ(e.token_id(), id);
    EXPECT_EQ(e.actor(), kAlice);
    for (const std::string& secret : {created.secret(), refreshed.secret()}) {
      EXPECT_EQ(e.details_json().find(SecretBody(secret)), std::string::npos)
          << e.action() << " audit details contain a secret";
    }
    by_action[e.action()] = e;
  }
  ASSERT_EQ(by_action.size(), 4u);
  EXPECT_EQ(ToTime(by_action.at("create").time()), t_create);
  EXPECT_EQ(ToTime(by_action.at("update").time()), t_update);
  EXPECT_EQ(ToTime(by_action.at("refresh").time()), t_refresh);
  EXPECT_EQ(ToTime(by_action.at("revoke").time()), t_revoke);

  nlohmann::json details =
      nlohmann::json::parse(by_action.at("update").details_json(), nullptr,
                            /*allow_exceptions=*/false);
  ASSERT_FALSE(details.is_discarded()) << "details_json is not JSON";
  ASSERT_TRUE(details.is_object());
  ASSERT_TRUE(details.contains("before") && details["before"].is_object());
  ASSERT_TRUE(details.contains("after") && details["after"].is_object());
  EXPECT_EQ(details["before"].value("name", ""), "before-name");
  EXPECT_EQ(details["after"].value("name", ""), "after-name");

  // Plan-wide log: both tokens of A, nothing of B.
  std::vector<v1::AuditEvent> plan_events =
      ListAllAuditEvents(h(), kAlice, kPlanA);
  EXPECT_THAT(plan_events, SizeIs(5));
  std::set<std::string> tokens;
  for (const v1::AuditEvent& e : plan_events) {
    tokens.insert(e.token_id());
    EXPECT_EQ(e.plan_id(), kPlanA);
  }
  EXPECT_EQ(tokens, (std::set<std::string>{id, other.token().id()}));

  // Pagination: page size 1 walks every event exactly once.
  std::vector<int64_t> walked;
  v1::ListAuditEventsRequest page_req;
  page_req.set_plan_id(kPlanA);
  page_req.set_page_size(1);
  for (int i = 0; i < 20; ++i) {
    v1::ListAuditEventsResponse page;
    ASSERT_THAT(ListAuditEvents(h(), kAlice, page_req, &page), IsOk());
    EXPECT_LE(page.events_size(), 1);
    for (const v1::AuditEvent& e : page.events()) walked.push_back(e.id());
    if (page.next_page_token().empty()) break;
    page_req.set_page_token(page.next_page_token());
  }
  std::vector<int64_t> all_ids;
  for (const v1::AuditEvent& e : plan_events) all_ids.push_back(e.id());
  EXPECT_THAT(walked, UnorderedElementsAreArray(all_ids));
  EXPECT_EQ(std::set<int64_t>(walked.begin(), walked.end()).size(),
            walked.size());
}

// ---------------------------------------------------------------------------
// ListTokens pagination.

TEST_F(RulesTest, ListTokensPagination) {
  // Seven tokens created at the same instant (ties on create_time), plus
  // tokens at later instants.
  std::set<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    ids.insert(MustCreate(h(), kAlice, MakeCreateRequest()).token().id());
  }
  for (int i = 0; i < 3; ++i) {
    clock().Advance(absl::Seconds(1));
    ids.insert(MustCreate(h(), kAlice, MakeCreateRequest()).token().id());
  }
  MustCreate(h(), kBob, MakeCreateRequest(kPlanB));
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(ids.size(), 10u);

  // page_size 0: the default (≥ 10) in one page.
  v1::ListTokensRequest req;
  req.set_plan_id(kPlanA);
  v1::ListTokensResponse resp;
  ASSERT_THAT(ListTokens(h(), kAlice, req, &resp), IsOk());
  EXPECT_EQ(resp.tokens_size(), 10);
  EXPECT_TRUE(resp.next_page_token().empty());
  for (int size : {1, 1000}) {
    req.set_page_size(size);
    ASSERT_THAT(ListTokens(h(), kAlice, req, &resp), IsOk());
    EXPECT_EQ(resp.tokens_size(), std::min(size, 10));
  }

  for (int size : {1, 3, 4, 9, 10}) {
    SCOPED_TRACE(absl::StrCat("page_size ", size));
    std::vector<std::string> walked;
    v1::ListTokensRequest page_req;
    page_req.set_plan_id(kPlanA);
    page_req.set_page_size(size);
    int pages = 0;
    for (; pages < 20; ++pages) {
      v1::ListTokensResponse page;
      ASSERT_THAT(ListTokens(h(), kAlice, page_req, &page), IsOk());
      EXPECT_LE(page.tokens_size(), size);
      for (const v1::Token& t : page.tokens()) walked.push_back(t.id());
      if (page.next_page_token().empty()) break;
      page_req.set_page_token(page.next_page_token());
    }
    EXPECT_LT(pages, 20);
    EXPECT_EQ(walked.size(), 10u) << "a token was skipped or repeated";
    EXPECT_EQ(std::set<std::string>(walked.begin(), walked.end()), ids);
  }

  // Out-of-range page sizes.
  for (int size : {1001, -1}) {
    req.set_page_size(size);
    EXPECT_THAT(ListTokens(h(), kAlice, req, &resp),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr("page_size")));
  }

  // Tampered page tokens.
  req.set_page_size(3);
  ASSERT_THAT(ListTokens(h(), kAlice, req, &resp), IsOk());
  const std::string good = resp.next_page_token();
  ASSERT_GE(good.size(), 4u);
  std::vector<std::string> tampered;
  for (size_t pos : {size_t{0}, good.size() / 2}) {
    std::string t = good;
    t[pos] = (t[pos] == 'A') ? 'B' : 'A';
    tampered.push_back(t);
  }
  tampered.push_back(good.substr(0, good.size() - 2));
  tampered.push_back("!!!not-a-page-token!!!");
  for (const std::string& t : tampered) {
    SCOPED_TRACE(t);
    req.set_page_token(t);
    EXPECT_THAT(
        ListTokens(h(), kAlice, req, &resp),
        StatusIs(StatusCode::kInvalidArgument, HasSubstr("page_token")));
  }
}

// Every single-character change of a page token is refused (a page token is
// opaque and tamper-evident, not a client-editable cursor), and a page token
// only works for the query that produced it.
TEST_F(RulesTest, PageTokensResistTampering) {
  for (int i = 0; i < 5; ++i) {
    MustCreate(h(), kAlice, MakeCreateRequest());
    clock().Advance(absl::Seconds(1));
  }
  ASSERT_FALSE(HasFailure());
  v1::ListTokensRequest req;
  req.set_plan_id(kPlanA);
  req.set_kind(v1::TOKEN_KIND_REST_API);
  req.set_page_size(2);
  v1::ListTokensResponse resp;
  ASSERT_THAT(ListTokens(h(), kAlice, req, &resp), IsOk());
  const std::string good = resp.next_page_token();
  ASSERT_FALSE(good.empty());
  req.set_page_token(good);
  ASSERT_THAT(ListTokens(h(), kAlice, req, &resp), IsOk());

  TamperResult tampered = TamperEachCharacter(good, [&](const std::string& t) {
    req.set_page_token(t);
    return ListTokens(h(), kAlice, req, &resp);
  });
  EXPECT_GT(tampered.tried, 0);
  EXPECT_EQ(tampered.accepted, 0)
      << tampered.accepted << " of " << tampered.tried
      << " tampered ListTokens page tokens were accepted, e.g. "
      << tampered.example << " (original " << good << ")";

  // The same for audit pages.
  v1::ListAuditEventsRequest audit_req;
  audit_req.set_plan_id(kPlanA);
  audit_req.set_page_size(2);
  v1::ListAuditEventsResponse audit_resp;
  ASSERT_THAT(ListAuditEvents(h(), kAlice, audit_req, &audit_resp), IsOk());
  const std::string audit_good = audit_resp.next_page_token();
  ASSERT_FALSE(audit_good.empty());
  tampered = TamperEachCharacter(audit_good, [&](const std::string& t) {
    audit_req.set_page_token(t);
    return ListAuditEvents(h(), kAlice, audit_req, &audit_resp);
  });
  EXPECT_GT(tampered.tried, 0);
  EXPECT_EQ(tampered.accepted, 0)
      << tampered.accepted << " of " << tampered.tried
      << " tampered ListAuditEvents page tokens were accepted, e.g. "
      << tampered.example << " (original " << audit_good << ")";

  // Another query: other kind, other statuses, other plan.
  req.set_page_token(good);
  req.set_kind(v1::TOKEN_KIND_NPM_REGISTRY);
  EXPECT_THAT(ListTokens(h(), kAlice, req, &resp),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("page_token")));
  req.set_kind(v1::TOKEN_KIND_REST_API);
  req.add_statuses(v1::TOKEN_STATUS_REVOKED);
  EXPECT_THAT(ListTokens(h(), kAlice, req, &resp),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("page_token")));
  MustCreate(h(), kBob, MakeCreateRequest(kPlanB));
  v1::ListTokensRequest on_b;
  on_b.set_plan_id(kPlanB);
  on_b.set_kind(v1::TOKEN_KIND_REST_API);
  on_b.set_page_size(2);
  on_b.set_page_token(good);
  EXPECT_THAT(ListTokens(h(), kBob, on_b, &resp),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("page_token")));
}

// ---------------------------------------------------------------------------
// CreateToken idempotency.

TEST_F(RulesTest, CreateIdempotency) {
  v1::CreateTokenRequest req = MakeCreateRequest();
  v1::CreateTokenResponse first = MustCreate(h(), kAlice, req);
  ASSERT_FALSE(HasFailure());
  EXPECT_FALSE(first.replayed());
  EXPECT_FALSE(first.secret().empty());

  clock().Advance(absl::Minutes(1));
  v1::CreateTokenResponse second = MustCreate(h(), kAlice, req);
  EXPECT_TRUE(second.replayed());
  EXPECT_TRUE(second.secret().empty());
  EXPECT_EQ(second.token().id(), first.token().id());
  EXPECT_EQ(ToTime(second.token().create_time()),
            ToTime(first.token().create_time()));
  EXPECT_EQ(CountRows(h(), "tokens"), 1);
  EXPECT_EQ(CountActions(ListAllAuditEvents(h(), kAlice, kPlanA), "create"), 1);

  // Same key, different parameters.
  v1::CreateTokenRequest changed = req;
  changed.set_name("another name");
  v1::CreateTokenResponse resp;
  EXPECT_THAT(CreateToken(h(), kAlice, changed, &resp),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("request_id")));
  changed = req;
  changed.set_expires_in_days(31);
  EXPECT_THAT(CreateToken(h(), kAlice, changed, &resp),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("request_id")));
  EXPECT_EQ(CountRows(h(), "tokens"), 1);

  // The same key on another plan is another request.
  v1::CreateTokenRequest on_b = req;
  on_b.set_plan_id(kPlanB);
  v1::CreateTokenResponse b = MustCreate(h(), kBob, on_b);
  EXPECT_FALSE(b.replayed());
  EXPECT_NE(b.token().id(), first.token().id());
  EXPECT_EQ(CountRows(h(), "tokens"), 2);
}

}  // namespace
}  // namespace pat::testing
