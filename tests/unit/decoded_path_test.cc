// The class of failure #2 (issue 8): an escaped byte must never make a path
// match or name a resource differently than its decoded form. For every route
// of both built-in catalogs, every printable ASCII byte is percent-encoded
// (upper- and lower-case hex) at every position of an instance of the route,
// inserted and in place of the byte that is there. The decision on the
// escaped target must be path_invalid or equal (reason and endpoint) to the
// decision on the decoded path; in particular never an allow where the
// decoded path is denied.
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/domain.h"
#include "common/policy/catalog.h"
#include "common/policy/path.h"
#include "common/policy/policy.h"
#include "common/policy/reason.h"
#include "common/policy/route_matcher.h"
#include "common/scopes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pat::policy {
namespace {

// "%XX" for byte b, upper- or lower-case hex (a constexpr format each, as
// clang requires of absl::StrFormat).
std::string Escape(int b, bool upper) {
  return upper ? absl::StrFormat("%%%02X", b) : absl::StrFormat("%%%02x", b);
}


// Plan "A" owns fA, pA, tA, @a-scope; plan "B" owns fB, pB, tB, @b-scope.
class TwoPlans : public ResourceResolver {
 public:
  TwoPlans() {
    for (const char* plan : {"A", "B"}) {
      const std::string p(plan);
      const std::string l = p == "A" ? "a" : "b";
      Add(ResourceKind::kTeam, "t" + p, p, {});
      Add(ResourceKind::kProject, "p" + p, p, {{ResourceKind::kTeam, "t" + p}});
      Add(ResourceKind::kFile, "f" + p, p,
          {{ResourceKind::kProject, "p" + p}, {ResourceKind::kTeam, "t" + p}});
      Add(ResourceKind::kNpmScope, "@" + l + "-scope", p, {});
    }
  }
  std::optional<ResolvedResource> Resolve(ResourceKind kind,
                                          absl::string_view id) const override {
    auto it = entries_.find({kind, std::string(id)});
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }

 private:
  void Add(ResourceKind kind, std::string id, std::string plan,
           std::vector<std::pair<ResourceKind, std::string>> ancestors) {
    entries_[{kind, std::move(id)}] =
        ResolvedResource{std::move(plan), std::move(ancestors)};
  }
  std::map<std::pair<ResourceKind, std::string>, ResolvedResource> entries_;
};

// An instance of `e` naming plan `plan`'s resources ("A" or "B").
std::string Instantiate(const Endpoint& e, absl::string_view plan) {
  if (e.segments.empty()) return "/";
  const bool a = plan == "A";
  std::string out;
  for (const TemplateSegment& s : e.segments) {
    out.push_back('/');
    if (s.type == SegmentType::kLiteral) {
      out.append(s.text);
    } else if (s.param == "file_key") {
      out.append(a ? "fA" : "fB");
    } else if (s.param == "team_id") {
      out.append(a ? "tA" : "tB");
    } else if (s.param == "project_id") {
      out.append(a ? "pA" : "pB");
    } else if (s.param == "scope") {
      out.append(a ? "@a-scope" : "@b-scope");
    } else if (s.param == "package") {
      out.append("pkg");
    } else {
      out.append("v1");
    }
  }
  return out;
}

struct Grant {
  Token token;
  GrantView view;
};

// An all-resources token and a selected-list token (team tA, @a-scope), both
// of plan A with every grantable scope of `kind`.
std::vector<Grant> GrantsFor(TokenKind kind) {
  std::vector<Grant> grants(2);
  for (size_t i = 0; i < grants.size(); ++i) {
    Token& t = grants[i].token;
    t.id = "tok";
    t.plan_id = "A";
    t.kind = kind;
    if (kind == TokenKind::kRestApi) {
      for (absl::string_view s : RestApiScopes()) {
        if (IsGrantableScope(kind, s)) t.scopes.emplace_back(s);
      }
    } else {
      for (absl::string_view s : NpmScopes()) t.scopes.emplace_back(s);
    }
    t.all_resources = i == 0;
    if (i == 1) {
      t.resources = {{ResourceKind::kTeam, "tA", ""},
                     {ResourceKind::kNpmScope, "@a-scope", ""}};
    }
  }
  for (Grant& g : grants) g.view = GrantViewOf(g.token);
  return grants;
}

struct Outcome {
  Reason reason = Reason::kInternalError;
  const Endpoint* endpoint = nullptr;
};

class DecodedPathFixture : public ::testing::Test {
 protected:
  void Init(TokenKind kind) {
    kind_ = kind;
    routes_.emplace(*RouteMatcher::Default(kind_));
    grants_ = GrantsFor(kind_);
  }

  DecisionInput Input(absl::string_view method, const Grant& g) const {
    DecisionInput in;
    in.method = method;
    in.routes = &*routes_;
    in.grant = &g.view;
    in.resolver = &directory_;
    in.api_kind = kind_;
    return in;
  }

  // The decision on `decoded` taken as the decision form itself.
  Outcome Oracle(absl::string_view method, const Grant& g,
                 absl::string_view decoded) const {
    DecisionInput in = Input(method, g);
    in.target.path = decoded;  // no escapes left: decision_path() == path
    const Decision d = Decide(in);
    return {d.reason, d.endpoint};
  }

  Outcome Actual(absl::string_view method, const Grant& g,
                 absl::string_view raw) const {
    const Decision d = CheckAndDecide(raw, Input(method, g));
    return {d.reason, d.endpoint};
  }

  // One escaped target against its decoded form. Returns false on a
  // violation (and records it).
  bool Compare(absl::string_view method, const Grant& g, absl::string_view raw,
               absl::string_view decoded) {
    const Outcome actual = Actual(method, g, raw);
    if (actual.reason == Reason::kPathInvalid) {
      ++refused_;
      return true;
    }
    ++decided_;
    const Outcome expected = Oracle(method, g, decoded);
    if (actual.reason == expected.reason &&
        actual.endpoint == expected.endpoint) {
      return true;
    }
    ADD_FAILURE() << method << " " << absl::CEscape(raw) << " was decided "
                  << ReasonCode(actual.reason) << " ("
                  << (actual.endpoint ? actual.endpoint->name : "-")
                  << "), its decoded form " << absl::CEscape(decoded) << " "
                  << ReasonCode(expected.reason) << " ("
                  << (expected.endpoint ? expected.endpoint->name : "-")
                  << "), all_resources=" << g.view.all_resources;
    return false;
  }

  TokenKind kind_ = TokenKind::kUnspecified;
  std::optional<RouteMatcher> routes_;
  std::vector<Grant> grants_;
  TwoPlans directory_;
  long refused_ = 0;
  long decided_ = 0;
};

class DecodedPathClassTest : public DecodedPathFixture,
                             public ::testing::WithParamInterface<TokenKind> {
 protected:
  void SetUp() override { Init(GetParam()); }
};

TEST_P(DecodedPathClassTest, EveryEscapeAtEveryPosition) {
  int failures = 0;
  for (const Endpoint& e : routes_->endpoints()) {
    for (absl::string_view plan : {"A", "B"}) {
      const std::string path = Instantiate(e, plan);
      for (const Grant& g : grants_) {
        // Inserted: path[0, p) + %XX + path[p, end) decodes to the byte
        // inserted. Position 0 is before the leading '/'.
        for (size_t p = 0; p <= path.size() && failures < 20; ++p) {
          for (int b = 0x20; b <= 0x7E; ++b) {
            const std::string decoded = absl::StrCat(
                path.substr(0, p), std::string(1, static_cast<char>(b)),
                path.substr(p));
            for (bool upper : {true, false}) {
              const std::string raw =
                  absl::StrCat(path.substr(0, p), Escape(b, upper),
                               path.substr(p));
              if (!Compare(e.method, g, raw, decoded)) ++failures;
            }
          }
        }
        // In place of the byte at p.
        for (size_t p = 0; p < path.size() && failures < 20; ++p) {
          const unsigned char b = static_cast<unsigned char>(path[p]);
          for (bool upper : {true, false}) {
            const std::string raw = absl::StrCat(
                path.substr(0, p), Escape(b, upper), path.substr(p + 1));
            if (!Compare(e.method, g, raw, path)) ++failures;
          }
        }
      }
    }
  }
  // Not vacuous: many escaped targets were decided, not only refused.
  EXPECT_GT(decided_, 10000);
  EXPECT_GT(refused_, 10000);
  std::printf(
      "%s: %ld escaped targets decided as their decoded form, %ld "
      "refused path_invalid\n",
      std::string(TokenKindName(kind_)).c_str(), decided_, refused_);
}

INSTANTIATE_TEST_SUITE_P(BuiltInCatalogs, DecodedPathClassTest,
                         ::testing::Values(TokenKind::kRestApi,
                                           TokenKind::kNpmRegistry),
                         [](const auto& info) {
                           return info.param == TokenKind::kRestApi ? "rest"
                                                                    : "npm";
                         });

// The reported example and its npm spellings.
class NpmExamples : public DecodedPathFixture {
 protected:
  void SetUp() override { Init(TokenKind::kNpmRegistry); }
};
class RestExamples : public DecodedPathFixture {
 protected:
  void SetUp() override { Init(TokenKind::kRestApi); }
};

TEST_F(NpmExamples, EscapedScopeOfAnotherPlanIsDenied) {
  const Grant& all = grants_[0];
  for (absl::string_view raw :
       {"/%40b-scope/pkg", "/@b-scope/pkg", "/@b-scope%2fpkg",
        "/@b-scope%2Fpkg", "/@b-scope%2fpkg/-/pkg-1.0.0.tgz",
        "/-/package/@b-scope%2fpkg/dist-tags",
        "/-/package/%40b-scope/pkg/dist-tags"}) {
    SCOPED_TRACE(raw);
    const Decision d = CheckAndDecide(raw, Input("GET", all));
    EXPECT_EQ(d.reason, Reason::kResourceNotAllowed);
    ASSERT_NE(d.endpoint, nullptr);
    EXPECT_EQ(d.endpoint->resource.kind, ResourceKind::kNpmScope);
  }
  // The same spellings of the token's own scope are allowed, for both tokens.
  for (const Grant& g : grants_) {
    for (absl::string_view raw :
         {"/%40a-scope/pkg", "/@a-scope%2fpkg", "/@a-scope%2Fpkg",
          "/@a-scope%2Fpkg/-/pkg-1.0.0.tgz",
          "/-/package/@a-scope%2fpkg/dist-tags"}) {
      SCOPED_TRACE(raw);
      EXPECT_EQ(CheckAndDecide(raw, Input("GET", g)).reason, Reason::kAllowed);
    }
    EXPECT_EQ(CheckAndDecide("/@a-scope%2fpkg", Input("PUT", g)).reason,
              Reason::kAllowed);
    EXPECT_EQ(
        CheckAndDecide("/@a-scope%2fpkg/-rev/1-a", Input("DELETE", g)).reason,
        Reason::kAllowed);
  }
}

TEST_F(RestExamples, EscapesNameTheDecodedResource) {
  const Grant& list = grants_[1];  // team tA
  EXPECT_EQ(
      CheckAndDecide("/v1/teams/t%41/projects", Input("GET", list)).reason,
      Reason::kPathInvalid);  // %41 is unreserved: refused
  // %2F never splits a REST path.
  EXPECT_EQ(CheckAndDecide("/v1/files/fA%2Fnodes", Input("GET", list)).reason,
            Reason::kPathInvalid);
  EXPECT_EQ(CheckAndDecide("/v1/files/fA%2fnodes", Input("GET", list)).reason,
            Reason::kPathInvalid);
  // Decoded ids are what is resolved: "fA " is no file of plan A.
  EXPECT_EQ(CheckAndDecide("/v1/files/fA%20", Input("GET", list)).reason,
            Reason::kResourceNotAllowed);
}

}  // namespace
}  // namespace pat::policy
