#ifndef PAT_CLI_DISPATCH_H_
#define PAT_CLI_DISPATCH_H_

// patctl's command line, start to end:
//   --version / version      -> the version line
//   --help (anywhere)        -> usage, or the command's help
//   pre-scan of the flags    -> usage error (exit 2) for unknown flags and bad
//                               values, with "did you mean"
//   config file, environment -> defaults of the connection flags
//   help, completion         -> printed
//   <command>                -> its flags checked, a Session opened, handler
// Returns the exit status (cli/patctl_ux.h).

namespace pat::patctl {

int Run(int argc, char** argv);

}  // namespace pat::patctl

#endif  // PAT_CLI_DISPATCH_H_
