// patctl's leaked-secret intake commands (docs/leak-intake.md) as a scanner
// operator and a plan admin run them: the real binary against a real
// pat-authority on PostgreSQL. A reported real secret revokes (or, with the
// flag policy, flags) its token; look-alikes are false positives; no secret
// is ever printed.

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/sidecar_harness.h"
#include "tests/support/test_database.h"

namespace pat::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPlan[] = "1234567890";

std::string Quote(const std::string& s) {
  return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "'\\''"}}), "'");
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class PatctlLeakTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string authority = BinaryFromEnv("PAT_AUTHORITY_BIN");
    ASSERT_FALSE(authority.empty()) << "PAT_AUTHORITY_BIN is not set";
    absl::StatusOr<std::unique_ptr<TestDatabase>> db = TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = db->release();
    authority_ = ServiceProcess::Start(
                     "pat-authority", authority,
                     {"--insecure", "--listen=127.0.0.1:0",
                      "--admin_listen=127.0.0.1:0",
                      absl::StrCat("--database_url=", db_->url())})
                     .release();
    ASSERT_NE(authority_, nullptr);
  }
  static void TearDownTestSuite() {
    delete authority_;
    authority_ = nullptr;
    delete db_;
    db_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(authority_, nullptr);
    patctl_ = BinaryFromEnv("PAT_PATCTL_BIN");
    ASSERT_FALSE(patctl_.empty()) << "PAT_PATCTL_BIN is not set";
    dir_ = absl::StrCat(
        ::testing::TempDir(), "/patctl_leak_",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_EQ(std::system(("mkdir -p " + Quote(dir_)).c_str()), 0);
  }

  // patctl --insecure --actor=<actor> against the test authority.
  CliRun Patctl(const std::string& actor, const std::vector<std::string>& args) {
    std::string command = absl::StrCat(
        "env -i PATH=/usr/bin:/bin HOME=", Quote(dir_), " ", Quote(patctl_),
        " --insecure --authority=", Quote(authority_->target()));
    if (!actor.empty()) absl::StrAppend(&command, " --actor=", Quote(actor));
    for (const std::string& a : args) absl::StrAppend(&command, " ", Quote(a));
    absl::StrAppend(&command, " </dev/null >", Quote(dir_ + "/out"), " 2>",
                    Quote(dir_ + "/err"));
    const int status = std::system(command.c_str());
    CliRun r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = Slurp(dir_ + "/out");
    r.err = Slurp(dir_ + "/err");
    return r;
  }

  void SeedPlan() {
    CliRun r = Patctl("alice", {"upsert-plan", absl::StrCat("--id=", kPlan),
                             "--name=Acme", "--tier=organization",
                             "--admins=alice"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // {token id, secret}
  std::pair<std::string, std::string> CreateToken() {
    CliRun r = Patctl("alice", {"create", absl::StrCat("--plan=", kPlan),
                             "--kind=rest", "--name=leaky", "--days=30",
                             "--scopes=files:read", "--all_resources",
                             "--output=json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    if (!j.is_object()) return {};
    return {j["token"].value("id", ""), j.value("secret", "")};
  }

  std::string TokenStatus(const std::string& id) {
    CliRun r = Patctl("alice", {"get", absl::StrCat("--plan=", kPlan),
                             "--token=" + id, "--output=json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_object() ? j.value("status", "") : "";
  }

  // Writes a partner-shaped candidates file; returns its path.
  std::string Candidates(const nlohmann::json& list) {
    const std::string path = dir_ + "/candidates.json";
    std::ofstream(path) << list.dump();
    return path;
  }

  static TestDatabase* db_;
  static ServiceProcess* authority_;
  std::string patctl_;
  std::string dir_;
};
TestDatabase* PatctlLeakTest::db_ = nullptr;
ServiceProcess* PatctlLeakTest::authority_ = nullptr;

TEST_F(PatctlLeakTest, ReportRevokesRealSecretsAndNeverPrintsThem) {
  SeedPlan();
  auto [id, secret] = CreateToken();
  ASSERT_FALSE(secret.empty());
  std::string lookalike = secret;
  lookalike.back() = lookalike.back() == 'A' ? 'B' : 'A';  // bad checksum
  const std::string file = Candidates(nlohmann::json::array(
      {{{"token", secret},
        {"type", "pat_rest"},
        {"url", "https://github.com/acme/app/blob/main/.env"},
        {"source", "content"}},
       {{"token", lookalike}, {"type", "pat_rest"}},
       {{"token", "not a secret at all"}}}));

  CliRun r = Patctl("", {"report-leaks", "--candidates=" + file, "--output=json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out + r.err, Not(HasSubstr(secret)));
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  ASSERT_EQ(j["results"].size(), 3u) << r.out;
  EXPECT_EQ(j["results"][0].value("outcome", ""), "LEAK_OUTCOME_TRUE_POSITIVE");
  EXPECT_EQ(j["results"][0].value("action", ""), "LEAK_ACTION_REVOKED");
  EXPECT_EQ(j["results"][1].value("outcome", ""),
            "LEAK_OUTCOME_FALSE_POSITIVE");
  EXPECT_EQ(j["results"][2].value("outcome", ""),
            "LEAK_OUTCOME_FALSE_POSITIVE");
  EXPECT_EQ(TokenStatus(id), "TOKEN_STATUS_REVOKED");

  // Reported again (text output): still a true positive, nothing new done.
  r = Patctl("", {"report-leaks", "--candidates=" + file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("true_positive"));
  EXPECT_THAT(r.out, HasSubstr("false_positive"));
  EXPECT_THAT(r.out, Not(HasSubstr("revoked")));
  EXPECT_THAT(r.out + r.err, Not(HasSubstr(secret)));

  // The audit event records where it was found, not the secret.
  r = Patctl("alice", {"audit", absl::StrCat("--plan=", kPlan),
                       "--token=" + id, "--output=json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("leaked"));
  EXPECT_THAT(r.out, HasSubstr("github.com/acme/app"));
  EXPECT_THAT(r.out, Not(HasSubstr(secret)));
}

TEST_F(PatctlLeakTest, FlagPolicyKeepsTheTokenActive) {
  SeedPlan();
  CliRun r = Patctl("alice", {"set-leak-policy", absl::StrCat("--plan=", kPlan),
                           "--leak_policy=flag"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("flag"));
  r = Patctl("alice", {"get-leak-policy", absl::StrCat("--plan=", kPlan)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("leak_policy"));
  EXPECT_THAT(r.out, HasSubstr("flag"));

  auto [id, secret] = CreateToken();
  ASSERT_FALSE(secret.empty());
  r = Patctl("", {"report-leaks",
                  "--candidates=" +
                      Candidates(nlohmann::json::array({{{"token", secret}}})),
                  "--output=json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["results"][0].value("action", ""), "LEAK_ACTION_FLAGGED");
  EXPECT_EQ(TokenStatus(id), "TOKEN_STATUS_ACTIVE");

  // Back to revoke: the same secret reported again revokes it.
  r = Patctl("alice", {"set-leak-policy", absl::StrCat("--plan=", kPlan),
                       "--leak_policy=revoke"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Patctl("", {"report-leaks",
                  "--candidates=" +
                      Candidates(nlohmann::json::array({{{"token", secret}}}))});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(TokenStatus(id), "TOKEN_STATUS_REVOKED");
}

TEST_F(PatctlLeakTest, BadInputIsAUsageErrorAndSendsNothing) {
  SeedPlan();
  CliRun r = Patctl("alice", {"set-leak-policy", absl::StrCat("--plan=", kPlan),
                           "--leak_policy=ignore"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--leak_policy must be one of revoke, flag"));
  for (const char* text : {"{}", "[]", "[{\"type\":\"x\"}]", "not json",
                           "[{\"token\":\"x\",\"url\":7}]"}) {
    const std::string path = dir_ + "/bad.json";
    std::ofstream(path) << text;
    r = Patctl("", {"report-leaks", "--candidates=" + path});
    EXPECT_EQ(r.exit_code, 2) << text << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("--candidates")) << text;
  }
  r = Patctl("", {"report-leaks", "--candidates=" + dir_ + "/missing.json"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.exit_code, 2);
  // Another plan's admin: refused, like every plan-admin write.
  r = Patctl("mallory", {"set-leak-policy", absl::StrCat("--plan=", kPlan),
                         "--leak_policy=flag"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("PERMISSION_DENIED"));
}

}  // namespace
}  // namespace pat::testing
