#ifndef PAT_COMMON_POLICY_PATH_H_
#define PAT_COMMON_POLICY_PATH_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "common/domain.h"
#include "common/policy/reason.h"

// Request-target checks (SPEC §7 rule 1, threat checklist #28 and #33).
//
// The sidecar never rewrites a path: a request-target is either accepted, and
// then forwarded byte-for-byte exactly as it was authorized, or refused with
// 400. Rules, in order (the first failing rule decides the detail):
//
//  * origin-form only: non-empty, at most kMaxTargetLength bytes, starting
//    with '/'. Absolute-form ("http://..."), authority-form and asterisk-form
//    ("*") are refused.
//  * no '#' anywhere (a fragment is never sent by a conforming client).
//  * The path (everything before the first '?'):
//    - bytes: only RFC 3986 pchar bytes and '/' -- ALPHA DIGIT - . _ ~
//      ! $ & ' ( ) * + , = : @ and percent-escapes. Refused: non-ASCII bytes,
//      control characters (0x00-0x1F, 0x7F), space, backslash, ';' (path
//      parameters, which some servers strip before routing), and
//      " < > [ ] ^ ` { | }.
//    - percent-escapes must be '%' followed by two UPPER-case hex digits and
//      must decode to a printable ASCII byte that has a meaning of its own
//      when escaped. Refused: malformed escapes; lower-case hex (non-canonical,
//      e.g. %2f); escapes of '/', '\', '.', NUL (%2F %5C %2E %00, in either
//      case); of '%' itself (%25: double encoding such as %252F); of ';'
//      (%3B); of control characters and of bytes >= 0x80 (so overlong UTF-8
//      such as %C0%AF is refused); and of unreserved characters
//      (ALPHA DIGIT - _ ~, e.g. %41 or %6D: RFC 3986 §6.2.2.2 says those are
//      equivalent to the plain character, so accepting them would authorize
//      one spelling and forward another). Allowed: escapes of space and of
//      ! " # $ & ' ( ) * + , : < = > ? @ [ ] ^ ` { | }.
//    - segments: no empty segment ("//"), no "." or ".." segment, and no
//      trailing slash (except the path "/" itself).
//    Upper/lower case of letters is significant and never folded.
//  * The query (after the first '?', may be empty): no control characters,
//    space, non-ASCII bytes, malformed percent-escapes or %00. Otherwise the
//    query is opaque and forwarded unchanged.
//  * Credentials in the query: a parameter (split on '&' and ';') whose
//    percent/plus-decoded name is token, access_token or api_key (any case),
//    or whose decoded value starts with a plan token secret prefix
//    ("pat_rest_", "pat_npm_", any case), is refused with 400 token_in_query.
//
// Accepted paths are canonical: CheckTarget(path) accepts `path` again and
// splits it identically (idempotent).
//
// Decision form (SPEC §7, "decisions are taken on exactly what is
// forwarded"): the route matcher and resource extraction never see the raw
// path when it has escapes, but Target::decision_path(), the path with every
// accepted escape decoded. Every escape the rules above accept is a byte
// whose decoded form is unambiguous (it is not '/', '.', '%', '\', ';', NUL,
// a control or non-ASCII byte), so the decoded form is what an upstream that
// decodes sees, and a decoding upstream and a raw-matching one split the path
// into the same segments. "/%40b-scope/pkg" is decided as "/@b-scope/pkg".
// Everything else stays path_invalid. The forwarded path is always
// Target::path, byte for byte.
//
// PathMode::kNpm adds exactly one acceptance: in a path segment that starts
// with '@' followed by at least one byte, none of them '%', ONE "%2F" or
// "%2f" directly after those bytes, followed by at least one more byte, is
// accepted ("/@acme%2fwidget", "/@acme%2Fwidget/-/widget-1.0.0.tgz",
// "/-/package/@acme%2fwidget/dist-tags"). It is decoded to '/' in the
// decision form, so the request is decided as the scoped package
// "@acme/widget" (the scope is the raw bytes before the escape, so a decoding
// and a non-decoding registry agree on it). The part after the escape must
// not be "." or "..". Any other %2F, and lower-case hex anywhere else, stay
// path_invalid.
namespace pat::policy {

inline constexpr size_t kMaxTargetLength = 8192;

enum class PathMode {
  kStrict,  // the rules above
  kNpm,     // plus %2F / %2f after a leading "@scope" in a segment (above)
};

// kNpm for kNpmRegistry, kStrict otherwise.
PathMode PathModeFor(TokenKind api);

// An accepted request-target, as views into the caller's buffer.
struct Target {
  absl::string_view path;   // the exact bytes authorized and forwarded
  absl::string_view query;  // after '?' (exclusive); empty if none
  bool has_query = false;   // a '?' was present (even with an empty query)
  // The decision form of `path` when it has percent-escapes (every escape
  // decoded); empty when it has none. Allocates only in that case (and
  // within the small-string buffer for short paths).
  std::string decoded_path;

  // What route matching and resource extraction use: decoded_path when the
  // path has escapes, else path itself. Valid while this Target lives.
  absl::string_view decision_path() const {
    return decoded_path.empty() ? path : absl::string_view(decoded_path);
  }
};

struct TargetCheck {
  // kAllowed, kPathInvalid or kTokenInQuery.
  Reason reason = Reason::kPathInvalid;
  // Why it was refused: a fixed string that never contains request bytes.
  absl::string_view detail;
  // Meaningful only when ok().
  Target target;

  bool ok() const { return reason == Reason::kAllowed; }
};

// Checks a raw HTTP request-target (the second token of the request line).
// Allocates only for the decision form of a path with escapes. The returned
// views point into `raw`.
TargetCheck CheckTarget(absl::string_view raw,
                        PathMode mode = PathMode::kStrict);

enum class QueryParamLookup { kMissing, kFound, kDuplicate };

// Looks up the query parameter whose decoded name equals `name` (exact,
// case-sensitive) in `query` (parameters split on '&'). On kFound, `*value`
// holds the decoded value ('+' -> space, %XX -> byte; a malformed escape is
// kept literally). kDuplicate when the name occurs more than once (callers
// must treat that as ambiguous: upstreams differ on first- vs last-wins).
QueryParamLookup FindQueryParam(absl::string_view query, absl::string_view name,
                                std::string* value);

}  // namespace pat::policy

#endif  // PAT_COMMON_POLICY_PATH_H_
