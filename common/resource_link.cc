#include "common/resource_link.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/domain.h"
#include "common/secret.h"

namespace pat {
namespace {

constexpr size_t kMaxLinkBytes = 2048;
// Error messages quote at most this many bytes of any input.
// KEY, ORG and ID are 1..64 characters.
constexpr size_t kMaxIdLength = 64;
constexpr size_t kMaxNpmScopeNameLength = 214;

constexpr absl::string_view kCanonicalHost = "https://www.figma.com";

absl::Status Invalid(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("resource_links: ", what));
}

bool IsAsciiAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
         (c >= 'a' && c <= 'z');
}
bool IsKeyChar(char c) { return IsAsciiAlnum(c); }
bool IsIdChar(char c) { return IsAsciiAlnum(c) || c == '_' || c == '-'; }
bool IsSlugChar(char c) {
  return IsAsciiAlnum(c) || c == '.' || c == '_' || c == '~' || c == '%' ||
         c == '-';
}
// RFC 3986 unreserved, reserved and '%'. Everything else (space, control
// bytes, non-ASCII, '\\', '"', '<', '>', '^', '`', '{', '|', '}') is refused
// outright, so that no two parsers can disagree about the link.
bool IsUrlChar(char c) {
  if (IsAsciiAlnum(c)) return true;
  constexpr absl::string_view kOthers = "-._~:/?#[]@!$&'()*+,;=%";
  return kOthers.find(c) != absl::string_view::npos;
}
bool IsNpmNameChar(char c, bool first) {
  if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return !first && (c == '.' || c == '_' || c == '-');
}

// Checks one path segment that must be 1..kMaxIdLength characters of
// `allowed`. `what` names it in messages ("file key", "team id", ...).
absl::Status CheckIdSegment(absl::string_view segment, absl::string_view what,
                            bool (*allowed)(char)) {
  if (segment.empty()) return Invalid(absl::StrCat("missing ", what));
  if (segment.size() > kMaxIdLength) {
    return Invalid(absl::StrCat(what, " longer than ", kMaxIdLength,
                                " characters: ", QuoteForError(segment)));
  }
  for (char c : segment) {
    if (!allowed(c)) {
      return Invalid(absl::StrCat("invalid character in ", what, ": ",
                                  QuoteForError(segment)));
    }
  }
  return absl::OkStatus();
}

// The optional title slug that may follow a KEY or ID.
absl::Status CheckSlugSegment(absl::string_view segment) {
  if (segment.empty()) {
    return Invalid("empty path segment (trailing '/' or '//')");
  }
  for (char c : segment) {
    if (!IsSlugChar(c)) {
      return Invalid(absl::StrCat("invalid character in title slug: ",
                                  QuoteForError(segment)));
    }
  }
  return absl::OkStatus();
}

bool IsFileLinkType(absl::string_view s) {
  return s == "design" || s == "file" || s == "board" || s == "proto" ||
         s == "slides";
}

ResourceKind ContainerKindFromSegment(absl::string_view s) {
  if (s == "project") return ResourceKind::kProject;
  if (s == "team") return ResourceKind::kTeam;
  if (s == "workspace") return ResourceKind::kWorkspace;
  return ResourceKind::kUnspecified;
}

absl::StatusOr<ParsedLink> ParseFigmaLink(absl::string_view link) {
  for (size_t i = 0; i < link.size(); ++i) {
    if (!IsUrlChar(link[i])) {
      return Invalid(absl::StrCat("invalid character ",
                                  QuoteForError(link.substr(i, 1)), " at byte ",
                                  i));
    }
  }

  const size_t scheme_end = link.find("://");
  if (scheme_end == absl::string_view::npos) {
    return Invalid(absl::StrCat("not a link (expected https://figma.com/...): ",
                                QuoteForError(link)));
  }
  const absl::string_view scheme = link.substr(0, scheme_end);
  if (absl::EqualsIgnoreCase(scheme, "http")) {
    return Invalid("http links are not accepted; use https://");
  }
  if (!absl::EqualsIgnoreCase(scheme, "https")) {
    return Invalid(absl::StrCat("unsupported scheme ", QuoteForError(scheme),
                                " (expected https)"));
  }
  absl::string_view rest = link.substr(scheme_end + 3);
  if (rest.find('#') != absl::string_view::npos) {
    return Invalid("fragments ('#...') are not accepted");
  }

  const size_t authority_end = rest.find_first_of("/?");
  const absl::string_view authority = rest.substr(0, authority_end);
  rest = authority_end == absl::string_view::npos ? absl::string_view()
                                                  : rest.substr(authority_end);
  if (authority.find('@') != absl::string_view::npos) {
    return Invalid("user info ('user@') is not accepted");
  }
  if (!absl::StartsWith(authority, "[") &&
      authority.find(':') != absl::string_view::npos) {
    return Invalid("ports are not accepted");
  }
  if (!absl::EqualsIgnoreCase(authority, "figma.com") &&
      !absl::EqualsIgnoreCase(authority, "www.figma.com")) {
    return Invalid(absl::StrCat("unsupported host ", QuoteForError(authority),
                                " (expected figma.com or www.figma.com)"));
  }

  // The query, if any, is ignored.
  absl::string_view path = rest.substr(0, rest.find('?'));
  if (path.size() <= 1) {
    return Invalid("link names no file, project, team or workspace");
  }
  path.remove_prefix(1);  // The leading '/'.
  const std::vector<absl::string_view> segments = absl::StrSplit(path, '/');
  const absl::string_view type = segments[0];

  if (IsFileLinkType(type)) {
    if (segments.size() < 2 || segments[1].empty()) {
      return Invalid("missing file key");
    }
    if (absl::Status s = CheckIdSegment(segments[1], "file key", IsKeyChar);
        !s.ok()) {
      return s;
    }
    if (segments.size() >= 3) {
      if (absl::Status s = CheckSlugSegment(segments[2]); !s.ok()) return s;
    }
    if (segments.size() > 3) {
      return Invalid("unexpected path segments after the file key and title");
    }
    return ParsedLink{ResourceKind::kFile, std::string(segments[1]), ""};
  }

  if (type == "files") {
    if (segments.size() < 2 || segments[1].empty()) {
      return Invalid("missing organization id");
    }
    if (absl::Status s =
            CheckIdSegment(segments[1], "organization id", IsIdChar);
        !s.ok()) {
      return s;
    }
    if (segments.size() < 3 || segments[2].empty()) {
      return Invalid(
          "missing resource type after the organization id (expected "
          "project, team or workspace)");
    }
    const ResourceKind kind = ContainerKindFromSegment(segments[2]);
    if (kind == ResourceKind::kUnspecified) {
      return Invalid(absl::StrCat("unsupported resource type ",
                                  QuoteForError(segments[2]),
                                  " (expected project, team or workspace)"));
    }
    const std::string what = absl::StrCat(ResourceKindName(kind), " id");
    if (segments.size() < 4 || segments[3].empty()) {
      return Invalid(absl::StrCat("missing ", what));
    }
    if (absl::Status s = CheckIdSegment(segments[3], what, IsIdChar); !s.ok()) {
      return s;
    }
    if (segments.size() >= 5) {
      if (absl::Status s = CheckSlugSegment(segments[4]); !s.ok()) return s;
    }
    if (segments.size() > 5) {
      return Invalid(absl::StrCat("unexpected path segments after the ", what));
    }
    return ParsedLink{kind, std::string(segments[3]), std::string(segments[1])};
  }

  return Invalid(absl::StrCat(
      "unsupported link path ", QuoteForError(type),
      " (expected /design/, /file/, /board/, /proto/, /slides/ or /files/)"));
}

absl::StatusOr<ParsedLink> ParseNpmScope(absl::string_view link) {
  if (link.find("://") != absl::string_view::npos) {
    return Invalid(
        "npm_registry tokens take npm scopes such as @acme, not links");
  }
  if (link[0] != '@') {
    return Invalid(
        absl::StrCat("npm scope must start with '@' (such as "
                     "@acme): ",
                     QuoteForError(link)));
  }
  const absl::string_view name = link.substr(1);
  if (name.empty()) return Invalid("missing npm scope name after '@'");
  if (name.find('/') != absl::string_view::npos) {
    return Invalid(absl::StrCat(
        "expected an npm scope such as @acme, not a package name: ",
        QuoteForError(link)));
  }
  if (name.size() > kMaxNpmScopeNameLength) {
    return Invalid(absl::StrCat("npm scope name longer than ",
                                kMaxNpmScopeNameLength, " characters"));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNpmNameChar(name[i], i == 0)) {
      return Invalid(
          absl::StrCat("invalid character in npm scope ", QuoteForError(link),
                       " (names are [a-z0-9] followed by [a-z0-9._-])"));
    }
  }
  return ParsedLink{ResourceKind::kNpmScope, std::string(link), ""};
}

}  // namespace

absl::StatusOr<ParsedLink> ParseResourceLink(absl::string_view link,
                                             TokenKind token_kind) {
  if (link.empty()) return Invalid("empty link");
  if (link.size() > kMaxLinkBytes) {
    return Invalid(absl::StrCat("link longer than ", kMaxLinkBytes, " bytes"));
  }
  switch (token_kind) {
    case TokenKind::kRestApi:
      if (link[0] == '@') {
        return Invalid(
            "npm scopes are accepted only for npm_registry tokens; rest_api "
            "tokens take figma.com links");
      }
      return ParseFigmaLink(link);
    case TokenKind::kNpmRegistry:
      return ParseNpmScope(link);
    case TokenKind::kUnspecified:
      break;
  }
  return Invalid("unsupported token kind");
}

std::string CanonicalLink(ResourceKind kind, absl::string_view id,
                          absl::string_view org_id) {
  switch (kind) {
    case ResourceKind::kFile:
      return absl::StrCat(kCanonicalHost, "/design/", id);
    case ResourceKind::kProject:
    case ResourceKind::kTeam:
    case ResourceKind::kWorkspace:
      return absl::StrCat(kCanonicalHost, "/files/", org_id, "/",
                          ResourceKindName(kind), "/", id);
    case ResourceKind::kNpmScope:
      return absl::StartsWith(id, "@") ? std::string(id)
                                       : absl::StrCat("@", id);
    case ResourceKind::kUnspecified:
      break;
  }
  return "";
}

}  // namespace pat
