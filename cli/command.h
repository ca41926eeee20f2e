#ifndef PAT_CLI_COMMAND_H_
#define PAT_CLI_COMMAND_H_

// The command table: each command's name, help, flags and handler. The
// command groups (directory_commands.cc, token_commands.cc,
// validate_command.cc) each contribute their rows; command_table.cc joins
// them and checks a command line's flags against them.

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "cli/patctl_args.h"
#include "cli/session.h"

namespace pat::patctl {

// A handler returns the exit status (cli/patctl_ux.h).
using Handler = int (*)(Session&);

struct Command {
  absl::string_view name;
  absl::string_view summary;
  absl::string_view examples;  // lines of "patctl ..." (may be empty)
  absl::string_view synopsis;
  std::vector<absl::string_view> required;
  std::vector<absl::string_view> optional;
  Handler run;
};

// The rows of each command group, in the order `patctl help` lists them.
std::vector<Command> DirectoryCommands();  // DirectoryService
std::vector<Command> TokenCommands();      // TokenService
std::vector<Command> ValidateCommands();   // IntrospectionService
std::vector<Command> WebhookCommands();    // WebhookService
std::vector<Command> UsageCommands();      // GetTokenUsageReport
std::vector<Command> LeakCommands();       // LeakIntakeService

// Every command (the groups above, in that order).
const std::vector<Command>& Commands();
// The command named `name`, or nullptr.
const Command* FindCommand(absl::string_view name);
// Command names, plus help, completion and version.
std::vector<std::string> CommandNames();
// Every flag patctl takes (global first), without dashes, once each.
std::vector<std::string> AllFlagNames();
// How ScanFlags treats `name` (a patctl flag of which type, help, unknown).
FlagType TypeOfFlag(absl::string_view name);
// Checks the given flags against the command: all required ones present (and
// not empty), none that the command does not take. "" when they fit.
std::string CheckCommandFlags(const Command& cmd,
                              const absl::flat_hash_set<std::string>& given);

}  // namespace pat::patctl

#endif  // PAT_CLI_COMMAND_H_
