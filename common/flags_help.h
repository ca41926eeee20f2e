#ifndef PAT_COMMON_FLAGS_HELP_H_
#define PAT_COMMON_FLAGS_HELP_H_

#include <iosfwd>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

// --help and --version for the daemons (pat-authority, pat-sidecar), handled
// before absl::ParseCommandLine (whose --help prints "No flags matched." and
// exits 1).
//
// Use, first thing in main (after SetProgramUsageMessage if any):
//   if (std::optional<int> rc = pat::HandleHelpOrVersion(
//           argc, argv, {"pat-sidecar", "pat-sidecar --upstream=URL ...",
//                        "What it does, one paragraph."});
//       rc.has_value()) {
//     return *rc;
//   }
namespace pat {

struct ProgramHelp {
  std::string program;      // "pat-authority"
  std::string synopsis;     // usage line(s), without "Usage: "
  std::string description;  // a paragraph; may be empty
  // Printed after the flag list (e.g. exit codes); may be empty.
  std::string epilogue;
};

// When argv (before a "--") holds --help, -h, -help, --version or -version:
// prints the help (to stdout) or VersionLine(program) and returns 0.
// Otherwise nullopt and prints nothing. --help wins over --version.
std::optional<int> HandleHelpOrVersion(int argc, char** argv,
                                       const ProgramHelp& help);

// Every flag registered in the binary except Abseil's own (flagfile,
// fromenv, ...), sorted by name: "  --name=<type>  (default: ...)\n  help".
// Each line also names the PAT_<FLAG> environment fallback.
void PrintFlags(std::ostream& out);
std::string HelpText(const ProgramHelp& help);

}  // namespace pat

#endif  // PAT_COMMON_FLAGS_HELP_H_
