#include "cli/help.h"

#include <algorithm>
#include <iostream>
#include <optional>
#include <ostream>
#include <string>

#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "cli/command.h"
#include "cli/output.h"
#include "cli/patctl_args.h"
#include "cli/patctl_ux.h"

namespace pat::patctl {
namespace {

void PrintFlagLine(std::ostream& out, absl::string_view name, bool required) {
  absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  std::string left = absl::StrCat("  --", name);
  if (flag != nullptr && !flag->IsOfType<bool>()) absl::StrAppend(&left, "=V");
  left.resize(std::max<size_t>(left.size() + 2, 22), ' ');
  out << left << (flag != nullptr ? flag->Help() : "")
      << (required ? " (required)" : "") << "\n";
}

}  // namespace

void PrintUsage(std::ostream& out) {
  out << "patctl: manage plan access tokens on pat-authority.\n\n"
         "usage: patctl [global flags] <command> [flags]\n"
         "       patctl <command> --help      help and examples of a "
         "command\n\ncommands:\n";
  for (const Command& c : Commands()) {
    std::string name(c.name);
    name.resize(17, ' ');
    out << "  " << name << c.summary << "\n";
  }
  out << "  help [command]   this help, or a command's\n"
         "  completion bash|zsh  print a shell completion script\n"
         "  version          print the version and commit\n"
         "\nglobal flags (each also from PAT_<FLAG> and the config file):\n"
         "  --authority=HOST:PORT  authority address (default 127.0.0.1:7443)\n"
         "  --actor=USER_ID        acting admin, sent as x-pat-actor\n"
         "  --insecure             plaintext channel (local development)\n"
         "  --tls_ca=FILE --tls_cert=FILE --tls_key=FILE"
         " [--tls_server_name=NAME]\n"
         "                         TLS; client certificate and key for mTLS\n"
         "  --output=text|json|table|tsv  text: a table on a terminal, "
         "tab-separated when piped\n"
         "  --timeout=DURATION     deadline of each RPC (default 10s)\n"
         "  --config=FILE          \"key = value\" lines: authority, actor, "
         "insecure, tls_ca,\n"
         "                         tls_cert, tls_key, tls_server_name, "
         "timeout, output\n"
         "                         (default PAT_CONFIG, else "
         "~/.config/patctl/config)\n"
         "\nexit status: 0 ok; 1 no (check: denied, validate: not found); "
         "2 usage error;\n"
         "             3 error from the authority; 4 authority unreachable "
         "(TLS, refused,\n"
         "             deadline); 5 local error (file, stdout)\n";
}

void PrintCommandHelp(std::ostream& out, const Command& c) {
  out << "patctl " << c.name << ": " << c.summary << "\n\nusage: patctl "
      << c.name;
  if (!c.synopsis.empty()) out << " " << c.synopsis;
  out << "\n\nflags:\n";
  for (absl::string_view name : c.required) PrintFlagLine(out, name, true);
  for (absl::string_view name : c.optional) PrintFlagLine(out, name, false);
  if (!c.examples.empty()) {
    out << "\nexamples:\n";
    for (absl::string_view line : absl::StrSplit(c.examples, '\n')) {
      out << "  " << line << "\n";
    }
  }
  out << "\nglobal flags and exit status: patctl help\n";
}

int UnknownCommand(absl::string_view name) {
  std::string message =
      absl::StrCat("unknown command \"", TerminalSafe(name), "\"");
  if (std::optional<std::string> near = DidYouMean(name, CommandNames())) {
    absl::StrAppend(&message, "; did you mean \"", *near, "\"?");
  }
  return UsageError(message);
}

int PrintCompletion(const std::string& shell) {
  if (shell == "bash") {
    std::cout << BashCompletion(CommandNames(), AllFlagNames());
  } else if (shell == "zsh") {
    std::cout << ZshCompletion(CommandNames(), AllFlagNames());
  } else {
    return UsageError("usage: patctl completion bash|zsh");
  }
  return kExitOk;
}

}  // namespace pat::patctl
