#include "server/webhooks/signature.h"

#include <openssl/rand.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/secret.h"

namespace pat::webhooks {
namespace {

std::string Mac(absl::string_view secret, int64_t t, absl::string_view body) {
  const Digest mac = HmacSha256(secret, absl::StrCat(t, ".", body));
  return DigestHex(mac);
}

}  // namespace

std::string GenerateSigningSecret() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) std::abort();
  return absl::StrCat(
      kSecretPrefix, absl::WebSafeBase64Escape(absl::string_view(
                         reinterpret_cast<const char*>(bytes), sizeof(bytes))));
}

std::string SignatureHeader(absl::string_view secret, absl::Time t,
                            absl::string_view body) {
  const int64_t unix = absl::ToUnixSeconds(t);
  return absl::StrCat("t=", unix, ",v1=", Mac(secret, unix, body));
}

absl::Status VerifySignature(absl::string_view secret, absl::string_view header,
                             absl::string_view body, absl::Time now,
                             absl::Duration tolerance) {
  const absl::Status bad = absl::UnauthenticatedError("bad webhook signature");
  int64_t t = 0;
  bool have_t = false;
  std::vector<absl::string_view> v1;
  for (absl::string_view part : absl::StrSplit(header, ',')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    if (kv.first == "t") {
      if (have_t || !absl::SimpleAtoi(kv.second, &t)) return bad;
      have_t = true;
    } else if (kv.first == "v1") {
      v1.push_back(kv.second);
    }
  }
  if (!have_t || v1.empty()) return bad;
  if (absl::AbsDuration(now - absl::FromUnixSeconds(t)) > tolerance) {
    return absl::UnauthenticatedError("stale webhook signature timestamp");
  }
  const std::string expected = Mac(secret, t, body);
  bool match = false;
  for (absl::string_view candidate : v1) {
    match |= ConstantTimeEquals(expected, candidate);
  }
  return match ? absl::OkStatus() : bad;
}

}  // namespace pat::webhooks
