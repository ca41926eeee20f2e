#include "tests/support/test_database.h"

#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/secret.h"
#include "pqxx/pqxx"
#include "server/migrations.h"

namespace pat::testing {
namespace {

// Replaces the database name (the path after the authority) of a
// postgresql:// URL.
std::string WithDatabase(const std::string& url, const std::string& db) {
  const size_t scheme = url.find("://");
  const size_t start = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  const size_t query = url.find('?');
  std::string base = start == std::string::npos ? url : url.substr(0, start);
  std::string tail = query == std::string::npos ? "" : url.substr(query);
  return absl::StrCat(base, "/", db, tail);
}

}  // namespace

absl::StatusOr<std::unique_ptr<TestDatabase>> TestDatabase::Create() {
  const char* admin = std::getenv("PAT_TEST_DATABASE_URL");
  if (admin == nullptr || *admin == '\0') {
    return absl::FailedPreconditionError(
        "PAT_TEST_DATABASE_URL is not set: run the suite with scripts/test, "
        "which starts a throwaway PostgreSQL");
  }
  const std::string name =
      absl::AsciiStrToLower(absl::StrCat("pat_test_", RandomBase62(16)));
  try {
    pqxx::connection conn(admin);
    pqxx::nontransaction nt(conn);
    nt.exec(absl::StrCat("CREATE DATABASE ", name));
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot create test database: ", e.what()));
  }
  const std::string url = WithDatabase(admin, name);
  absl::Status migrated = ApplyMigrations(url);
  auto db = std::unique_ptr<TestDatabase>(new TestDatabase(admin, name, url));
  if (!migrated.ok()) return migrated;
  return db;
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection conn(admin_url_);
    pqxx::nontransaction nt(conn);
    nt.exec(absl::StrCat("DROP DATABASE IF EXISTS ", name_, " WITH (FORCE)"));
  } catch (const std::exception&) {
    // Best effort: the throwaway cluster is removed after the run anyway.
  }
}

}  // namespace pat::testing
