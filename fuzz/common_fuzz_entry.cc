#include "fuzz/common_fuzz_entry.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/domain.h"
#include "common/resource_link.h"
#include "common/secret.h"

namespace pat::fuzz {
namespace {

void Check(bool condition, absl::string_view what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz invariant violated: %.*s\n",
               static_cast<int>(what.size()), what.data());
  std::abort();
}

constexpr absl::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

bool IsBase62(char c) { return kBase62.find(c) != absl::string_view::npos; }

// The quoted spans of a refusal message: QuoteForError writes `"`, the
// C-escaped first 64 bytes of its argument (a `"` inside is `\"`), then `"`.
// Each span is returned with the number of input bytes it stands for.
struct QuotedSpan {
  absl::string_view text;
  size_t input_bytes;
};
std::vector<QuotedSpan> QuotedSpans(absl::string_view message) {
  std::vector<QuotedSpan> spans;
  size_t i = 0;
  while ((i = message.find('"', i)) != absl::string_view::npos) {
    const size_t begin = ++i;
    size_t bytes = 0;
    while (i < message.size() && message[i] != '"') {
      if (message[i] == '\\' && i + 1 < message.size()) {
        // CHexEscape writes \xHH or a two-character escape (\n, \", ...).
        i += message[i + 1] == 'x' ? 4 : 2;
      } else {
        ++i;
      }
      ++bytes;
    }
    spans.push_back({message.substr(begin, std::min(i, message.size()) - begin),
                     bytes});
    ++i;
  }
  return spans;
}

// True when CHexEscape (QuoteForError) copies `c` unchanged.
bool QuotedVerbatim(char c) {
  return c >= 0x20 && c < 0x7F && c != '"' && c != '\'' && c != '\\';
}

// A message "echoes" a long input when a quoted span stands for more than 64
// input bytes or holds a 65-byte piece of it that QuoteForError would copy
// verbatim (escaped bytes change shape, so pieces holding them are not
// compared). Refusal messages carry
// input only through QuoteForError (common/secret.h); their fixed text is
// not compared, since an input may itself contain that text (the fuzzer
// copies it from the binary's comparisons).
bool EchoesLongInput(absl::string_view message, absl::string_view input) {
  for (const QuotedSpan& span : QuotedSpans(message)) {
    if (span.input_bytes > 64) return true;
    for (size_t i = 0; i + 65 <= input.size(); ++i) {
      const absl::string_view piece = input.substr(i, 65);
      if (std::all_of(piece.begin(), piece.end(), QuotedVerbatim) &&
          absl::StrContains(span.text, piece)) {
        return true;
      }
    }
  }
  return false;
}

// Every message ParseSecret can return: fixed texts, one per kind and
// failure, obtained from inputs that fail each check. A refusal outside this
// set would depend on (and could echo) the candidate.
const std::vector<std::string>& SecretRefusals() {
  static const std::vector<std::string>* const all = [] {
    auto* v = new std::vector<std::string>();
    const std::string body(kSecretBodyLength + kSecretChecksumLength, '-');
    const std::string zeros(kSecretBodyLength + kSecretChecksumLength, '0');
    std::vector<std::string> inputs = {""};
    for (absl::string_view p : {kRestSecretPrefix, kNpmSecretPrefix}) {
      inputs.push_back(std::string(p));          // length
      inputs.push_back(absl::StrCat(p, body));   // characters
      inputs.push_back(absl::StrCat(p, zeros));  // checksum
    }
    for (const std::string& in : inputs) {
      const absl::StatusOr<TokenKind> r = ParseSecret(in);
      if (!r.ok()) v->emplace_back(r.status().message());
    }
    return v;
  }();
  return *all;
}

const std::regex& SecretRegex() {
  static const std::regex* const re = new std::regex(
      std::string(kSecretRegex), std::regex::ECMAScript | std::regex::optimize);
  return *re;
}

void CheckAcceptedSecret(absl::string_view data, TokenKind kind) {
  const absl::string_view prefix = SecretPrefix(kind);
  Check(!prefix.empty() && absl::StartsWith(data, prefix),
        "accepted secret does not start with its kind's prefix");
  Check(
      data.size() == prefix.size() + kSecretBodyLength + kSecretChecksumLength,
      "accepted secret of the wrong length");
  for (char c : data.substr(prefix.size())) {
    Check(IsBase62(c), "accepted a non-base62 character");
  }
  const size_t body_end = prefix.size() + kSecretBodyLength;
  Check(Crc32Base62(data.substr(0, body_end)) == data.substr(body_end),
        "accepted a wrong checksum");
  const std::string s(data);
  Check(std::regex_match(s, SecretRegex()),
        "accepted secret does not match the published regex");
  // CRC-32 detects every burst shorter than 32 bits, so every one-character
  // substitution after the prefix must be refused.
  std::string mutated = s;
  for (size_t i = prefix.size(); i < mutated.size(); ++i) {
    const char original = mutated[i];
    mutated[i] = original == 'z' ? '0' : kBase62[kBase62.find(original) + 1];
    Check(!ParseSecret(mutated).ok(), "accepted a one-character change");
    mutated[i] = original;
  }
}

bool HasSecretPrefix(absl::string_view s) {
  return absl::StrContains(s, kRestSecretPrefix) ||
         absl::StrContains(s, kNpmSecretPrefix);
}

void CheckQuoteForError(absl::string_view data) {
  const std::string quoted = QuoteForError(data);
  // 64 bytes C-escaped (at most 4 bytes each), two quotes and "...".
  Check(quoted.size() <= 64 * 4 + 5, "QuoteForError output unbounded");
  // The published regex needs a prefix: without one nothing secret-shaped
  // can be quoted.
  Check(!HasSecretPrefix(quoted), "QuoteForError quoted a secret prefix");
  if (HasSecretPrefix(data)) {
    Check(quoted == QuoteForError(kRestSecretPrefix),
          "QuoteForError did not redact a secret-shaped input");
  }
}

void CheckParsedLink(const ParsedLink& link, TokenKind token_kind) {
  if (token_kind == TokenKind::kNpmRegistry) {
    Check(link.kind == ResourceKind::kNpmScope,
          "npm token accepted a non-scope");
    Check(absl::StartsWith(link.id, "@") && link.id.size() >= 2 &&
              link.id.size() <= 215,
          "npm scope of the wrong shape");
    Check(link.org_id.empty(), "npm scope with an org");
  } else {
    Check(link.kind == ResourceKind::kFile ||
              link.kind == ResourceKind::kProject ||
              link.kind == ResourceKind::kTeam ||
              link.kind == ResourceKind::kWorkspace,
          "rest token accepted an unexpected kind");
    Check(!link.id.empty() && link.id.size() <= 64, "id length out of range");
    for (char c : link.id) {
      Check(IsBase62(c) ||
                (link.kind != ResourceKind::kFile && (c == '_' || c == '-')),
            "id with an unexpected character");
    }
    Check((link.kind == ResourceKind::kFile) == link.org_id.empty(),
          "org id present exactly for container links");
  }
  // The canonical form names the same resource.
  const std::string canonical = CanonicalLink(link.kind, link.id, link.org_id);
  const absl::StatusOr<ParsedLink> again =
      ParseResourceLink(canonical, token_kind);
  Check(again.ok(), "canonical link does not parse");
  Check(again->kind == link.kind && again->id == link.id &&
            again->org_id == link.org_id,
        "canonical link parses to another resource");
  Check(CanonicalLink(again->kind, again->id, again->org_id) == canonical,
        "canonical link is not a fixed point");
}

}  // namespace

void FuzzSecretParser(absl::string_view data) {
  const absl::StatusOr<TokenKind> kind = ParseSecret(data);
  if (kind.ok()) {
    CheckAcceptedSecret(data, *kind);
  } else {
    Check(kind.status().code() == absl::StatusCode::kInvalidArgument,
          "refusal with a code other than INVALID_ARGUMENT");
    const absl::string_view message = kind.status().message();
    bool fixed = false;
    for (const std::string& m : SecretRefusals()) fixed = fixed || m == message;
    Check(fixed, "refusal message is not one of the fixed texts");
    Check(!HasSecretPrefix(message), "refusal message quotes a secret prefix");
  }
  CheckQuoteForError(data);
}

void FuzzResourceLinkParser(absl::string_view data) {
  for (TokenKind token_kind : {TokenKind::kRestApi, TokenKind::kNpmRegistry}) {
    const absl::StatusOr<ParsedLink> link = ParseResourceLink(data, token_kind);
    if (link.ok()) {
      Check(data.size() <= 2048, "accepted a link over 2048 bytes");
      CheckParsedLink(*link, token_kind);
      continue;
    }
    Check(link.status().code() == absl::StatusCode::kInvalidArgument,
          "refusal with a code other than INVALID_ARGUMENT");
    const absl::string_view message = link.status().message();
    Check(absl::StartsWith(message, "resource_links: "),
          "refusal without the field name");
    Check(message.size() <= 512, "refusal message unbounded");
    Check(!EchoesLongInput(message, data),
          "refusal message echoes more than 64 bytes of the input");
    Check(!HasSecretPrefix(message), "refusal message quotes a secret prefix");
  }
}

}  // namespace pat::fuzz
