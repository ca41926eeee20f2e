#ifndef PAT_CLI_HELP_H_
#define PAT_CLI_HELP_H_

// patctl's help texts: the usage page, per-command help with examples,
// "did you mean" for an unknown command, and shell completion.

#include <ostream>
#include <string>

#include "absl/strings/string_view.h"
#include "cli/command.h"

namespace pat::patctl {

// `patctl help`: commands, global flags and exit status.
void PrintUsage(std::ostream& out);
// `patctl <command> --help`: synopsis, flags, examples.
void PrintCommandHelp(std::ostream& out, const Command& c);
// A usage error for an unknown command, with a "did you mean" when one is
// close; returns kExitUsage.
int UnknownCommand(absl::string_view name);
// `patctl completion <shell>`: the script on stdout; a usage error for a
// shell other than bash and zsh.
int PrintCompletion(const std::string& shell);

}  // namespace pat::patctl

#endif  // PAT_CLI_HELP_H_
