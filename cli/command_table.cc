#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "cli/command.h"
#include "cli/patctl_args.h"

namespace pat::patctl {
namespace {

constexpr absl::string_view kGlobalFlags[] = {
    "authority", "actor",           "insecure", "tls_ca",  "tls_cert",
    "tls_key",   "tls_server_name", "output",   "timeout", "config",
};

// Required flags that may be given an empty value ("--admins=" on purpose).
constexpr absl::string_view kMayBeEmpty[] = {"admins"};

template <typename Container>
bool Contains(const Container& c, absl::string_view name) {
  for (absl::string_view item : c) {
    if (item == name) return true;
  }
  return false;
}

bool IsPatctlFlag(absl::string_view name) {
  if (Contains(kGlobalFlags, name)) return true;
  for (const Command& c : Commands()) {
    if (Contains(c.required, name) || Contains(c.optional, name)) return true;
  }
  return false;
}

}  // namespace

const std::vector<Command>& Commands() {
  static const auto* const kCommands = [] {
    auto* all = new std::vector<Command>();
    for (std::vector<Command> group :
         {DirectoryCommands(), TokenCommands(), ValidateCommands(),
          WebhookCommands(), UsageCommands(), LeakCommands()}) {
      all->insert(all->end(), group.begin(), group.end());
    }
    return all;
  }();
  return *kCommands;
}

const Command* FindCommand(absl::string_view name) {
  for (const Command& c : Commands()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

FlagType TypeOfFlag(absl::string_view name) {
  if (name == "help" || name == "helpfull" || name == "helpshort" ||
      name == "h") {
    return FlagType::kHelp;
  }
  if (!IsPatctlFlag(name)) return FlagType::kUnknown;
  absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  if (flag == nullptr) return FlagType::kUnknown;
  return flag->IsOfType<bool>() ? FlagType::kBool : FlagType::kValue;
}

std::string CheckCommandFlags(const Command& cmd,
                              const absl::flat_hash_set<std::string>& given) {
  for (const std::string& name : given) {
    if (!Contains(kGlobalFlags, name) && !Contains(cmd.required, name) &&
        !Contains(cmd.optional, name)) {
      return absl::StrCat(cmd.name, " does not take --", name);
    }
  }
  for (absl::string_view name : cmd.required) {
    if (!given.contains(name)) {
      return absl::StrCat(cmd.name, " needs --", name);
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag->IsOfType<std::string>() && !Contains(kMayBeEmpty, name) &&
        flag->CurrentValue().empty()) {
      return absl::StrCat("--", name, " must not be empty");
    }
  }
  return "";
}

std::vector<std::string> CommandNames() {
  std::vector<std::string> names;
  for (const Command& c : Commands()) names.emplace_back(c.name);
  for (const char* extra : {"help", "completion", "version"}) {
    names.emplace_back(extra);
  }
  return names;
}

std::vector<std::string> AllFlagNames() {
  std::vector<std::string> names;
  absl::flat_hash_set<std::string> seen;
  auto add = [&](absl::string_view n) {
    if (seen.insert(std::string(n)).second) names.emplace_back(n);
  };
  for (absl::string_view n : kGlobalFlags) add(n);
  for (const Command& c : Commands()) {
    for (absl::string_view n : c.required) add(n);
    for (absl::string_view n : c.optional) add(n);
  }
  return names;
}

}  // namespace pat::patctl
