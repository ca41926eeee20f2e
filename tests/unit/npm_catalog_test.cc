// The built-in npm catalog against the requests npm 11, pnpm 9 and yarn 1
// actually send (captured against verdaccio; docs/npm-clients.md). Paths are
// given in their unescaped form: the "@scope%2fname" spelling the clients use
// is decoded by the npm mode of the path rule before the catalog is matched
// (tested end to end with the real clients, ctest label "clients").
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/domain.h"
#include "common/policy/catalog.h"
#include "common/policy/route_matcher.h"
#include "common/scopes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pat::policy {
namespace {

enum class Res { kScope, kNone, kUnscoped };

struct Request {
  absl::string_view command;  // the client command that sends it
  absl::string_view method;
  absl::string_view path;     // unescaped, without query
  absl::string_view name;     // expected endpoint
  absl::string_view scopes;   // '|'-joined accepted scopes
  bool plan_tokens;
  Res resource;
};

constexpr Request kRequests[] = {
    {"npm ping", "GET", "/-/ping", "ping", "packages:read|packages:write",
     true, Res::kUnscoped},
    {"npm whoami", "GET", "/-/whoami", "whoami",
     "packages:read|packages:write", true, Res::kUnscoped},
    {"npm search", "GET", "/-/v1/search", "search", "packages:read", true,
     Res::kNone},
    {"npm audit / install", "POST", "/-/npm/v1/security/advisories/bulk",
     "auditBulk", "packages:read", true, Res::kUnscoped},
    {"npm audit (fallback)", "POST", "/-/npm/v1/security/audits/quick",
     "auditQuick", "packages:read", true, Res::kUnscoped},
    {"pnpm audit", "POST", "/-/npm/v1/security/audits", "audit",
     "packages:read", true, Res::kUnscoped},
    {"npm view scoped", "GET", "/@acme/widget", "getScopedPackage",
     "packages:read", true, Res::kScope},
    {"npm view unscoped", "GET", "/pat-demo-pkg", "getPackage",
     "packages:read", true, Res::kNone},
    {"npm view scoped@version", "GET", "/@acme/widget/1.0.0",
     "getScopedPackageVersion", "packages:read", true, Res::kScope},
    {"install scoped tarball", "GET", "/@acme/widget/-/widget-1.0.0.tgz",
     "getScopedTarball", "packages:read", true, Res::kScope},
    {"install unscoped tarball", "GET", "/pat-demo-pkg/-/pat-demo-pkg-1.0.0.tgz",
     "getTarball", "packages:read", true, Res::kNone},
    {"npm publish / deprecate / star scoped", "PUT", "/@acme/widget",
     "publishScopedPackage", "packages:write", true, Res::kScope},
    {"npm publish unscoped", "PUT", "/pat-demo-pkg", "publishPackage",
     "packages:write", true, Res::kNone},
    {"npm unpublish version / owner add", "PUT", "/@acme/widget/-rev/11-abc",
     "updateScopedPackageRevision", "packages:write", true, Res::kScope},
    {"npm unpublish version (tarball)", "DELETE",
     "/@acme/widget/-/widget-1.0.1.tgz/-rev/12-abc", "deleteScopedTarball",
     "packages:write", true, Res::kScope},
    {"npm unpublish --force unscoped", "DELETE", "/pat-demo-pkg/-rev/3-abc",
     "unpublishPackage", "packages:write", true, Res::kNone},
    {"npm unpublish --force scoped", "DELETE", "/@acme/widget/-rev/3-abc",
     "unpublishScopedPackage", "packages:write", true, Res::kScope},
    {"npm dist-tag ls", "GET", "/-/package/@acme/widget/dist-tags",
     "getScopedDistTags", "packages:read", true, Res::kScope},
    {"npm dist-tag add", "PUT", "/-/package/@acme/widget/dist-tags/beta",
     "putScopedDistTag", "packages:write", true, Res::kScope},
    {"npm dist-tag rm", "DELETE", "/-/package/@acme/widget/dist-tags/beta",
     "deleteScopedDistTag", "packages:write", true, Res::kScope},
    {"npm dist-tag add unscoped", "PUT", "/-/package/pat-demo-pkg/dist-tags/b",
     "putDistTag", "packages:write", true, Res::kNone},
    {"npm access get status", "GET", "/-/package/@acme/widget/visibility",
     "getScopedVisibility", "packages:read", true, Res::kScope},
    {"npm access set status", "POST", "/-/package/@acme/widget/access",
     "setScopedAccess", "packages:write", false, Res::kScope},
    {"npm access list collaborators", "GET",
     "/-/package/@acme/widget/collaborators", "listScopedCollaborators",
     "packages:read", false, Res::kScope},
    {"npm access list packages (org)", "GET", "/-/org/acme/package",
     "listOrgPackages", "packages:read", false, Res::kNone},
    {"npm access list packages (user)", "GET", "/-/user/acme/package",
     "listUserPackages", "packages:read", false, Res::kNone},
    {"npm owner add (user lookup)", "GET", "/-/user/org.couchdb.user:bob",
     "getUser", "packages:read", false, Res::kNone},
    {"npm adduser", "PUT", "/-/user/org.couchdb.user:bob", "addUser",
     "packages:write", false, Res::kNone},
    {"npm login --auth-type=web", "POST", "/-/v1/login", "webLogin",
     "packages:write", false, Res::kNone},
    {"npm stars", "GET", "/-/_view/starredByUser", "starredByUser",
     "packages:read", false, Res::kNone},
    {"npm token list", "GET", "/-/npm/v1/tokens", "listTokens",
     "packages:read", false, Res::kNone},
    {"npm token create", "POST", "/-/npm/v1/tokens", "createToken",
     "packages:write", false, Res::kNone},
    {"npm token revoke", "DELETE", "/-/npm/v1/tokens/token/abcdef",
     "deleteToken", "packages:write", false, Res::kNone},
    {"npm team ls", "GET", "/-/org/acme/team", "listTeams", "packages:read",
     false, Res::kNone},
    {"npm hook ls", "GET", "/-/npm/v1/hooks", "listHooks", "packages:read",
     false, Res::kNone},
};

class NpmCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<RouteMatcher> m = RouteMatcher::Default(
        TokenKind::kNpmRegistry);
    ASSERT_TRUE(m.ok()) << m.status();
    matcher_.emplace(*std::move(m));
  }
  std::optional<RouteMatcher> matcher_;
};

TEST_F(NpmCatalogTest, EveryClientRequestMatchesItsEndpoint) {
  for (const Request& r : kRequests) {
    SCOPED_TRACE(absl::StrCat(r.command, ": ", r.method, " ", r.path));
    const RouteMatch m = matcher_->Match(r.method, r.path);
    ASSERT_NE(m.endpoint, nullptr);
    const Endpoint& e = *m.endpoint;
    EXPECT_EQ(e.name, r.name);
    EXPECT_EQ(absl::StrJoin(e.scopes, "|"), r.scopes);
    EXPECT_EQ(e.plan_tokens, r.plan_tokens);
    switch (r.resource) {
      case Res::kScope:
        EXPECT_EQ(e.resource.source, ResourceSource::kPath);
        EXPECT_EQ(e.resource.kind, ResourceKind::kNpmScope);
        EXPECT_EQ(m.Param("scope"), "@acme");
        break;
      case Res::kNone:
        EXPECT_EQ(e.resource.source, ResourceSource::kNone);
        break;
      case Res::kUnscoped:
        EXPECT_EQ(e.resource.source, ResourceSource::kUnscoped);
        break;
    }
    EXPECT_EQ(e.answer,
              r.name == "whoami" ? LocalAnswer::kWhoami : LocalAnswer::kNone);
  }
}

TEST_F(NpmCatalogTest, EveryRowUsesTheNpmErrorStyleAndGrantableScopes) {
  for (const Endpoint& e : matcher_->endpoints()) {
    SCOPED_TRACE(e.name);
    EXPECT_EQ(ErrorStyleName(e.error_style), "npm");
    for (const std::string& s : e.scopes) {
      EXPECT_TRUE(IsGrantableScope(TokenKind::kNpmRegistry, s)) << s;
    }
  }
}

// Shapes the clients never send stay outside the catalog (default deny), and
// a scoped package can never be read as an unscoped one.
TEST_F(NpmCatalogTest, UnknownShapesAreNotMatched) {
  const std::vector<std::pair<absl::string_view, absl::string_view>> unknown = {
      {"HEAD", "/@acme/widget"},
      {"PATCH", "/@acme/widget"},
      {"GET", "/-/all"},
      {"GET", "/-/npm/v1/security/advisories/bulk"},
      {"POST", "/-/ping"},
      {"DELETE", "/-/whoami"},
      {"GET", "/@acme"},
      {"GET", "/-/package/@acme/dist-tags"},
      {"GET", "/-/user/org.couchdb.user:"},
  };
  for (const auto& [method, path] : unknown) {
    EXPECT_EQ(matcher_->Match(method, path).endpoint, nullptr)
        << method << " " << path;
  }
  // "/@acme" alone is never the unscoped package "@acme".
  const RouteMatch scoped = matcher_->Match("GET", "/@acme/widget");
  ASSERT_NE(scoped.endpoint, nullptr);
  EXPECT_EQ(scoped.endpoint->name, "getScopedPackage");
}

}  // namespace
}  // namespace pat::policy
