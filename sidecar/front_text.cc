#include "sidecar/front_text.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "common/secret.h"
#include "sidecar/http_limits.h"

namespace pat::sidecar::internal {
namespace {

constexpr std::size_t kSecretTail = kSecretBodyLength + kSecretChecksumLength;

bool IsBase62(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c));
}

// Length of the secret-shaped match starting at s[i] ("pat_" there), or 0.
std::size_t SecretAt(absl::string_view s, std::size_t i) {
  for (absl::string_view prefix : {kRestSecretPrefix, kNpmSecretPrefix}) {
    if (s.substr(i, prefix.size()) != prefix) continue;
    const std::size_t tail = i + prefix.size();
    if (s.size() - tail < kSecretTail) return 0;
    for (std::size_t k = 0; k < kSecretTail; ++k) {
      if (!IsBase62(s[tail + k])) return 0;
    }
    return prefix.size() + kSecretTail;
  }
  return 0;
}

char FoldNameChar(char c) {
  c = absl::ascii_tolower(static_cast<unsigned char>(c));
  return c == '_' ? '-' : c;
}

// Length of the valid UTF-8 sequence at s[i], or 0 if it is invalid.
std::size_t Utf8SequenceLength(absl::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) -> unsigned {
    return static_cast<unsigned char>(s[k]);
  };
  const unsigned c = byte(i);
  std::size_t len;
  unsigned lo = 0x80;
  unsigned hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  }
  return len;
}

void AppendAsciiEscaped(unsigned char c, std::string& out) {
  switch (c) {
    case '"':
      out += "\\\"";
      return;
    case '\\':
      out += "\\\\";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    default:
      if (c < 0x20 || c == 0x7f) {
        absl::StrAppendFormat(&out, "\\u%04x", c);
      } else {
        out += static_cast<char>(c);
      }
  }
}

}  // namespace

std::size_t FindSecretShaped(absl::string_view s) {
  for (std::size_t i = s.find("pat_"); i != absl::string_view::npos;
       i = s.find("pat_", i + 1)) {
    if (SecretAt(s, i) > 0) return i;
  }
  return absl::string_view::npos;
}

std::string RedactSecrets(absl::string_view s) {
  std::string out;
  std::size_t from = 0;
  for (;;) {
    const std::size_t rel = FindSecretShaped(s.substr(from));
    if (rel == absl::string_view::npos) break;
    const std::size_t i = from + rel;
    out.append(s.data() + from, i - from);
    out += "[redacted]";
    from = i + SecretAt(s, i);
  }
  out.append(s.data() + from, s.size() - from);
  return out;
}

bool IsValidRequestId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  const bool charset = std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
           c == '_' || c == '-';
  });
  return charset && !ContainsSecretShaped(id);
}

std::string NewRequestId() {
  // Request ids correlate log lines; they are not secrets. A per-thread
  // generator seeded once from the CSPRNG avoids a RAND_bytes call (and its
  // getpid() fork check) on every request.
  thread_local std::mt19937_64 gen = [] {
    uint64_t seed = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof(seed)) !=
        1) {
      seed = std::random_device{}();
    }
    return std::mt19937_64(seed);
  }();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(32, '0');
  for (std::size_t half = 0; half < 2; ++half) {
    const uint64_t v = gen();
    for (std::size_t j = 0; j < 16; ++j) {
      out[16 * half + j] = kHex[(v >> (4 * j)) & 0xf];
    }
  }
  return out;
}

std::string JsonQuote(absl::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      AppendAsciiEscaped(c, out);
      ++i;
      continue;
    }
    const std::size_t len = Utf8SequenceLength(s, i);
    if (len == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    out.append(s.data() + i, len);
    i += len;
  }
  out += '"';
  return out;
}

bool LooseNameStartsWith(absl::string_view name, absl::string_view prefix) {
  if (name.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (FoldNameChar(name[i]) != FoldNameChar(prefix[i])) return false;
  }
  return true;
}

bool LooseNameEquals(absl::string_view name, absl::string_view other) {
  return name.size() == other.size() && LooseNameStartsWith(name, other);
}

bool IsToken(absl::string_view s) {
  static constexpr absl::string_view kExtra = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
           kExtra.find(c) != absl::string_view::npos;
  });
}

bool AllDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return c >= '0' && c <= '9'; });
}

bool IsSafeHeaderValue(absl::string_view v) {
  return std::all_of(v.begin(), v.end(),
                     [](char c) { return c == ' ' || (c > 0x20 && c < 0x7f); });
}

}  // namespace pat::sidecar::internal
