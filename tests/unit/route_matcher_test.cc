#include "common/policy/route_matcher.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/domain.h"
#include "common/policy/catalog.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace pat::policy {
namespace {

using ::pat::testing::StatusIs;
using ::testing::HasSubstr;

RouteMatcher MustBuild(absl::string_view text) {
  absl::StatusOr<RouteMatcher> m = RouteMatcher::FromText(text, "test");
  EXPECT_TRUE(m.ok()) << m.status();
  return *std::move(m);
}

const RouteMatcher& Rest() {
  static const RouteMatcher* const m =
      new RouteMatcher(*RouteMatcher::Default(TokenKind::kRestApi));
  return *m;
}
const RouteMatcher& Npm() {
  static const RouteMatcher* const m =
      new RouteMatcher(*RouteMatcher::Default(TokenKind::kNpmRegistry));
  return *m;
}

absl::string_view NameOf(const RouteMatch& m) {
  return m.endpoint == nullptr ? "<none>" : absl::string_view(m.endpoint->name);
}

constexpr absl::string_view kPrecedence =
    "GET /a/{x} scopes=s plan_tokens=yes resource=none name=param\n"
    "GET /a/b scopes=s plan_tokens=yes resource=none name=literal\n"
    "GET /a/{x}/c scopes=s plan_tokens=yes resource=none name=param_c\n"
    "GET /a/b/d scopes=s plan_tokens=yes resource=none name=literal_d\n"
    "GET / scopes=s plan_tokens=yes resource=none name=root\n"
    "GET /p/@{s} scopes=s plan_tokens=yes resource=none name=at\n"
    "GET /p/@@{s} scopes=s plan_tokens=yes resource=none name=atat\n"
    "GET /p/{x} scopes=s plan_tokens=yes resource=none name=plain\n";

TEST(RouteMatcher, LiteralBeatsParam) {
  const RouteMatcher m = MustBuild(kPrecedence);
  EXPECT_EQ(NameOf(m.Match("GET", "/a/b")), "literal");
  const RouteMatch p = m.Match("GET", "/a/c");
  EXPECT_EQ(NameOf(p), "param");
  EXPECT_EQ(p.param_count, 1);
  EXPECT_EQ(p.Param("x"), "c");
  EXPECT_EQ(NameOf(m.Match("GET", "/a/b/d")), "literal_d");
  EXPECT_EQ(NameOf(m.Match("GET", "/a/z/c")), "param_c");
}

TEST(RouteMatcher, LiteralShadowsParamWithoutBacktracking) {
  // Documented: "b" commits to the literal branch, which has no "c" child, so
  // /a/b/c does not fall back to /a/{x}/c.
  const RouteMatcher m = MustBuild(kPrecedence);
  EXPECT_EQ(m.Match("GET", "/a/b/c").endpoint, nullptr);
}

TEST(RouteMatcher, PrefixedParams) {
  const RouteMatcher m = MustBuild(kPrecedence);
  const RouteMatch at = m.Match("GET", "/p/@acme");
  EXPECT_EQ(NameOf(at), "at");
  EXPECT_EQ(at.Param("s"), "@acme");                    // prefix included
  EXPECT_EQ(NameOf(m.Match("GET", "/p/@@x")), "atat");  // longest prefix
  EXPECT_EQ(NameOf(m.Match("GET", "/p/acme")), "plain");
  // A bare prefix is not a value, and the plain param never takes it.
  EXPECT_EQ(m.Match("GET", "/p/@").endpoint, nullptr);
  EXPECT_EQ(m.Match("GET", "/p/@@").endpoint, nullptr);
}

TEST(RouteMatcher, Root) {
  const RouteMatcher m = MustBuild(kPrecedence);
  EXPECT_EQ(NameOf(m.Match("GET", "/")), "root");
  EXPECT_EQ(m.Match("GET", "").endpoint, nullptr);
  EXPECT_EQ(m.Match("GET", "a").endpoint, nullptr);
}

TEST(RouteMatcher, ExtraOrMissingSegmentsDoNotMatch) {
  const RouteMatcher& m = Rest();
  EXPECT_EQ(NameOf(m.Match("GET", "/v1/files/abc")), "getFile");
  EXPECT_EQ(m.Match("GET", "/v1/files").endpoint, nullptr);
  EXPECT_EQ(m.Match("GET", "/v1/files/abc/extra").endpoint, nullptr);
  EXPECT_EQ(m.Match("GET", "/v1/files/abc/nodes/x").endpoint, nullptr);
  EXPECT_EQ(m.Match("GET", "/v1").endpoint, nullptr);
  EXPECT_EQ(m.Match("GET", "/v1/me/x").endpoint, nullptr);
  EXPECT_EQ(m.Match("GET", "/v1/analytics/libraries/k/component").endpoint,
            nullptr);
}

TEST(RouteMatcher, EmptySegmentsNeverMatch) {
  const RouteMatcher& m = Rest();
  for (absl::string_view path :
       {"/v1/me/", "//v1/me", "/v1//me", "/v1/files//nodes", "/v1/files/",
        "/v1/files/abc/"}) {
    const RouteMatch r = m.Match("GET", path);
    EXPECT_EQ(r.endpoint, nullptr) << path;
    EXPECT_EQ(r.param_count, 0) << path;  // no partial captures
  }
}

TEST(RouteMatcher, MethodMustMatchExactly) {
  const RouteMatcher& m = Rest();
  RouteMatch r = m.Match("POST", "/v1/files/abc");
  EXPECT_EQ(r.endpoint, nullptr);
  EXPECT_TRUE(r.path_matched);
  EXPECT_EQ(r.param_count, 0);
  r = m.Match("HEAD", "/v1/files/abc");  // HEAD is not GET
  EXPECT_EQ(r.endpoint, nullptr);
  EXPECT_TRUE(r.path_matched);
  EXPECT_EQ(m.Match("get", "/v1/files/abc").endpoint, nullptr);
  EXPECT_EQ(m.Match("GET ", "/v1/files/abc").endpoint, nullptr);
  EXPECT_EQ(m.Match("", "/v1/files/abc").endpoint, nullptr);
  EXPECT_FALSE(m.Match("POST", "/v1/nothing").path_matched);
  // Same path, different methods, different endpoints.
  EXPECT_EQ(NameOf(m.Match("GET", "/v1/files/k/comments")), "getComments");
  EXPECT_EQ(NameOf(m.Match("POST", "/v1/files/k/comments")), "postComment");
  EXPECT_EQ(NameOf(m.Match("PUT", "/v2/webhooks/w")), "putWebhook");
  EXPECT_EQ(NameOf(m.Match("DELETE", "/v2/webhooks/w")), "deleteWebhook");
}

TEST(RouteMatcher, CaseIsSignificant) {
  EXPECT_EQ(Rest().Match("GET", "/V1/ME").endpoint, nullptr);
  EXPECT_EQ(Rest().Match("GET", "/v1/Files/abc").endpoint, nullptr);
}

TEST(RouteMatcher, CapturesAreRawViewsIntoThePath) {
  const std::string path = "/v1/files/AbC123/comments/c%20d/reactions";
  const RouteMatch m = Rest().Match("GET", path);
  ASSERT_EQ(NameOf(m), "getCommentReactions");
  ASSERT_EQ(m.param_count, 2);
  EXPECT_EQ(m.Param("file_key"), "AbC123");
  EXPECT_EQ(m.Param("comment_id"), "c%20d");  // not decoded
  EXPECT_EQ(m.Param("nope"), "");
  EXPECT_GE(m.params[0].data(), path.data());
  EXPECT_LE(m.params[1].data() + m.params[1].size(), path.data() + path.size());
}

TEST(RouteMatcher, EveryDefaultTemplateMatchesItsEndpoint) {
  for (const RouteMatcher* m : {&Rest(), &Npm()}) {
    for (const Endpoint& e : m->endpoints()) {
      std::string path;
      int i = 0;
      for (const TemplateSegment& s : e.segments) {
        absl::StrAppend(&path, "/",
                        s.type == SegmentType::kLiteral
                            ? s.text
                            : absl::StrCat(s.text, "v", i++));
      }
      if (path.empty()) path = "/";
      const RouteMatch r = m->Match(e.method, path);
      EXPECT_EQ(r.endpoint, &e) << e.method << " " << path;
      EXPECT_EQ(r.param_count, static_cast<int>(e.param_names.size()));
    }
  }
}

TEST(RouteMatcher, NpmShapes) {
  const RouteMatcher& m = Npm();
  RouteMatch r = m.Match("GET", "/@acme/widgets");
  EXPECT_EQ(NameOf(r), "getScopedPackage");
  EXPECT_EQ(r.Param("scope"), "@acme");
  EXPECT_EQ(r.Param("package"), "widgets");
  EXPECT_EQ(NameOf(m.Match("GET", "/lodash")), "getPackage");
  EXPECT_EQ(NameOf(m.Match("GET", "/lodash.merge")), "getPackage");
  EXPECT_EQ(NameOf(m.Match("GET", "/lodash/4.17.21")), "getPackageVersion");
  EXPECT_EQ(NameOf(m.Match("GET", "/lodash/-/lodash-4.17.21.tgz")),
            "getTarball");
  EXPECT_EQ(NameOf(m.Match("GET", "/@acme/w/-/w-1.0.0.tgz")),
            "getScopedTarball");
  EXPECT_EQ(NameOf(m.Match("PUT", "/@acme/w")), "publishScopedPackage");
  EXPECT_EQ(NameOf(m.Match("DELETE", "/@acme/w/-rev/3-abc")),
            "unpublishScopedPackage");
  EXPECT_EQ(NameOf(m.Match("DELETE", "/w/-/w-1.0.0.tgz/-rev/3-abc")),
            "deleteTarball");
  EXPECT_EQ(NameOf(m.Match("GET", "/-/package/@acme/w/dist-tags")),
            "getScopedDistTags");
  EXPECT_EQ(NameOf(m.Match("PUT", "/-/package/w/dist-tags/beta")),
            "putDistTag");
  EXPECT_EQ(NameOf(m.Match("GET", "/-/v1/search")), "search");
  EXPECT_EQ(NameOf(m.Match("GET", "/-/whoami")), "whoami");
  EXPECT_EQ(NameOf(m.Match("DELETE", "/-/npm/v1/tokens/token/abc")),
            "deleteToken");
  // "-" is a literal at the root: never a package name.
  EXPECT_EQ(m.Match("GET", "/-").endpoint, nullptr);
  EXPECT_EQ(m.Match("PUT", "/-").endpoint, nullptr);
  // A scope alone is not a package, and "@" alone is not a scope.
  EXPECT_EQ(m.Match("GET", "/@acme").endpoint, nullptr);
  EXPECT_EQ(m.Match("GET", "/@/widgets").endpoint, nullptr);
  // The %2f spelling is refused before matching; it would not match anyway.
  EXPECT_EQ(NameOf(m.Match("GET", "/@acme%2fwidgets")), "<none>");
}

TEST(RouteMatcher, DuplicateRoutesAreRejectedWithBothLines) {
  // ParseCatalog catches these first; Create checks again for hand-built
  // catalogs.
  absl::StatusOr<Catalog> a = ParseCatalog(
      "GET /x/{a} scopes=s plan_tokens=yes resource=none name=a\n", "t");
  absl::StatusOr<Catalog> b = ParseCatalog(
      "\n\nGET /x/{b} scopes=s plan_tokens=yes resource=none name=b\n", "t");
  ASSERT_TRUE(a.ok() && b.ok());
  Catalog both = *a;
  both.endpoints.push_back(b->endpoints[0]);
  EXPECT_THAT(RouteMatcher::Create(both),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 3: GET /x/{b} matches the same "
                                 "requests as line 1")));
  EXPECT_THAT(
      RouteMatcher::FromText(
          "GET /x/{a} scopes=s plan_tokens=yes resource=none name=a\n"
          "GET /x/{b} scopes=s plan_tokens=yes resource=none name=b\n",
          "f"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("f:2: route")));
}

TEST(RouteMatcher, EndpointPointersSurviveMoves) {
  RouteMatcher m = MustBuild(kPrecedence);
  const Endpoint* before = m.Match("GET", "/a/b").endpoint;
  RouteMatcher moved = std::move(m);
  EXPECT_EQ(moved.Match("GET", "/a/b").endpoint, before);
  EXPECT_EQ(moved.FindByName("literal"), before);
  EXPECT_EQ(moved.FindByName("nope"), nullptr);
}

TEST(RouteMatcher, DefaultForUnspecifiedKindFails) {
  EXPECT_FALSE(RouteMatcher::Default(TokenKind::kUnspecified).ok());
}

}  // namespace
}  // namespace pat::policy
