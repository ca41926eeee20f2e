#ifndef PAT_TESTS_SUPPORT_TEST_DATABASE_H_
#define PAT_TESTS_SUPPORT_TEST_DATABASE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace pat::testing {

// A fresh, migrated database on the PostgreSQL server named by the
// environment variable PAT_TEST_DATABASE_URL (a URL of a superuser-capable
// role to the "postgres" database; scripts/test sets it). Dropped on
// destruction. Create() fails (it never skips) when the variable is unset.
class TestDatabase {
 public:
  static absl::StatusOr<std::unique_ptr<TestDatabase>> Create();
  ~TestDatabase();

  // Connection URL of the new database.
  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

 private:
  TestDatabase(std::string admin_url, std::string name, std::string url)
      : admin_url_(std::move(admin_url)), name_(std::move(name)),
        url_(std::move(url)) {}
  std::string admin_url_;
  std::string name_;
  std::string url_;
};

}  // namespace pat::testing

#endif  // PAT_TESTS_SUPPORT_TEST_DATABASE_H_
