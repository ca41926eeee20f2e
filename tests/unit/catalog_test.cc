#include "common/policy/catalog.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/domain.h"
#include "common/scopes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace pat::policy {
namespace {

using ::pat::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Rows 1-51 of ../shared/reference/endpoint-catalog.md: method, path
// template, accepted scopes (any one), plan tokens allowed.
struct Row {
  int number;
  absl::string_view method;
  absl::string_view path;
  absl::string_view scopes;  // '|'-separated; empty: none
  bool plan_tokens;
};
constexpr Row kReferenceRows[] = {
    {1, "GET", "/v1/files/{file_key}", "file_content:read|files:read", true},
    {2, "GET", "/v1/files/{file_key}/nodes", "file_content:read|files:read",
     true},
    {3, "GET", "/v1/images/{file_key}", "file_content:read|files:read", true},
    {4, "GET", "/v1/files/{file_key}/images", "file_content:read|files:read",
     true},
    {5, "GET", "/v1/files/{file_key}/meta", "file_metadata:read|files:read",
     true},
    {6, "GET", "/v1/teams/{team_id}/projects", "projects:read|files:read",
     true},
    {7, "GET", "/v1/projects/{project_id}/files", "projects:read|files:read",
     true},
    {8, "GET", "/v1/files/{file_key}/versions", "file_versions:read|files:read",
     true},
    {9, "GET", "/v1/files/{file_key}/comments", "file_comments:read|files:read",
     true},
    {10, "POST", "/v1/files/{file_key}/comments", "file_comments:write", false},
    {11, "DELETE", "/v1/files/{file_key}/comments/{comment_id}",
     "file_comments:write", false},
    {12, "GET", "/v1/files/{file_key}/comments/{comment_id}/reactions",
     "file_comments:read|files:read", true},
    {13, "POST", "/v1/files/{file_key}/comments/{comment_id}/reactions",
     "file_comments:write", false},
    {14, "DELETE", "/v1/files/{file_key}/comments/{comment_id}/reactions",
     "file_comments:write", false},
    {15, "GET", "/v1/me", "current_user:read|files:read", false},
    {16, "GET", "/v1/teams/{team_id}/components",
     "team_library_content:read|files:read", true},
    {17, "GET", "/v1/files/{file_key}/components",
     "library_content:read|files:read", true},
    {18, "GET", "/v1/components/{key}", "library_assets:read|files:read", true},
    {19, "GET", "/v1/teams/{team_id}/component_sets",
     "team_library_content:read|files:read", true},
    {20, "GET", "/v1/files/{file_key}/component_sets",
     "library_content:read|files:read", true},
    {21, "GET", "/v1/component_sets/{key}", "library_assets:read|files:read",
     true},
    {22, "GET", "/v1/teams/{team_id}/styles",
     "team_library_content:read|files:read", true},
    {23, "GET", "/v1/files/{file_key}/styles",
     "library_content:read|files:read", true},
    {24, "GET", "/v1/styles/{key}", "library_assets:read|files:read", true},
    {25, "GET", "/v2/webhooks", "webhooks:read", true},
    {26, "POST", "/v2/webhooks", "webhooks:write", true},
    {27, "GET", "/v2/webhooks/{webhook_id}", "webhooks:read|files:read", true},
    {28, "PUT", "/v2/webhooks/{webhook_id}", "webhooks:write", true},
    {29, "DELETE", "/v2/webhooks/{webhook_id}", "webhooks:write", true},
    {30, "GET", "/v2/teams/{team_id}/webhooks", "webhooks:read|files:read",
     true},
    {31, "GET", "/v2/webhooks/{webhook_id}/requests",
     "webhooks:read|files:read", true},
    {32, "GET", "/v1/activity_logs", "org:activity_log_read", true},
    {33, "GET", "/v1/payments", "", false},
    {34, "GET", "/v1/files/{file_key}/variables/local", "file_variables:read",
     true},
    {35, "GET", "/v1/files/{file_key}/variables/published",
     "file_variables:read", true},
    {36, "POST", "/v1/files/{file_key}/variables", "file_variables:write",
     false},
    {37, "GET", "/v1/files/{file_key}/dev_resources", "file_dev_resources:read",
     true},
    {38, "POST", "/v1/dev_resources", "file_dev_resources:write", true},
    {39, "PUT", "/v1/dev_resources", "file_dev_resources:write", true},
    {40, "DELETE", "/v1/files/{file_key}/dev_resources/{dev_resource_id}",
     "file_dev_resources:write", true},
    {41, "GET", "/v1/analytics/libraries/{file_key}/component/actions",
     "library_analytics:read", true},
    {42, "GET", "/v1/analytics/libraries/{file_key}/component/usages",
     "library_analytics:read", true},
    {43, "GET", "/v1/analytics/libraries/{file_key}/style/actions",
     "library_analytics:read", true},
    {44, "GET", "/v1/analytics/libraries/{file_key}/style/usages",
     "library_analytics:read", true},
    {45, "GET", "/v1/analytics/libraries/{file_key}/variable/actions",
     "library_analytics:read", true},
    {46, "GET", "/v1/analytics/libraries/{file_key}/variable/usages",
     "library_analytics:read", true},
    {47, "GET", "/v1/oembed", "file_metadata:read", false},
    {48, "GET", "/v1/projects/{project_id}/meta", "project_metadata:read",
     true},
    {49, "POST", "/v1/developer_logs", "org:developer_log_read", true},
    {50, "GET", "/v1/ai_usage/daily", "org:ai_metering_usage_read", true},
    {51, "GET", "/v1/discovery", "org:discovery_read", false},
};

std::vector<std::string> SortedScopes(absl::string_view joined) {
  std::vector<std::string> out;
  if (!joined.empty()) out = absl::StrSplit(joined, '|');
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> SortedScopes(const Endpoint& e) {
  std::vector<std::string> out = e.scopes;
  std::sort(out.begin(), out.end());
  return out;
}

const Endpoint* Find(const Catalog& c, absl::string_view method,
                     absl::string_view path) {
  for (const Endpoint& e : c.endpoints) {
    if (e.method == method && e.path_template == path) return &e;
  }
  return nullptr;
}

Catalog MustParse(absl::string_view text) {
  absl::StatusOr<Catalog> c = ParseCatalog(text, "test");
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : Catalog();
}

// The repository root, from this file's path (…/tests/unit/catalog_test.cc).
std::string RepoRoot() {
  absl::string_view file = __FILE__;
  const size_t pos = file.rfind("/tests/unit/");
  return pos == absl::string_view::npos ? "."
                                        : std::string(file.substr(0, pos));
}

TEST(DefaultRestCatalog, HasExactly51Endpoints) {
  const Catalog c = MustParse(DefaultRestCatalogText());
  EXPECT_EQ(c.endpoints.size(), 51u);
}

TEST(DefaultRestCatalog, EveryReferenceRowMatches) {
  const Catalog c = MustParse(DefaultRestCatalogText());
  ASSERT_EQ(c.endpoints.size(), std::size(kReferenceRows));
  for (size_t i = 0; i < std::size(kReferenceRows); ++i) {
    const Row& row = kReferenceRows[i];
    SCOPED_TRACE(
        absl::StrCat("row ", row.number, ": ", row.method, " ", row.path));
    // Same order as the reference, so row n is endpoint n-1.
    const Endpoint& e = c.endpoints[i];
    EXPECT_EQ(e.method, row.method);
    EXPECT_EQ(e.path_template, row.path);
    EXPECT_EQ(SortedScopes(e), SortedScopes(row.scopes));
    EXPECT_EQ(e.plan_tokens, row.plan_tokens);
  }
}

// Parses the reference markdown itself when it is present next to the
// repository (../shared/reference), so a change there cannot go unnoticed.
TEST(DefaultRestCatalog, MatchesReferenceFileWhenPresent) {
  const std::string path =
      absl::StrCat(RepoRoot(), "/../shared/reference/endpoint-catalog.md");
  std::ifstream in(path);
  if (!in) GTEST_SKIP() << "reference not present: " << path;
  const Catalog c = MustParse(DefaultRestCatalogText());
  std::string line;
  int rows = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> cols = absl::StrSplit(line, '|');
    if (cols.size() < 9) continue;
    const std::string number(absl::StripAsciiWhitespace(cols[1]));
    if (number.empty() ||
        !std::all_of(number.begin(), number.end(), ::isdigit)) {
      continue;
    }
    ++rows;
    const std::string method(absl::StripAsciiWhitespace(cols[2]));
    std::string tmpl(absl::StripAsciiWhitespace(cols[3]));
    tmpl.erase(std::remove(tmpl.begin(), tmpl.end(), '`'), tmpl.end());
    std::vector<std::string> scopes;
    for (absl::string_view part : absl::StrSplit(cols[5], '`')) {
      if (absl::StrContains(part, ':') && !absl::StrContains(part, ' ')) {
        scopes.emplace_back(part);
      }
    }
    std::sort(scopes.begin(), scopes.end());
    const bool plan =
        absl::StartsWith(absl::StripAsciiWhitespace(cols[7]), "yes");
    SCOPED_TRACE(absl::StrCat("reference row ", number));
    const Endpoint* e = Find(c, method, tmpl);
    ASSERT_NE(e, nullptr) << method << " " << tmpl;
    EXPECT_EQ(SortedScopes(*e), scopes);
    EXPECT_EQ(e->plan_tokens, plan);
  }
  EXPECT_EQ(rows, 51);
}

TEST(DefaultRestCatalog, ScopesAreVendorScopes) {
  const Catalog c = MustParse(DefaultRestCatalogText());
  for (const Endpoint& e : c.endpoints) {
    for (const std::string& s : e.scopes) {
      EXPECT_TRUE(std::find(RestApiScopes().begin(), RestApiScopes().end(),
                            s) != RestApiScopes().end())
          << e.name << " " << s;
    }
  }
}

TEST(DefaultRestCatalog, ExcludedScopesAndEndpointsAreNotForPlanTokens) {
  const Catalog c = MustParse(DefaultRestCatalogText());
  int excluded = 0;
  for (const Endpoint& e : c.endpoints) {
    bool needs_excluded = !e.scopes.empty();
    for (const std::string& s : e.scopes) {
      needs_excluded &=
          std::find(ExcludedRestScopes().begin(), ExcludedRestScopes().end(),
                    s) != ExcludedRestScopes().end();
    }
    if (needs_excluded) {
      ++excluded;
      EXPECT_FALSE(e.plan_tokens) << e.name;
    }
  }
  EXPECT_EQ(excluded, 5);  // rows 10, 11, 13, 14, 36
  for (absl::string_view p :
       {"/v1/me", "/v1/oembed", "/v1/payments", "/v1/discovery"}) {
    const Endpoint* e = Find(c, "GET", p);
    ASSERT_NE(e, nullptr) << p;
    EXPECT_FALSE(e->plan_tokens) << p;
  }
  for (absl::string_view p : {"/v1/developer_logs"}) {
    const Endpoint* e = Find(c, "POST", p);
    ASSERT_NE(e, nullptr);
    EXPECT_TRUE(e->plan_tokens);
  }
  EXPECT_TRUE(Find(c, "GET", "/v1/ai_usage/daily")->plan_tokens);
}

TEST(DefaultRestCatalog, ResourceSelectors) {
  const Catalog c = MustParse(DefaultRestCatalogText());
  const Endpoint* file = Find(c, "GET", "/v1/files/{file_key}");
  EXPECT_EQ(file->resource.source, ResourceSource::kPath);
  EXPECT_EQ(file->resource.kind, ResourceKind::kFile);
  EXPECT_EQ(file->resource.capture_index, 0);
  const Endpoint* team = Find(c, "GET", "/v1/teams/{team_id}/projects");
  EXPECT_EQ(team->resource.kind, ResourceKind::kTeam);
  const Endpoint* project = Find(c, "GET", "/v1/projects/{project_id}/meta");
  EXPECT_EQ(project->resource.kind, ResourceKind::kProject);
  const Endpoint* reactions =
      Find(c, "GET", "/v1/files/{file_key}/comments/{comment_id}/reactions");
  EXPECT_EQ(reactions->resource.capture_index, 0);
  EXPECT_EQ(Find(c, "GET", "/v1/components/{key}")->resource.source,
            ResourceSource::kLookup);
  // Resources named by the body or the query (issue 8 item 3).
  EXPECT_EQ(Find(c, "POST", "/v1/dev_resources")->resource.source,
            ResourceSource::kBodyJson);
  EXPECT_EQ(Find(c, "POST", "/v1/dev_resources")->resource.param,
            "file:dev_resources[].file_key");
  EXPECT_EQ(Find(c, "POST", "/v2/webhooks")->resource.source,
            ResourceSource::kBodyJson);
  EXPECT_EQ(Find(c, "POST", "/v2/webhooks")->resource.param,
            "context:context+context_id|team:team_id");
  EXPECT_EQ(Find(c, "PUT", "/v1/dev_resources")->resource.source,
            ResourceSource::kBody);
  EXPECT_EQ(Find(c, "GET", "/v1/activity_logs")->resource.source,
            ResourceSource::kNone);
  EXPECT_EQ(Find(c, "GET", "/v2/webhooks")->resource.source,
            ResourceSource::kQuery);
  EXPECT_EQ(Find(c, "GET", "/v2/webhooks")->resource.param,
            "context:context+context_id|plan:plan_api_id");
  EXPECT_EQ(Find(c, "GET", "/v1/activity_logs")->error_style, ErrorStyle::kB);
  EXPECT_EQ(file->error_style, ErrorStyle::kA);
  EXPECT_EQ(team->error_style, ErrorStyle::kAB);
}

// The README's list of rows whose resource the sidecar cannot determine (the
// upstream must check X-Pat-Plan-Id for them), and of the rows that read the
// query or the body. Changing the catalog means changing that list.
TEST(DefaultRestCatalog, UndeterminableAndRequestResourceRowsAreTheDocumented) {
  const Catalog c = MustParse(DefaultRestCatalogText());
  std::vector<std::string> undeterminable, query, body;
  for (const Endpoint& e : c.endpoints) {
    if (!e.plan_tokens) continue;
    switch (e.resource.source) {
      case ResourceSource::kNone:
      case ResourceSource::kLookup:
      case ResourceSource::kBody:
        undeterminable.push_back(e.name);
        break;
      case ResourceSource::kQuery:
        query.push_back(e.name);
        break;
      case ResourceSource::kBodyJson:
        body.push_back(e.name);
        break;
      case ResourceSource::kPath:
      case ResourceSource::kUnscoped:
        break;
    }
  }
  EXPECT_THAT(
      undeterminable,
      ElementsAre("getComponent", "getComponentSet", "getStyle", "getWebhook",
                  "putWebhook", "deleteWebhook", "getWebhookRequests",
                  "getActivityLogs", "putDevResources", "getDeveloperLogs",
                  "getAiUsageDaily"));
  EXPECT_THAT(query, ElementsAre("getWebhooks"));
  EXPECT_THAT(body, ElementsAre("postWebhook", "postDevResources"));
}

TEST(DefaultNpmCatalog, Shapes) {
  const Catalog c = MustParse(DefaultNpmCatalogText());
  struct Expect {
    absl::string_view method, path, scope;
    bool plan_tokens;
    ResourceSource source;
  };
  const Expect expected[] = {
      {"GET", "/{package}", "packages:read", true, ResourceSource::kNone},
      {"GET", "/@{scope}/{package}", "packages:read", true,
       ResourceSource::kPath},
      {"GET", "/{package}/-/{tarball}", "packages:read", true,
       ResourceSource::kNone},
      {"GET", "/@{scope}/{package}/-/{tarball}", "packages:read", true,
       ResourceSource::kPath},
      {"PUT", "/{package}", "packages:write", true, ResourceSource::kNone},
      {"PUT", "/@{scope}/{package}", "packages:write", true,
       ResourceSource::kPath},
      {"DELETE", "/{package}/-rev/{rev}", "packages:write", true,
       ResourceSource::kNone},
      {"DELETE", "/@{scope}/{package}/-rev/{rev}", "packages:write", true,
       ResourceSource::kPath},
      {"GET", "/-/package/{package}/dist-tags", "packages:read", true,
       ResourceSource::kNone},
      {"PUT", "/-/package/@{scope}/{package}/dist-tags/{tag}", "packages:write",
       true, ResourceSource::kPath},
      {"DELETE", "/-/package/{package}/dist-tags/{tag}", "packages:write", true,
       ResourceSource::kNone},
      {"GET", "/-/v1/search", "packages:read", true, ResourceSource::kNone},
      {"GET", "/-/npm/v1/tokens", "packages:read", false,
       ResourceSource::kNone},
      {"POST", "/-/npm/v1/tokens", "packages:write", false,
       ResourceSource::kNone},
      {"DELETE", "/-/npm/v1/tokens/token/{token_key}", "packages:write", false,
       ResourceSource::kNone},
  };
  for (const Expect& x : expected) {
    SCOPED_TRACE(absl::StrCat(x.method, " ", x.path));
    const Endpoint* e = Find(c, x.method, x.path);
    ASSERT_NE(e, nullptr);
    EXPECT_THAT(e->scopes, ElementsAre(std::string(x.scope)));
    EXPECT_EQ(e->plan_tokens, x.plan_tokens);
    EXPECT_EQ(e->resource.source, x.source);
    if (x.source == ResourceSource::kPath) {
      EXPECT_EQ(e->resource.kind, ResourceKind::kNpmScope);
      EXPECT_EQ(e->resource.param, "scope");
    }
  }
  // whoami: any npm token may ask who it is; the sidecar answers itself.
  const Endpoint* whoami = Find(c, "GET", "/-/whoami");
  ASSERT_NE(whoami, nullptr);
  EXPECT_THAT(whoami->scopes, ElementsAre("packages:read", "packages:write"));
  EXPECT_EQ(whoami->resource.source, ResourceSource::kUnscoped);
  EXPECT_EQ(whoami->answer, LocalAnswer::kWhoami);
  for (const Endpoint& e : c.endpoints) {
    for (const std::string& s : e.scopes) {
      EXPECT_TRUE(IsGrantableScope(TokenKind::kNpmRegistry, s)) << s;
    }
  }
}

TEST(DefaultCatalogText, ByKind) {
  EXPECT_EQ(DefaultCatalogText(TokenKind::kRestApi), DefaultRestCatalogText());
  EXPECT_EQ(DefaultCatalogText(TokenKind::kNpmRegistry),
            DefaultNpmCatalogText());
  EXPECT_TRUE(DefaultCatalogText(TokenKind::kUnspecified).empty());
}

TEST(FormatEndpoint, RoundTripsEveryDefaultEndpoint) {
  for (absl::string_view text :
       {DefaultRestCatalogText(), DefaultNpmCatalogText()}) {
    const Catalog c = MustParse(text);
    for (const Endpoint& e : c.endpoints) {
      const std::string line = FormatEndpoint(e);
      const Catalog again = MustParse(line);
      ASSERT_EQ(again.endpoints.size(), 1u) << line;
      const Endpoint& f = again.endpoints[0];
      EXPECT_EQ(f.method, e.method);
      EXPECT_EQ(f.path_template, e.path_template);
      EXPECT_EQ(f.scopes, e.scopes);
      EXPECT_EQ(f.plan_tokens, e.plan_tokens);
      EXPECT_EQ(f.resource.source, e.resource.source);
      EXPECT_EQ(f.resource.kind, e.resource.kind);
      EXPECT_EQ(f.resource.param, e.resource.param);
      EXPECT_EQ(f.resource.lookup_kind, e.resource.lookup_kind);
      EXPECT_EQ(f.resource.capture_index, e.resource.capture_index);
      EXPECT_EQ(f.error_style, e.error_style);
      EXPECT_EQ(f.answer, e.answer);
      EXPECT_EQ(f.resource.refs.size(), e.resource.refs.size());
      EXPECT_EQ(FormatEndpoint(f), line);
      EXPECT_EQ(f.name, e.name);
    }
  }
}

TEST(ParseCatalog, CommentsBlankLinesCrlfAndDefaults) {
  const Catalog c = MustParse(
      "# header\r\n"
      "\r\n"
      "   \t  # indented comment\n"
      "GET /a/{file_key} scopes=x:read plan_tokens=yes resource=path:file_key "
      "name=a   # trailing comment\r\n"
      "\tPOST  /b  scopes=x:write|y:write  plan_tokens=no resource=none "
      "name=b error_style=B\n");
  ASSERT_EQ(c.endpoints.size(), 2u);
  EXPECT_EQ(c.endpoints[0].line, 4);
  EXPECT_EQ(c.endpoints[0].error_style, ErrorStyle::kA);  // default
  EXPECT_THAT(c.endpoints[0].param_names, ElementsAre("file_key"));
  EXPECT_EQ(c.endpoints[1].line, 5);
  EXPECT_THAT(c.endpoints[1].scopes, ElementsAre("x:write", "y:write"));
  EXPECT_EQ(c.endpoints[1].error_style, ErrorStyle::kB);
  EXPECT_TRUE(MustParse("").endpoints.empty());
  EXPECT_TRUE(MustParse("# only a comment").endpoints.empty());
}

TEST(ParseCatalog, Selectors) {
  const Catalog c = MustParse(
      "GET /f/{file_key} scopes=s plan_tokens=yes resource=path:file_key "
      "name=a\n"
      "GET /t/{id} scopes=s plan_tokens=yes resource=path:team:id name=b\n"
      "GET /q scopes=s plan_tokens=yes resource=query:project:pid name=c\n"
      "GET /q2 scopes=s plan_tokens=yes resource=query:team_id name=d\n"
      "GET /l/{key} scopes=s plan_tokens=yes resource=lookup:component:key "
      "name=e\n"
      "POST /b scopes=s plan_tokens=yes resource=body:items[].file_key "
      "name=f\n"
      "GET /@{scope}/{p} scopes=s plan_tokens=yes resource=path:scope "
      "name=g\n"
      "GET /w/{a}/{workspace_id} scopes=s plan_tokens=yes "
      "resource=path:workspace_id name=h\n");
  ASSERT_EQ(c.endpoints.size(), 8u);
  EXPECT_EQ(c.endpoints[0].resource.kind, ResourceKind::kFile);
  EXPECT_EQ(c.endpoints[1].resource.kind, ResourceKind::kTeam);
  EXPECT_EQ(c.endpoints[1].resource.param, "id");
  EXPECT_EQ(c.endpoints[2].resource.source, ResourceSource::kQuery);
  EXPECT_EQ(c.endpoints[2].resource.kind, ResourceKind::kProject);
  EXPECT_EQ(c.endpoints[2].resource.param, "pid");
  EXPECT_EQ(c.endpoints[3].resource.kind, ResourceKind::kTeam);
  EXPECT_EQ(c.endpoints[4].resource.source, ResourceSource::kLookup);
  EXPECT_EQ(c.endpoints[4].resource.lookup_kind, "component");
  EXPECT_FALSE(c.endpoints[4].resource.determinable());
  EXPECT_EQ(c.endpoints[5].resource.source, ResourceSource::kBody);
  EXPECT_EQ(c.endpoints[5].resource.param, "items[].file_key");
  EXPECT_EQ(c.endpoints[6].resource.kind, ResourceKind::kNpmScope);
  EXPECT_EQ(c.endpoints[6].segments[0].type, SegmentType::kPrefixedParam);
  EXPECT_EQ(c.endpoints[6].segments[0].text, "@");
  EXPECT_EQ(c.endpoints[7].resource.capture_index, 1);
}

struct BadCatalog {
  absl::string_view text;
  absl::string_view error;  // "test:<line>: ..." substring
};

class ParseCatalogErrorTest : public ::testing::TestWithParam<BadCatalog> {};

TEST_P(ParseCatalogErrorTest, NamesTheLine) {
  const BadCatalog& bad = GetParam();
  EXPECT_THAT(ParseCatalog(bad.text, "test"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(std::string(bad.error))));
}

constexpr absl::string_view kGood =
    "GET /ok scopes=s plan_tokens=yes resource=none name=ok\n";

INSTANTIATE_TEST_SUITE_P(
    Errors, ParseCatalogErrorTest,
    ::testing::Values(
        BadCatalog{"GET\n", "test:1: expected METHOD /path"},
        BadCatalog{"# c\nget /a scopes=s plan_tokens=yes resource=none name=a",
                   "test:2: unknown method \"get\""},
        BadCatalog{"FETCH /a scopes=s plan_tokens=yes resource=none name=a",
                   "test:1: unknown method"},
        BadCatalog{"GET a scopes=s plan_tokens=yes resource=none name=a",
                   "test:1: path template \"a\" must start with '/'"},
        BadCatalog{"GET /a//b scopes=s plan_tokens=yes resource=none name=a",
                   "test:1: path template"},
        BadCatalog{"GET /a/ scopes=s plan_tokens=yes resource=none name=a",
                   "test:1: path template"},
        BadCatalog{"GET /a/../b scopes=s plan_tokens=yes resource=none name=a",
                   "not a canonical literal"},
        BadCatalog{"GET /a%2Fb scopes=s plan_tokens=yes resource=none name=a",
                   "not a canonical literal"},
        BadCatalog{"GET /a;b scopes=s plan_tokens=yes resource=none name=a",
                   "not a canonical literal"},
        BadCatalog{"GET /a?b scopes=s plan_tokens=yes resource=none name=a",
                   "not a canonical literal"},
        BadCatalog{"GET /{a}x scopes=s plan_tokens=yes resource=none name=a",
                   "must be {name} or PREFIX{name}"},
        BadCatalog{"GET /{} scopes=s plan_tokens=yes resource=none name=a",
                   "must be {name} or PREFIX{name}"},
        BadCatalog{"GET /{1a} scopes=s plan_tokens=yes resource=none name=a",
                   "must be {name} or PREFIX{name}"},
        BadCatalog{"GET /{a}/{a} scopes=s plan_tokens=yes resource=none name=a",
                   "parameter \"a\" used twice"},
        BadCatalog{"GET /{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i} scopes=s "
                   "plan_tokens=yes resource=none name=a",
                   "more than 8 parameters"},
        BadCatalog{"GET /a scopes=s plan_tokens=yes resource=none",
                   "test:1: missing key name="},
        BadCatalog{"GET /a plan_tokens=yes resource=none name=a",
                   "test:1: missing key scopes="},
        BadCatalog{"GET /a scopes=s resource=none name=a",
                   "test:1: missing key plan_tokens="},
        BadCatalog{"GET /a scopes=s plan_tokens=yes name=a",
                   "test:1: missing key resource="},
        BadCatalog{"GET /a scopes=s plan_tokens=maybe resource=none name=a",
                   "plan_tokens must be yes or no"},
        BadCatalog{"GET /a scopes=s plan_tokens=yes resource=none name=a "
                   "color=red",
                   "unknown key \"color\""},
        BadCatalog{"GET /a scopes=s scopes=t plan_tokens=yes resource=none "
                   "name=a",
                   "duplicate key \"scopes\""},
        BadCatalog{"GET /a scopes plan_tokens=yes resource=none name=a",
                   "expected key=value"},
        BadCatalog{"GET /a scopes=S plan_tokens=yes resource=none name=a",
                   "bad scope name \"S\""},
        BadCatalog{"GET /a scopes=a||b plan_tokens=yes resource=none name=a",
                   "bad scope name \"\""},
        BadCatalog{"GET /a scopes=a|a plan_tokens=yes resource=none name=a",
                   "listed twice"},
        BadCatalog{"GET /a scopes=- plan_tokens=yes resource=none name=a",
                   "only allowed with plan_tokens=no"},
        BadCatalog{
            "GET /a scopes=s plan_tokens=yes resource=all name=a",
            "expected none, unscoped, path:, query:, json:, lookup: or body:"},
        BadCatalog{"GET /a scopes=s plan_tokens=yes resource=header:x name=a",
                   "unknown selector type"},
        BadCatalog{"GET /a/{x} scopes=s plan_tokens=yes resource=path:x "
                   "name=a",
                   "cannot infer the resource kind"},
        BadCatalog{"GET /a/{x} scopes=s plan_tokens=yes resource=path:user:x "
                   "name=a",
                   "unknown resource kind \"user\""},
        BadCatalog{"GET /a/{x} scopes=s plan_tokens=yes "
                   "resource=path:file:file_key name=a",
                   "has no parameter \"file_key\""},
        BadCatalog{"GET /a/{x} scopes=s plan_tokens=yes "
                   "resource=lookup:component:y name=a",
                   "has no parameter \"y\""},
        BadCatalog{"GET /a/{x} scopes=s plan_tokens=yes resource=lookup:x "
                   "name=a",
                   "expected lookup:WHAT:PARAM"},
        BadCatalog{"GET /a scopes=s plan_tokens=yes resource=body: name=a",
                   "needs a description"},
        BadCatalog{"GET /a scopes=s plan_tokens=yes resource=none "
                   "error_style=C name=a",
                   "error_style must be A, B, AB or npm"},
        BadCatalog{"GET /a scopes=s plan_tokens=yes resource=none name=a/b",
                   "bad name"},
        BadCatalog{
            "GET /a scopes=s plan_tokens=yes resource=none name=\xc3\xa9",
            "test:1: control character or non-ASCII byte"},
        BadCatalog{"GET /a\x01 scopes=s plan_tokens=yes resource=none name=a",
                   "test:1: control character"},
        BadCatalog{"GET /x/{a} scopes=s plan_tokens=yes resource=none name=a\n"
                   "\n"
                   "GET /x/{b} scopes=s plan_tokens=yes resource=none name=b",
                   "test:3: route \"GET /x/{}\" duplicates line 1"},
        BadCatalog{"GET /ok scopes=s plan_tokens=yes resource=none name=ok\n"
                   "POST /ok2 scopes=s plan_tokens=yes resource=none name=ok",
                   "test:2: name \"ok\" already used on line 1"},
        // answer=, error_style=npm, unscoped, query:/json: REFS.
        BadCatalog{"GET /a scopes=s plan_tokens=yes resource=none answer=me "
                   "name=a",
                   "answer must be whoami"},
        BadCatalog{"GET /a scopes=s plan_tokens=yes resource=none "
                   "answer=whoami answer=whoami name=a",
                   "duplicate key \"answer\""},
        BadCatalog{"GET /a scopes=s plan_tokens=yes resource=none "
                   "error_style=NPM name=a",
                   "error_style must be A, B, AB or npm"},
        BadCatalog{"GET /a scopes=s plan_tokens=yes resource=Unscoped name=a",
                   "expected none, unscoped"},
        BadCatalog{"GET /a scopes=s plan_tokens=yes resource=json: name=a",
                   "needs at least one REF"},
        BadCatalog{"GET /a scopes=s plan_tokens=yes resource=query: name=a",
                   "needs at least one REF"},
        BadCatalog{"GET /a scopes=s plan_tokens=yes resource=json:x name=a",
                   "cannot infer the resource kind"},
        BadCatalog{"GET /a scopes=s plan_tokens=yes resource=json:user:x "
                   "name=a",
                   "unknown resource kind \"user\""},
        BadCatalog{"GET /a scopes=s plan_tokens=yes resource=json:file:a..b "
                   "name=a",
                   "bad JSON field path"},
        BadCatalog{"GET /a scopes=s plan_tokens=yes resource=json:file:a[] "
                   "name=a",
                   "must end in a member name"},
        BadCatalog{"GET /a scopes=s plan_tokens=yes resource=json:file:a[][] "
                   "name=a",
                   "bad JSON field path"},
        BadCatalog{"GET /a scopes=s plan_tokens=yes "
                   "resource=json:file:a.b.c.d.e.f.g.h.i name=a",
                   "more than 8 steps"},
        BadCatalog{"GET /a scopes=s plan_tokens=yes "
                   "resource=json:context:context name=a",
                   "expected context:KIND+ID"},
        BadCatalog{"GET /a scopes=s plan_tokens=yes "
                   "resource=json:context:c+ name=a",
                   "bad id field"},
        BadCatalog{"GET /a scopes=s plan_tokens=yes "
                   "resource=query:file:a.b name=a",
                   "bad query parameter name"},
        BadCatalog{"GET /a scopes=s plan_tokens=yes "
                   "resource=query:context:c+d.e name=a",
                   "bad id field"},
        BadCatalog{"GET /a scopes=s plan_tokens=yes "
                   "resource=json:file:a||team:b name=a",
                   "bad JSON field path"},
        BadCatalog{"GET /a scopes=s plan_tokens=yes "
                   "resource=json:file:a|file:b|file:c|file:d|file:e name=a",
                   "more than 4 alternatives"}));

TEST(ParseCatalog, UnscopedAnswerNpmStyleAndRefSelectors) {
  const Catalog c = MustParse(
      "GET /-/ping scopes=r plan_tokens=yes resource=unscoped "
      "error_style=npm name=ping\n"
      "GET /-/whoami scopes=r plan_tokens=yes resource=unscoped "
      "answer=whoami error_style=npm name=whoami\n"
      "GET /w scopes=r plan_tokens=yes "
      "resource=query:context:context+context_id|plan:plan_api_id name=w\n"
      "POST /w scopes=r plan_tokens=yes "
      "resource=json:context:context+context_id|team:team_id name=pw\n"
      "POST /d scopes=r plan_tokens=yes "
      "resource=json:file:dev_resources[].file_key name=d\n"
      "POST /n scopes=r plan_tokens=yes resource=json:a.b[].file_key "
      "name=n\n");
  ASSERT_EQ(c.endpoints.size(), 6u);
  const Endpoint& ping = c.endpoints[0];
  EXPECT_EQ(ping.resource.source, ResourceSource::kUnscoped);
  EXPECT_EQ(ping.error_style, ErrorStyle::kNpm);
  EXPECT_EQ(ping.answer, LocalAnswer::kNone);
  EXPECT_EQ(c.endpoints[1].answer, LocalAnswer::kWhoami);

  const ResourceSelector& w = c.endpoints[2].resource;
  EXPECT_EQ(w.source, ResourceSource::kQuery);
  EXPECT_FALSE(w.reads_body());
  ASSERT_EQ(w.refs.size(), 2u);
  EXPECT_EQ(w.refs[0].form, RefForm::kContext);
  ASSERT_EQ(w.refs[0].field.size(), 1u);
  EXPECT_EQ(w.refs[0].field[0].name, "context");
  EXPECT_EQ(w.refs[0].id_field, "context_id");
  EXPECT_EQ(w.refs[1].form, RefForm::kPlan);
  EXPECT_EQ(w.refs[1].field[0].name, "plan_api_id");
  EXPECT_EQ(w.param, "context:context+context_id|plan:plan_api_id");

  const ResourceSelector& pw = c.endpoints[3].resource;
  EXPECT_EQ(pw.source, ResourceSource::kBodyJson);
  EXPECT_TRUE(pw.reads_body());
  ASSERT_EQ(pw.refs.size(), 2u);
  EXPECT_EQ(pw.refs[1].form, RefForm::kFixed);
  EXPECT_EQ(pw.refs[1].kind, ResourceKind::kTeam);

  const ResourceSelector& d = c.endpoints[4].resource;
  ASSERT_EQ(d.refs.size(), 1u);
  EXPECT_EQ(d.refs[0].kind, ResourceKind::kFile);
  ASSERT_EQ(d.refs[0].field.size(), 2u);
  EXPECT_EQ(d.refs[0].field[0].name, "dev_resources");
  EXPECT_TRUE(d.refs[0].field[0].each);
  EXPECT_EQ(d.refs[0].field[1].name, "file_key");
  EXPECT_FALSE(d.refs[0].field[1].each);
  EXPECT_EQ(d.param, "file:dev_resources[].file_key");

  // The kind is implied by the last member name.
  const ResourceSelector& n = c.endpoints[5].resource;
  EXPECT_EQ(n.refs[0].kind, ResourceKind::kFile);
  EXPECT_EQ(n.refs[0].field.size(), 3u);
  EXPECT_EQ(n.param, "file:a.b[].file_key");
}

TEST(FormatEndpoint, RoundTripsEveryKey) {
  const std::string text =
      "GET /-/whoami scopes=r plan_tokens=yes resource=unscoped "
      "answer=whoami error_style=npm name=whoami\n"
      "GET /w scopes=r plan_tokens=yes "
      "resource=query:context:context+context_id|plan:plan_api_id "
      "error_style=AB name=w\n"
      "POST /w scopes=r plan_tokens=yes "
      "resource=json:context:context+context_id|team:team_id "
      "error_style=B name=pw\n"
      "POST /d scopes=r plan_tokens=yes "
      "resource=json:file:dev_resources[].file_key name=d\n"
      "GET /q scopes=r plan_tokens=yes resource=query:project_id name=q\n";
  const Catalog c = MustParse(text);
  for (const Endpoint& e : c.endpoints) {
    const std::string line = FormatEndpoint(e);
    SCOPED_TRACE(line);
    const Catalog again = MustParse(line);
    ASSERT_EQ(again.endpoints.size(), 1u);
    const Endpoint& f = again.endpoints[0];
    EXPECT_EQ(FormatEndpoint(f), line);
    EXPECT_EQ(f.answer, e.answer);
    EXPECT_EQ(f.error_style, e.error_style);
    EXPECT_EQ(f.resource.source, e.resource.source);
    EXPECT_EQ(f.resource.param, e.resource.param);
    EXPECT_EQ(f.resource.kind, e.resource.kind);
    ASSERT_EQ(f.resource.refs.size(), e.resource.refs.size());
  }
  EXPECT_EQ(FormatEndpoint(c.endpoints[0]),
            "GET /-/whoami scopes=r plan_tokens=yes resource=unscoped "
            "error_style=npm answer=whoami name=whoami");
  EXPECT_EQ(FormatEndpoint(c.endpoints[4]),
            "GET /q scopes=r plan_tokens=yes resource=query:project:project_id "
            "error_style=A name=q");
}

TEST(DefaultErrorStyle, ByApi) {
  EXPECT_EQ(DefaultErrorStyle(TokenKind::kNpmRegistry), ErrorStyle::kNpm);
  EXPECT_EQ(DefaultErrorStyle(TokenKind::kRestApi), ErrorStyle::kA);
  EXPECT_EQ(DefaultErrorStyle(TokenKind::kUnspecified), ErrorStyle::kA);
  EXPECT_EQ(ErrorStyleName(ErrorStyle::kNpm), "npm");
}

TEST(ParseCatalog, ErrorLineCountsCommentsAndBlankLines) {
  const std::string text =
      absl::StrCat("# one\n\n", kGood, "# four\nGET /x scopes=s\n");
  EXPECT_THAT(ParseCatalog(text, "my.catalog"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("my.catalog:5: missing key")));
}

TEST(ParseCatalog, LongInputIsQuotedBriefly) {
  const std::string method(1000, 'X');
  const absl::Status s =
      ParseCatalog(absl::StrCat(method, " /a"), "t").status();
  EXPECT_LT(s.message().size(), 300u);
}

TEST(ParseCatalog, RejectsOversizedInput) {
  const std::string text(kMaxCatalogBytes + 1, '#');
  EXPECT_THAT(
      ParseCatalog(text, "big"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("larger than")));
}

TEST(ParsePathTemplate, Segments) {
  absl::StatusOr<std::vector<TemplateSegment>> s =
      ParsePathTemplate("/-/package/@{scope}/{package}/dist-tags");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->size(), 5u);
  EXPECT_EQ((*s)[0].type, SegmentType::kLiteral);
  EXPECT_EQ((*s)[0].text, "-");
  EXPECT_EQ((*s)[2].type, SegmentType::kPrefixedParam);
  EXPECT_EQ((*s)[2].text, "@");
  EXPECT_EQ((*s)[2].param, "scope");
  EXPECT_EQ((*s)[3].type, SegmentType::kParam);
  EXPECT_EQ((*s)[3].param, "package");
  absl::StatusOr<std::vector<TemplateSegment>> root = ParsePathTemplate("/");
  ASSERT_TRUE(root.ok());
  EXPECT_TRUE(root->empty());
  EXPECT_FALSE(ParsePathTemplate("").ok());
  EXPECT_FALSE(ParsePathTemplate("/a/.").ok());
  EXPECT_FALSE(ParsePathTemplate("/a b").ok());
  EXPECT_FALSE(ParsePathTemplate("/%41").ok());
  EXPECT_FALSE(ParsePathTemplate("/a\\b").ok());
  EXPECT_FALSE(ParsePathTemplate("/a#b").ok());
}

}  // namespace
}  // namespace pat::policy
