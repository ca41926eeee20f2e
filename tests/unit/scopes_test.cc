#include "common/scopes.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/domain.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace pat {
namespace {

using ::pat::testing::IsOk;
using ::pat::testing::StatusCodeIs;
using ::pat::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

MATCHER_P(IsOkAndHolds, m, "is OK and holds a value that matches") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(m, *arg, result_listener);
}

std::vector<std::string> Strings(absl::Span<const absl::string_view> in) {
  return std::vector<std::string>(in.begin(), in.end());
}

// The "Scopes named by the vendor (REST)" line of the endpoint catalog.
constexpr absl::string_view kCatalogScopes[] = {
    "current_user:read",
    "file_comments:read",
    "file_comments:write",
    "file_content:read",
    "file_dev_resources:read",
    "file_dev_resources:write",
    "file_metadata:read",
    "file_variables:read",
    "file_variables:write",
    "file_versions:read",
    "files:read",
    "library_analytics:read",
    "library_assets:read",
    "library_content:read",
    "projects:read",
    "team_library_content:read",
    "webhooks:read",
    "webhooks:write",
    "project_metadata:read",
    "selections:read",
    "org:activity_log_read",
    "org:developer_log_read",
    "org:ai_metering_usage_read",
    "org:discovery_read",
    "file_code_connect:write",
};

TEST(ScopeSetsTest, RestScopesAreExactlyTheCatalogsSorted) {
  std::vector<std::string> expected(std::begin(kCatalogScopes),
                                    std::end(kCatalogScopes));
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(Strings(RestApiScopes()), expected);
  EXPECT_TRUE(std::is_sorted(RestApiScopes().begin(), RestApiScopes().end()));
  EXPECT_EQ(std::adjacent_find(RestApiScopes().begin(), RestApiScopes().end()),
            RestApiScopes().end());
}

TEST(ScopeSetsTest, ExcludedAndNpmSets) {
  EXPECT_THAT(Strings(ExcludedRestScopes()),
              ElementsAre("file_code_connect:write", "file_comments:write",
                          "file_variables:write"));
  for (absl::string_view s : ExcludedRestScopes()) {
    EXPECT_TRUE(
        std::binary_search(RestApiScopes().begin(), RestApiScopes().end(), s))
        << s;
  }
  EXPECT_THAT(Strings(NpmScopes()),
              ElementsAre("packages:read", "packages:write"));
}

TEST(IsGrantableScopeTest, RestApi) {
  int grantable = 0;
  for (absl::string_view s : RestApiScopes()) {
    const bool excluded = s == "file_comments:write" ||
                          s == "file_variables:write" ||
                          s == "file_code_connect:write";
    EXPECT_EQ(IsGrantableScope(TokenKind::kRestApi, s), !excluded) << s;
    EXPECT_FALSE(IsGrantableScope(TokenKind::kNpmRegistry, s)) << s;
    if (!excluded) ++grantable;
  }
  EXPECT_EQ(grantable, 22);
  EXPECT_FALSE(IsGrantableScope(TokenKind::kRestApi, "packages:read"));
  EXPECT_FALSE(IsGrantableScope(TokenKind::kRestApi, ""));
  EXPECT_FALSE(IsGrantableScope(TokenKind::kRestApi, "FILE_CONTENT:READ"));
  EXPECT_FALSE(IsGrantableScope(TokenKind::kRestApi, "file_content:read "));
  EXPECT_FALSE(IsGrantableScope(TokenKind::kRestApi, "*"));
}

TEST(IsGrantableScopeTest, NpmAndUnspecified) {
  EXPECT_TRUE(IsGrantableScope(TokenKind::kNpmRegistry, "packages:read"));
  EXPECT_TRUE(IsGrantableScope(TokenKind::kNpmRegistry, "packages:write"));
  EXPECT_FALSE(IsGrantableScope(TokenKind::kNpmRegistry, "packages:admin"));
  EXPECT_FALSE(IsGrantableScope(TokenKind::kUnspecified, "packages:read"));
  EXPECT_FALSE(IsGrantableScope(TokenKind::kUnspecified, "files:read"));
}

TEST(NormalizeScopesTest, SortsAndDeduplicates) {
  const std::vector<std::string> in = {"webhooks:read", "file_content:read",
                                       "webhooks:read", "files:read",
                                       "file_content:read"};
  EXPECT_THAT(NormalizeScopes(TokenKind::kRestApi, in),
              IsOkAndHolds(ElementsAre("file_content:read", "files:read",
                                       "webhooks:read")));
  const std::vector<std::string> npm = {"packages:write", "packages:read",
                                        "packages:write"};
  EXPECT_THAT(NormalizeScopes(TokenKind::kNpmRegistry, npm),
              IsOkAndHolds(ElementsAre("packages:read", "packages:write")));
}

TEST(NormalizeScopesTest, EveryGrantableRestScopeAtOnce) {
  std::vector<std::string> in;
  for (absl::string_view s : RestApiScopes()) {
    if (IsGrantableScope(TokenKind::kRestApi, s)) in.emplace_back(s);
  }
  std::reverse(in.begin(), in.end());
  absl::StatusOr<std::vector<std::string>> out =
      NormalizeScopes(TokenKind::kRestApi, in);
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(out->size(), 22u);
  EXPECT_TRUE(std::is_sorted(out->begin(), out->end()));
}

TEST(NormalizeScopesTest, EmptyListIsRejected) {
  EXPECT_THAT(NormalizeScopes(TokenKind::kRestApi, {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("scopes: at least one scope is required")));
  EXPECT_THAT(NormalizeScopes(TokenKind::kNpmRegistry, {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("scopes: at least one scope is required")));
}

TEST(NormalizeScopesTest, ExcludedScopesAreNamed) {
  const std::vector<std::string> in = {
      "file_content:read", "file_variables:write", "file_comments:write",
      "file_code_connect:write"};
  EXPECT_THAT(
      NormalizeScopes(TokenKind::kRestApi, in),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("scopes: not available to plan access tokens: "
                         "file_code_connect:write, file_comments:write, "
                         "file_variables:write")));
  const std::vector<std::string> one = {"file_comments:write"};
  EXPECT_THAT(NormalizeScopes(TokenKind::kRestApi, one),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not available to plan access tokens: "
                                 "file_comments:write")));
}

TEST(NormalizeScopesTest, UnknownScopesAreNamed) {
  const std::vector<std::string> in = {"files:read", "files:write", "admin",
                                       "files:write"};
  absl::StatusOr<std::vector<std::string>> out =
      NormalizeScopes(TokenKind::kRestApi, in);
  EXPECT_THAT(out, StatusIs(absl::StatusCode::kInvalidArgument,
                            HasSubstr("scopes: unknown scope(s) for rest_api: "
                                      "\"admin\", \"files:write\"")));
  // Named once even when repeated.
  const std::string message(out.status().message());
  EXPECT_EQ(message.find("files:write"), message.rfind("files:write"));
}

TEST(NormalizeScopesTest, ScopesOfTheOtherKindAreUnknown) {
  const std::vector<std::string> npm_on_rest = {"packages:read"};
  EXPECT_THAT(NormalizeScopes(TokenKind::kRestApi, npm_on_rest),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown scope(s) for rest_api: "
                                 "\"packages:read\"")));
  const std::vector<std::string> rest_on_npm = {"packages:read", "files:read",
                                                "file_comments:write"};
  EXPECT_THAT(NormalizeScopes(TokenKind::kNpmRegistry, rest_on_npm),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown scope(s) for npm_registry: "
                                 "\"file_comments:write\", \"files:read\"")));
}

TEST(NormalizeScopesTest, ExcludedAndUnknownTogether) {
  const std::vector<std::string> in = {"nope", "file_variables:write"};
  EXPECT_THAT(
      NormalizeScopes(TokenKind::kRestApi, in),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("not available to plan access tokens: "
                               "file_variables:write"),
                     HasSubstr("unknown scope(s) for rest_api: \"nope\""))));
}

TEST(NormalizeScopesTest, UnknownScopesAreTruncatedAndEscaped) {
  const std::string long_scope = std::string(100, 'x');
  const std::vector<std::string> in = {long_scope, "bad\nscope\x01", "",
                                       " files:read"};
  absl::StatusOr<std::vector<std::string>> out =
      NormalizeScopes(TokenKind::kRestApi, in);
  ASSERT_THAT(out, StatusCodeIs(absl::StatusCode::kInvalidArgument));
  const std::string message(out.status().message());
  EXPECT_THAT(message, HasSubstr(std::string(64, 'x') + "\"..."));
  EXPECT_THAT(message, Not(HasSubstr(std::string(65, 'x'))));
  EXPECT_THAT(message, HasSubstr("\"bad\\nscope\\x01\""));
  EXPECT_THAT(message, HasSubstr("\"\""));
  EXPECT_THAT(message, HasSubstr("\" files:read\""));
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

TEST(NormalizeScopesTest, CaseAndWhitespaceMatter) {
  for (std::string s : {"Files:read", "files:read ", "files: read", "files"}) {
    const std::vector<std::string> in = {s};
    EXPECT_THAT(NormalizeScopes(TokenKind::kRestApi, in),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("unknown scope(s)")))
        << s;
  }
}

TEST(NormalizeScopesTest, MoreThan64EntriesAreRejected) {
  const std::vector<std::string> sixty_four(64, "files:read");
  EXPECT_THAT(NormalizeScopes(TokenKind::kRestApi, sixty_four),
              IsOkAndHolds(ElementsAre("files:read")));
  const std::vector<std::string> too_many(65, "files:read");
  EXPECT_THAT(
      NormalizeScopes(TokenKind::kRestApi, too_many),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most 64")));
  const std::vector<std::string> huge(100000, "x");
  EXPECT_THAT(
      NormalizeScopes(TokenKind::kRestApi, huge),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most 64")));
}

TEST(NormalizeScopesTest, UnspecifiedKindIsRejected) {
  const std::vector<std::string> in = {"files:read"};
  EXPECT_THAT(NormalizeScopes(TokenKind::kUnspecified, in),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("scopes: unsupported token kind")));
}

}  // namespace
}  // namespace pat
