#ifndef PAT_SERVER_MIGRATIONS_H_
#define PAT_SERVER_MIGRATIONS_H_

#include <string>

#include "absl/status/status.h"

namespace pat {

// Applies every schema migration not yet applied, each in its own
// transaction, under a session advisory lock so that concurrent replicas
// are safe. Returns UNAVAILABLE when the database cannot be reached.
absl::Status ApplyMigrations(const std::string& database_url);

// The version the newest migration brings the schema to.
int LatestSchemaVersion();

}  // namespace pat

#endif  // PAT_SERVER_MIGRATIONS_H_
