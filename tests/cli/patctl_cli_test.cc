// patctl as users and scripts run it: the real binary against a real
// pat-authority on PostgreSQL. Output formats, exit codes, help, "did you
// mean", completion, environment and config file, connection hints and the
// deprecated-scope warning.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/sidecar_harness.h"
#include "tests/support/test_database.h"

namespace pat::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kPlan[] = "1234567890";

std::string ShellQuote(absl::string_view s) {
  return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "'\\''"}}), "'");
}

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class PatctlTest : public ::testing::Test {
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
    dir_ = absl::StrCat(::testing::TempDir(), "/patctl_",
                        ::testing::UnitTest::GetInstance()
                            ->current_test_info()
                            ->name());
    ASSERT_EQ(std::system(("mkdir -p " + ShellQuote(dir_)).c_str()), 0);
  }

  // Runs patctl with `args` in a clean environment (HOME in the test's
  // directory, no PAT_* but `env`), stdin from `input`.
  Result Patctl(const std::vector<std::string>& args,
                const std::vector<std::string>& env = {},
                const std::string& input = "", bool tty = false) {
    const std::string in_path = dir_ + "/stdin";
    const std::string out_path = dir_ + "/stdout";
    const std::string err_path = dir_ + "/stderr";
    std::ofstream(in_path) << input;
    std::string command = absl::StrCat(ShellQuote(patctl_));
    for (const std::string& a : args) absl::StrAppend(&command, " ", ShellQuote(a));
    if (tty) {
      // A pseudo-terminal on stdout, as in an interactive shell.
      command = absl::StrCat("script -qec ", ShellQuote(command), " /dev/null");
    }
    std::string line = absl::StrCat("env -i PATH=/usr/bin:/bin HOME=",
                                    ShellQuote(dir_), " TERM=dumb");
    for (const std::string& e : env) absl::StrAppend(&line, " ", ShellQuote(e));
    absl::StrAppend(&line, " ", command, " <", ShellQuote(in_path), " >",
                    ShellQuote(out_path), " 2>", ShellQuote(err_path));
    const int status = std::system(line.c_str());
    Result r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = ReadAll(out_path);
    r.err = ReadAll(err_path);
    return r;
  }

  // Insecure, as alice, against the test authority.
  Result Admin(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"--insecure", "--actor=alice",
                               "--authority=" + authority_->target()});
    return Patctl(args, {}, input);
  }

  // A plan with alice as admin and file FILEKEY1 in its directory.
  void SeedPlan() {
    Result r = Admin({"upsert-plan", absl::StrCat("--id=", kPlan),
                      "--name=Acme", "--tier=organization", "--admins=alice"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = Admin({"upsert-resource", absl::StrCat("--plan=", kPlan), "--kind=file",
               "--id=FILEKEY1"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // Creates a token; returns {token id, secret}.
  std::pair<std::string, std::string> CreateToken(const std::string& scopes) {
    Result r = Admin({"create", absl::StrCat("--plan=", kPlan), "--kind=rest",
                      "--name=ci token", "--days=30", "--scopes=" + scopes,
                      "--all_resources", "--output=json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << r.out;
    if (!j.is_object()) return {};
    return {j["token"].value("id", ""), j.value("secret", "")};
  }

  static TestDatabase* db_;
  static ServiceProcess* authority_;
  std::string patctl_;
  std::string dir_;
};
TestDatabase* PatctlTest::db_ = nullptr;
ServiceProcess* PatctlTest::authority_ = nullptr;

TEST_F(PatctlTest, HelpAndVersionExit0) {
  Result r = Patctl({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* c : {"create", "list", "check", "validate", "completion",
                        "exit status"}) {
    EXPECT_THAT(r.out, HasSubstr(c));
  }
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"create", "--help"},
                                             {"help", "create"},
                                             {"--insecure", "create", "-h"}}) {
    r = Patctl(args);
    EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(args, " ");
    EXPECT_THAT(r.out, StartsWith("patctl create: "));
    EXPECT_THAT(r.out, HasSubstr("--days=V"));
    EXPECT_THAT(r.out, HasSubstr("(required)"));
    EXPECT_THAT(r.out, HasSubstr("examples:\n  patctl "));
  }
  // Every command has help with examples.
  for (const char* c : {"upsert-plan", "upsert-resource", "delete-resource",
                        "list-plans", "create", "get", "list", "update",
                        "refresh", "revoke", "audit", "check", "validate"}) {
    r = Patctl({c, "--help"});
    EXPECT_EQ(r.exit_code, 0) << c;
    EXPECT_THAT(r.out, HasSubstr("examples:")) << c;
  }
  for (const char* v : {"--version", "version"}) {
    r = Patctl({v});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_THAT(r.out, ::testing::MatchesRegex(
                           "patctl [0-9]+\\.[0-9]+\\.[0-9]+ \\(commit "
                           "[0-9a-z.-]+\\)\n"));
  }
}

TEST_F(PatctlTest, UsageErrorsExit2WithDidYouMean) {
  Result r = Patctl({"lst"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown command \"lst\"; did you mean \"list\"?"));
  r = Patctl({"revok", "--plan=1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("did you mean \"revoke\"?"));
  r = Patctl({"crate", "--help"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("did you mean \"create\"?"));
  r = Patctl({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, Not(HasSubstr("did you mean")));
  r = Patctl({"list", "--plna=1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown flag --plna; did you mean --plan?"));
  r = Patctl({"--insecur", "list-plans"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("did you mean --insecure?"));
  r = Patctl({"list"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("list needs --plan"));
  r = Patctl({"--output=yaml", "list-plans"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(PatctlTest, CompletionScripts) {
  Result r = Patctl({"completion", "bash"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("complete -F _patctl patctl"));
  EXPECT_THAT(r.out, HasSubstr("list-plans"));
  EXPECT_THAT(r.out, HasSubstr("--all_resources="));
  // The script is valid bash and completes a command prefix.
  const std::string script = dir_ + "/patctl.bash";
  std::ofstream(script) << r.out;
  EXPECT_EQ(std::system(("bash -n " + ShellQuote(script)).c_str()), 0);
  const std::string probe = absl::StrCat(
      "bash -c ", ShellQuote(absl::StrCat(
                      "source ", script,
                      "; COMP_WORDS=(patctl lis); COMP_CWORD=1; _patctl; "
                      "echo \"${COMPREPLY[*]}\"")));
  FILE* pipe = popen(probe.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buffer[256] = {};
  const size_t n = fread(buffer, 1, sizeof(buffer) - 1, pipe);
  pclose(pipe);
  EXPECT_EQ(std::string(buffer, n), "list-plans list\n");

  r = Patctl({"completion", "zsh"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, StartsWith("#compdef patctl\n"));
  EXPECT_THAT(r.out, HasSubstr("compdef _patctl patctl"));
  r = Patctl({"completion", "fish"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(PatctlTest, OutputFormatsAndExitCodes) {
  SeedPlan();
  auto [token_id, secret] = CreateToken("file_content:read");
  ASSERT_FALSE(token_id.empty());
  const std::string plan = absl::StrCat("--plan=", kPlan);

  // Piped: tab-separated rows, no header.
  Result r = Admin({"list", plan});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines =
      absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u) << r.out;
  std::vector<std::string> fields = absl::StrSplit(lines[0], '\t');
  ASSERT_EQ(fields.size(), 7u) << lines[0];
  EXPECT_EQ(fields[0], token_id);
  EXPECT_EQ(fields[2], "active");
  EXPECT_EQ(fields[6], "ci token");
  // On a terminal (and with --output=table): aligned, with a header.
  for (bool tty : {true, false}) {
    std::vector<std::string> args = {"--insecure", "--actor=alice",
                                     "--authority=" + authority_->target(),
                                     "list", plan};
    if (!tty) args.push_back("--output=table");
    r = Patctl(args, {}, "", tty);
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    EXPECT_THAT(r.out, HasSubstr("ID  "));
    EXPECT_THAT(r.out, HasSubstr("KIND  STATUS"));
    EXPECT_THAT(r.out, HasSubstr("NAME"));
    EXPECT_THAT(r.out, Not(HasSubstr("\t")));
  }
  // JSON everywhere.
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"list", plan},
           {"list-plans"},
           {"get", plan, "--token=" + token_id},
           {"audit", plan},
           {"check", plan, "--token=" + token_id, "--method=GET",
            "--path=/v1/files/FILEKEY1"}}) {
    std::vector<std::string> with_json = args;
    with_json.push_back("--output=json");
    r = Admin(with_json);
    EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(args, " ") << r.err;
    EXPECT_TRUE(nlohmann::json::accept(r.out)) << r.out;
  }

  // check: 0 allowed, 1 denied.
  r = Admin({"check", plan, "--token=" + token_id, "--method=GET",
             "--path=/v1/files/FILEKEY1"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("allowed: true"));
  r = Admin({"check", plan, "--token=" + token_id, "--method=GET",
             "--path=/v1/files/FILEKEY1/comments"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("allowed: false"));
  EXPECT_THAT(r.out, HasSubstr("reason: scope_missing"));

  // validate: 0 found, 1 not found.
  r = Admin({"validate", "--secret_stdin"}, secret + "\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("found: true"));
  EXPECT_THAT(r.out, Not(HasSubstr(secret)));
  std::string other = secret;
  other[12] = other[12] == 'A' ? 'B' : 'A';
  r = Admin({"validate", "--secret_stdin"}, other + "\n");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.out, HasSubstr("found: false"));

  // An error from the authority: 3.
  r = Admin({"get", plan, "--token=tok_0123456789abcdefABCDEF"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, HasSubstr("NOT_FOUND"));
  r = Patctl({"--insecure", "--authority=" + authority_->target(), "list",
              plan});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, HasSubstr("UNAUTHENTICATED"));
}

// `patctl usage` (docs/usage-report.md): a token with no traffic gets the
// documented "no suggestion" report in text and JSON; an actor who is not an
// admin of the token's plan gets exactly the error `patctl get` gives.
TEST_F(PatctlTest, UsageReportNoTrafficAndCrossPlanActor) {
  SeedPlan();
  auto [token_id, secret] = CreateToken("file_content:read");
  ASSERT_FALSE(token_id.empty());
  const std::string plan = absl::StrCat("--plan=", kPlan);

  Result r = Admin({"usage", plan, "--token=" + token_id, "--hours=24"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("token_id: " + token_id + "\n"));
  EXPECT_THAT(r.out, HasSubstr("requests: 0\n"));
  EXPECT_THAT(r.out, HasSubstr("scope: file_content:read held used=0\n"));
  EXPECT_THAT(r.out, HasSubstr(
                         "suggestion: none (no allowed request in the window)"));
  EXPECT_THAT(r.out, Not(HasSubstr("suggested_scopes")));
  EXPECT_THAT(r.out, Not(HasSubstr(secret)));

  r = Admin({"usage", plan, "--token=" + token_id, "--output=json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j.value("tokenId", j.value("token_id", "")), token_id) << r.out;
  ASSERT_TRUE(j.contains("suggestion")) << r.out;
  EXPECT_EQ(j["suggestion"].value("noTraffic",
                                  j["suggestion"].value("no_traffic", false)),
            true)
      << r.out;

  // Out of range window: the authority's INVALID_ARGUMENT, exit 3.
  r = Admin({"usage", plan, "--token=" + token_id, "--hours=2161"});
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_THAT(r.err, HasSubstr("INVALID_ARGUMENT"));

  // bob administers another plan only: for alice's token, usage fails exactly
  // as get does (same exit code, same message).
  constexpr char kOtherPlan[] = "2234567890";
  r = Admin({"upsert-plan", absl::StrCat("--id=", kOtherPlan), "--name=Other",
             "--tier=organization", "--admins=alice,bob"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto as_bob = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--insecure", "--actor=bob",
                               "--authority=" + authority_->target()});
    return Patctl(args);
  };
  for (const std::string& p : {plan, absl::StrCat("--plan=", kOtherPlan)}) {
    Result get = as_bob({"get", p, "--token=" + token_id});
    Result usage = as_bob({"usage", p, "--token=" + token_id});
    EXPECT_EQ(get.exit_code, 3) << p << get.out << get.err;
    EXPECT_THAT(get.err, ::testing::AnyOf(HasSubstr("PERMISSION_DENIED"),
                                          HasSubstr("NOT_FOUND")))
        << p;
    EXPECT_EQ(usage.exit_code, get.exit_code) << p << usage.err;
    EXPECT_EQ(usage.err, get.err) << p;
    EXPECT_EQ(usage.out, "") << p;
  }
}

TEST_F(PatctlTest, DeprecatedScopeIsAWarningNotAnError) {
  SeedPlan();
  Result r = Admin({"create", absl::StrCat("--plan=", kPlan), "--kind=rest",
                    "--name=legacy", "--days=10", "--scopes=files:read",
                    "--all_resources"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("warning: scope files:read is deprecated"));
  EXPECT_THAT(r.err, HasSubstr("file_content:read"));
  EXPECT_THAT(r.out, HasSubstr("secret: pat_rest_"));
  // Not deprecated: no warning.
  r = Admin({"create", absl::StrCat("--plan=", kPlan), "--kind=rest",
             "--name=modern", "--days=10", "--scopes=file_content:read",
             "--all_resources"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("deprecated")));
}

TEST_F(PatctlTest, EnvironmentAndConfigFileForEveryConnectionSetting) {
  SeedPlan();
  const std::string target = authority_->target();
  // Environment only.
  Result r = Patctl({"list-plans"}, {"PAT_AUTHORITY=" + target,
                                     "PAT_INSECURE=true", "PAT_ACTOR=alice",
                                     "PAT_OUTPUT=json", "PAT_TIMEOUT=5s"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(nlohmann::json::accept(r.out)) << r.out;

  // The default config file (~/.config/patctl/config).
  ASSERT_EQ(std::system(("mkdir -p " + ShellQuote(dir_ + "/.config/patctl"))
                            .c_str()),
            0);
  std::ofstream(dir_ + "/.config/patctl/config")
      << "# patctl settings\nauthority = " << target
      << "\ninsecure = true\nactor: alice\noutput tsv\n";
  r = Patctl({"list-plans"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith(absl::StrCat(kPlan, "\torganization")));

  // Environment beats the file, the command line beats both.
  r = Patctl({"list-plans"}, {"PAT_AUTHORITY=127.0.0.1:1"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  r = Patctl({"--authority=" + target, "list-plans"},
             {"PAT_AUTHORITY=127.0.0.1:1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;

  // --config and PAT_CONFIG name another file; TLS settings in it.
  const std::string tls_config = dir_ + "/tls.conf";
  std::ofstream(tls_config) << "authority=" << target << "\nactor=alice\n"
                            << "tls_ca=" << dir_ << "/missing-ca.pem\n";
  r = Patctl({"--config=" + tls_config, "list-plans"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_THAT(r.err, HasSubstr("cannot read --tls_ca file"));
  r = Patctl({"list-plans"}, {"PAT_CONFIG=" + tls_config});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  r = Patctl({"list-plans"}, {"PAT_CONFIG=" + tls_config,
                              "PAT_TLS_SERVER_NAME=authority.pat"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  // --insecure on the command line sets the file's TLS settings aside.
  r = Patctl({"--config=" + tls_config, "--insecure", "list-plans"});
  EXPECT_EQ(r.exit_code, 0) << r.err;

  // A broken file is a usage error naming the line.
  std::ofstream(dir_ + "/bad.conf") << "authority = x\ncolour = blue\n";
  r = Patctl({"--config=" + dir_ + "/bad.conf", "list-plans"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("line 2: unknown setting \"colour\""));
  r = Patctl({"--config=" + dir_ + "/absent.conf", "list-plans"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(PatctlTest, ConnectionFailuresExit4WithAOneLineHint) {
  const std::string target = authority_->target();
  // TLS to a plaintext authority: --insecure forgotten.
  Result r = Patctl({"--authority=" + target, "--actor=alice", "list-plans"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_THAT(r.err, HasSubstr("hint: the TLS handshake with " + target +
                               " failed"));
  EXPECT_THAT(r.err, HasSubstr("--insecure"));
  // Every stderr line is patctl's own: no gRPC core log line.
  for (absl::string_view line : absl::StrSplit(r.err, '\n', absl::SkipEmpty())) {
    EXPECT_THAT(std::string(line), StartsWith("patctl: ")) << r.err;
  }
  // Nothing listening.
  r = Patctl({"--insecure", "--authority=127.0.0.1:1", "list-plans"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_THAT(r.err, HasSubstr("hint: nothing answers at 127.0.0.1:1"));
  for (absl::string_view line : absl::StrSplit(r.err, '\n', absl::SkipEmpty())) {
    EXPECT_THAT(std::string(line), StartsWith("patctl: ")) << r.err;
  }
}

}  // namespace
}  // namespace pat::testing
