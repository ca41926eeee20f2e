// patctl: the administrators' command-line client for pat-authority (SPEC §4).
//
//   patctl [global flags] <command> [flags]
//
// Exit status (cli/patctl_ux.h): 0 success; 1 a "no" answer (`check`
// denied, `validate` not found); 2 a usage error; 3 an error from the
// authority; 4 the authority could not be reached; 5 a local failure. A
// secret is printed only by `create` and `refresh`, on their `secret:` line
// (or in their JSON output).
//
// Connection settings come from, in order: the command line, PAT_<FLAG>
// environment variables, the config file (--config, PAT_CONFIG, or
// $XDG_CONFIG_HOME/patctl/config, ~/.config/patctl/config).
//
// Files (cli/): dispatch (the command line, start to end), command.h and
// command_table (the commands and their flags), directory_commands,
// token_commands, validate_command (handlers by service), handler_util
// (shared by handlers), connection (config file, environment, channel),
// session.h, output (errors, tables, JSON), help (usage, per-command help,
// completion), flags, and the pure, header-only patctl_args.h and
// patctl_ux.h.

#include "cli/dispatch.h"

int main(int argc, char** argv) { return pat::patctl::Run(argc, argv); }
