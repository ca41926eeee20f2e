#ifndef PAT_COMMON_SECRET_H_
#define PAT_COMMON_SECRET_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/domain.h"

// Token secrets (SPEC §5).
//
// Format: <prefix><body><checksum>
//   prefix   "pat_rest_" (TokenKind::kRestApi) or "pat_npm_" (kNpmRegistry)
//   body     43 base62 characters [0-9A-Za-z] drawn uniformly from OpenSSL's
//            CSPRNG (62^43 > 2^256)
//   checksum 6 base62 characters: CRC32 (zlib polynomial) of prefix+body,
//            big-endian base62, left-padded with '0'
// Regex for leak scanners: \bpat_(rest|npm)_[0-9A-Za-z]{49}\b
namespace pat {

inline constexpr absl::string_view kRestSecretPrefix = "pat_rest_";
inline constexpr absl::string_view kNpmSecretPrefix = "pat_npm_";
inline constexpr int kSecretBodyLength = 43;
inline constexpr int kSecretChecksumLength = 6;
inline constexpr absl::string_view kSecretRegex =
    R"(\bpat_(rest|npm)_[0-9A-Za-z]{49}\b)";

using Digest = std::array<uint8_t, 32>;

absl::string_view SecretPrefix(TokenKind kind);

// A fresh secret of `kind`. Precondition: kind is kRestApi or kNpmRegistry.
// Aborts if the CSPRNG fails (never returns a weak secret).
std::string GenerateSecret(TokenKind kind);

// Offline check of shape and checksum, before any lookup. Returns the kind
// named by the prefix, or INVALID_ARGUMENT with a message that never contains
// the candidate itself.
absl::StatusOr<TokenKind> ParseSecret(absl::string_view candidate);

// SHA-256 of the secret's bytes.
Digest Sha256(absl::string_view data);

// Constant-time comparison (CRYPTO_memcmp) for secrets and digests.
bool ConstantTimeEquals(const Digest& a, const Digest& b);
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

// Lower-case hex (64 characters) of a digest.
std::string DigestHex(const Digest& d);
// A digest from its raw bytes (e.g. a bytea column or a proto bytes field):
// exactly 32 bytes, else INVALID_ARGUMENT.
absl::StatusOr<Digest> DigestFromBytes(absl::string_view bytes);
// Inverse of DigestHex: exactly 64 hex digits (either case), else
// INVALID_ARGUMENT.
absl::StatusOr<Digest> DigestFromHex(absl::string_view hex);

// Random base62 string of `length` characters from OpenSSL's CSPRNG (used for
// token ids).
std::string RandomBase62(int length);

// HMAC-SHA-256 of `data` under `key`.
Digest HmacSha256(absl::string_view key, absl::string_view data);

// `s` quoted for an error message: at most 64 bytes, C-escaped, "..." when
// cut, and redacted entirely when it contains a secret prefix, so that a
// secret pasted into the wrong field is never echoed back (threat 35).
std::string QuoteForError(absl::string_view s);

// base62 encoding of a CRC32 (6 characters); exposed for tests.
std::string Crc32Base62(absl::string_view data);

}  // namespace pat

#endif  // PAT_COMMON_SECRET_H_
