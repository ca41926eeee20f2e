#include "server/authority_config.h"

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace pat {
namespace {

using ::pat::testing::IsOk;
using ::pat::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

// A private temporary directory, removed with its files at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        absl::StrCat(::testing::TempDir(), "/pat_config_test.XXXXXX");
    path_ = mkdtemp(pattern.data()) == nullptr ? "" : pattern;
  }
  ~TempDir() {
    for (const std::string& f : files_) unlink(f.c_str());
    rmdir(path_.c_str());
  }
  std::string Write(const std::string& name, const std::string& contents) {
    std::string file = absl::StrCat(path_, "/", name);
    std::ofstream(file) << contents;
    files_.push_back(file);
    return file;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

AuthorityConfig Insecure(const std::string& listen = "127.0.0.1:7443") {
  AuthorityConfig c;
  c.listen = listen;
  c.database_url = "postgresql://pat@127.0.0.1/pat";
  c.insecure = true;
  return c;
}

class TlsConfigTest : public ::testing::Test {
 protected:
  AuthorityConfig Tls() {
    AuthorityConfig c;
    c.database_url = "postgresql://pat@127.0.0.1/pat";
    c.tls_cert_path = dir_.Write("server.pem", "cert");
    c.tls_key_path = dir_.Write("server.key", "key");
    c.tls_client_ca_path = dir_.Write("ca.pem", "ca");
    c.callers_config_path =
        dir_.Write("callers",
                   "# who may call\nspiffe://pat/console admin\n"
                   "spiffe://pat/platform platform\n"
                   "sidecar.pat.internal sidecar  # the sidecars\n");
    return c;
  }
  TempDir dir_;
};

TEST(ValidateAuthorityConfigTest, InsecureLoopbackIsValid) {
  for (const char* listen :
       {"127.0.0.1:7443", "127.0.0.1:0", "127.1.2.3:80", "localhost:7443",
        "[::1]:7443", "[::ffff:127.0.0.1]:1", "unix:/tmp/pat.sock"}) {
    absl::StatusOr<AuthorityConfig> c =
        ValidateAuthorityConfig(Insecure(listen));
    EXPECT_THAT(c, IsOk()) << listen;
  }
}

TEST(ValidateAuthorityConfigTest, DatabaseUrlRequired) {
  AuthorityConfig c = Insecure();
  c.database_url.clear();
  EXPECT_THAT(
      ValidateAuthorityConfig(c),
      StatusIs(absl::StatusCode::kInvalidArgument, "--database_url: required"));
}

TEST(ValidateAuthorityConfigTest, InsecureNonLoopbackRefusedUnlessAllowed) {
  for (const char* listen :
       {"0.0.0.0:7443", "[::]:7443", "10.0.0.1:7443", "pat.example:7443"}) {
    EXPECT_THAT(ValidateAuthorityConfig(Insecure(listen)),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(StartsWith("--insecure: "),
                               HasSubstr("--allow_insecure_non_loopback"))))
        << listen;
    EXPECT_THAT(ValidateAuthorityConfig(Insecure(listen),
                                        /*allow_insecure_non_loopback=*/true),
                IsOk())
        << listen;
  }
}

TEST(ValidateAuthorityConfigTest, MalformedListenNamesTheFlag) {
  for (const char* listen :
       {"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
        "127.0.0.1:+80", "::1:7443", "[::1:7443", "127.0.0.1:http"}) {
    EXPECT_THAT(
        ValidateAuthorityConfig(Insecure(listen)),
        StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("--listen: ")))
        << listen;
  }
}

TEST(ValidateAuthorityConfigTest, PoolSizeBounds) {
  AuthorityConfig c = Insecure();
  c.db_pool_size = 0;
  EXPECT_THAT(ValidateAuthorityConfig(c),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("--db_pool_size: ")));
  c.db_pool_size = 1001;
  EXPECT_THAT(ValidateAuthorityConfig(c),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("--db_pool_size: ")));
  c.db_pool_size = 1;
  EXPECT_THAT(ValidateAuthorityConfig(c), IsOk());
}

TEST_F(TlsConfigTest, InsecureWithTlsFlagsIsAContradiction) {
  AuthorityConfig c = Tls();
  c.insecure = true;
  EXPECT_THAT(ValidateAuthorityConfig(c),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "--tls_cert: cannot be combined with --insecure"));
}

TEST_F(TlsConfigTest, ValidTlsConfigLoadsCallers) {
  absl::StatusOr<AuthorityConfig> c = ValidateAuthorityConfig(Tls());
  ASSERT_THAT(c, IsOk());
  EXPECT_THAT(
      c->callers,
      UnorderedElementsAre(
          Pair("spiffe://pat/console", ElementsAre(CallerRole::kAdmin)),
          Pair("spiffe://pat/platform", ElementsAre(CallerRole::kPlatform)),
          Pair("sidecar.pat.internal", ElementsAre(CallerRole::kSidecar))));
}

TEST_F(TlsConfigTest, TlsListenMayBeAnyAddress) {
  AuthorityConfig c = Tls();
  c.listen = "0.0.0.0:7443";
  EXPECT_THAT(ValidateAuthorityConfig(c), IsOk());
}

TEST_F(TlsConfigTest, EachTlsFlagRequiredWithoutInsecure) {
  struct Case {
    const char* flag;
    std::string AuthorityConfig::*field;
  };
  for (const Case& k :
       {Case{"tls_cert", &AuthorityConfig::tls_cert_path},
        Case{"tls_key", &AuthorityConfig::tls_key_path},
        Case{"tls_client_ca", &AuthorityConfig::tls_client_ca_path},
        Case{"callers_config", &AuthorityConfig::callers_config_path}}) {
    AuthorityConfig c = Tls();
    c.*k.field = "";
    EXPECT_THAT(
        ValidateAuthorityConfig(c),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 absl::StrCat("--", k.flag, ": required unless --insecure")));
    c.*k.field = dir_.path() + "/missing";
    EXPECT_THAT(
        ValidateAuthorityConfig(c),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 StartsWith(absl::StrCat("--", k.flag, ": cannot read"))));
  }
}

TEST_F(TlsConfigTest, CallersConfigErrorsNameFlagFileAndLine) {
  AuthorityConfig c = Tls();
  c.callers_config_path =
      dir_.Write("bad", "# header\n\nspiffe://pat/console admin\nx wizard\n");
  EXPECT_THAT(ValidateAuthorityConfig(c),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(StartsWith("--callers_config: "),
                             HasSubstr("/bad: line 4: unknown role"))));
}

TEST_F(TlsConfigTest, EmptyCallersConfigRefused) {
  AuthorityConfig c = Tls();
  c.callers_config_path = dir_.Write("empty", "# nobody\n\n");
  EXPECT_THAT(ValidateAuthorityConfig(c),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(StartsWith("--callers_config: "),
                             HasSubstr("names no callers"))));
}

TEST(ParseCallersConfigTest, RolesCommentsAndWhitespace) {
  absl::StatusOr<std::map<std::string, std::set<CallerRole>>> callers =
      ParseCallersConfig(
          "# comment line\n"
          "   \n"
          "spiffe://pat/console   admin\r\n"
          "\tspiffe://pat/ops admin,platform # trailing comment\n"
          "spiffe://pat/x#frag sidecar,sidecar\n");
  ASSERT_THAT(callers, IsOk());
  EXPECT_THAT(
      *callers,
      UnorderedElementsAre(
          Pair("spiffe://pat/console", ElementsAre(CallerRole::kAdmin)),
          Pair("spiffe://pat/ops",
               UnorderedElementsAre(CallerRole::kAdmin, CallerRole::kPlatform)),
          Pair("spiffe://pat/x#frag", ElementsAre(CallerRole::kSidecar))));
}

TEST(ParseCallersConfigTest, EmptyTextIsNoCallers) {
  absl::StatusOr<std::map<std::string, std::set<CallerRole>>> callers =
      ParseCallersConfig("");
  ASSERT_THAT(callers, IsOk());
  EXPECT_THAT(*callers, IsEmpty());
}

TEST(ParseCallersConfigTest, ErrorsNameTheLine) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& k : {
           Case{"a admin\nb\n", "line 2: expected"},
           Case{"a admin extra\n", "line 1: expected"},
           Case{"\n\na wizard\n", "line 3: unknown role \"wizard\""},
           Case{"a admin,\n", "line 1: unknown role \"\""},
           Case{"a Admin\n", "line 1: unknown role \"Admin\""},
           Case{"a admin\n# x\na sidecar\n",
                "line 3: identity \"a\" is already given on line 1"},
           Case{"a\x01 admin\n", "line 1: only printable ASCII"},
           Case{"caf\xc3\xa9 admin\n", "line 1: only printable ASCII"},
       }) {
    EXPECT_THAT(
        ParseCallersConfig(k.text),
        StatusIs(absl::StatusCode::kInvalidArgument, StartsWith(k.message)))
        << k.text;
  }
}

}  // namespace
}  // namespace pat
