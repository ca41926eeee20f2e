#include "common/policy/request_resources.h"

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/domain.h"
#include "common/policy/catalog.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pat::policy {
namespace {

using Status = RequestResources::Status;
using ::testing::HasSubstr;

ResourceSelector Selector(absl::string_view resource) {
  absl::StatusOr<Catalog> c = ParseCatalog(absl::StrCat(
      "POST /x scopes=s plan_tokens=yes resource=", resource, " name=x\n"));
  EXPECT_TRUE(c.ok()) << c.status();
  return c->endpoints.at(0).resource;
}

MATCHER_P2(Names, kind, id, "") {
  return arg.status == Status::kNamed && arg.resources.size() == 1 &&
         arg.resources[0].kind == kind && arg.resources[0].id == id;
}

// ---- Query: GET /v2/webhooks ------------------------------------------------

class WebhookQuery : public ::testing::Test {
 protected:
  RequestResources Of(absl::string_view query) {
    return FromQuery(selector_, query);
  }
  const ResourceSelector selector_ =
      Selector("query:context:context+context_id|plan:plan_api_id");
};

TEST_F(WebhookQuery, ContextKinds) {
  EXPECT_THAT(Of("context=team&context_id=tB"),
              Names(ResourceKind::kTeam, "tB"));
  EXPECT_THAT(Of("context_id=pB&context=project"),
              Names(ResourceKind::kProject, "pB"));
  EXPECT_THAT(Of("context=file&context_id=f%42&cursor=3"),
              Names(ResourceKind::kFile, "fB"));  // decoded
}

TEST_F(WebhookQuery, PlanApiId) {
  const RequestResources r = Of("plan_api_id=B");
  EXPECT_EQ(r.status, Status::kNamed);
  EXPECT_TRUE(r.names_plan);
  EXPECT_EQ(r.plan_id, "B");
  EXPECT_TRUE(r.resources.empty());
}

TEST_F(WebhookQuery, AbsentIsUndeterminable) {
  EXPECT_EQ(Of("").status, Status::kAbsent);
  EXPECT_EQ(Of("cursor=1&context_idx=2").status, Status::kAbsent);
}

TEST_F(WebhookQuery, AmbiguousOrPartialIsInvalid) {
  for (absl::string_view q : {
           "context=team&context_id=tA&plan_api_id=A",    // two alternatives
           "context=team&context_id=tA&context_id=tB",    // duplicate
           "context=team&context=file&context_id=tA",     // duplicate
           "context%5Fid=tB&context=team&context_id=tA",  // decoded duplicate
           "plan_api_id=A&plan_api_id=B",
           "context=team",                // id missing
           "context_id=tA",               // kind missing
           "context=team&context_id=",    // empty id
           "context=&context_id=tA",      // empty kind
           "context=Team&context_id=tA",  // not exactly team/project/file
           "context=workspace&context_id=w",
           "context=org&context_id=tA",
           "plan_api_id=",
       }) {
    SCOPED_TRACE(q);
    const RequestResources r = Of(q);
    EXPECT_EQ(r.status, Status::kInvalid);
    EXPECT_FALSE(r.problem.empty());
  }
}

TEST(QuerySelector, ClassicSingleParameter) {
  const ResourceSelector s = Selector("query:team:team");
  EXPECT_THAT(FromQuery(s, "team=t1"), Names(ResourceKind::kTeam, "t1"));
  EXPECT_EQ(FromQuery(s, "x=1").status, Status::kAbsent);
  EXPECT_EQ(FromQuery(s, "team=1&team=2").status, Status::kInvalid);
}

// ---- JSON body: POST /v2/webhooks and POST /v1/dev_resources
// -----------------

class WebhookBody : public ::testing::Test {
 protected:
  RequestResources Of(absl::string_view body) {
    return FromJsonBody(selector_, body);
  }
  const ResourceSelector selector_ =
      Selector("json:context:context+context_id|team:team_id");
};

TEST_F(WebhookBody, NamesTheContext) {
  EXPECT_THAT(Of(R"({"event_type":"PING","context":"team","context_id":"tB",)"
                 R"("endpoint":"https://x","passcode":"p"})"),
              Names(ResourceKind::kTeam, "tB"));
  EXPECT_THAT(Of(R"({"context":"file","context_id":"fB"})"),
              Names(ResourceKind::kFile, "fB"));
  EXPECT_THAT(Of(R"({"context":"project","context_id":"pB"})"),
              Names(ResourceKind::kProject, "pB"));
  EXPECT_THAT(Of(R"({"team_id":"tB","event_type":"PING"})"),
              Names(ResourceKind::kTeam, "tB"));
  // Escapes inside JSON strings are decoded by the parser.
  EXPECT_THAT(Of(R"({"context":"te\u0061m","context_id":"t\u0042"})"),
              Names(ResourceKind::kTeam, "tB"));
}

struct Malformed {
  absl::string_view name;
  absl::string_view body;
  absl::string_view problem;  // substring
};

// 40 levels of arrays inside an otherwise valid body.
const std::string& TooDeepBody() {
  static const std::string* const body =
      new std::string("{\"team_id\":\"tA\",\"x\":" + std::string(40, '[') +
                      std::string(40, ']') + "}");
  return *body;
}
const absl::string_view kTooDeep = TooDeepBody();

class WebhookBodyMalformed : public ::testing::TestWithParam<Malformed> {};

TEST_P(WebhookBodyMalformed, IsInvalid) {
  const ResourceSelector s =
      Selector("json:context:context+context_id|team:team_id");
  const RequestResources r = FromJsonBody(s, GetParam().body);
  EXPECT_EQ(r.status, Status::kInvalid);
  EXPECT_THAT(std::string(r.problem),
              HasSubstr(std::string(GetParam().problem)));
  // Never echoes the body.
  EXPECT_THAT(std::string(r.problem), ::testing::Not(HasSubstr("tB")));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, WebhookBodyMalformed,
    ::testing::Values(
        Malformed{"Empty", "", "not valid JSON"},
        Malformed{"Truncated", R"({"context":"team","context_id":"tB")",
                  "not valid JSON"},
        Malformed{"TrailingGarbage", R"({"context":"team","context_id":"tB"}x)",
                  "not valid JSON"},
        Malformed{"TwoDocuments", R"({"team_id":"tA"}{"team_id":"tB"})",
                  "not valid JSON"},
        Malformed{"Comment", R"({"team_id":"tB"/*x*/})", "not valid JSON"},
        Malformed{"SingleQuotes", R"({'team_id':'tB'})", "not valid JSON"},
        Malformed{"InvalidUtf8", "{\"team_id\":\"t\xff\"}", "not valid JSON"},
        Malformed{"NotAnObject", R"(["tB"])", "not a JSON object"},
        Malformed{"String", R"("tB")", "not a JSON object"},
        Malformed{"Null", "null", "not a JSON object"},
        Malformed{"DuplicateId",
                  R"({"context":"team","context_id":"tA","context_id":"tB"})",
                  "duplicate member"},
        Malformed{"DuplicateKind",
                  R"({"context":"file","context":"team","context_id":"tB"})",
                  "duplicate member"},
        Malformed{"DuplicateTeamId", R"({"team_id":"tA","team_id":"tB"})",
                  "duplicate member"},
        Malformed{"DuplicateNested", R"({"team_id":"tA","x":{"a":1,"a":2}})",
                  "duplicate member"},
        Malformed{"DuplicateEscapedSpelling",
                  R"({"team_id":"tA","team\u005fid":"tB"})",
                  "duplicate member"},
        Malformed{"BothForms",
                  R"({"context":"team","context_id":"tA","team_id":"tB"})",
                  "more than one way"},
        Malformed{"NoResource", R"({"event_type":"PING"})",
                  "names no resource"},
        Malformed{"EmptyObject", "{}", "names no resource"},
        Malformed{"IdWithoutKind", R"({"context_id":"tB"})", "lacks a field"},
        Malformed{"KindWithoutId", R"({"context":"team"})", "lacks a field"},
        Malformed{"NumericId", R"({"context":"team","context_id":123})",
                  "not a string"},
        Malformed{"NullId", R"({"team_id":null})", "not a string"},
        Malformed{"ArrayId", R"({"team_id":["tB"]})", "not a string"},
        Malformed{"ObjectId", R"({"team_id":{"id":"tB"}})", "not a string"},
        Malformed{"BoolKind", R"({"context":true,"context_id":"tB"})",
                  "not a string"},
        Malformed{"EmptyId", R"({"team_id":""})", "empty"},
        Malformed{"UnknownContext",
                  R"({"context":"workspace","context_id":"tB"})",
                  "not team, project or file"},
        Malformed{"CaseOfContext", R"({"context":"TEAM","context_id":"tB"})",
                  "not team, project or file"},
        Malformed{"TooDeep", kTooDeep, "deeper"}),
    [](const auto& info) { return std::string(info.param.name); });

class DevResourcesBody : public ::testing::Test {
 protected:
  RequestResources Of(absl::string_view body) {
    return FromJsonBody(selector_, body);
  }
  const ResourceSelector selector_ =
      Selector("json:file:dev_resources[].file_key");
};

TEST_F(DevResourcesBody, NamesEveryFile) {
  const RequestResources r = Of(
      R"({"dev_resources":[{"name":"a","url":"https://a","file_key":"fA",)"
      R"("node_id":"1:2"},{"name":"b","url":"https://b","file_key":"fB",)"
      R"("node_id":"1:3"},{"file_key":"fA","name":"c","url":"u","node_id":"2"}]})");
  ASSERT_EQ(r.status, Status::kNamed);
  ASSERT_EQ(r.resources.size(), 2u);  // distinct
  EXPECT_EQ(r.resources[0].id, "fA");
  EXPECT_EQ(r.resources[1].id, "fB");
  EXPECT_EQ(r.resources[1].kind, ResourceKind::kFile);
}

TEST_F(DevResourcesBody, MalformedShapes) {
  struct Case {
    absl::string_view body, problem;
  };
  for (const Case& c : {
           Case{R"({"dev_resources":[]})", "non-empty array"},
           Case{R"({"dev_resources":{"file_key":"fA"}})", "non-empty array"},
           Case{R"({"dev_resources":"fA"})", "non-empty array"},
           Case{R"({"dev_resources":null})", "non-empty array"},
           Case{R"({"dev_resources":["fA"]})", "not an object"},
           Case{R"({"dev_resources":[{"file_key":"fA"},3]})", "not an object"},
           Case{R"({"dev_resources":[{"file_key":"fA"},{"name":"x"}]})",
                "lacks a field"},
           Case{R"({"dev_resources":[{"file_key":"fA"},{"file_key":7}]})",
                "not a string"},
           Case{R"({"dev_resources":[{"file_key":"fA","file_key":"fB"}]})",
                "duplicate member"},
           Case{R"({"dev_resources":[{"file_key":"fA"}],"dev_resources":[]})",
                "duplicate member"},
           Case{R"({"resources":[{"file_key":"fA"}]})", "names no resource"},
           Case{R"({"dev_resources":[{"file_key":""}]})", "empty"},
       }) {
    SCOPED_TRACE(c.body);
    const RequestResources r = Of(c.body);
    EXPECT_EQ(r.status, Status::kInvalid);
    EXPECT_THAT(std::string(r.problem), HasSubstr(std::string(c.problem)));
  }
}

TEST_F(DevResourcesBody, BoundedNumberOfResources) {
  auto body = [](size_t n) {
    std::string b = R"({"dev_resources":[)";
    for (size_t i = 0; i < n; ++i) {
      if (i > 0) b.push_back(',');
      absl::StrAppend(&b, R"({"file_key":"f)", i, R"("})");
    }
    b.append("]}");
    return b;
  };
  EXPECT_EQ(Of(body(kMaxBodyResources)).status, Status::kNamed);
  const RequestResources over = Of(body(kMaxBodyResources + 1));
  EXPECT_EQ(over.status, Status::kInvalid);
  EXPECT_THAT(std::string(over.problem), HasSubstr("too many"));
}

TEST_F(DevResourcesBody, DeepNestingIsBoundedNotRecursive) {
  // 60 KiB of nesting: refused without building a deep document.
  std::string b = R"({"dev_resources":[{"file_key":"fA"}],"x":)";
  b.append(30000, '[');
  b.append(30000, ']');
  b.push_back('}');
  EXPECT_EQ(Of(b).status, Status::kInvalid);
}

TEST(JsonSelector, NestedPathAndPlan) {
  const ResourceSelector s = Selector("json:file:a.b[].c.file_key|plan:plan");
  EXPECT_THAT(FromJsonBody(s, R"({"a":{"b":[{"c":{"file_key":"fA"}}]}})"),
              Names(ResourceKind::kFile, "fA"));
  EXPECT_EQ(FromJsonBody(s, R"({"a":{"b":[{"c":"fA"}]}})").status,
            Status::kInvalid);
  const RequestResources plan = FromJsonBody(s, R"({"plan":"A"})");
  EXPECT_EQ(plan.status, Status::kNamed);
  EXPECT_TRUE(plan.names_plan);
  EXPECT_EQ(plan.plan_id, "A");
}

}  // namespace
}  // namespace pat::policy
