// The shipped detection rules (tools/secret-scanning/gitleaks.toml, the
// README regex) over a generated corpus: every planted secret is found, and
// the offline checksum filter rejects every lookalike the regex alone
// matches. Also the pure parts of the intake: field sanitizing and the
// partner signature check.
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/secret.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "openssl/ec.h"
#include "openssl/evp.h"
#include "openssl/pem.h"
#include "server/leak_judge.h"
#include "server/leak_signature.h"

namespace pat {
namespace {

// The source tree: PAT_SOURCE_DIR (set by ctest; __FILE__ is relative under
// ccache's base_dir), else the current directory.
std::string SourceDir() {
  const char* dir = std::getenv("PAT_SOURCE_DIR");
  return dir != nullptr && *dir != '\0' ? dir : ".";
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The `regex = '''…'''` values of the TOML file, in order.
std::vector<std::string> TomlRegexes(const std::string& toml) {
  std::vector<std::string> out;
  const std::string key = "regex = '''";
  for (size_t at = toml.find(key); at != std::string::npos;
       at = toml.find(key, at + 1)) {
    const size_t begin = at + key.size();
    const size_t end = toml.find("'''", begin);
    out.push_back(toml.substr(begin, end - begin));
  }
  return out;
}

// Every match of `regexes` in `text`: capture group `group` (the TOML
// rules' secretGroup is 1; the README regex's whole match is 0).
std::set<std::string> Matches(const std::vector<std::string>& regexes,
                              const std::string& text, int group) {
  std::set<std::string> found;
  for (const std::string& r : regexes) {
    std::regex re(r);
    for (auto it = std::sregex_iterator(text.begin(), text.end(), re);
         it != std::sregex_iterator(); ++it) {
      found.insert((*it)[group].str());
    }
  }
  return found;
}

// A secret with one checksum character changed (still base62).
std::string BadChecksum(std::string s) {
  s.back() = s.back() == 'A' ? 'B' : 'A';
  return s;
}

struct Corpus {
  std::string text;
  std::vector<std::string> planted;
  std::vector<std::string> checksum_lookalikes;  // regex-shaped, bad CRC
};

Corpus MakeCorpus() {
  Corpus c;
  std::ostringstream t;
  for (int i = 0; i < 40; ++i) {
    const TokenKind kind = i % 2 == 0 ? TokenKind::kRestApi
                                      : TokenKind::kNpmRegistry;
    const std::string s = GenerateSecret(kind);
    const std::string bad = BadChecksum(GenerateSecret(kind));
    c.planted.push_back(s);
    c.checksum_lookalikes.push_back(bad);
    switch (i % 8) {
      case 0: t << "export PAT_TOKEN=" << s << "\n"; break;
      case 1: t << "{\"token\":\"" << s << "\",\"n\":1}\n"; break;
      case 2: t << "https://api.example.com/x?token=" << s << "&y=2\n"; break;
      case 3: t << "Authorization: Bearer " << s << "\n"; break;
      case 4: t << "//registry.npmjs.org/:_authToken=" << s << "\n"; break;
      case 5: t << "'" << s << "'," << "\n"; break;
      case 6: t << "a token (" << s << ") in prose.\n"; break;
      default: t << s << "\n"; break;
    }
    t << "note: " << bad << " looks real\n";
    // Lookalikes the regex must not match at all.
    const std::string body = s.substr(SecretPrefix(kind).size());
    t << "pat_res_" << body << "\n";                       // wrong prefix
    t << "PAT_REST_" << body << "\n";                      // wrong case
    t << SecretPrefix(kind) << body.substr(0, 48) << "\n";  // truncated
    t << SecretPrefix(kind) << body << "Z\n";              // one too long
    t << "xpat_rest_" << body << "\n";                     // no boundary
    t << SecretPrefix(kind) << body.substr(0, 20) << "-"
      << body.substr(20) << "\n";                          // split
  }
  c.text = t.str();
  return c;
}

TEST(LeakRuleTest, GitleaksRulesFindEveryPlantedSecretAndChecksumRejectsLookalikes) {
  const std::string toml =
      ReadAll(SourceDir() + "/tools/secret-scanning/gitleaks.toml");
  const std::vector<std::string> regexes = TomlRegexes(toml);
  ASSERT_EQ(regexes.size(), 2u) << "expected the rest and npm rules";
  const Corpus corpus = MakeCorpus();
  const std::set<std::string> found = Matches(regexes, corpus.text, 1);
  for (const std::string& s : corpus.planted) {
    EXPECT_TRUE(found.contains(s)) << "planted secret not found";
  }
  std::set<std::string> expected(corpus.planted.begin(), corpus.planted.end());
  expected.insert(corpus.checksum_lookalikes.begin(),
                  corpus.checksum_lookalikes.end());
  EXPECT_EQ(found, expected) << "the regex matched something unexpected";
  int accepted = 0, rejected = 0;
  for (const std::string& m : found) {
    (ParseSecret(m).ok() ? accepted : rejected)++;
  }
  EXPECT_EQ(accepted, static_cast<int>(corpus.planted.size()));
  EXPECT_EQ(rejected, static_cast<int>(corpus.checksum_lookalikes.size()));
}

TEST(LeakRuleTest, ReadmeAndSecretHeaderRegexAgreeWithTheRules) {
  const std::string readme = ReadAll(SourceDir() + "/README.md");
  EXPECT_NE(readme.find(std::string(kSecretRegex)), std::string::npos);
  const Corpus corpus = MakeCorpus();
  std::set<std::string> from_readme =
      Matches({std::string(kSecretRegex)}, corpus.text, 0);
  const std::string toml =
      ReadAll(SourceDir() + "/tools/secret-scanning/gitleaks.toml");
  EXPECT_EQ(from_readme, Matches(TomlRegexes(toml), corpus.text, 1));
}

TEST(LeakSanitizeTest, RedactsSecretsControlsAndInvalidUtf8AndBoundsLength) {
  const std::string s = GenerateSecret(TokenKind::kRestApi);
  EXPECT_EQ(SanitizeLeakField(absl::StrCat("https://x/?t=", s, "&a=1")),
            "https://x/?t=[redacted]&a=1");
  EXPECT_EQ(SanitizeLeakField(s.substr(0, 30)), "[redacted]");  // truncated
  EXPECT_EQ(SanitizeLeakField("pat_rest_token"), "pat_rest_token");  // a rule name
  EXPECT_EQ(SanitizeLeakField("a\nb\x01\x7f"), "a?b??");
  EXPECT_EQ(SanitizeLeakField("caf\xc3\xa9 \xff\xc3"), "caf\xc3\xa9 ??");
  EXPECT_EQ(SanitizeLeakField("\xed\xa0\x80"), "???");  // a surrogate
  EXPECT_EQ(SanitizeLeakField(std::string(5000, 'a')).size(),
            static_cast<size_t>(kMaxLeakFieldBytes));
}

// A fresh P-256 key: PEM public key and the private key.
struct TestKey {
  EVP_PKEY* pkey = nullptr;
  std::string pem;
  TestKey() {
    pkey = EVP_EC_gen("P-256");
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, pkey);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    pem.assign(data, n);
    BIO_free(bio);
  }
  ~TestKey() { EVP_PKEY_free(pkey); }
  std::string Sign(const std::string& body) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, pkey);
    size_t len = 0;
    EVP_DigestSign(ctx, nullptr, &len,
                   reinterpret_cast<const unsigned char*>(body.data()),
                   body.size());
    std::string sig(len, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(body.data()),
                   body.size());
    sig.resize(len);
    EVP_MD_CTX_free(ctx);
    return absl::Base64Escape(sig);
  }
};

TEST(LeakSignatureTest, VerifiesOnlyTheNamedKeysSignatureOfTheExactBody) {
  TestKey a, b;
  nlohmann::json doc = {
      {"public_keys",
       {{{"key_identifier", "ka"}, {"key", a.pem}, {"is_current", true}},
        {{"key_identifier", "kb"}, {"key", b.pem}, {"is_current", false}}}}};
  auto ring = LeakKeyring::FromJson(doc.dump());
  ASSERT_TRUE(ring.ok()) << ring.status();
  const std::string body = R"([{"token":"x","type":"t","url":"u"}])";
  EXPECT_TRUE((*ring)->Verify("ka", a.Sign(body), body).ok());
  EXPECT_TRUE((*ring)->Verify("kb", b.Sign(body), body).ok());
  // Wrong key for the id, unknown id, other body, broken encodings.
  EXPECT_EQ((*ring)->Verify("ka", b.Sign(body), body).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*ring)->Verify("kc", a.Sign(body), body).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*ring)->Verify("ka", a.Sign(body), body + " ").code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*ring)->Verify("ka", "", body).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*ring)->Verify("ka", "!!!notbase64", body).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*ring)->Verify("ka", absl::Base64Escape("garbage"), body).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(LeakSignatureTest, RefusesKeyFilesThatAreNotP256Keys) {
  EXPECT_FALSE(LeakKeyring::FromJson("{}").ok());
  EXPECT_FALSE(LeakKeyring::FromJson(R"({"public_keys":[]})").ok());
  EXPECT_FALSE(LeakKeyring::FromJson(
                   R"({"public_keys":[{"key_identifier":"a","key":"x"}]})")
                   .ok());
  EVP_PKEY* rsa = EVP_RSA_gen(2048);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, rsa);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  nlohmann::json doc = {{"public_keys",
                         {{{"key_identifier", "r"},
                           {"key", std::string(data, n)}}}}};
  BIO_free(bio);
  EVP_PKEY_free(rsa);
  EXPECT_FALSE(LeakKeyring::FromJson(doc.dump()).ok());
  TestKey a;
  nlohmann::json dup = {{"public_keys",
                         {{{"key_identifier", "a"}, {"key", a.pem}},
                          {{"key_identifier", "a"}, {"key", a.pem}}}}};
  EXPECT_FALSE(LeakKeyring::FromJson(dup.dump()).ok());
}

}  // namespace
}  // namespace pat
