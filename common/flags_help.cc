#include "common/flags_help.h"

#include <algorithm>
#include <iostream>
#include <sstream>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/version.h"

namespace pat {
namespace {

enum class Ask { kNone, kHelp, kVersion };

Ask Scan(int argc, char** argv) {
  Ask ask = Ask::kNone;
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg == "--help" || arg == "-h" || arg == "-help") return Ask::kHelp;
    if (arg == "--version" || arg == "-version") ask = Ask::kVersion;
  }
  return ask;
}

// The flag's type as a user would write it.
std::string TypeName(const absl::CommandLineFlag& flag) {
  if (flag.IsOfType<bool>()) return "bool";
  if (flag.IsOfType<std::string>()) return "string";
  if (flag.IsOfType<int32_t>() || flag.IsOfType<int64_t>()) return "int";
  if (flag.IsOfType<double>()) return "number";
  return "value";
}

}  // namespace

void PrintFlags(std::ostream& out) {
  std::vector<const absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (absl::StrContains(flag->Filename(), "absl/")) continue;
    flags.push_back(flag);
  }
  std::sort(flags.begin(), flags.end(), [](const auto* a, const auto* b) {
    return a->Name() < b->Name();
  });
  for (const absl::CommandLineFlag* flag : flags) {
    const std::string name(flag->Name());
    std::string def = flag->DefaultValue();
    if (flag->IsOfType<std::string>()) def = absl::StrCat("\"", def, "\"");
    out << "  --" << name << "=<" << TypeName(*flag) << ">  (default: " << def
        << "; env PAT_" << absl::AsciiStrToUpper(name) << ")\n      "
        << flag->Help() << "\n";
  }
}

std::string HelpText(const ProgramHelp& help) {
  std::ostringstream out;
  out << "Usage: " << help.synopsis << "\n";
  if (!help.description.empty()) out << "\n" << help.description << "\n";
  out << "\nFlags (each falls back to the environment variable PAT_<FLAG>; "
         "the command line wins):\n";
  PrintFlags(out);
  out << "  --help\n      Print this help and exit 0.\n"
      << "  --version\n      Print the version and commit and exit 0.\n";
  if (!help.epilogue.empty()) out << "\n" << help.epilogue << "\n";
  return out.str();
}

std::optional<int> HandleHelpOrVersion(int argc, char** argv,
                                       const ProgramHelp& help) {
  switch (Scan(argc, argv)) {
    case Ask::kNone:
      return std::nullopt;
    case Ask::kHelp:
      std::cout << HelpText(help) << std::flush;
      return 0;
    case Ask::kVersion:
      std::cout << VersionLine(help.program) << std::endl;
      return 0;
  }
  return std::nullopt;
}

}  // namespace pat
