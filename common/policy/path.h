#ifndef PAT_COMMON_POLICY_PATH_H_
#define PAT_COMMON_POLICY_PATH_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
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
namespace pat::policy {

inline constexpr size_t kMaxTargetLength = 8192;

// An accepted request-target, as views into the caller's buffer.
struct Target {
  absl::string_view path;   // the exact bytes authorized and forwarded
  absl::string_view query;  // after '?' (exclusive); empty if none
  bool has_query = false;   // a '?' was present (even with an empty query)
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
// Never allocates. The returned views point into `raw`.
TargetCheck CheckTarget(absl::string_view raw);

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
