#ifndef PAT_CLI_PATCTL_UX_H_
#define PAT_CLI_PATCTL_UX_H_

// Pure helpers of patctl's user interface: exit codes, "did you mean",
// tables, the config file, connection-failure hints, deprecated scopes and
// shell completion. Header-only (inline) so that tests can use them without
// linking anything from cli/.

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace pat::patctl {

// Exit codes (documented in `patctl help` and the README).
inline constexpr int kExitOk = 0;
// A "no" answer: `check` denied, `validate` not found.
inline constexpr int kExitNo = 1;
inline constexpr int kExitUsage = 2;
// The authority answered with an error (INVALID_ARGUMENT, NOT_FOUND,
// PERMISSION_DENIED, ...).
inline constexpr int kExitRpcError = 3;
// The authority could not be reached (connection refused, TLS handshake,
// deadline).
inline constexpr int kExitUnreachable = 4;
// A local failure: a file that cannot be read, stdout that cannot be
// written.
inline constexpr int kExitLocal = 5;

// Levenshtein distance, bounded inputs (names are short).
inline size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The candidate closest to `input` when it is close enough to be a typo
// (distance <= 2, or <= 1 for inputs of up to 3 characters, or a candidate
// that starts with the input), else nullopt.
inline std::optional<std::string> DidYouMean(
    absl::string_view input, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t best_distance = 0;
  for (const std::string& c : candidates) {
    size_t d = EditDistance(absl::AsciiStrToLower(input), c);
    if (input.size() >= 3 && absl::StartsWith(c, input))
      d = std::min<size_t>(d, 1);
    if (!best.has_value() || d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  const size_t limit = input.size() <= 3 ? 1 : 2;
  if (!best.has_value() || best_distance > limit) return std::nullopt;
  return best;
}

// A table: `header` then `rows`. On a terminal (`aligned`), columns padded
// to their widest cell and separated by two spaces, header in upper case;
// otherwise (piped) tab-separated rows without a header, for cut/awk.
// Cells must already be terminal-safe (no tabs or newlines).
inline std::string RenderTable(
    const std::vector<std::string>& header,
    const std::vector<std::vector<std::string>>& rows, bool aligned) {
  std::string out;
  if (!aligned) {
    for (const auto& row : rows)
      absl::StrAppend(&out, absl::StrJoin(row, "\t"), "\n");
    return out;
  }
  std::vector<size_t> width(header.size(), 0);
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  auto line = [&](const std::vector<std::string>& cells, bool upper) {
    std::string l;
    for (size_t i = 0; i < cells.size(); ++i) {
      std::string cell = upper ? absl::AsciiStrToUpper(cells[i]) : cells[i];
      if (i + 1 < cells.size())
        cell.resize(std::max(cell.size(), width[i]), ' ');
      absl::StrAppend(&l, i == 0 ? "" : "  ", cell);
    }
    absl::StrAppend(&out, l, "\n");
  };
  line(header, true);
  for (const auto& row : rows) line(row, false);
  return out;
}

// The config file: one "key = value" per line ('=' or ':' or whitespace
// between), '#' comments, blank lines ignored. Keys are the connection
// flags (authority, actor, insecure, tls_ca, tls_cert, tls_key,
// tls_server_name, timeout, output). Returns the settings, or an error
// naming the line.
struct ConfigFile {
  absl::flat_hash_map<std::string, std::string> values;
  std::string error;  // "" when the file parsed
};
inline constexpr absl::string_view kConfigKeys[] = {
    "authority", "actor",           "insecure", "tls_ca", "tls_cert",
    "tls_key",   "tls_server_name", "timeout",  "output",
};
inline ConfigFile ParseConfigFile(absl::string_view text) {
  ConfigFile out;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) {
      line = line.substr(0, hash);
    }
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    const size_t sep = line.find_first_of("=: \t");
    if (sep == absl::string_view::npos) {
      out.error = absl::StrCat("line ", number, ": expected \"key = value\"");
      return out;
    }
    std::string key(absl::StripAsciiWhitespace(line.substr(0, sep)));
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(sep + 1));
    if (!value.empty() && (value[0] == '=' || value[0] == ':')) {
      value = absl::StripAsciiWhitespace(value.substr(1));
    }
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (std::find(std::begin(kConfigKeys), std::end(kConfigKeys), key) ==
        std::end(kConfigKeys)) {
      out.error =
          absl::StrCat("line ", number, ": unknown setting \"", key,
                       "\" (settings: ", absl::StrJoin(kConfigKeys, ", "), ")");
      return out;
    }
    out.values[key] = std::string(value);
  }
  return out;
}

// A one-line hint for a failure to reach the authority, from the gRPC
// status message (gRPC core's wording), or "" when none applies.
inline std::string ConnectionHint(absl::string_view message, bool insecure,
                                  absl::string_view authority) {
  const std::string m = absl::AsciiStrToLower(message);
  // A TLS client meeting a plaintext server (or the reverse) often sees only
  // the peer closing the connection.
  const bool closed = absl::StrContains(m, "socket closed") ||
                      absl::StrContains(m, "connection reset") ||
                      absl::StrContains(m, "end of file");
  const bool tls =
      absl::StrContains(m, "handshake") || absl::StrContains(m, "ssl") ||
      absl::StrContains(m, "certificate") || absl::StrContains(m, "tls");
  if (!insecure && (tls || closed)) {
    return absl::StrCat(
        "hint: the TLS handshake with ", authority,
        " failed. A development authority serves plaintext: add --insecure "
        "(or PAT_INSECURE=true); otherwise check --tls_ca, --tls_cert, "
        "--tls_key and --tls_server_name.");
  }
  if (insecure && (closed || tls)) {
    return absl::StrCat("hint: ", authority,
                        " closed the plaintext connection: if it serves TLS, "
                        "drop --insecure and give --tls_ca (and "
                        "--tls_cert/--tls_key for mTLS).");
  }
  if (absl::StrContains(m, "connection refused") ||
      absl::StrContains(m, "failed to connect")) {
    return absl::StrCat("hint: nothing answers at ", authority,
                        ": is the authority running? Set --authority or "
                        "PAT_AUTHORITY.");
  }
  return "";
}

// Scopes that still work but are deprecated, and what to use instead.
struct DeprecatedScope {
  absl::string_view scope;
  absl::string_view instead;
};
inline constexpr DeprecatedScope kDeprecatedScopes[] = {
    {"files:read",
     "file_content:read, file_metadata:read, file_versions:read, "
     "file_comments:read, file_dev_resources:read"},
};
inline std::vector<std::string> DeprecatedScopeWarnings(
    const std::vector<std::string>& scopes) {
  std::vector<std::string> out;
  for (const std::string& s : scopes) {
    for (const DeprecatedScope& d : kDeprecatedScopes) {
      if (s == d.scope) {
        out.push_back(absl::StrCat("warning: scope ", d.scope,
                                   " is deprecated (a legacy umbrella scope); "
                                   "prefer the specific scopes: ",
                                   d.instead));
      }
    }
  }
  return out;
}

// Shell completion scripts for `patctl completion bash|zsh`. `commands` and
// `flags` (without dashes) are listed in them.
inline std::string BashCompletion(const std::vector<std::string>& commands,
                                  const std::vector<std::string>& flags) {
  std::string flag_words;
  for (const std::string& f : flags)
    absl::StrAppend(&flag_words, " --", f, "=");
  return absl::StrCat(
      "# bash completion for patctl; load with:\n"
      "#   source <(patctl completion bash)\n"
      "_patctl() {\n"
      "  local cur=\"${COMP_WORDS[COMP_CWORD]}\"\n"
      "  if [[ \"$cur\" == -* ]]; then\n"
      "    compopt -o nospace 2>/dev/null\n"
      "    COMPREPLY=( $(compgen -W \"",
      absl::StripLeadingAsciiWhitespace(flag_words),
      " --help\" -- \"$cur\") )\n"
      "  elif [[ $COMP_CWORD -eq 1 ]]; then\n"
      "    COMPREPLY=( $(compgen -W \"",
      absl::StrJoin(commands, " "),
      "\" -- \"$cur\") )\n"
      "  fi\n"
      "}\n"
      "complete -F _patctl patctl\n");
}

inline std::string ZshCompletion(const std::vector<std::string>& commands,
                                 const std::vector<std::string>& flags) {
  std::string flag_words;
  for (const std::string& f : flags) {
    absl::StrAppend(&flag_words, " '--", f, "=[", f, "]'");
  }
  return absl::StrCat(
      "#compdef patctl\n"
      "# zsh completion for patctl; load with:\n"
      "#   source <(patctl completion zsh)   (after compinit)\n"
      "_patctl() {\n"
      "  _arguments -s '1:command:(",
      absl::StrJoin(commands, " "), ")' '--help[show help]'", flag_words,
      "\n"
      "}\n"
      "compdef _patctl patctl\n");
}

}  // namespace pat::patctl

#endif  // PAT_CLI_PATCTL_UX_H_
