// R12 through a real sidecar: /v1/me, /v1/oembed and every catalog endpoint
// that needs a scope plan tokens may not hold are 403 endpoint_not_supported,
// even for a token with every grantable scope and all resources; every other
// catalog endpoint is forwarded for that token.

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/policy/catalog.h"
#include "common/scopes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_support.h"

namespace pat::testing {
namespace {

using ::testing::UnorderedElementsAre;

class EndpointsTest : public SharedE2eTest {
 protected:
  void SetUp() override {
    SharedE2eTest::SetUp();
    if (HasFatalFailure()) return;
    token_ = env().Create(AllGrantableRestScopes());
    ASSERT_FALSE(HasFailure());
  }

  // One request with the all-powerful token; a body for writes.
  // Endpoints whose resource is in the JSON body get a body naming plan A's
  // own resources (the sidecar decides on it).
  HttpResponse Call(const std::string& method, const std::string& target) {
    const bool write = method == "POST" || method == "PUT";
    std::string body = write ? R"({"message":"hi"})" : "";
    if (method == "POST" && target == "/v2/webhooks") {
      body = R"({"event_type":"FILE_UPDATE","context":"team","context_id":"teamA"})";
    } else if (method == "POST" && target == "/v1/dev_resources") {
      body = R"({"dev_resources":[{"file_key":"FILEA1","name":"n","url":"https://e.x"}]})";
    }
    return HttpCall(env().port(), method, target, Bearer(token_.secret), body);
  }

  void ExpectNotSupported(const std::string& method,
                          const std::string& target) {
    SCOPED_TRACE(method + " " + target);
    const int64_t before = env().sidecar().upstream_count();
    ExpectDenied(Call(method, target), 403, "endpoint_not_supported");
    EXPECT_EQ(env().sidecar().upstream_count(), before);
  }

  IssuedToken token_;
};

// A concrete request-target for a catalog path template: plan A's seeded
// resources for resource parameters, placeholders for the rest.
std::string Instantiate(const policy::Endpoint& e) {
  std::vector<std::string> parts;
  for (const policy::TemplateSegment& s : e.segments) {
    if (s.type == policy::SegmentType::kLiteral) {
      parts.push_back(s.text);
    } else if (s.param == "file_key") {
      parts.push_back("FILEA1");
    } else if (s.param == "team_id") {
      parts.push_back("teamA");
    } else if (s.param == "project_id") {
      parts.push_back("projA");
    } else {
      parts.push_back(absl::StrCat(s.text, "x123"));
    }
  }
  return absl::StrCat("/", absl::StrJoin(parts, "/"));
}

TEST_F(EndpointsTest, ExcludedEndpointsAreNotSupported) {
  ExpectNotSupported("GET", "/v1/me");
  ExpectNotSupported("GET", "/v1/oembed");
  ExpectNotSupported(
      "GET", "/v1/oembed?url=https%3A%2F%2Fwww.figma.com%2Fdesign%2FFILEA1");
}

TEST_F(EndpointsTest, ExcludedScopeEndpointsAreNotSupported) {
  ExpectNotSupported("POST", "/v1/files/FILEA1/comments");
  ExpectNotSupported("DELETE", "/v1/files/FILEA1/comments/123");
  ExpectNotSupported("POST", "/v1/files/FILEA1/comments/123/reactions");
  ExpectNotSupported(
      "DELETE", "/v1/files/FILEA1/comments/123/reactions?emoji=%3Aheart%3A");
  ExpectNotSupported("POST", "/v1/files/FILEA1/variables");
  // The same token reads those resources (so the denial is about R12, not
  // about the token).
  ExpectForwarded(Call("GET", "/v1/files/FILEA1/comments"));
  ExpectForwarded(Call("GET", "/v1/files/FILEA1/comments/123/reactions"));
  ExpectForwarded(Call("GET", "/v1/files/FILEA1/variables/local"));
}

// The whole built-in catalog: endpoints for plan tokens are forwarded for an
// all-scopes, all-resources token; the others are endpoint_not_supported.
// Every endpoint that needs an excluded scope is among the latter.
TEST_F(EndpointsTest, EveryCatalogEndpoint) {
  absl::StatusOr<policy::Catalog> catalog =
      policy::ParseCatalog(policy::DefaultRestCatalogText(), "built-in");
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  std::vector<std::string> excluded_scope_endpoints;
  int forwarded = 0;
  int not_supported = 0;
  for (const policy::Endpoint& e : catalog->endpoints) {
    const std::string target = Instantiate(e);
    SCOPED_TRACE(absl::StrCat(e.method, " ", target, " (", e.name, ")"));
    bool needs_excluded = !e.scopes.empty();
    for (const std::string& s : e.scopes) {
      if (IsGrantableScope(TokenKind::kRestApi, s)) needs_excluded = false;
    }
    if (needs_excluded) {
      excluded_scope_endpoints.push_back(e.name);
      EXPECT_FALSE(e.plan_tokens);
    }
    if (!e.plan_tokens) {
      ExpectNotSupported(e.method, target);
      ++not_supported;
      continue;
    }
    const int64_t before = env().sidecar().upstream_count();
    const HttpResponse r = Call(e.method, target);
    const nlohmann::json echo = ExpectForwarded(r);
    EXPECT_EQ(echo.value("method", ""), e.method);
    EXPECT_EQ(echo.value("target", ""), target);
    EXPECT_EQ(env().sidecar().upstream_count(), before + 1);
    ++forwarded;
  }
  EXPECT_THAT(excluded_scope_endpoints,
              UnorderedElementsAre("postComment", "deleteComment",
                                   "postCommentReaction",
                                   "deleteCommentReaction", "postVariables"));
  EXPECT_EQ(forwarded + not_supported, 51);
  EXPECT_EQ(not_supported, 9);  // the 5 above, /v1/me, /v1/oembed,
                                // /v1/payments, /v1/discovery
}

}  // namespace
}  // namespace pat::testing
