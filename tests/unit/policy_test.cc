#include "common/policy/policy.h"

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/domain.h"
#include "common/policy/catalog.h"
#include "common/policy/path.h"
#include "common/policy/reason.h"
#include "common/policy/route_matcher.h"
#include "common/scopes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace pat::policy {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Directory used by the tests:
//   plan "p": workspace w1 > team t1 > project pr1 > file f1
//             team t2 (no workspace) > project pr2 > file f2
//             file f3 (no parent), npm scope @acme
//   plan "q": team tq > project prq > file fq, npm scope @other
class FakeDirectory : public ResourceResolver {
 public:
  FakeDirectory() {
    Add(ResourceKind::kWorkspace, "w1", "p", {});
    Add(ResourceKind::kTeam, "t1", "p", {{ResourceKind::kWorkspace, "w1"}});
    Add(ResourceKind::kProject, "pr1", "p",
        {{ResourceKind::kTeam, "t1"}, {ResourceKind::kWorkspace, "w1"}});
    Add(ResourceKind::kFile, "f1", "p",
        {{ResourceKind::kProject, "pr1"},
         {ResourceKind::kTeam, "t1"},
         {ResourceKind::kWorkspace, "w1"}});
    Add(ResourceKind::kTeam, "t2", "p", {});
    Add(ResourceKind::kProject, "pr2", "p", {{ResourceKind::kTeam, "t2"}});
    Add(ResourceKind::kFile, "f2", "p",
        {{ResourceKind::kProject, "pr2"}, {ResourceKind::kTeam, "t2"}});
    Add(ResourceKind::kFile, "f3", "p", {});
    Add(ResourceKind::kNpmScope, "@acme", "p", {});
    Add(ResourceKind::kTeam, "tq", "q", {});
    Add(ResourceKind::kProject, "prq", "q", {{ResourceKind::kTeam, "tq"}});
    Add(ResourceKind::kFile, "fq", "q",
        {{ResourceKind::kProject, "prq"}, {ResourceKind::kTeam, "tq"}});
    Add(ResourceKind::kNpmScope, "@other", "q", {});
    Add(ResourceKind::kFile, "nop", "", {});  // broken entry: no plan
  }

  std::optional<ResolvedResource> Resolve(ResourceKind kind,
                                          absl::string_view id) const override {
    ++calls;
    auto it = entries_.find({kind, std::string(id)});
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }

  mutable int calls = 0;

 private:
  void Add(ResourceKind kind, std::string id, std::string plan,
           std::vector<std::pair<ResourceKind, std::string>> ancestors) {
    entries_[{kind, std::move(id)}] =
        ResolvedResource{std::move(plan), std::move(ancestors)};
  }
  std::map<std::pair<ResourceKind, std::string>, ResolvedResource> entries_;
};

std::vector<std::string> AllScopes(TokenKind kind) {
  std::vector<std::string> out;
  if (kind == TokenKind::kRestApi) {
    for (absl::string_view s : RestApiScopes()) {
      if (IsGrantableScope(kind, s)) out.emplace_back(s);
    }
  } else {
    for (absl::string_view s : NpmScopes()) out.emplace_back(s);
  }
  return out;
}

class PolicyTest : public ::testing::Test {
 protected:
  PolicyTest()
      : rest_(*RouteMatcher::Default(TokenKind::kRestApi)),
        npm_(*RouteMatcher::Default(TokenKind::kNpmRegistry)) {
    token_.id = "tok_1";
    token_.plan_id = "p";
    token_.kind = TokenKind::kRestApi;
    token_.scopes = AllScopes(TokenKind::kRestApi);
    token_.all_resources = true;
  }

  void UseList(std::vector<TokenResource> list) {
    token_.all_resources = false;
    token_.resources = std::move(list);
  }
  void UseNpm() {
    token_.kind = TokenKind::kNpmRegistry;
    token_.scopes = AllScopes(TokenKind::kNpmRegistry);
  }

  // Steps 1 and 3-5 for a request with the current token and a buffered
  // JSON body.
  Decision RunBody(absl::string_view method, absl::string_view target,
                   absl::string_view body) {
    body_ = body;
    has_body_ = true;
    Decision d = Run(method, target);
    has_body_ = false;
    body_ = {};
    return d;
  }

  // Steps 1 and 3-5 for a request with the current token.
  Decision Run(absl::string_view method, absl::string_view target,
               const RouteMatcher* routes = nullptr) {
    grant_ = GrantViewOf(token_);
    DecisionInput in;
    in.method = method;
    in.routes = routes != nullptr                        ? routes
                : token_.kind == TokenKind::kNpmRegistry ? &npm_
                                                         : &rest_;
    in.grant = &grant_;
    in.resolver = resolver_;
    in.api_kind = api_kind_;
    in.body = body_;
    in.has_body = has_body_;
    return CheckAndDecide(target, in);
  }

  absl::string_view body_;
  bool has_body_ = false;

  FakeDirectory directory_;
  const ResourceResolver* resolver_ = &directory_;
  TokenKind api_kind_ = TokenKind::kUnspecified;
  RouteMatcher rest_;
  RouteMatcher npm_;
  Token token_;
  GrantView grant_;
};

MATCHER_P(IsDecision, reason, "") {
  *result_listener << "reason " << ReasonCode(arg.reason) << " (" << arg.detail
                   << "), status " << arg.http_status;
  return arg.reason == reason && arg.allowed == (reason == Reason::kAllowed) &&
         arg.http_status == ReasonHttpStatus(reason);
}

// Fills a template: file_key -> f1, team_id -> t1, project_id -> pr1,
// scope -> @acme, anything else -> "x".
std::string Instantiate(const Endpoint& e) {
  if (e.segments.empty()) return "/";
  std::string out;
  for (const TemplateSegment& s : e.segments) {
    out.push_back('/');
    if (s.type == SegmentType::kLiteral) {
      out.append(s.text);
    } else if (s.param == "file_key") {
      out.append("f1");
    } else if (s.param == "team_id") {
      out.append("t1");
    } else if (s.param == "project_id") {
      out.append("pr1");
    } else if (s.param == "scope") {
      out.append("@acme");
    } else {
      out.append("x");
    }
  }
  return out;
}

TEST(Reasons, CodesStatusesAndMessages) {
  struct Row {
    Reason reason;
    absl::string_view code;
    int status;
  };
  const Row rows[] = {
      {Reason::kAllowed, "allowed", 200},
      {Reason::kPathInvalid, "path_invalid", 400},
      {Reason::kTokenInQuery, "token_in_query", 400},
      {Reason::kTokenMissing, "token_missing", 401},
      {Reason::kTokenAmbiguous, "token_ambiguous", 401},
      {Reason::kTokenMalformed, "token_malformed", 401},
      {Reason::kTokenUnknown, "token_unknown", 401},
      {Reason::kTokenExpired, "token_expired", 401},
      {Reason::kTokenRevoked, "token_revoked", 401},
      {Reason::kTokenKindMismatch, "token_kind_mismatch", 401},
      {Reason::kEndpointUnknown, "endpoint_unknown", 403},
      {Reason::kEndpointNotSupported, "endpoint_not_supported", 403},
      {Reason::kScopeMissing, "scope_missing", 403},
      {Reason::kResourceNotAllowed, "resource_not_allowed", 403},
      {Reason::kAuthorityUnavailable, "authority_unavailable", 503},
      {Reason::kTokenInPath, "token_in_path", 400},
      {Reason::kRequestInvalid, "request_invalid", 400},
      {Reason::kBodyTooLarge, "body_too_large", 413},
      {Reason::kExpectationFailed, "expectation_failed", 417},
      {Reason::kRateLimited, "rate_limited", 429},
      {Reason::kHeadersTooLarge, "headers_too_large", 431},
      {Reason::kInternalError, "internal_error", 500},
      {Reason::kUpstreamUnavailable, "upstream_unavailable", 502},
      {Reason::kOverloaded, "overloaded", 503},
      {Reason::kUpstreamTimeout, "upstream_timeout", 504},
      {Reason::kClientClosed, "client_closed", 499},
  };
  ASSERT_EQ(AllReasons().size(), std::size(rows));
  for (size_t i = 0; i < std::size(rows); ++i) {
    EXPECT_EQ(AllReasons()[i], rows[i].reason);
    EXPECT_EQ(ReasonCode(rows[i].reason), rows[i].code);
    EXPECT_EQ(ReasonHttpStatus(rows[i].reason), rows[i].status);
    EXPECT_EQ(ReasonFromCode(rows[i].code), rows[i].reason);
    EXPECT_FALSE(ReasonMessage(rows[i].reason).empty());
    EXPECT_EQ(WwwAuthenticate(rows[i].reason).empty(), rows[i].status != 401);
    const Decision d = MakeDecision(rows[i].reason, "d");
    EXPECT_THAT(d, IsDecision(rows[i].reason));
  }
  EXPECT_EQ(WwwAuthenticate(Reason::kTokenMissing),
            "Bearer error=\"invalid_token\"");
  EXPECT_EQ(ReasonFromCode("nope"), std::nullopt);
}

TEST(GrantStateReason, MapsTokenProblems) {
  const TokenKind rest = TokenKind::kRestApi;
  const TokenKind npm = TokenKind::kNpmRegistry;
  EXPECT_EQ(GrantStateReason(TokenStatus::kActive, rest, rest),
            Reason::kAllowed);
  EXPECT_EQ(
      GrantStateReason(TokenStatus::kActive, rest, TokenKind::kUnspecified),
      Reason::kAllowed);
  EXPECT_EQ(GrantStateReason(TokenStatus::kActive, npm, rest),
            Reason::kTokenKindMismatch);
  EXPECT_EQ(GrantStateReason(TokenStatus::kExpired, rest, rest),
            Reason::kTokenExpired);
  EXPECT_EQ(GrantStateReason(TokenStatus::kRevoked, rest, rest),
            Reason::kTokenRevoked);
  EXPECT_EQ(GrantStateReason(TokenStatus::kRevoked, npm, rest),
            Reason::kTokenRevoked);
  EXPECT_EQ(GrantStateReason(TokenStatus::kUnspecified, rest, rest),
            Reason::kTokenUnknown);
}

TEST_F(PolicyTest, AllowsAndReportsTheEndpoint) {
  const Decision d = Run("GET", "/v1/files/f1?depth=1");
  EXPECT_THAT(d, IsDecision(Reason::kAllowed));
  ASSERT_NE(d.endpoint, nullptr);
  EXPECT_EQ(d.endpoint->name, "getFile");
  EXPECT_TRUE(d.detail.empty());
}

TEST_F(PolicyTest, Step1PathInvalidAndTokenInQuery) {
  EXPECT_THAT(Run("GET", "/v1/files/f1/"), IsDecision(Reason::kPathInvalid));
  EXPECT_THAT(Run("GET", "/v1/files/%66%31"), IsDecision(Reason::kPathInvalid));
  EXPECT_THAT(Run("GET", "/v1/files/f1?access_token=x"),
              IsDecision(Reason::kTokenInQuery));
}

TEST_F(PolicyTest, EndpointUnknown) {
  for (auto [method, target] :
       std::vector<std::pair<absl::string_view, absl::string_view>>{
           {"GET", "/v1/admin"},
           {"GET", "/V1/FILES/f1"},
           {"HEAD", "/v1/files/f1"},
           {"PATCH", "/v1/files/f1"},
           {"POST", "/v1/oauth/token"},
           {"GET", "/v1/files/f1/nodes/extra"},
           {"GET", "/"}}) {
    const Decision d = Run(method, target);
    EXPECT_THAT(d, IsDecision(Reason::kEndpointUnknown))
        << method << " " << target;
    EXPECT_EQ(d.endpoint, nullptr);
  }
}

TEST_F(PolicyTest, ExcludedEndpointsAreNotSupportedEvenWithEveryScope) {
  // Every REST scope, even the excluded ones, and all resources.
  token_.scopes.clear();
  for (absl::string_view s : RestApiScopes()) token_.scopes.emplace_back(s);
  int count = 0;
  for (const Endpoint& e : rest_.endpoints()) {
    if (e.plan_tokens) continue;
    ++count;
    const Decision d = Run(e.method, Instantiate(e));
    EXPECT_THAT(d, IsDecision(Reason::kEndpointNotSupported)) << e.name;
    EXPECT_EQ(d.endpoint, &e);
  }
  EXPECT_EQ(count, 9);  // rows 10 11 13 14 15 33 36 47 51
  EXPECT_THAT(Run("GET", "/v1/me"), IsDecision(Reason::kEndpointNotSupported));
  EXPECT_THAT(Run("GET", "/v1/oembed?url=https%3A%2F%2Fx"),
              IsDecision(Reason::kEndpointNotSupported));
  EXPECT_THAT(Run("POST", "/v1/files/f1/variables"),
              IsDecision(Reason::kEndpointNotSupported));
  EXPECT_THAT(Run("POST", "/v1/files/f1/comments"),
              IsDecision(Reason::kEndpointNotSupported));
}

TEST_F(PolicyTest,
       EveryPlanTokenEndpointIsAllowedWithEveryScopeAndAllResources) {
  for (const Endpoint& e : rest_.endpoints()) {
    if (!e.plan_tokens) continue;
    if (e.resource.reads_body()) {
      // Rows whose resource is in the body need it (issue 8 item 3).
      const absl::string_view body =
          e.name == "postWebhook" ? R"({"context":"team","context_id":"t1"})"
                                  : R"({"dev_resources":[{"file_key":"f1"}]})";
      EXPECT_THAT(RunBody(e.method, Instantiate(e), body),
                  IsDecision(Reason::kAllowed))
          << e.name;
      continue;
    }
    EXPECT_THAT(Run(e.method, Instantiate(e)), IsDecision(Reason::kAllowed))
        << e.name;
  }
  UseNpm();
  for (const Endpoint& e : npm_.endpoints()) {
    if (!e.plan_tokens) continue;
    EXPECT_THAT(Run(e.method, Instantiate(e)), IsDecision(Reason::kAllowed))
        << e.name;
  }
}

TEST_F(PolicyTest, ScopeMissing) {
  token_.scopes = {"file_metadata:read"};
  const Decision d = Run("GET", "/v1/files/f1");
  EXPECT_THAT(d, IsDecision(Reason::kScopeMissing));
  EXPECT_THAT(d.detail, HasSubstr("file_content:read"));
  EXPECT_THAT(d.detail, HasSubstr("files:read"));
  EXPECT_THAT(Run("GET", "/v1/files/f1/meta"), IsDecision(Reason::kAllowed));
  token_.scopes = {};
  EXPECT_THAT(Run("GET", "/v1/files/f1/meta"),
              IsDecision(Reason::kScopeMissing));
}

TEST_F(PolicyTest, LegacyFilesReadOnlyWhereTheCatalogSaysSo) {
  token_.scopes = {"files:read"};
  EXPECT_THAT(Run("GET", "/v1/files/f1"), IsDecision(Reason::kAllowed));
  EXPECT_THAT(Run("GET", "/v2/webhooks/w1"), IsDecision(Reason::kAllowed));
  EXPECT_THAT(Run("GET", "/v2/webhooks"), IsDecision(Reason::kScopeMissing));
  EXPECT_THAT(Run("GET", "/v1/files/f1/variables/local"),
              IsDecision(Reason::kScopeMissing));
  EXPECT_THAT(Run("DELETE", "/v2/webhooks/w1"),
              IsDecision(Reason::kScopeMissing));
}

TEST_F(PolicyTest, EndpointCheckComesBeforeScope) {
  token_.scopes = {"files:read"};
  EXPECT_THAT(Run("POST", "/v1/files/f1/comments"),
              IsDecision(Reason::kEndpointNotSupported));
}

TEST_F(PolicyTest, ScopeCheckComesBeforeResource) {
  token_.scopes = {"projects:read"};
  EXPECT_THAT(Run("GET", "/v1/files/fq"), IsDecision(Reason::kScopeMissing));
}

TEST_F(PolicyTest, AllResourcesMeansOwnPlanOnly) {
  EXPECT_THAT(Run("GET", "/v1/files/f1"), IsDecision(Reason::kAllowed));
  EXPECT_THAT(Run("GET", "/v1/files/f3"), IsDecision(Reason::kAllowed));
  EXPECT_THAT(Run("GET", "/v1/teams/t2/projects"),
              IsDecision(Reason::kAllowed));
  const Decision other = Run("GET", "/v1/files/fq");
  EXPECT_THAT(other, IsDecision(Reason::kResourceNotAllowed));
  const Decision unknown = Run("GET", "/v1/files/nosuch");
  EXPECT_THAT(unknown, IsDecision(Reason::kResourceNotAllowed));
  // Unknown and other-plan look the same (no existence oracle).
  EXPECT_EQ(other.detail, "file fq is not a resource of the token's plan");
  EXPECT_EQ(unknown.detail,
            "file nosuch is not a resource of the token's plan");
  EXPECT_THAT(Run("GET", "/v1/teams/tq/projects"),
              IsDecision(Reason::kResourceNotAllowed));
  EXPECT_THAT(Run("GET", "/v1/projects/prq/files"),
              IsDecision(Reason::kResourceNotAllowed));
  EXPECT_THAT(Run("GET", "/v1/files/nop"),
              IsDecision(Reason::kResourceNotAllowed));
}

TEST_F(PolicyTest, UndeterminableResourceOnlyForAllResources) {
  const std::pair<absl::string_view, absl::string_view> undeterminable[] = {
      {"GET", "/v1/components/k"},       // lookup
      {"GET", "/v2/webhooks/w1"},        // lookup
      {"PUT", "/v1/dev_resources"},      // body
      {"GET", "/v1/activity_logs"},      // none
      {"POST", "/v1/developer_logs"},    // none
      {"GET", "/v1/ai_usage/daily"},     // none
      {"GET", "/v2/webhooks"},           // query absent
      {"GET", "/v2/webhooks?cursor=1"},  // query absent
  };
  for (auto [method, target] : undeterminable) {
    EXPECT_THAT(Run(method, target), IsDecision(Reason::kAllowed)) << target;
  }
  UseList({{ResourceKind::kWorkspace, "w1", ""},
           {ResourceKind::kTeam, "t2", ""},
           {ResourceKind::kFile, "f3", ""}});
  for (auto [method, target] : undeterminable) {
    const Decision d = Run(method, target);
    EXPECT_THAT(d, IsDecision(Reason::kResourceNotAllowed)) << target;
    EXPECT_THAT(d.detail, HasSubstr("only all-resources tokens"));
  }
}

TEST_F(PolicyTest, SelectedListViaFileProjectTeamWorkspace) {
  struct Case {
    TokenResource listed;
    std::vector<absl::string_view> allowed;
    std::vector<absl::string_view> denied;
  };
  const Case cases[] = {
      {{ResourceKind::kFile, "f1", ""},
       {"/v1/files/f1", "/v1/files/f1/comments/c/reactions"},
       {"/v1/files/f2", "/v1/files/f3", "/v1/projects/pr1/files",
        "/v1/teams/t1/projects"}},
      {{ResourceKind::kProject, "pr1", ""},
       {"/v1/files/f1", "/v1/projects/pr1/files", "/v1/projects/pr1/meta"},
       {"/v1/files/f2", "/v1/teams/t1/projects", "/v1/projects/pr2/files"}},
      {{ResourceKind::kTeam, "t1", ""},
       {"/v1/files/f1", "/v1/projects/pr1/files", "/v1/teams/t1/projects",
        "/v2/teams/t1/webhooks"},
       {"/v1/files/f2", "/v1/teams/t2/projects", "/v1/files/f3"}},
      {{ResourceKind::kWorkspace, "w1", ""},
       {"/v1/files/f1", "/v1/projects/pr1/files", "/v1/teams/t1/components"},
       {"/v1/files/f2", "/v1/teams/t2/projects", "/v1/projects/pr2/meta"}},
      {{ResourceKind::kTeam, "t2", ""},
       {"/v1/files/f2", "/v1/projects/pr2/files"},
       {"/v1/files/f1"}},
  };
  for (const Case& c : cases) {
    UseList({c.listed});
    for (absl::string_view target : c.allowed) {
      EXPECT_THAT(Run("GET", target), IsDecision(Reason::kAllowed))
          << c.listed.id << " " << target;
    }
    for (absl::string_view target : c.denied) {
      EXPECT_THAT(Run("GET", target), IsDecision(Reason::kResourceNotAllowed))
          << c.listed.id << " " << target;
    }
  }
}

TEST_F(PolicyTest, ListMatchesKindAndId) {
  // A team named like the file does not allow the file.
  UseList({{ResourceKind::kTeam, "f1", ""}});
  EXPECT_THAT(Run("GET", "/v1/files/f1"),
              IsDecision(Reason::kResourceNotAllowed));
}

TEST_F(PolicyTest, ListedResourceOfAnotherPlanIsDenied) {
  // Even if another plan's file somehow ended up on the list.
  UseList({{ResourceKind::kFile, "fq", ""}, {ResourceKind::kTeam, "tq", ""}});
  EXPECT_THAT(Run("GET", "/v1/files/fq"),
              IsDecision(Reason::kResourceNotAllowed));
}

TEST_F(PolicyTest, NoResolverDeniesDeterminableResources) {
  resolver_ = nullptr;
  EXPECT_THAT(Run("GET", "/v1/files/f1"),
              IsDecision(Reason::kResourceNotAllowed));
  EXPECT_THAT(Run("GET", "/v1/activity_logs"), IsDecision(Reason::kAllowed));
}

TEST_F(PolicyTest, ResolverCalledOncePerDeterminableRequest) {
  directory_.calls = 0;
  EXPECT_THAT(Run("GET", "/v1/files/f1"), IsDecision(Reason::kAllowed));
  EXPECT_EQ(directory_.calls, 1);
  EXPECT_THAT(Run("GET", "/v1/activity_logs"), IsDecision(Reason::kAllowed));
  EXPECT_EQ(directory_.calls, 1);
}

TEST_F(PolicyTest, KindMismatch) {
  api_kind_ = TokenKind::kRestApi;
  UseNpm();
  EXPECT_THAT(Run("GET", "/v1/files/f1", &rest_),
              IsDecision(Reason::kTokenKindMismatch));
}

TEST_F(PolicyTest, NpmScopedAndUnscopedPackages) {
  UseNpm();
  EXPECT_THAT(Run("GET", "/@acme/widgets"), IsDecision(Reason::kAllowed));
  EXPECT_THAT(Run("GET", "/lodash"), IsDecision(Reason::kAllowed));
  EXPECT_THAT(Run("GET", "/@other/widgets"),
              IsDecision(Reason::kResourceNotAllowed));
  // npm mode: the clients' "@scope%2fname" spelling is the scoped package.
  EXPECT_THAT(Run("GET", "/@acme%2fwidgets"), IsDecision(Reason::kAllowed));
  EXPECT_THAT(Run("GET", "/@other%2Fwidgets"),
              IsDecision(Reason::kResourceNotAllowed));
  EXPECT_THAT(Run("GET", "/%40other/widgets"),
              IsDecision(Reason::kResourceNotAllowed));
  EXPECT_THAT(Run("GET", "/lodash%2fx"), IsDecision(Reason::kPathInvalid));
  EXPECT_THAT(Run("GET", "/-/npm/v1/tokens"),
              IsDecision(Reason::kEndpointNotSupported));

  UseList({{ResourceKind::kNpmScope, "@acme", "@acme"}});
  EXPECT_THAT(Run("GET", "/@acme/widgets"), IsDecision(Reason::kAllowed));
  EXPECT_THAT(Run("PUT", "/@acme/widgets"), IsDecision(Reason::kAllowed));
  EXPECT_THAT(Run("GET", "/-/package/@acme/widgets/dist-tags"),
              IsDecision(Reason::kAllowed));
  EXPECT_THAT(Run("GET", "/@acme/widgets/-/widgets-1.0.0.tgz"),
              IsDecision(Reason::kAllowed));
  EXPECT_THAT(Run("GET", "/lodash"), IsDecision(Reason::kResourceNotAllowed));
  EXPECT_THAT(Run("GET", "/@other/x"), IsDecision(Reason::kResourceNotAllowed));
  EXPECT_THAT(Run("GET", "/-/v1/search?text=x"),
              IsDecision(Reason::kResourceNotAllowed));

  token_.scopes = {"packages:read"};
  EXPECT_THAT(Run("PUT", "/@acme/widgets"), IsDecision(Reason::kScopeMissing));
}

constexpr absl::string_view kQueryCatalog =
    "GET /q scopes=s plan_tokens=yes resource=query:team:team name=byQuery\n";

TEST_F(PolicyTest, QuerySelector) {
  absl::StatusOr<RouteMatcher> routes = RouteMatcher::FromText(kQueryCatalog);
  ASSERT_TRUE(routes.ok()) << routes.status();
  token_.scopes = {"s"};
  UseList({{ResourceKind::kTeam, "t1", ""}});
  EXPECT_THAT(Run("GET", "/q?team=t1", &*routes), IsDecision(Reason::kAllowed));
  EXPECT_THAT(Run("GET", "/q?x=1&team=%74%31", &*routes),
              IsDecision(Reason::kAllowed));
  EXPECT_THAT(Run("GET", "/q?team=t2", &*routes),
              IsDecision(Reason::kResourceNotAllowed));
  // Absent: undeterminable.
  EXPECT_THAT(Run("GET", "/q", &*routes),
              IsDecision(Reason::kResourceNotAllowed));
  // Twice: ambiguous, denied for everyone.
  const Decision dup = Run("GET", "/q?team=t1&team=tq", &*routes);
  EXPECT_THAT(dup, IsDecision(Reason::kResourceNotAllowed));
  EXPECT_THAT(dup.detail, HasSubstr("more than once"));
  token_.all_resources = true;
  EXPECT_THAT(Run("GET", "/q", &*routes), IsDecision(Reason::kAllowed));
  EXPECT_THAT(Run("GET", "/q?team=tq", &*routes),
              IsDecision(Reason::kResourceNotAllowed));
  EXPECT_THAT(Run("GET", "/q?team=t1&team=t1", &*routes),
              IsDecision(Reason::kResourceNotAllowed));
}

TEST_F(PolicyTest, DecideUsesTheGivenTarget) {
  grant_ = GrantViewOf(token_);
  DecisionInput in;
  in.method = "GET";
  const TargetCheck check = CheckTarget("/v1/files/f1?depth=1");
  ASSERT_TRUE(check.ok());
  in.target = check.target;
  in.routes = &rest_;
  in.grant = &grant_;
  in.resolver = &directory_;
  EXPECT_THAT(Decide(in), IsDecision(Reason::kAllowed));
}

// Issue 8 item 3: resources named by the query or the JSON body. Plan "p" is
// the token's, plan "q" another's (FakeDirectory).
TEST_F(PolicyTest, GetWebhooksTakesTheResourceFromTheQuery) {
  // All resources = the token's own plan, never another's.
  for (absl::string_view q :
       {"context=team&context_id=tq", "context=project&context_id=prq",
        "context=file&context_id=fq", "context_id=tq&context=team",
        "context=team&context_id=unknown", "plan_api_id=q",
        // Ambiguous: denied for everyone.
        "context=team&context_id=t1&plan_api_id=p",
        "context=team&context_id=t1&context_id=tq", "context=team",
        "context=workspace&context_id=w1", "context=Team&context_id=t1"}) {
    SCOPED_TRACE(q);
    EXPECT_THAT(Run("GET", absl::StrCat("/v2/webhooks?", q)),
                IsDecision(Reason::kResourceNotAllowed));
  }
  for (absl::string_view q :
       {"context=team&context_id=t1", "context=project&context_id=pr2",
        "context=file&context_id=f1&cursor=2", "plan_api_id=p",
        "context%3Dteam", ""}) {
    SCOPED_TRACE(q);
    EXPECT_THAT(Run("GET", absl::StrCat("/v2/webhooks?", q)),
                IsDecision(Reason::kAllowed));
  }
  EXPECT_THAT(Run("GET", "/v2/webhooks"), IsDecision(Reason::kAllowed));

  // A selected list: the context or an ancestor must be listed; the whole
  // plan (plan_api_id) or no resource is for all-resources tokens only.
  UseList({{ResourceKind::kTeam, "t1", ""}});
  EXPECT_THAT(Run("GET", "/v2/webhooks?context=team&context_id=t1"),
              IsDecision(Reason::kAllowed));
  EXPECT_THAT(Run("GET", "/v2/webhooks?context=file&context_id=f1"),
              IsDecision(Reason::kAllowed));
  EXPECT_THAT(Run("GET", "/v2/webhooks?context=team&context_id=t2"),
              IsDecision(Reason::kResourceNotAllowed));
  EXPECT_THAT(Run("GET", "/v2/webhooks?plan_api_id=p"),
              IsDecision(Reason::kResourceNotAllowed));
  EXPECT_THAT(Run("GET", "/v2/webhooks"),
              IsDecision(Reason::kResourceNotAllowed));
}

TEST_F(PolicyTest, PostWebhookTakesTheResourceFromTheBody) {
  const Decision other = RunBody(
      "POST", "/v2/webhooks",
      R"({"event_type":"FILE_UPDATE","context":"team","context_id":"tq",)"
      R"("endpoint":"https://h.example/x","passcode":"s"})");
  EXPECT_THAT(other, IsDecision(Reason::kResourceNotAllowed));
  EXPECT_THAT(other.detail, HasSubstr("named by the request body"));
  EXPECT_THAT(other.detail, Not(HasSubstr("tq")));  // body bytes not echoed
  EXPECT_THAT(RunBody("POST", "/v2/webhooks", R"({"team_id":"tq"})"),
              IsDecision(Reason::kResourceNotAllowed));
  EXPECT_THAT(RunBody("POST", "/v2/webhooks",
                      R"({"context":"file","context_id":"fq"})"),
              IsDecision(Reason::kResourceNotAllowed));
  EXPECT_THAT(RunBody("POST", "/v2/webhooks",
                      R"({"context":"team","context_id":"t1"})"),
              IsDecision(Reason::kAllowed));
  EXPECT_THAT(RunBody("POST", "/v2/webhooks", R"({"team_id":"t2"})"),
              IsDecision(Reason::kAllowed));
  // Fail closed: no body handed over, malformed or ambiguous bodies.
  EXPECT_THAT(Run("POST", "/v2/webhooks"),
              IsDecision(Reason::kResourceNotAllowed));
  for (absl::string_view body :
       {"", "{", "[]", R"({"event_type":"PING"})",
        R"({"context":"team","context_id":"tq","context_id":"t1"})",
        R"({"context":"team","context_id":"t1","team_id":"t1"})",
        R"({"context":"team","context_id":1})"}) {
    SCOPED_TRACE(body);
    EXPECT_THAT(RunBody("POST", "/v2/webhooks", body),
                IsDecision(Reason::kResourceNotAllowed));
  }
  UseList({{ResourceKind::kProject, "pr1", ""}});
  EXPECT_THAT(RunBody("POST", "/v2/webhooks",
                      R"({"context":"file","context_id":"f1"})"),
              IsDecision(Reason::kAllowed));
  EXPECT_THAT(RunBody("POST", "/v2/webhooks",
                      R"({"context":"team","context_id":"t1"})"),
              IsDecision(Reason::kResourceNotAllowed));
}

TEST_F(PolicyTest, PostDevResourcesChecksEveryFileOfTheBody) {
  auto body = [](std::initializer_list<absl::string_view> files) {
    std::string b = R"({"dev_resources":[)";
    bool first = true;
    for (absl::string_view f : files) {
      if (!first) b.push_back(',');
      first = false;
      absl::StrAppend(&b, R"({"name":"n","url":"https://u","file_key":")", f,
                      R"(","node_id":"1:2"})");
    }
    return b + "]}";
  };
  EXPECT_THAT(RunBody("POST", "/v1/dev_resources", body({"fq"})),
              IsDecision(Reason::kResourceNotAllowed));
  EXPECT_THAT(RunBody("POST", "/v1/dev_resources", body({"f1", "f2", "fq"})),
              IsDecision(Reason::kResourceNotAllowed));
  EXPECT_THAT(RunBody("POST", "/v1/dev_resources", body({"f1", "f2", "f3"})),
              IsDecision(Reason::kAllowed));
  EXPECT_THAT(RunBody("POST", "/v1/dev_resources", R"({"dev_resources":[]})"),
              IsDecision(Reason::kResourceNotAllowed));
  EXPECT_THAT(Run("POST", "/v1/dev_resources"),
              IsDecision(Reason::kResourceNotAllowed));
  UseList({{ResourceKind::kTeam, "t1", ""}});
  EXPECT_THAT(RunBody("POST", "/v1/dev_resources", body({"f1"})),
              IsDecision(Reason::kAllowed));
  EXPECT_THAT(RunBody("POST", "/v1/dev_resources", body({"f1", "f2"})),
              IsDecision(Reason::kResourceNotAllowed));
  // PUT names dev resource ids: undeterminable, all-resources tokens only.
  EXPECT_THAT(RunBody("PUT", "/v1/dev_resources", R"({"dev_resources":[]})"),
              IsDecision(Reason::kResourceNotAllowed));
  token_.all_resources = true;
  EXPECT_THAT(RunBody("PUT", "/v1/dev_resources", R"({"dev_resources":[]})"),
              IsDecision(Reason::kAllowed));
}

TEST_F(PolicyTest, ResourcesToResolveListsWhatDecideResolves) {
  grant_ = GrantViewOf(token_);
  auto list = [this](absl::string_view method, absl::string_view target,
                     absl::string_view body) {
    const TargetCheck check = CheckTarget(target);
    EXPECT_TRUE(check.ok());
    DecisionInput in;
    in.method = method;
    in.target = check.target;
    in.routes = &rest_;
    in.grant = &grant_;
    in.body = body;
    in.has_body = !body.empty();
    std::vector<std::string> out;
    for (const NamedResource& r : ResourcesToResolve(in)) {
      out.push_back(absl::StrCat(ResourceKindName(r.kind), ":", r.id));
    }
    return out;
  };
  using ::testing::ElementsAre;
  using ::testing::IsEmpty;
  EXPECT_THAT(list("GET", "/v1/files/f%20q", ""), ElementsAre("file:f q"));
  EXPECT_THAT(list("GET", "/v2/webhooks?context=team&context_id=tq", ""),
              ElementsAre("team:tq"));
  EXPECT_THAT(
      list("POST", "/v1/dev_resources",
           R"({"dev_resources":[{"file_key":"f1"},{"file_key":"fq"}]})"),
      ElementsAre("file:f1", "file:fq"));
  EXPECT_THAT(list("POST", "/v1/dev_resources", "{"), IsEmpty());
  EXPECT_THAT(list("GET", "/v1/activity_logs", ""), IsEmpty());
  EXPECT_THAT(list("GET", "/nope", ""), IsEmpty());
}

TEST_F(PolicyTest, NeedsBodyForJsonSelectorsOnly) {
  EXPECT_TRUE(NeedsBody(rest_, "POST", "/v1/dev_resources", PathMode::kStrict));
  EXPECT_TRUE(NeedsBody(rest_, "POST", "/v2/webhooks?x=1", PathMode::kStrict));
  EXPECT_FALSE(NeedsBody(rest_, "PUT", "/v1/dev_resources", PathMode::kStrict));
  EXPECT_FALSE(NeedsBody(rest_, "GET", "/v2/webhooks", PathMode::kStrict));
  EXPECT_FALSE(
      NeedsBody(rest_, "POST", "/v1//dev_resources", PathMode::kStrict));
  EXPECT_FALSE(NeedsBody(rest_, "POST", "/nope", PathMode::kStrict));
  for (const Endpoint& e : npm_.endpoints()) {
    EXPECT_FALSE(e.resource.reads_body()) << e.name;
  }
}

TEST_F(PolicyTest, UnscopedEndpointsNeedNoResource) {
  absl::StatusOr<RouteMatcher> routes = RouteMatcher::FromText(
      "GET /-/ping scopes=packages:read plan_tokens=yes resource=unscoped "
      "error_style=npm name=ping\n"
      "GET /-/other scopes=packages:read plan_tokens=yes resource=none "
      "name=other\n");
  ASSERT_TRUE(routes.ok()) << routes.status();
  UseNpm();
  UseList({{ResourceKind::kNpmScope, "@acme", "@acme"}});
  EXPECT_THAT(Run("GET", "/-/ping", &*routes), IsDecision(Reason::kAllowed));
  EXPECT_THAT(Run("GET", "/-/other", &*routes),
              IsDecision(Reason::kResourceNotAllowed));
  token_.scopes = {"packages:write"};
  EXPECT_THAT(Run("GET", "/-/ping", &*routes),
              IsDecision(Reason::kScopeMissing));
  const Decision d = Run("GET", "/-/ping", &*routes);
  const nlohmann::json body = nlohmann::json::parse(ErrorBody(d));
  EXPECT_TRUE(body["error"].is_string());  // the endpoint's npm style
  const Decision none = MakeDecision(Reason::kEndpointUnknown, "x");
  EXPECT_TRUE(nlohmann::json::parse(ErrorBody(none, ErrorStyle::kNpm))["error"]
                  .is_string());
  EXPECT_FALSE(nlohmann::json::parse(ErrorBody(none)).contains("error"));
}

TEST(ErrorBody, SpecShape) {
  const nlohmann::json body = nlohmann::json::parse(
      ErrorBody(MakeDecision(Reason::kScopeMissing, "needs \"x\"")));
  EXPECT_EQ(body["status"], 403);
  EXPECT_EQ(body["reason"], "scope_missing");
  EXPECT_EQ(body["err"], "Token lacks a required scope: needs \"x\"");
  EXPECT_FALSE(body.contains("error"));
  EXPECT_EQ(
      ErrorBody(Reason::kTokenMissing, ""),
      R"({"status":401,"err":"No token provided","reason":"token_missing"})");
}

TEST(DecisionMessage, IsTheErrField) {
  EXPECT_EQ(DecisionMessage(Reason::kTokenExpired, ""), "Token expired");
  EXPECT_EQ(DecisionMessage(Reason::kScopeMissing, "x"),
            "Token lacks a required scope: x");
  const nlohmann::json body =
      nlohmann::json::parse(ErrorBody(Reason::kScopeMissing, "x"));
  EXPECT_EQ(body["err"], DecisionMessage(Reason::kScopeMissing, "x"));
}

TEST(ErrorBody, StyleBAddsVendorFields) {
  const nlohmann::json body = nlohmann::json::parse(
      ErrorBody(Reason::kAuthorityUnavailable, "", ErrorStyle::kB));
  EXPECT_EQ(body["status"], 503);
  EXPECT_EQ(body["reason"], "authority_unavailable");
  EXPECT_EQ(body["error"], true);
  EXPECT_EQ(body["message"], body["err"]);
}

TEST(ErrorBody, StyleNpmAddsTheErrorMessage) {
  // Every reason, front reasons included (they have no endpoint and use the
  // sidecar's default style).
  for (Reason r : AllReasons()) {
    if (r == Reason::kAllowed) continue;
    SCOPED_TRACE(ReasonCode(r));
    const nlohmann::json body =
        nlohmann::json::parse(ErrorBody(r, "why", ErrorStyle::kNpm));
    EXPECT_EQ(body["status"], ReasonHttpStatus(r));
    EXPECT_EQ(body["reason"], std::string(ReasonCode(r)));
    EXPECT_EQ(body["err"], DecisionMessage(r, "why"));
    ASSERT_TRUE(body["error"].is_string());
    EXPECT_EQ(body["error"], body["err"]);
    EXPECT_FALSE(body.contains("message"));
  }
  EXPECT_EQ(ErrorBody(Reason::kTokenMissing, "", ErrorStyle::kNpm),
            R"({"status":401,"err":"No token provided","reason":)"
            R"("token_missing","error":"No token provided"})");
}

TEST_F(PolicyTest, ErrorBodyUsesTheEndpointStyle) {
  token_.scopes = {"files:read"};
  const Decision d = Run("GET", "/v1/activity_logs");  // style B
  ASSERT_THAT(d, IsDecision(Reason::kScopeMissing));
  const nlohmann::json body = nlohmann::json::parse(ErrorBody(d));
  EXPECT_EQ(body["error"], true);
  EXPECT_THAT(body["err"].get<std::string>(), HasSubstr("getActivityLogs"));
}

TEST(ErrorBody, InvalidUtf8IsReplaced) {
  const std::string body =
      ErrorBody(Reason::kResourceNotAllowed, "bad \xff byte");
  EXPECT_FALSE(nlohmann::json::parse(body, nullptr, false).is_discarded());
}

}  // namespace
}  // namespace pat::policy
