// TokenService.CheckAccess: the sidecar's decision (SPEC §7, R12, R13)
// explained for a token, a method and a path, with the authorization of every
// token RPC (R2).

#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pat/v1/pat.grpc.pb.h"
#include "tests/support/authority_harness.h"
#include "tests/support/fixtures.h"
#include "tests/support/status_matchers.h"

namespace pat::testing {
namespace {

namespace v1 = ::pat::v1;
using ::absl::StatusCode;
using ::testing::HasSubstr;
using ::testing::Not;

class CheckAccessTest : public SeededAuthorityTest {
 protected:
  grpc::Status Check(const std::string& actor, const std::string& plan_id,
                     const std::string& token_id, const std::string& method,
                     const std::string& path, v1::CheckAccessResponse* resp) {
    v1::CheckAccessRequest req;
    req.set_plan_id(plan_id);
    req.set_token_id(token_id);
    req.set_method(method);
    req.set_path(path);
    return h().tokens().CheckAccess(AuthorityHarness::Ctx(actor).get(), req,
                                    resp);
  }

  // The decision for a token of plan A, asked by alice; fails the test on an
  // RPC error.
  v1::CheckAccessResponse Decide(const std::string& token_id,
                                 const std::string& method,
                                 const std::string& path) {
    v1::CheckAccessResponse resp;
    grpc::Status s = Check(kAlice, kPlanA, token_id, method, path, &resp);
    EXPECT_TRUE(s.ok()) << method << " " << path << ": " << s.error_message();
    return resp;
  }

  // Expects `reason` (and allowed iff reason is "allowed") with a detail.
  void ExpectDecision(const std::string& token_id, const std::string& method,
                      const std::string& path, const std::string& reason) {
    SCOPED_TRACE(method + " " + path);
    v1::CheckAccessResponse resp = Decide(token_id, method, path);
    EXPECT_EQ(resp.reason(), reason) << resp.detail();
    EXPECT_EQ(resp.allowed(), reason == "allowed");
    EXPECT_FALSE(resp.detail().empty());
  }

  std::string RestToken(const std::vector<std::string>& scopes,
                        const std::vector<std::string>& links = {}) {
    v1::CreateTokenRequest req =
        links.empty() ? MakeCreateRequest(kPlanA)
                      : MakeCreateRequestWithLinks(kPlanA, links);
    req.clear_scopes();
    for (const std::string& s : scopes) req.add_scopes(s);
    return MustCreate(h(), kAlice, req).token().id();
  }
};

TEST_F(CheckAccessTest, AllowedWithTheEndpointInTheDetail) {
  const std::string all = RestToken({"files:read"});
  ASSERT_FALSE(HasFailure());
  v1::CheckAccessResponse resp = Decide(all, "GET", "/v1/files/FILEA1");
  EXPECT_TRUE(resp.allowed());
  EXPECT_EQ(resp.reason(), "allowed");
  EXPECT_THAT(resp.detail(), HasSubstr("getFile"));
  ExpectDecision(all, "GET", "/v1/files/FILEA2/nodes?ids=1:2", "allowed");
  ExpectDecision(all, "GET", "/v1/teams/teamA/projects", "allowed");
  // Plan-level endpoints (no determinable resource) for all-resources tokens.
  ExpectDecision(RestToken({"webhooks:read"}), "GET", "/v2/webhooks",
                 "allowed");
}

TEST_F(CheckAccessTest, EndpointUnknownAndNotSupported) {
  const std::string all = RestToken({"files:read", "file_content:read"});
  ASSERT_FALSE(HasFailure());
  for (const char* path : {"/v1/nothing", "/v1/files", "/", "/v3/files/X"}) {
    ExpectDecision(all, "GET", path, "endpoint_unknown");
  }
  ExpectDecision(all, "PATCH", "/v1/files/FILEA1", "endpoint_unknown");
  ExpectDecision(all, "get", "/v1/files/FILEA1", "endpoint_unknown");
  // R12: in the catalog, never for plan tokens, whatever the scopes.
  ExpectDecision(all, "GET", "/v1/me", "endpoint_not_supported");
  ExpectDecision(all, "GET", "/v1/oembed?url=x", "endpoint_not_supported");
  ExpectDecision(all, "POST", "/v1/files/FILEA1/comments",
                 "endpoint_not_supported");
  ExpectDecision(all, "POST", "/v1/files/FILEA1/variables",
                 "endpoint_not_supported");
}

TEST_F(CheckAccessTest, ScopeMissing) {
  const std::string content_only = RestToken({"file_content:read"});
  ASSERT_FALSE(HasFailure());
  ExpectDecision(content_only, "GET", "/v1/files/FILEA1", "allowed");
  v1::CheckAccessResponse resp =
      Decide(content_only, "GET", "/v1/files/FILEA1/versions");
  EXPECT_EQ(resp.reason(), "scope_missing");
  EXPECT_FALSE(resp.allowed());
  EXPECT_THAT(resp.detail(), HasSubstr("file_versions:read"));
  ExpectDecision(content_only, "GET", "/v1/activity_logs", "scope_missing");
}

TEST_F(CheckAccessTest, ResourceRules) {
  // Another project in plan A, with its own file.
  UpsertResource(h(), kPlanA, v1::RESOURCE_KIND_PROJECT, "projA2",
                 v1::RESOURCE_KIND_TEAM, "teamA");
  UpsertResource(h(), kPlanA, v1::RESOURCE_KIND_FILE, "FILEA3",
                 v1::RESOURCE_KIND_PROJECT, "projA2");
  const std::string project = RestToken({"files:read"}, {kLinkProjectA});
  const std::string file = RestToken({"files:read"}, {kLinkFileA1});
  const std::string all = RestToken({"files:read"});
  ASSERT_FALSE(HasFailure());

  // A listed resource or a listed ancestor.
  ExpectDecision(project, "GET", "/v1/files/FILEA1", "allowed");
  ExpectDecision(project, "GET", "/v1/files/FILEA2/meta", "allowed");
  ExpectDecision(project, "GET", "/v1/projects/projA/files", "allowed");
  ExpectDecision(file, "GET", "/v1/files/FILEA1", "allowed");
  // A file of another project, an unlisted sibling, a parent of the list.
  ExpectDecision(project, "GET", "/v1/files/FILEA3", "resource_not_allowed");
  ExpectDecision(file, "GET", "/v1/files/FILEA2", "resource_not_allowed");
  ExpectDecision(file, "GET", "/v1/projects/projA/files",
                 "resource_not_allowed");
  // Another plan's file, even for an all-resources token; an unknown file.
  ExpectDecision(all, "GET", "/v1/files/FILEB1", "resource_not_allowed");
  ExpectDecision(project, "GET", "/v1/files/FILEB1", "resource_not_allowed");
  ExpectDecision(all, "GET", "/v1/files/NOSUCHFILE", "resource_not_allowed");
  ExpectDecision(all, "GET", "/v1/files/FILEA3", "allowed");
  // No determinable resource: all-resources tokens only.
  const std::string webhooks_listed =
      RestToken({"webhooks:read"}, {kLinkProjectA});
  ExpectDecision(webhooks_listed, "GET", "/v2/webhooks",
                 "resource_not_allowed");
  // Another plan's resource is described exactly like an unknown one.
  v1::CheckAccessResponse other = Decide(all, "GET", "/v1/files/FILEB1");
  v1::CheckAccessResponse unknown = Decide(all, "GET", "/v1/files/NOSUCH");
  EXPECT_EQ(absl::StrReplaceAll(other.detail(), {{"FILEB1", "<id>"}}),
            absl::StrReplaceAll(unknown.detail(), {{"NOSUCH", "<id>"}}));
}

TEST_F(CheckAccessTest, NpmTokensUseTheNpmCatalog) {
  v1::CreateTokenRequest req = MakeCreateRequestWithLinks(
      kPlanA, {kNpmScopeA}, v1::TOKEN_KIND_NPM_REGISTRY);
  const std::string scoped = MustCreate(h(), kAlice, req).token().id();
  const std::string all =
      MustCreate(h(), kAlice,
                 MakeCreateRequest(kPlanA, v1::TOKEN_KIND_NPM_REGISTRY))
          .token()
          .id();
  ASSERT_FALSE(HasFailure());
  ExpectDecision(scoped, "GET", "/@acme/widgets", "allowed");
  ExpectDecision(scoped, "GET", "/@other/widgets", "resource_not_allowed");
  ExpectDecision(scoped, "GET", "/lodash", "resource_not_allowed");
  ExpectDecision(all, "GET", "/lodash", "allowed");
  ExpectDecision(scoped, "PUT", "/@acme/widgets", "scope_missing");
  ExpectDecision(all, "GET", "/v1/files/FILEA1", "endpoint_unknown");
  ExpectDecision(all, "GET", "/-/npm/v1/tokens", "endpoint_not_supported");
}

TEST_F(CheckAccessTest, NonCanonicalPathsArePathInvalid) {
  const std::string all = RestToken({"files:read"});
  ASSERT_FALSE(HasFailure());
  for (const char* path :
       {"/v1//files/FILEA1", "/v1/./files/FILEA1", "/v1/x/../files/FILEA1",
        "/v1/files/FILEA1/", "/v1%2Ffiles/FILEA1", "/v1/files/FILEA1#x",
        "/v1/files/FILEA1;x=1", "/v1/..%5cme", "/v1/%6de", "v1/files/FILEA1",
        "http://example.com/v1/files/FILEA1", "/v1/files/FILE A1"}) {
    ExpectDecision(all, "GET", path, "path_invalid");
  }
  ExpectDecision(all, "GET", "/v1/files/FILEA1?token=abc", "token_in_query");
}

TEST_F(CheckAccessTest, RevokedAndExpiredTokens) {
  const std::string revoked = RestToken({"files:read"});
  const std::string expiring = RestToken({"files:read"});
  ASSERT_FALSE(HasFailure());
  MustRevoke(h(), kAlice, kPlanA, revoked);
  ASSERT_FALSE(HasFailure());
  ExpectDecision(revoked, "GET", "/v1/files/FILEA1", "token_revoked");
  // The path is checked first, as at the sidecar.
  ExpectDecision(revoked, "GET", "/v1//files", "path_invalid");

  ExpectDecision(expiring, "GET", "/v1/files/FILEA1", "allowed");
  clock().Advance(absl::Hours(24 * 30));  // MakeCreateRequest: 30 days
  ExpectDecision(expiring, "GET", "/v1/files/FILEA1", "token_expired");
  ExpectDecision(revoked, "GET", "/v1/files/FILEA1", "token_revoked");
}

TEST_F(CheckAccessTest, AuthorizedLikeGetToken) {
  const std::string a = RestToken({"files:read"});
  const std::string b =
      MustCreate(h(), kBob, MakeCreateRequest(kPlanB)).token().id();
  ASSERT_FALSE(HasFailure());
  v1::CheckAccessResponse resp;
  // Another plan's token under the actor's own plan: NOT_FOUND, like an
  // unknown token, with the same message.
  grpc::Status other =
      Check(kAlice, kPlanA, b, "GET", "/v1/files/FILEB1", &resp);
  grpc::Status unknown =
      Check(kAlice, kPlanA, kUnknownTokenId, "GET", "/v1/files/FILEB1", &resp);
  EXPECT_THAT(other, StatusCodeIs(StatusCode::kNotFound));
  EXPECT_THAT(unknown, StatusCodeIs(StatusCode::kNotFound));
  EXPECT_EQ(other.error_message(), unknown.error_message());
  EXPECT_THAT(Check(kBob, kPlanA, a, "GET", "/v1/files/FILEA1", &resp),
              StatusCodeIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(Check(kMallory, kPlanA, a, "GET", "/v1/files/FILEA1", &resp),
              StatusCodeIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(Check(kNoActor, kPlanA, a, "GET", "/v1/files/FILEA1", &resp),
              StatusCodeIs(StatusCode::kUnauthenticated));
  EXPECT_THAT(Check(kSam, kPlanS, kUnknownTokenId, "GET", "/v1/files/X", &resp),
              StatusCodeIs(StatusCode::kFailedPrecondition));
  // Bad requests name the field.
  EXPECT_THAT(Check(kAlice, kPlanA, a, "", "/v1/files/FILEA1", &resp),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("method")));
  EXPECT_THAT(Check(kAlice, kPlanA, a, "GET /x", "/v1/files/FILEA1", &resp),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("method")));
  EXPECT_THAT(Check(kAlice, kPlanA, a, "GET", "", &resp),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("path")));
  EXPECT_THAT(
      Check(kAlice, kPlanA, "tok_bad", "GET", "/v1/files/FILEA1", &resp),
      StatusIs(StatusCode::kInvalidArgument, HasSubstr("token_id")));
  // The detail never quotes another plan's data beyond the requested id.
  resp = Decide(a, "GET", "/v1/files/FILEB1");
  EXPECT_THAT(resp.detail(), Not(HasSubstr(kPlanB)));
}

}  // namespace
}  // namespace pat::testing
