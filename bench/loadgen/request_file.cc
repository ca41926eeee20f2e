#include "bench/loadgen/request_file.h"

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace pat::bench::loadgen {
namespace {

// RFC 9110 tchar.
bool IsTokenChar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool IsToken(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

// Visible ASCII (no space, no control, no DEL); bytes >= 0x80 are allowed
// so percent-decoding is not forced on the file's author.
bool IsTargetChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f;
}

// Field values: anything but control characters (HTAB is a separator in the
// file, so it never reaches here).
bool IsValidFieldValue(absl::string_view v) {
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

bool MethodHasBody(absl::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

bool HasHeader(const RequestTemplate& r, absl::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (absl::EqualsIgnoreCase(n, name)) return true;
  }
  return false;
}

void Serialize(RequestTemplate& r, absl::string_view host_header) {
  std::string& out = r.raw;
  absl::StrAppend(&out, r.method, " ", r.path, " HTTP/1.1\r\n");
  if (!HasHeader(r, "host"))
    absl::StrAppend(&out, "Host: ", host_header, "\r\n");
  for (const auto& [n, v] : r.headers)
    absl::StrAppend(&out, n, ": ", v, "\r\n");
  if (!HasHeader(r, "connection")) out += "Connection: keep-alive\r\n";
  if (MethodHasBody(r.method) && !HasHeader(r, "content-length") &&
      !HasHeader(r, "transfer-encoding")) {
    out += "Content-Length: 0\r\n";
  }
  out += "\r\n";
}

absl::Status LineError(absl::string_view filename, int line,
                       absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(filename, ":", line, ": ", what));
}

}  // namespace

absl::StatusOr<std::vector<RequestTemplate>> ParseRequestFile(
    absl::string_view contents, absl::string_view filename,
    absl::string_view host_header) {
  std::vector<RequestTemplate> requests;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++line_number;
    if (absl::EndsWith(line, "\r")) line.remove_suffix(1);
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    if (line.front() == '#') continue;

    std::vector<absl::string_view> fields = absl::StrSplit(line, '\t');
    if (fields.size() < 2) {
      return LineError(filename, line_number,
                       "expected METHOD<TAB>PATH[<TAB>Name: value]...");
    }
    RequestTemplate r;
    r.line = line_number;
    if (!IsToken(fields[0])) {
      return LineError(
          filename, line_number,
          absl::StrCat("invalid method \"", absl::CEscape(fields[0]), "\""));
    }
    r.method = std::string(fields[0]);
    r.head = r.method == "HEAD";

    const absl::string_view path = fields[1];
    bool path_ok = !path.empty() && (path.front() == '/' || path == "*");
    for (char c : path) path_ok = path_ok && IsTargetChar(c);
    if (!path_ok) {
      return LineError(
          filename, line_number,
          absl::StrCat("invalid path \"", absl::CEscape(path),
                       "\" (must start with '/' or be '*'; no spaces or "
                       "control characters)"));
    }
    r.path = std::string(path);

    for (size_t i = 2; i < fields.size(); ++i) {
      const absl::string_view field = fields[i];
      const size_t colon = field.find(':');
      if (colon == absl::string_view::npos) {
        return LineError(
            filename, line_number,
            absl::StrCat("header field ", i - 1, " \"", absl::CEscape(field),
                         "\" is not \"Name: value\""));
      }
      const absl::string_view name = field.substr(0, colon);
      const absl::string_view value =
          absl::StripAsciiWhitespace(field.substr(colon + 1));
      if (!IsToken(name)) {
        return LineError(
            filename, line_number,
            absl::StrCat("invalid header name \"", absl::CEscape(name), "\""));
      }
      if (!IsValidFieldValue(value)) {
        return LineError(
            filename, line_number,
            absl::StrCat("header \"", name,
                         "\" has control characters in its value"));
      }
      r.headers.emplace_back(std::string(name), std::string(value));
    }
    Serialize(r, host_header);
    requests.push_back(std::move(r));
  }
  if (requests.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(filename,
                     ": no requests (every line is blank or a "
                     "comment)"));
  }
  return requests;
}

absl::StatusOr<std::vector<RequestTemplate>> LoadRequestFile(
    const std::string& path, absl::string_view host_header) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  }
  return ParseRequestFile(contents.str(), path, host_header);
}

}  // namespace pat::bench::loadgen
