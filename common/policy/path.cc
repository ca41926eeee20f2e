#include "common/policy/path.h"

#include <cstddef>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "common/policy/reason.h"
#include "common/secret.h"

namespace pat::policy {
namespace {

// Query parameter names that carry credentials (compared ignoring case).
constexpr absl::string_view kCredentialParamNames[] = {"token", "access_token",
                                                       "api_key"};
constexpr absl::string_view kSecretPrefixes[] = {kRestSecretPrefix,
                                                 kNpmSecretPrefix};

constexpr bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') ||
         (c >= 'a' && c <= 'f');
}
constexpr bool IsUpperHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}
constexpr int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return c - 'a' + 10;
}
constexpr bool IsAlnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
         (c >= 'a' && c <= 'z');
}
// RFC 3986 unreserved.
constexpr bool IsUnreserved(unsigned char c) {
  return IsAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
// Bytes allowed literally in a path segment: pchar minus ';' minus '%'.
constexpr bool IsRawSegmentByte(unsigned char c) {
  if (IsUnreserved(c)) return true;
  switch (c) {
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case '=':
    case ':':
    case '@':
      return true;
    default:
      return false;
  }
}
constexpr bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7F; }

// Why byte `c` may not appear literally in a path.
absl::string_view DescribePathByte(unsigned char c) {
  if (c >= 0x80) return "non-ASCII byte in path";
  if (IsControl(c)) return "control character in path";
  if (c == ' ') return "space in path";
  if (c == '\\') return "backslash in path";
  if (c == ';') return "path parameter (';') in path";
  return "character not allowed in path";
}

// PathMode::kNpm: the escape of '/' at path[i] directly follows "@scope" at
// the start of the segment starting at `segment_start` (see path.h).
bool IsScopedNameSlash(absl::string_view path, size_t segment_start, size_t i) {
  if (path[segment_start] != '@' || i < segment_start + 2) return false;
  const absl::string_view scope = path.substr(segment_start, i - segment_start);
  if (scope.find('%') != absl::string_view::npos) return false;
  size_t end = path.find('/', i + 3);
  if (end == absl::string_view::npos) end = path.size();
  const absl::string_view rest = path.substr(i + 3, end - (i + 3));
  return !rest.empty() && rest != "." && rest != "..";
}

// Checks the percent-escape starting at path[i] (path[i] == '%') of the
// segment starting at `segment_start`. Returns an empty view when it is
// acceptable.
absl::string_view CheckPathEscape(absl::string_view path, size_t segment_start,
                                  size_t i, PathMode mode) {
  if (i + 2 >= path.size() || !IsHexDigit(path[i + 1]) ||
      !IsHexDigit(path[i + 2])) {
    return "malformed percent-escape in path";
  }
  const unsigned char decoded = static_cast<unsigned char>(
      HexValue(path[i + 1]) * 16 + HexValue(path[i + 2]));
  switch (decoded) {
    case '/':
      if (mode == PathMode::kNpm && IsScopedNameSlash(path, segment_start, i)) {
        return {};
      }
      return "percent-encoded '/' in path";
    case '\\':
      return "percent-encoded backslash in path";
    case '.':
      return "percent-encoded '.' in path";
    case 0:
      return "percent-encoded NUL in path";
    case '%':
      return "percent-encoded '%' (double encoding) in path";
    case ';':
      return "percent-encoded ';' in path";
    default:
      break;
  }
  if (IsControl(decoded)) return "percent-encoded control character in path";
  if (decoded >= 0x80) return "percent-encoded non-ASCII byte in path";
  if (IsUnreserved(decoded)) {
    return "percent-encoded unreserved character in path (non-canonical)";
  }
  if (!IsUpperHexDigit(path[i + 1]) || !IsUpperHexDigit(path[i + 2])) {
    return "lower-case percent-escape in path (non-canonical)";
  }
  return {};
}

// `path` starts with '/'. Returns an empty view when canonical.
absl::string_view CheckPath(absl::string_view path, PathMode mode) {
  if (path.size() == 1) return {};  // "/"
  size_t segment_start = 1;
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      const absl::string_view segment =
          path.substr(segment_start, i - segment_start);
      if (segment.empty()) {
        return i == path.size() ? "trailing slash in path"
                                : "empty path segment ('//')";
      }
      if (segment == "." || segment == "..") return "dot segment in path";
      segment_start = i + 1;
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(path[i]);
    if (c == '%') {
      const absl::string_view problem =
          CheckPathEscape(path, segment_start, i, mode);
      if (!problem.empty()) return problem;
      i += 2;
      continue;
    }
    if (!IsRawSegmentByte(c)) return DescribePathByte(c);
  }
  return {};
}

absl::string_view CheckQueryBytes(absl::string_view query) {
  for (size_t i = 0; i < query.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(query[i]);
    if (c >= 0x80) return "non-ASCII byte in query";
    if (IsControl(c)) return "control character in query";
    if (c == ' ') return "space in query";
    if (c == '%') {
      if (i + 2 >= query.size() || !IsHexDigit(query[i + 1]) ||
          !IsHexDigit(query[i + 2])) {
        return "malformed percent-escape in query";
      }
      if (query[i + 1] == '0' && query[i + 2] == '0') {
        return "percent-encoded NUL in query";
      }
      i += 2;
    }
  }
  return {};
}

// Streams the form-decoded bytes of `raw` ('+' -> space, %XX -> byte; a
// malformed escape stays literal).
class FormDecoder {
 public:
  explicit FormDecoder(absl::string_view raw) : raw_(raw) {}
  // The next decoded byte, or -1 at the end.
  int Next() {
    if (pos_ >= raw_.size()) return -1;
    const char c = raw_[pos_];
    if (c == '+') {
      ++pos_;
      return ' ';
    }
    if (c == '%' && pos_ + 2 < raw_.size() && IsHexDigit(raw_[pos_ + 1]) &&
        IsHexDigit(raw_[pos_ + 2])) {
      const int v = HexValue(raw_[pos_ + 1]) * 16 + HexValue(raw_[pos_ + 2]);
      pos_ += 3;
      return v;
    }
    ++pos_;
    return static_cast<unsigned char>(c);
  }

 private:
  absl::string_view raw_;
  size_t pos_ = 0;
};

// True when decode(raw) == expected, comparing ASCII letters ignoring case.
bool DecodedEqualsIgnoreCase(absl::string_view raw,
                             absl::string_view expected) {
  FormDecoder d(raw);
  for (char e : expected) {
    const int c = d.Next();
    if (c < 0 || absl::ascii_tolower(static_cast<unsigned char>(c)) !=
                     absl::ascii_tolower(static_cast<unsigned char>(e))) {
      return false;
    }
  }
  return d.Next() < 0;
}

// True when decode(raw) starts with `prefix`, ignoring ASCII case.
bool DecodedStartsWithIgnoreCase(absl::string_view raw,
                                 absl::string_view prefix) {
  FormDecoder d(raw);
  for (char e : prefix) {
    const int c = d.Next();
    if (c < 0 || absl::ascii_tolower(static_cast<unsigned char>(c)) !=
                     absl::ascii_tolower(static_cast<unsigned char>(e))) {
      return false;
    }
  }
  return true;
}

bool IsCredentialParam(absl::string_view param) {
  const size_t eq = param.find('=');
  const absl::string_view name = param.substr(0, eq);
  for (absl::string_view n : kCredentialParamNames) {
    if (DecodedEqualsIgnoreCase(name, n)) return true;
  }
  if (eq == absl::string_view::npos) return false;
  const absl::string_view value = param.substr(eq + 1);
  for (absl::string_view p : kSecretPrefixes) {
    if (DecodedStartsWithIgnoreCase(value, p)) return true;
  }
  return false;
}

bool QueryCarriesCredential(absl::string_view query) {
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find_first_of("&;", start);
    if (end == absl::string_view::npos) end = query.size();
    if (IsCredentialParam(query.substr(start, end - start))) return true;
    start = end + 1;
  }
  return false;
}

// The decision form of an accepted path: every escape decoded (all are
// well-formed, CheckPath made sure).
std::string DecodePath(absl::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%') {
      out.push_back(static_cast<char>(HexValue(path[i + 1]) * 16 +
                                      HexValue(path[i + 2])));
      i += 2;
    } else {
      out.push_back(path[i]);
    }
  }
  return out;
}

TargetCheck Refuse(Reason reason, absl::string_view detail) {
  TargetCheck check;
  check.reason = reason;
  check.detail = detail;
  return check;
}

}  // namespace

PathMode PathModeFor(TokenKind api) {
  return api == TokenKind::kNpmRegistry ? PathMode::kNpm : PathMode::kStrict;
}

TargetCheck CheckTarget(absl::string_view raw, PathMode mode) {
  if (raw.empty()) return Refuse(Reason::kPathInvalid, "empty request-target");
  if (raw.size() > kMaxTargetLength) {
    return Refuse(Reason::kPathInvalid, "request-target too long");
  }
  if (raw[0] != '/') {
    if (raw == "*") {
      return Refuse(Reason::kPathInvalid, "asterisk-form request-target");
    }
    if (absl::StrContains(raw, "://")) {
      return Refuse(Reason::kPathInvalid, "absolute-form request-target");
    }
    return Refuse(Reason::kPathInvalid, "request-target must start with '/'");
  }
  if (raw.find('#') != absl::string_view::npos) {
    return Refuse(Reason::kPathInvalid, "fragment ('#') in request-target");
  }
  Target target;
  const size_t q = raw.find('?');
  target.path = raw.substr(0, q);
  if (q != absl::string_view::npos) {
    target.has_query = true;
    target.query = raw.substr(q + 1);
  }
  absl::string_view problem = CheckPath(target.path, mode);
  if (!problem.empty()) return Refuse(Reason::kPathInvalid, problem);
  if (target.has_query) {
    problem = CheckQueryBytes(target.query);
    if (!problem.empty()) return Refuse(Reason::kPathInvalid, problem);
    if (QueryCarriesCredential(target.query)) {
      return Refuse(Reason::kTokenInQuery,
                    "credential parameter in the query string");
    }
  }
  TargetCheck check;
  check.reason = Reason::kAllowed;
  check.target = target;
  if (target.path.find('%') != absl::string_view::npos) {
    check.target.decoded_path = DecodePath(target.path);
  }
  return check;
}

QueryParamLookup FindQueryParam(absl::string_view query, absl::string_view name,
                                std::string* value) {
  QueryParamLookup result = QueryParamLookup::kMissing;
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == absl::string_view::npos) end = query.size();
    const absl::string_view param = query.substr(start, end - start);
    start = end + 1;
    const size_t eq = param.find('=');
    FormDecoder key(param.substr(0, eq));
    bool match = true;
    for (char e : name) {
      if (key.Next() != static_cast<unsigned char>(e)) {
        match = false;
        break;
      }
    }
    if (!match || key.Next() >= 0) continue;
    if (result == QueryParamLookup::kFound) return QueryParamLookup::kDuplicate;
    result = QueryParamLookup::kFound;
    value->clear();
    if (eq != absl::string_view::npos) {
      FormDecoder v(param.substr(eq + 1));
      for (int c = v.Next(); c >= 0; c = v.Next()) {
        value->push_back(static_cast<char>(c));
      }
    }
  }
  return result;
}

}  // namespace pat::policy
