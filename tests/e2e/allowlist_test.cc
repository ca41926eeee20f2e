// R13 through a real sidecar: a selected-resources token allows a resource
// when it or an ancestor (file -> project -> team -> workspace) is on its
// list; "all resources" means the token's own plan only; an endpoint whose
// resource cannot be determined is for all-resources tokens only.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_support.h"

namespace pat::testing {
namespace {

class AllowlistTest : public SharedE2eTest {
 protected:
  static void SetUpTestSuite() {
    SharedE2eTest::SetUpTestSuite();
    if (env_ == nullptr) return;
    // A second project in plan A's team, with a file of its own.
    const size_t before = env_->sidecar().server().directory().size();
    UpsertResource(env_->h(), kPlanA, v1::RESOURCE_KIND_PROJECT, "projA2",
                   v1::RESOURCE_KIND_TEAM, "teamA");
    UpsertResource(env_->h(), kPlanA, v1::RESOURCE_KIND_FILE, "FILEA3",
                   v1::RESOURCE_KIND_PROJECT, "projA2");
    // The sidecar answers resources from its copy of the directory: wait
    // for the two events.
    EXPECT_TRUE(WaitFor([&] {
      return env_->sidecar().server().directory().size() >= before + 2;
    }));
  }

  IssuedToken Token(const std::vector<std::string>& links) {
    return env().Create(kScopes, /*all_resources=*/links.empty(), links);
  }

  void ExpectAllowed(const IssuedToken& t, const std::string& target) {
    SCOPED_TRACE(target);
    const int64_t before = env().sidecar().upstream_count();
    const nlohmann::json echo = ExpectForwarded(env().Get(target, t.secret));
    EXPECT_EQ(echo.value("target", ""), target);
    EXPECT_EQ(env().sidecar().upstream_count(), before + 1);
  }

  void ExpectNotAllowed(const IssuedToken& t, const std::string& target) {
    SCOPED_TRACE(target);
    const int64_t before = env().sidecar().upstream_count();
    ExpectDenied(env().Get(target, t.secret), 403, "resource_not_allowed");
    EXPECT_EQ(env().sidecar().upstream_count(), before);
  }

  // Reads files, projects, teams, component lookups and org-level logs.
  const std::vector<std::string> kScopes = {
      "file_content:read", "projects:read", "team_library_content:read",
      "library_assets:read", "org:activity_log_read"};
};

TEST_F(AllowlistTest, FileAllowedThroughItsProject) {
  const IssuedToken t = Token({kLinkProjectA});
  ASSERT_FALSE(HasFailure());
  ExpectAllowed(t, "/v1/files/FILEA1");
  ExpectAllowed(t, "/v1/files/FILEA2/nodes");
  ExpectAllowed(t, "/v1/projects/projA/files");
  // Not the project's siblings or ancestors.
  ExpectNotAllowed(t, "/v1/files/FILEA3");
  ExpectNotAllowed(t, "/v1/projects/projA2/files");
  ExpectNotAllowed(t, "/v1/teams/teamA/projects");
}

TEST_F(AllowlistTest, FileAllowedThroughItsTeam) {
  const IssuedToken t = Token({kLinkTeamA});
  ASSERT_FALSE(HasFailure());
  ExpectAllowed(t, "/v1/files/FILEA1");
  ExpectAllowed(t, "/v1/files/FILEA3");
  ExpectAllowed(t, "/v1/projects/projA2/files");
  ExpectAllowed(t, "/v1/teams/teamA/projects");
  ExpectNotAllowed(t, "/v1/files/FILEB1");
}

TEST_F(AllowlistTest, FileAllowedThroughItsWorkspace) {
  const IssuedToken t = Token({kLinkWorkspaceA});
  ASSERT_FALSE(HasFailure());
  ExpectAllowed(t, "/v1/files/FILEA1");
  ExpectAllowed(t, "/v1/files/FILEA3");
  ExpectAllowed(t, "/v1/teams/teamA/components");
  ExpectNotAllowed(t, "/v1/teams/teamB/components");
}

TEST_F(AllowlistTest, FileOnTheListButNotItsSibling) {
  const IssuedToken t = Token({kLinkFileA1});
  ASSERT_FALSE(HasFailure());
  ExpectAllowed(t, "/v1/files/FILEA1");
  ExpectNotAllowed(t, "/v1/files/FILEA2");
  // A file's parent is not covered by the file.
  ExpectNotAllowed(t, "/v1/projects/projA/files");
}

TEST_F(AllowlistTest, FileOfAnotherProjectDenied) {
  const IssuedToken t = Token({kLinkProjectA});
  ASSERT_FALSE(HasFailure());
  ExpectNotAllowed(t, "/v1/files/FILEA3");
}

TEST_F(AllowlistTest, OtherPlansResourcesDeniedEvenForAllResources) {
  const IssuedToken all = Token({});
  ASSERT_FALSE(HasFailure());
  ExpectAllowed(all, "/v1/files/FILEA1");
  ExpectAllowed(all, "/v1/files/FILEA3");
  ExpectNotAllowed(all, "/v1/files/FILEB1");
  ExpectNotAllowed(all, "/v1/projects/projB/files");
  ExpectNotAllowed(all, "/v1/teams/teamB/projects");
  // A file no directory knows belongs to no plan of the token.
  ExpectNotAllowed(all, "/v1/files/NOSUCHFILE");

  // And the mirror image: plan B's all-resources token.
  const IssuedToken b =
      env().Create(kScopes, true, {}, v1::TOKEN_KIND_REST_API, kPlanB, kBob);
  ASSERT_FALSE(HasFailure());
  ExpectAllowed(b, "/v1/files/FILEB1");
  ExpectNotAllowed(b, "/v1/files/FILEA1");
}

TEST_F(AllowlistTest, UndeterminableResourceOnlyForAllResourcesTokens) {
  const IssuedToken all = Token({});
  const IssuedToken listed = Token({kLinkWorkspaceA});
  ASSERT_FALSE(HasFailure());
  // lookup: key -> file, and an org-level endpoint.
  for (const char* target : {"/v1/components/ck1", "/v1/activity_logs"}) {
    ExpectAllowed(all, target);
    ExpectNotAllowed(listed, target);
  }
}

// A resource id the directory cannot even hold (characters outside its id
// alphabet, or too long) is unknown: 403 resource_not_allowed, like any
// other unknown resource. The authority is up, so never 503.
TEST_F(AllowlistTest, UnrepresentableResourceIdIsNotAllowed) {
  const IssuedToken all = Token({});
  const IssuedToken listed = Token({kLinkWorkspaceA});
  ASSERT_FALSE(HasFailure());
  for (const std::string& target :
       {std::string("/v1/files/FILEA1%20"), std::string("/v1/files/FILE!A1"),
        std::string("/v1/files/FILE$A1"),
        std::string("/v1/teams/team(A)/projects"),
        absl::StrCat("/v1/files/", std::string(300, 'F'))}) {
    ExpectNotAllowed(all, target);
    ExpectNotAllowed(listed, target);
  }
}

TEST_F(AllowlistTest, DirectoryChangesTakeEffect) {
  // A file added to projA after the token was made is covered by it, even
  // when the sidecar has just been told it does not exist.
  const IssuedToken t = Token({kLinkProjectA});
  ASSERT_FALSE(HasFailure());
  ExpectNotAllowed(t, "/v1/files/FILEA9");
  UpsertResource(env().h(), kPlanA, v1::RESOURCE_KIND_FILE, "FILEA9",
                 v1::RESOURCE_KIND_PROJECT, "projA");
  ASSERT_FALSE(HasFailure());
  EXPECT_TRUE(WaitFor(
      [&] { return env().Get("/v1/files/FILEA9", t.secret).status == 200; },
      absl::Seconds(1)))
      << "a directory change did not reach the sidecar within 1 s";
  ExpectAllowed(t, "/v1/files/FILEA9");

  // Deleted from the directory: no longer a resource of the plan.
  v1::DeleteResourceRequest del;
  del.set_kind(v1::RESOURCE_KIND_FILE);
  del.set_id("FILEA9");
  v1::DeleteResourceResponse deleted;
  ASSERT_TRUE(
      env()
          .h()
          .directory()
          .DeleteResource(AuthorityHarness::Ctx("").get(), del, &deleted)
          .ok());
  EXPECT_TRUE(WaitFor(
      [&] { return env().Get("/v1/files/FILEA9", t.secret).status == 403; },
      absl::Seconds(1)))
      << "a directory deletion did not reach the sidecar within 1 s";
  ExpectNotAllowed(t, "/v1/files/FILEA9");
}

}  // namespace
}  // namespace pat::testing
