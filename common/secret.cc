#include "common/secret.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <zlib.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/domain.h"

namespace pat {
namespace {

// Digit values 0..61 in this order; used for the body and the checksum.
constexpr absl::string_view kBase62Alphabet =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// Random bytes below this bound map uniformly onto the 62 digits
// (248 = 4 * 62); bytes at or above it are rejected and redrawn.
constexpr unsigned kBase62RejectionBound = 248;

// Terminates the process: used when the CSPRNG or the digest primitive fails,
// because returning a weak secret or a wrong digest is never acceptable.
[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "pat: fatal: %s\n", what);
  std::fflush(stderr);
  std::abort();
}

// Fills `out` with `n` bytes from OpenSSL's CSPRNG or aborts.
void FillRandom(unsigned char* out, int n) {
  if (RAND_bytes(out, n) != 1) Die("RAND_bytes failed; refusing to continue");
}

bool IsBase62(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
         (c >= 'a' && c <= 'z');
}

// CRC-32 (IEEE 802.3, as zlib computes it), from zlib itself: its braided
// implementation is several times faster than a byte-at-a-time table, and
// the checksum is on every request's path (ParseSecret).
uint32_t Crc32(absl::string_view data) {
  uLong crc = crc32_z(0L, Z_NULL, 0);
  crc = crc32_z(crc, reinterpret_cast<const Bytef*>(data.data()), data.size());
  return static_cast<uint32_t>(crc);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

absl::string_view SecretPrefix(TokenKind kind) {
  switch (kind) {
    case TokenKind::kRestApi:
      return kRestSecretPrefix;
    case TokenKind::kNpmRegistry:
      return kNpmSecretPrefix;
    case TokenKind::kUnspecified:
      break;
  }
  return "";
}

std::string RandomBase62(int length) {
  std::string out;
  if (length <= 0) return out;
  const size_t want = static_cast<size_t>(length);
  out.reserve(want);
  // On average 248/256 of the bytes are accepted, so one batch of a little
  // more than `length` bytes usually suffices.
  std::array<unsigned char, 64> buf;
  while (out.size() < want) {
    FillRandom(buf.data(), static_cast<int>(buf.size()));
    for (unsigned char b : buf) {
      if (b >= kBase62RejectionBound) continue;
      out.push_back(kBase62Alphabet[b % kBase62Alphabet.size()]);
      if (out.size() == want) break;
    }
  }
  OPENSSL_cleanse(buf.data(), buf.size());
  return out;
}

std::string Crc32Base62(absl::string_view data) {
  uint64_t n = Crc32(data);
  std::string out(kSecretChecksumLength, '0');
  // 62^6 > 2^32, so six digits always hold the value.
  for (int i = kSecretChecksumLength - 1; i >= 0 && n != 0; --i) {
    out[i] = kBase62Alphabet[n % kBase62Alphabet.size()];
    n /= kBase62Alphabet.size();
  }
  return out;
}

std::string GenerateSecret(TokenKind kind) {
  const absl::string_view prefix = SecretPrefix(kind);
  if (prefix.empty()) Die("GenerateSecret called with an unspecified kind");
  std::string secret = absl::StrCat(prefix, RandomBase62(kSecretBodyLength));
  const std::string checksum = Crc32Base62(secret);
  secret.append(checksum);
  return secret;
}

absl::StatusOr<TokenKind> ParseSecret(absl::string_view candidate) {
  // Every message below is fixed text: the candidate is never echoed, in
  // whole or in part.
  TokenKind kind = TokenKind::kUnspecified;
  if (absl::StartsWith(candidate, kRestSecretPrefix)) {
    kind = TokenKind::kRestApi;
  } else if (absl::StartsWith(candidate, kNpmSecretPrefix)) {
    kind = TokenKind::kNpmRegistry;
  } else {
    return absl::InvalidArgumentError(
        "secret: not a plan access token (unrecognized prefix)");
  }
  const size_t prefix_len = SecretPrefix(kind).size();
  const size_t body_end = prefix_len + kSecretBodyLength;
  const size_t want_len = body_end + kSecretChecksumLength;
  if (candidate.size() != want_len) {
    return absl::InvalidArgumentError(
        absl::StrCat("secret: malformed ", TokenKindName(kind),
                     " token (expected ", want_len, " characters)"));
  }
  for (size_t i = prefix_len; i < candidate.size(); ++i) {
    if (!IsBase62(candidate[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "secret: malformed ", TokenKindName(kind),
          " token (characters after the prefix must be [0-9A-Za-z])"));
    }
  }
  const std::string expected = Crc32Base62(candidate.substr(0, body_end));
  if (!ConstantTimeEquals(expected, candidate.substr(body_end))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "secret: malformed ", TokenKindName(kind), " token (bad checksum)"));
  }
  return kind;
}

Digest Sha256(absl::string_view data) {
  // The algorithm is fetched once per process and each thread keeps one
  // digest context: EVP_Digest(EVP_sha256()) would look the algorithm up
  // (a locked provider query) and allocate a context on every call, which
  // cost more than hashing a secret (bench/decision, docs/profiling.md).
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct CtxFree {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  thread_local const std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  Digest out{};
  unsigned int out_len = 0;
  if (kSha256 == nullptr || ctx == nullptr ||
      EVP_DigestInit_ex2(ctx.get(), kSha256, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out.data(), &out_len) != 1 ||
      out_len != out.size()) {
    Die("SHA-256 failed");
  }
  return out;
}

bool ConstantTimeEquals(const Digest& a, const Digest& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  // Lengths are not secret (every secret of a kind has the same length); only
  // the contents are compared in constant time.
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string DigestHex(const Digest& d) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

absl::StatusOr<Digest> DigestFromBytes(absl::string_view bytes) {
  Digest out{};
  if (bytes.size() != out.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "digest: expected ", out.size(), " bytes, got ", bytes.size()));
  }
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<uint8_t>(bytes[i]);
  }
  return out;
}

absl::StatusOr<Digest> DigestFromHex(absl::string_view hex) {
  Digest out{};
  if (hex.size() != 2 * out.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("digest: expected ", 2 * out.size(), " hex digits, got ",
                     hex.size(), " characters"));
  }
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = HexValue(hex[2 * i]);
    const int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError("digest: invalid hex digit");
    }
    out[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return out;
}

std::string QuoteForError(absl::string_view s) {
  constexpr size_t kMaxQuotedBytes = 64;
  if (absl::StrContains(s, kRestSecretPrefix) ||
      absl::StrContains(s, kNpmSecretPrefix)) {
    return "<redacted: looks like a secret>";
  }
  std::string out =
      absl::StrCat("\"", absl::CHexEscape(s.substr(0, kMaxQuotedBytes)), "\"");
  if (s.size() > kMaxQuotedBytes) out.append("...");
  return out;
}

Digest HmacSha256(absl::string_view key, absl::string_view data) {
  Digest out{};
  size_t out_len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(),
                key.size(), reinterpret_cast<const unsigned char*>(data.data()),
                data.size(), out.data(), out.size(), &out_len) == nullptr ||
      out_len != out.size()) {
    std::abort();
  }
  return out;
}

}  // namespace pat
