// The least-privilege report end to end: real HTTP requests through an
// in-process sidecar (production wiring, usage flushed every 100 ms) to a
// real authority on PostgreSQL; GetTokenUsageReport then shows the traffic,
// and its suggestion is exactly the minimum: a token made from it allows
// every request again, and removing any one suggested scope or resource
// denies at least one of them. A cross-plan admin gets what GetToken gives.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_support.h"

namespace pat::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

struct Request {
  std::string target;
  int times;
};

// getFile (file_content:read|files:read), getFileMeta
// (file_metadata:read|files:read), getProjectFiles (projects:read|files:read)
// and getLocalVariables (file_variables:read only): the minimum scope set is
// {file_variables:read, files:read}; FILEA1 and projA are both covered by
// projA, the lowest of the token's entries {teamA, projA}.
const std::vector<Request>& Traffic() {
  static const auto* traffic = new std::vector<Request>{
      {"/v1/files/FILEA1", 3},
      {"/v1/files/FILEA1/meta", 2},
      {"/v1/projects/projA/files", 1},
      {"/v1/files/FILEA1/variables/local", 1},
  };
  return *traffic;
}
constexpr int kTotal = 7;

class UsageReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SidecarStackOptions options;
    options.usage_flush_interval = absl::Milliseconds(100);
    ASSERT_NO_FATAL_FAILURE(env_ = E2eEnv::Start(options));
    ASSERT_NE(env_, nullptr);
  }

  grpc::Status Report(const std::string& actor, const std::string& plan_id,
                      const std::string& token_id, v1::TokenUsageReport* out) {
    v1::GetTokenUsageReportRequest req;
    req.set_plan_id(plan_id);
    req.set_token_id(token_id);
    req.set_window_hours(24);
    return env_->h().tokens().GetTokenUsageReport(
        AuthorityHarness::Ctx(actor).get(), req, out);
  }

  // Polls (bounded) until the report counts `total` requests.
  v1::TokenUsageReport WaitForReport(const std::string& token_id, int total) {
    v1::TokenUsageReport report;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      report.Clear();
      const grpc::Status s = Report(kAlice, kPlanA, token_id, &report);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok() || report.total_requests() >= total) break;
      absl::SleepFor(absl::Milliseconds(50));  // poll interval, not a sync
    }
    return report;
  }

  // Sends the traffic with `secret`; the number of requests denied.
  int Replay(const std::string& secret) {
    int denied = 0;
    for (const Request& r : Traffic()) {
      for (int i = 0; i < r.times; ++i) {
        const HttpResponse resp = env_->Get(r.target, secret);
        if (resp.status != 200) ++denied;
      }
    }
    return denied;
  }

  std::unique_ptr<E2eEnv> env_;
};

TEST_F(UsageReportTest, ReportShowsTrafficAndTheExactMinimum) {
  const std::vector<std::string> held = {
      "file_content:read", "files:read",         "file_metadata:read",
      "projects:read",     "file_variables:read", "webhooks:read"};
  const IssuedToken token =
      env_->Create(held, false, {kLinkTeamA, kLinkProjectA});
  ASSERT_FALSE(HasFailure());
  // No traffic yet: nothing suggested.
  {
    v1::TokenUsageReport empty;
    ASSERT_TRUE(Report(kAlice, kPlanA, token.id, &empty).ok());
    EXPECT_EQ(empty.total_requests(), 0);
    EXPECT_TRUE(empty.suggestion().no_traffic());
    EXPECT_EQ(empty.suggestion().scopes_size(), 0);
  }
  ASSERT_EQ(Replay(token.secret), 0);
  // A denied request (another plan's file) is not usage.
  EXPECT_EQ(env_->Get("/v1/files/FILEB1", token.secret).status, 403);

  const v1::TokenUsageReport report = WaitForReport(token.id, kTotal);
  ASSERT_EQ(report.total_requests(), kTotal) << report.DebugString();
  ASSERT_EQ(report.endpoints_size(), 4) << report.DebugString();
  EXPECT_EQ(report.endpoints(0).endpoint(), "getFile");
  EXPECT_EQ(report.endpoints(0).count(), 3);
  EXPECT_THAT(report.endpoints(0).satisfying_scopes(),
              ElementsAre("file_content:read", "files:read"));
  EXPECT_EQ(report.endpoints(1).endpoint(), "getFileMeta");
  EXPECT_EQ(report.endpoints(1).count(), 2);
  // Scopes used vs held: webhooks:read satisfied nothing.
  for (const v1::ScopeUsage& s : report.scopes()) {
    EXPECT_TRUE(s.held()) << s.scope();
    if (s.scope() == "webhooks:read") {
      EXPECT_EQ(s.count(), 0);
    }
    if (s.scope() == "files:read") {
      EXPECT_EQ(s.count(), kTotal - 1);  // not getLocalVariables
    }
  }
  // Resources touched vs allowed.
  std::vector<std::string> touched;
  for (const v1::ResourceUsage& r : report.touched_resources()) {
    touched.push_back(absl::StrCat(r.resource().id(), "=", r.count()));
  }
  EXPECT_THAT(touched, UnorderedElementsAre("FILEA1=6", "projA=1"));
  ASSERT_EQ(report.unused_resources_size(), 0)
      << "teamA covers FILEA1 and projA too";
  EXPECT_EQ(report.allowed_resources_size(), 2);

  const v1::SuggestedToken& s = report.suggestion();
  EXPECT_FALSE(s.no_traffic());
  EXPECT_THAT(s.scopes(), ElementsAre("file_variables:read", "files:read"));
  EXPECT_FALSE(s.all_resources());
  ASSERT_EQ(s.resources_size(), 1);
  EXPECT_EQ(s.resources(0).id(), "projA");
  EXPECT_EQ(s.resources(0).link(), kCanonicalProjectA);

  const std::vector<std::string> scopes(s.scopes().begin(), s.scopes().end());
  const std::vector<std::string> links = {s.resources(0).link()};
  // The suggestion allows every request seen.
  EXPECT_EQ(Replay(env_->Create(scopes, false, links).secret), 0);
  // Removing any one scope denies at least one request (a token needs a
  // scope: an unrelated one stands in for an emptied list).
  for (size_t i = 0; i < scopes.size(); ++i) {
    std::vector<std::string> fewer = scopes;
    fewer.erase(fewer.begin() + i);
    if (fewer.empty()) fewer = {"webhooks:read"};
    SCOPED_TRACE(absl::StrCat("without ", scopes[i]));
    EXPECT_GT(Replay(env_->Create(fewer, false, links).secret), 0);
  }
  // Removing the resource (FILEA2, untouched, stands in) denies.
  EXPECT_GT(Replay(env_->Create(scopes, false, {kLinkFileA2}).secret), 0);
}

TEST_F(UsageReportTest, AllResourcesTokenIsNarrowedToWhatItTouched) {
  const IssuedToken token = env_->Create({"files:read", "webhooks:read"});
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(env_->Get("/v1/files/FILEA1", token.secret).status, 200);
  ASSERT_EQ(env_->Get("/v1/files/FILEA2/meta", token.secret).status, 200);
  const v1::TokenUsageReport report = WaitForReport(token.id, 2);
  ASSERT_EQ(report.total_requests(), 2) << report.DebugString();
  EXPECT_TRUE(report.all_resources());
  EXPECT_THAT(report.suggestion().scopes(), ElementsAre("files:read"));
  EXPECT_FALSE(report.suggestion().all_resources());
  std::vector<std::string> ids;
  for (const auto& r : report.suggestion().resources()) ids.push_back(r.id());
  EXPECT_THAT(ids, ElementsAre("FILEA1", "FILEA2"));
}

TEST_F(UsageReportTest, CrossPlanAdminGetsWhatGetTokenGives) {
  const IssuedToken token = env_->Create({"files:read"});
  ASSERT_FALSE(HasFailure());
  for (const std::string& plan : {std::string(kPlanA), std::string(kPlanB)}) {
    for (const std::string& actor : {std::string(kBob), std::string(kMallory),
                                     std::string(kNoActor)}) {
      SCOPED_TRACE(absl::StrCat(actor, " on plan ", plan));
      v1::Token got;
      const grpc::Status get = GetToken(env_->h(), actor, plan, token.id, &got);
      v1::TokenUsageReport report;
      const grpc::Status rep = Report(actor, plan, token.id, &report);
      ASSERT_FALSE(get.ok());
      EXPECT_EQ(rep.error_code(), get.error_code()) << rep.error_message();
      EXPECT_TRUE(rep.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
                  rep.error_code() == grpc::StatusCode::NOT_FOUND ||
                  rep.error_code() == grpc::StatusCode::UNAUTHENTICATED)
          << rep.error_message();
      EXPECT_EQ(report.total_requests(), 0);
      EXPECT_TRUE(report.token_id().empty());
    }
  }
  v1::TokenUsageReport bad;
  v1::GetTokenUsageReportRequest req;
  req.set_plan_id(kPlanA);
  req.set_token_id(token.id);
  req.set_window_hours(2161);
  EXPECT_EQ(env_->h()
                .tokens()
                .GetTokenUsageReport(AuthorityHarness::Ctx(kAlice).get(), req,
                                     &bad)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace pat::testing
