#include "cli/dispatch.h"

#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "cli/command.h"
#include "cli/connection.h"
#include "cli/help.h"
#include "cli/output.h"
#include "cli/patctl_args.h"
#include "cli/patctl_ux.h"
#include "cli/session.h"
#include "common/grpc_log.h"
#include "common/version.h"

namespace pat::patctl {
namespace {

using ::pat::VersionLine;

// The first positional argument (the command), walking argv as ScanFlags
// does; "" when there is none.
std::string FirstPositional(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") return i + 1 < argc ? argv[i + 1] : "";
    if (arg.size() < 2 || arg[0] != '-') return std::string(arg);
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    if (absl::StrContains(arg, '=')) continue;
    if (TypeOfFlag(arg) == FlagType::kValue) ++i;  // "--flag value"
  }
  return "";
}

// --version anywhere before "--", or the command `version`.
bool WantsVersion(int argc, char** argv, const std::string& first) {
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg == "--version" || arg == "-version") return true;
  }
  return first == "version";
}

// --help: the command's help, the usage page, or an unknown command.
int Help(const std::string& first) {
  if (const Command* cmd = FindCommand(first); cmd != nullptr) {
    PrintCommandHelp(std::cout, *cmd);
    return kExitOk;
  }
  if (!first.empty() && first != "help") return UnknownCommand(first);
  PrintUsage(std::cout);
  return kExitOk;
}

// A usage error for a failed pre-scan, or for a flag value that does not
// parse (checked here so that it is exit 2 rather than absl's exit(1)
// inside ParseCommandLine); nullopt when the scan is good.
std::optional<int> ScanError(const FlagScan& scan) {
  if (!scan.error.empty()) {
    if (!scan.unknown_flag.empty()) {
      std::string message = scan.error;
      if (std::optional<std::string> near =
              DidYouMean(scan.unknown_flag, AllFlagNames())) {
        absl::StrAppend(&message, "; did you mean --", *near, "?");
      }
      return UsageError(message);
    }
    return UsageError(scan.error);
  }
  for (const auto& [name, value] : scan.values) {
    std::string error;
    if (!absl::FindCommandLineFlag(name)->ParseFrom(value, &error)) {
      return UsageError(absl::StrCat("--", name, ": ", TerminalSafe(error)));
    }
  }
  return std::nullopt;
}

// `help [command]` and `completion <shell>`; nullopt for other names.
std::optional<int> Builtin(const std::vector<char*>& positional) {
  const absl::string_view name = positional[1];
  const std::string arg = positional.size() > 2 ? positional[2] : "";
  if (name == "help") {
    if (positional.size() > 2) {
      const Command* cmd = FindCommand(arg);
      if (cmd == nullptr) return UnknownCommand(arg);
      PrintCommandHelp(std::cout, *cmd);
      return kExitOk;
    }
    PrintUsage(std::cout);
    return kExitOk;
  }
  if (name == "completion") return PrintCompletion(arg);
  return std::nullopt;
}

// Checks the command and its flags, opens the session and runs the handler.
int RunCommand(const std::vector<char*>& positional, FlagScan& scan) {
  const absl::string_view name = positional[1];
  const Command* cmd = FindCommand(name);
  if (cmd == nullptr) return UnknownCommand(name);
  if (positional.size() > 2) {
    return UsageError(absl::StrCat("unexpected argument \"",
                                   TerminalSafe(positional[2]), "\""));
  }
  if (std::string error = CheckCommandFlags(*cmd, scan.given); !error.empty()) {
    return UsageError(error);
  }
  auto session = OpenSession(std::move(scan.given));
  if (const int* code = std::get_if<int>(&session)) return *code;
  int code = cmd->run(*std::get<std::unique_ptr<Session>>(session));
  std::cout.flush();
  if (!std::cout) return LocalError("cannot write to stdout");
  return code;
}

}  // namespace

int Run(int argc, char** argv) {
  SilenceGrpcLogs();
  const std::string first = FirstPositional(argc, argv);
  if (WantsVersion(argc, argv, first)) {
    std::cout << VersionLine("patctl") << std::endl;
    return kExitOk;
  }
  FlagScan scan = ScanFlags(argc, argv, TypeOfFlag);
  if (scan.help) return Help(first);
  if (std::optional<int> code = ScanError(scan)) return *code;
  if (std::string error = ApplyConnectionDefaults(scan); !error.empty()) {
    return UsageError(error);
  }
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() < 2) return UsageError("missing command");
  if (std::optional<int> code = Builtin(positional)) return *code;
  return RunCommand(positional, scan);
}

}  // namespace pat::patctl
