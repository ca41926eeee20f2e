#ifndef PAT_CLI_CONNECTION_H_
#define PAT_CLI_CONNECTION_H_

// Connection settings: the config file and PAT_<FLAG> environment
// variables (defaults under the command line), and the checked channel
// (plaintext or TLS/mTLS) a Session is built on.

#include <memory>
#include <string>
#include <variant>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "cli/patctl_args.h"
#include "cli/session.h"

namespace pat::patctl {

// Reads a whole (small) file; "" in *error on success.
std::string ReadFile(absl::string_view flag, const std::string& path,
                     std::string* error);

// Applies the config file (--config, PAT_CONFIG, or
// $XDG_CONFIG_HOME/patctl/config or ~/.config/patctl/config when it exists),
// then PAT_<FLAG> environment variables, as defaults of the connection flags
// (the command line, parsed later, wins). A TLS setting from a lower source
// is dropped when the command line says --insecure, and vice versa, so a
// config file for one mode does not contradict an explicit choice of the
// other. Returns a usage error or "".
std::string ApplyConnectionDefaults(const FlagScan& scan);

// Checks the global flags and builds the session (and sets Target()).
// Returns an exit code on failure.
std::variant<int, std::unique_ptr<Session>> OpenSession(
    absl::flat_hash_set<std::string> given);

}  // namespace pat::patctl

#endif  // PAT_CLI_CONNECTION_H_
