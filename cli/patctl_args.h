#ifndef PAT_CLI_PATCTL_ARGS_H_
#define PAT_CLI_PATCTL_ARGS_H_

// Pure helpers of patctl's command line: enum name tables (the shared names
// of proto/convert/proto_convert.h), list splitting, the pre-scan that finds
// which flags were given, update-mask building and terminal-safe output.
// Header-only (inline) so that tests/unit can use them without a link
// dependency on the cli/ directory (only on pat_proto_convert).

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/generated_enum_reflection.h"
#include "pat/v1/pat.pb.h"
#include "proto/convert/proto_convert.h"

namespace pat::patctl {

// One row of an enum's name table. The first row of a value is its canonical
// (printed) name; later rows are accepted aliases.
template <typename Enum>
struct EnumName {
  Enum value;
  absl::string_view name;
};

// The name table of a pat.v1 enum: `first` (patctl's own names, printed
// before the shared ones), then every declared value but *_UNSPECIFIED under
// its shared name (ProtoEnumName of proto/convert/proto_convert.h, i.e. the
// domain names of common/domain.h), in declaration order.
template <typename Enum>
std::vector<EnumName<Enum>> ProtoEnumNameTable(
    std::vector<EnumName<Enum>> first = {}) {
  const google::protobuf::EnumDescriptor* d =
      google::protobuf::GetEnumDescriptor<Enum>();
  for (int i = 0; i < d->value_count(); ++i) {
    const Enum value = static_cast<Enum>(d->value(i)->number());
    if (std::optional<absl::string_view> name = ::pat::ProtoEnumName(value)) {
      first.push_back({value, *name});
    }
  }
  return first;
}

template <typename Enum>
using EnumNameTable = std::vector<EnumName<Enum>>;

// Kinds print as "rest" and "npm"; "rest_api" and "npm_registry" are
// accepted too.
inline const EnumNameTable<v1::TokenKind>& TokenKindNames() {
  static const auto* const names =
      new EnumNameTable<v1::TokenKind>(ProtoEnumNameTable<v1::TokenKind>(
          {{v1::TOKEN_KIND_REST_API, "rest"},
           {v1::TOKEN_KIND_NPM_REGISTRY, "npm"}}));
  return *names;
}
inline const EnumNameTable<v1::PlanTier>& PlanTierNames() {
  static const auto* const names =
      new EnumNameTable<v1::PlanTier>(ProtoEnumNameTable<v1::PlanTier>());
  return *names;
}
inline const EnumNameTable<v1::TokenStatus>& TokenStatusNames() {
  static const auto* const names =
      new EnumNameTable<v1::TokenStatus>(ProtoEnumNameTable<v1::TokenStatus>());
  return *names;
}
inline const EnumNameTable<v1::ResourceKind>& ResourceKindNames() {
  static const auto* const names = new EnumNameTable<v1::ResourceKind>(
      ProtoEnumNameTable<v1::ResourceKind>());
  return *names;
}

// Case-insensitive lookup of `name` in `table`; nullopt when absent.
template <typename Enum>
std::optional<Enum> EnumFromName(const EnumNameTable<Enum>& table,
                                 absl::string_view name) {
  for (const EnumName<Enum>& row : table) {
    if (absl::EqualsIgnoreCase(row.name, name)) return row.value;
  }
  return std::nullopt;
}

// Canonical name of `value`, or "unspecified(<number>)" for values the table
// does not know (e.g. added to the proto after this binary was built).
template <typename Enum>
std::string EnumToName(const EnumNameTable<Enum>& table, Enum value) {
  for (const EnumName<Enum>& row : table) {
    if (row.value == value) return std::string(row.name);
  }
  return absl::StrCat("unspecified(", static_cast<int>(value), ")");
}

// The canonical names of `table`, joined by '|', for usage messages.
template <typename Enum>
std::string EnumChoices(const EnumNameTable<Enum>& table) {
  std::string out;
  absl::flat_hash_set<Enum> seen;
  for (const EnumName<Enum>& row : table) {
    if (!seen.insert(row.value).second) continue;
    if (!out.empty()) out += "|";
    absl::StrAppend(&out, row.name);
  }
  return out;
}

inline std::optional<v1::TokenKind> TokenKindFromName(absl::string_view n) {
  return EnumFromName(TokenKindNames(), n);
}
inline std::optional<v1::PlanTier> PlanTierFromName(absl::string_view n) {
  return EnumFromName(PlanTierNames(), n);
}
inline std::optional<v1::TokenStatus> TokenStatusFromName(absl::string_view n) {
  return EnumFromName(TokenStatusNames(), n);
}
inline std::optional<v1::ResourceKind> ResourceKindFromName(
    absl::string_view n) {
  return EnumFromName(ResourceKindNames(), n);
}

// "a, b,,c " -> {"a", "b", "c"}: split on commas, trim, drop empty items.
inline std::vector<std::string> SplitList(absl::string_view list) {
  std::vector<std::string> out;
  for (absl::string_view item : absl::StrSplit(list, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (!item.empty()) out.emplace_back(item);
  }
  return out;
}

// How patctl's pre-scan treats a flag name.
enum class FlagType {
  kUnknown,  // not a patctl flag (including absl's --flagfile, --fromenv)
  kBool,     // --x, --nox, --x=true|false
  kValue,    // --x=v or --x v
  kHelp,     // --help and friends
};

struct FlagScan {
  // Flags present on the command line, by name (without dashes or "no").
  absl::flat_hash_set<std::string> given;
  // Each occurrence's value, in order, for validation before the real parse.
  std::vector<std::pair<std::string, std::string>> values;
  bool help = false;
  // Empty when the scan succeeded; otherwise a usage error.
  std::string error;
  // The name when the error is an unknown flag (for "did you mean").
  std::string unknown_flag;
};

// Walks argv the way absl::ParseCommandLine does (so that both agree on which
// argument is a flag and which a value) and records which flags were given.
// absl offers no public "was this flag specified" query, and a sentinel
// default cannot tell "--description=" (clear it) from an absent flag.
inline FlagScan ScanFlags(int argc, const char* const* argv,
                          absl::FunctionRef<FlagType(absl::string_view)> type) {
  FlagScan scan;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;  // everything after is positional
    if (arg.size() < 2 || arg[0] != '-') continue;  // positional (or "-")
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    absl::string_view name = arg;
    std::optional<std::string> value;
    if (size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = arg.substr(0, eq);
      value = std::string(arg.substr(eq + 1));
    }
    FlagType t = type(name);
    if (t == FlagType::kUnknown && !value.has_value() &&
        absl::StartsWith(name, "no") &&
        type(name.substr(2)) == FlagType::kBool) {
      name.remove_prefix(2);
      t = FlagType::kBool;
      value = "false";
    }
    switch (t) {
      case FlagType::kUnknown:
        scan.error = absl::StrCat("unknown flag --", name);
        scan.unknown_flag = std::string(name);
        return scan;
      case FlagType::kHelp:
        scan.help = true;
        continue;
      case FlagType::kBool:
        if (!value.has_value()) value = "true";
        break;
      case FlagType::kValue:
        if (!value.has_value()) {
          if (i + 1 >= argc) {
            scan.error = absl::StrCat("flag --", name, " needs a value");
            return scan;
          }
          value = argv[++i];
        }
        break;
    }
    scan.given.insert(std::string(name));
    scan.values.emplace_back(std::string(name), *std::move(value));
  }
  return scan;
}

// UpdateToken's field-mask paths, from the flags that were given.
inline std::vector<std::string> UpdateMaskPaths(
    const absl::flat_hash_set<std::string>& given) {
  std::vector<std::string> paths;
  if (given.contains("name")) paths.push_back("name");
  if (given.contains("description")) paths.push_back("description");
  if (given.contains("scopes")) paths.push_back("scopes");
  if (given.contains("all_resources") || given.contains("links")) {
    paths.push_back("resources");
  }
  return paths;
}

// Makes server-provided text safe to print on a terminal: ASCII control
// characters (including ESC, CR, LF and TAB, which would break the
// one-record-per-line output) become \xNN. Other bytes (UTF-8) pass.
inline std::string TerminalSafe(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      absl::StrAppendFormat(&out, "\\x%02x", u);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// gRPC metadata values must be printable ASCII; the actor travels as one.
inline bool IsValidActor(absl::string_view actor) {
  for (char c : actor) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace pat::patctl

#endif  // PAT_CLI_PATCTL_ARGS_H_
