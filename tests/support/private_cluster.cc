#include "tests/support/private_cluster.h"

#include <stdlib.h>

#include <cstdio>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace pat::testing {
namespace {

// Runs `script` with scripts/lib/pg.sh sourced; its stdout, or nullopt
// when it exits non-zero (its stderr goes to the test's).
std::optional<std::string> RunPgScript(const std::string& script) {
  const std::string cmd =
      absl::StrCat("bash -c 'set -euo pipefail; source \"", PAT_SOURCE_DIR,
                   "/scripts/lib/pg.sh\"; ", script, "'");
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return std::nullopt;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  if (::pclose(p) != 0) return std::nullopt;
  return out;
}

}  // namespace

std::unique_ptr<PrivateCluster> PrivateCluster::Start(const Options& options) {
  char tmpl[] = "/tmp/pat-pgpriv.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return nullptr;
  }
  const std::string dir = tmpl;
  const std::optional<std::string> out =
      RunPgScript(absl::StrCat("PG_MAX_CONNECTIONS=", options.max_connections,
                               " pg_start ", dir, " >&2; echo \"$PG_PORT\""));
  int port = 0;
  if (!out.has_value() ||
      !absl::SimpleAtoi(absl::StripAsciiWhitespace(*out), &port)) {
    ADD_FAILURE() << "private PostgreSQL cluster did not start in " << dir;
    RunPgScript(absl::StrCat("pg_stop ", dir));
    return nullptr;
  }
  return std::unique_ptr<PrivateCluster>(new PrivateCluster(
      dir, absl::StrCat("postgresql://postgres@127.0.0.1:", port, "/postgres"),
      port));
}

PrivateCluster::~PrivateCluster() {
  RunPgScript(absl::StrCat("pg_stop ", dir_, " >&2"));
}

bool PrivateCluster::RestartFast() {
  const bool ok =
      RunPgScript(absl::StrCat("_pg_run \"$(_pg_bindir)/pg_ctl\" -D ", dir_,
                               "/data -l ", dir_,
                               "/server.log -m fast -w -t 60 -s restart >&2"))
          .has_value();
  EXPECT_TRUE(ok) << "pg_ctl restart failed in " << dir_;
  return ok;
}

void PrivateCluster::UseForTestDatabases() const {
  ::setenv("PAT_TEST_DATABASE_URL", url_.c_str(), 1);
}

}  // namespace pat::testing
