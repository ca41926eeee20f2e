#include "common/secret.h"

#include <atomic>
#include <cmath>
#include <cstdint>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/domain.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace pat {
namespace {

using ::pat::testing::IsOk;
using ::pat::testing::StatusCodeIs;
using ::pat::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr size_t kRestSecretLength =
    kRestSecretPrefix.size() + kSecretBodyLength + kSecretChecksumLength;
constexpr size_t kNpmSecretLength =
    kNpmSecretPrefix.size() + kSecretBodyLength + kSecretChecksumLength;

// A syntactically valid secret built from a fixed body, for tests that must
// not depend on randomness.
std::string MakeSecret(absl::string_view prefix, absl::string_view body) {
  std::string s = absl::StrCat(prefix, body);
  return absl::StrCat(s, Crc32Base62(s));
}

constexpr absl::string_view kFixedBody =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg";

// Matches an OK absl::StatusOr<T> whose value matches `m`.
MATCHER_P(IsOkAndHolds, m, "is OK and holds a value that matches") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(m, *arg, result_listener);
}

TEST(SecretPrefixTest, PerKind) {
  EXPECT_EQ(SecretPrefix(TokenKind::kRestApi), "pat_rest_");
  EXPECT_EQ(SecretPrefix(TokenKind::kNpmRegistry), "pat_npm_");
  EXPECT_EQ(SecretPrefix(TokenKind::kUnspecified), "");
}

TEST(SecretFormatTest, BodyCarriesAtLeast256Bits) {
  // 62^43 > 2^256  <=>  43 * log2(62) > 256.
  EXPECT_GT(kSecretBodyLength * std::log2(62.0), 256.0);
  EXPECT_EQ(kFixedBody.size(), static_cast<size_t>(kSecretBodyLength));
}

TEST(GenerateSecretTest, MatchesPublishedRegex) {
  const std::regex re{std::string(kSecretRegex)};
  for (int i = 0; i < 200; ++i) {
    const std::string rest = GenerateSecret(TokenKind::kRestApi);
    const std::string npm = GenerateSecret(TokenKind::kNpmRegistry);
    EXPECT_TRUE(std::regex_match(rest, re)) << rest;
    EXPECT_TRUE(std::regex_match(npm, re)) << npm;
    EXPECT_TRUE(absl::StartsWith(rest, "pat_rest_"));
    EXPECT_TRUE(absl::StartsWith(npm, "pat_npm_"));
    EXPECT_EQ(rest.size(), kRestSecretLength);
    EXPECT_EQ(npm.size(), kNpmSecretLength);
  }
}

TEST(GenerateSecretTest, RegexFindsSecretEmbeddedInText) {
  const std::regex re{std::string(kSecretRegex)};
  const std::string secret = GenerateSecret(TokenKind::kRestApi);
  const std::string text =
      absl::StrCat("export FIGMA_TOKEN=\"", secret, "\" # do not commit");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(text, m, re));
  EXPECT_EQ(m.str(0), secret);
  // A longer run of base62 after it is not a match (word boundary).
  EXPECT_FALSE(std::regex_search(absl::StrCat(secret, "x"), re));
}

TEST(GenerateSecretTest, TenThousandAreUniqueAndParse) {
  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    const TokenKind kind =
        i % 2 == 0 ? TokenKind::kRestApi : TokenKind::kNpmRegistry;
    std::string s = GenerateSecret(kind);
    absl::StatusOr<TokenKind> parsed = ParseSecret(s);
    ASSERT_THAT(parsed, IsOk()) << s;
    EXPECT_EQ(*parsed, kind);
    EXPECT_TRUE(seen.insert(std::move(s)).second) << "duplicate secret";
  }
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(GenerateSecretTest, BodyCharactersAreRoughlyUniform) {
  // 2,000 bodies * 43 chars = 86,000 draws; each of 62 symbols expects ~1387.
  // A modulo-biased mapping of bytes (256 % 62 = 8) would push the first 8
  // symbols ~25% above the rest; allow +-15%.
  int counts[128] = {};
  constexpr int kSecrets = 2000;
  for (int i = 0; i < kSecrets; ++i) {
    const std::string s = GenerateSecret(TokenKind::kRestApi);
    for (size_t j = kRestSecretPrefix.size();
         j < kRestSecretPrefix.size() + kSecretBodyLength; ++j) {
      ++counts[static_cast<unsigned char>(s[j])];
    }
  }
  const double expected = kSecrets * kSecretBodyLength / 62.0;
  for (char c : kBase62) {
    EXPECT_GT(counts[static_cast<unsigned char>(c)], expected * 0.85) << c;
    EXPECT_LT(counts[static_cast<unsigned char>(c)], expected * 1.15) << c;
  }
}

TEST(RandomBase62Test, LengthAndAlphabet) {
  EXPECT_EQ(RandomBase62(0), "");
  EXPECT_EQ(RandomBase62(-3), "");
  for (int len : {1, 7, 22, 64, 65, 200}) {
    const std::string s = RandomBase62(len);
    EXPECT_EQ(s.size(), static_cast<size_t>(len));
    for (char c : s) {
      EXPECT_NE(kBase62.find(c), absl::string_view::npos) << c;
    }
  }
  EXPECT_NE(RandomBase62(22), RandomBase62(22));
}

TEST(Crc32Base62Test, KnownVectors) {
  // zlib crc32("123456789") = 0xCBF43926 = 3418634534.
  EXPECT_EQ(Crc32Base62("123456789"), "3jZRME");
  EXPECT_EQ(Crc32Base62(""), "000000");
  EXPECT_EQ(Crc32Base62("pat_rest_"), "2T3pCO");
  // 0x414FA339: left-padded with '0'.
  EXPECT_EQ(Crc32Base62("The quick brown fox jumps over the lazy dog"),
            "1C9bYH");
}

TEST(ParseSecretTest, AcceptsWellFormedSecrets) {
  EXPECT_THAT(ParseSecret(MakeSecret(kRestSecretPrefix, kFixedBody)),
              IsOkAndHolds(TokenKind::kRestApi));
  EXPECT_THAT(ParseSecret(MakeSecret(kNpmSecretPrefix, kFixedBody)),
              IsOkAndHolds(TokenKind::kNpmRegistry));
}

TEST(ParseSecretTest, AnySingleCharacterChangeIsRejected) {
  for (absl::string_view prefix : {kRestSecretPrefix, kNpmSecretPrefix}) {
    const std::string valid = MakeSecret(prefix, kFixedBody);
    ASSERT_THAT(ParseSecret(valid), IsOk());
    // Every position after the prefix (body and checksum), every other
    // base62 character: CRC32 detects every single-symbol change.
    for (size_t pos = prefix.size(); pos < valid.size(); ++pos) {
      for (char c : kBase62) {
        if (c == valid[pos]) continue;
        std::string bad = valid;
        bad[pos] = c;
        EXPECT_THAT(
            ParseSecret(bad),
            StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("checksum")))
            << "position " << pos << " -> " << c;
      }
    }
  }
}

TEST(ParseSecretTest, SwappingThePrefixBreaksTheChecksum) {
  // The checksum covers the prefix: a rest body under the npm prefix fails.
  const std::string rest = MakeSecret(kRestSecretPrefix, kFixedBody);
  const std::string moved =
      absl::StrCat(kNpmSecretPrefix, rest.substr(kRestSecretPrefix.size()));
  ASSERT_EQ(moved.size(), kNpmSecretLength);
  EXPECT_THAT(ParseSecret(moved), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("checksum")));
}

TEST(ParseSecretTest, RandomStringsPassChecksumOnlyByChance) {
  // 10^6 random candidates with a correct prefix and length; a random
  // 6-character checksum matches with probability 62^-6 (~1.8e-11 per try),
  // so the expected number of passes is ~0.
  std::mt19937_64 rng(20240601);
  std::uniform_int_distribution<int> digit(0, 61);
  std::string candidate =
      absl::StrCat(kRestSecretPrefix,
                   std::string(kSecretBodyLength + kSecretChecksumLength, '0'));
  int passed = 0;
  for (int i = 0; i < 1000000; ++i) {
    for (size_t j = kRestSecretPrefix.size(); j < candidate.size(); ++j) {
      candidate[j] = kBase62[digit(rng)];
    }
    if (ParseSecret(candidate).ok()) ++passed;
  }
  EXPECT_LT(passed, 5);
}

TEST(ParseSecretTest, RejectsWrongPrefix) {
  const std::string valid = MakeSecret(kRestSecretPrefix, kFixedBody);
  const std::string body = valid.substr(kRestSecretPrefix.size());
  for (absl::string_view prefix :
       {"pat_", "pat_api_", "PAT_REST_", "pat-rest-", "pat_rest", "ghp_",
        "xpat_rest_", " pat_rest_", "pat_npmx_"}) {
    EXPECT_THAT(
        ParseSecret(absl::StrCat(prefix, body)),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("prefix")))
        << prefix;
  }
  EXPECT_THAT(ParseSecret(""), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("prefix")));
  EXPECT_THAT(
      ParseSecret("Bearer " + valid),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("prefix")));
}

TEST(ParseSecretTest, RejectsWrongLength) {
  const std::string valid = MakeSecret(kRestSecretPrefix, kFixedBody);
  EXPECT_THAT(ParseSecret(valid.substr(0, valid.size() - 1)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("expected 58 characters")));
  EXPECT_THAT(ParseSecret(valid + "0"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("expected 58 characters")));
  EXPECT_THAT(ParseSecret(valid + "\n"),
              StatusCodeIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseSecret("pat_rest_"),
              StatusCodeIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseSecret("pat_npm_"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("expected 57 characters")));
  // A rest-length body under the npm prefix is one character too long.
  EXPECT_THAT(ParseSecret(absl::StrCat(kNpmSecretPrefix, "x",
                                       valid.substr(kRestSecretPrefix.size()))),
              StatusCodeIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseSecretTest, RejectsNonBase62Characters) {
  const std::string valid = MakeSecret(kRestSecretPrefix, kFixedBody);
  for (char c : {'-', '_', '+', '/', '=', ' ', '\0', '\n', '\xff', '.'}) {
    for (size_t pos :
         {kRestSecretPrefix.size(), valid.size() / 2, valid.size() - 1}) {
      std::string bad = valid;
      bad[pos] = c;
      EXPECT_THAT(ParseSecret(bad), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("[0-9A-Za-z]")))
          << "char " << static_cast<int>(c) << " at " << pos;
    }
  }
}

TEST(ParseSecretTest, MessagesNeverContainTheCandidate) {
  const std::string valid = MakeSecret(kRestSecretPrefix, kFixedBody);
  const std::string body = valid.substr(kRestSecretPrefix.size());
  std::string wrong_checksum = valid;
  wrong_checksum.back() = wrong_checksum.back() == 'A' ? 'B' : 'A';
  std::string bad_char = valid;
  bad_char[20] = '!';
  const std::string candidates[] = {
      wrong_checksum,
      bad_char,
      valid.substr(0, valid.size() - 3),
      valid + "Z",
      absl::StrCat("pat_api_", body),
      absl::StrCat("sk_live_", body),
      "hunter2-correct-horse",
  };
  for (const std::string& candidate : candidates) {
    absl::StatusOr<TokenKind> parsed = ParseSecret(candidate);
    ASSERT_FALSE(parsed.ok()) << candidate;
    const std::string message(parsed.status().message());
    EXPECT_THAT(message, Not(HasSubstr(candidate)));
    // Not even a recognizable piece of the body.
    EXPECT_THAT(message, Not(HasSubstr(body.substr(0, 8))));
    EXPECT_THAT(message, Not(HasSubstr(body.substr(30, 8))));
    EXPECT_THAT(message, Not(HasSubstr("hunter2")));
  }
}

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(DigestHex(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(DigestHex(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(DigestHex(Sha256(
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

// Sha256 keeps one digest context per thread: concurrent callers must not
// disturb each other's digests.
TEST(Sha256Test, ConcurrentCallersGetTheirOwnDigests) {
  const std::string expected_abc =
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  const std::string expected_empty =
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const bool abc = (i + t) % 2 == 0;
        if (DigestHex(Sha256(abc ? "abc" : "")) !=
            (abc ? expected_abc : expected_empty)) {
          mismatches.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(Sha256Test, DistinctSecretsHaveDistinctDigests) {
  const std::string a = GenerateSecret(TokenKind::kRestApi);
  const std::string b = GenerateSecret(TokenKind::kRestApi);
  EXPECT_EQ(Sha256(a), Sha256(a));
  EXPECT_NE(Sha256(a), Sha256(b));
}

TEST(ConstantTimeEqualsTest, Digests) {
  const Digest a = Sha256("a");
  Digest b = a;
  EXPECT_TRUE(ConstantTimeEquals(a, b));
  b[31] ^= 1;
  EXPECT_FALSE(ConstantTimeEquals(a, b));
  b = a;
  b[0] ^= 0x80;
  EXPECT_FALSE(ConstantTimeEquals(a, b));
  EXPECT_FALSE(ConstantTimeEquals(Sha256("a"), Sha256("b")));
}

TEST(ConstantTimeEqualsTest, Strings) {
  EXPECT_TRUE(ConstantTimeEquals(absl::string_view(""), absl::string_view("")));
  EXPECT_TRUE(ConstantTimeEquals(absl::string_view(), absl::string_view("")));
  EXPECT_TRUE(ConstantTimeEquals(absl::string_view("secret"),
                                 absl::string_view("secret")));
  EXPECT_FALSE(ConstantTimeEquals(absl::string_view("secret"),
                                  absl::string_view("secreT")));
  EXPECT_FALSE(ConstantTimeEquals(absl::string_view("Secret"),
                                  absl::string_view("secret")));
  // Different lengths are never equal, including a prefix of the other.
  EXPECT_FALSE(ConstantTimeEquals(absl::string_view("secret"),
                                  absl::string_view("secret2")));
  EXPECT_FALSE(ConstantTimeEquals(absl::string_view("secret2"),
                                  absl::string_view("secret")));
  EXPECT_FALSE(
      ConstantTimeEquals(absl::string_view(""), absl::string_view("x")));
  // Embedded NULs are compared, not treated as terminators.
  EXPECT_FALSE(ConstantTimeEquals(absl::string_view("a\0b", 3),
                                  absl::string_view("a\0c", 3)));
  EXPECT_TRUE(ConstantTimeEquals(absl::string_view("a\0b", 3),
                                 absl::string_view("a\0b", 3)));
}

TEST(DigestTest, HexIsLowerCase64Chars) {
  const std::string hex = DigestHex(Sha256("abc"));
  EXPECT_EQ(hex.size(), 64u);
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos);
  Digest zero{};
  EXPECT_EQ(DigestHex(zero), std::string(64, '0'));
}

TEST(DigestTest, FromBytesRoundTrip) {
  const Digest d = Sha256("abc");
  const std::string bytes(reinterpret_cast<const char*>(d.data()), d.size());
  absl::StatusOr<Digest> back = DigestFromBytes(bytes);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(*back, d);
}

TEST(DigestTest, FromBytesRequiresExactly32Bytes) {
  EXPECT_THAT(DigestFromBytes(""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("32")));
  EXPECT_THAT(DigestFromBytes(std::string(31, 'x')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("32")));
  EXPECT_THAT(DigestFromBytes(std::string(33, 'x')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("32")));
  // The 64-character hex form is not raw bytes.
  EXPECT_THAT(DigestFromBytes(DigestHex(Sha256("abc"))),
              StatusCodeIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DigestFromBytes(std::string(32, '\0')), IsOk());
}

TEST(DigestTest, FromHexRoundTrip) {
  const Digest d = Sha256("abc");
  EXPECT_THAT(DigestFromHex(DigestHex(d)), IsOkAndHolds(d));
  EXPECT_THAT(
      DigestFromHex(
          "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"),
      IsOkAndHolds(d));
  EXPECT_THAT(DigestFromHex(DigestHex(d).substr(1)),
              StatusCodeIs(absl::StatusCode::kInvalidArgument));
  std::string bad = DigestHex(d);
  bad[10] = 'g';
  EXPECT_THAT(DigestFromHex(bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hex")));
}

}  // namespace
}  // namespace pat
