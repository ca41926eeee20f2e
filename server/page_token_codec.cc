#include "server/page_token_codec.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/secret.h"
#include "common/status_macros.h"

namespace pat {
namespace {

constexpr absl::string_view kPageTokenKeyName = "page_token_hmac";

}  // namespace

absl::StatusOr<std::string> PageTokenCodec::Key() {
  absl::MutexLock lock(&key_mu_);
  if (key_.empty()) {
    PAT_ASSIGN_OR_RETURN(
        key_, store_.GetOrCreateServerKey(std::string(kPageTokenKeyName),
                                          RandomBase62(43)));
  }
  return key_;
}

absl::StatusOr<std::string> PageTokenCodec::Encode(absl::string_view cursor,
                                                   absl::string_view tag) {
  PAT_ASSIGN_OR_RETURN(std::string key, Key());
  const std::string body = absl::StrCat("p1|", cursor, "|", tag);
  return absl::WebSafeBase64Escape(
      absl::StrCat(body, "|", DigestHex(HmacSha256(key, body))));
}

absl::StatusOr<std::string> PageTokenCodec::Decode(absl::string_view token,
                                                   absl::string_view tag) {
  const absl::Status invalid =
      absl::InvalidArgumentError("page_token: invalid");
  std::string raw;
  if (token.size() > 512 || !absl::WebSafeBase64Unescape(token, &raw)) {
    return invalid;
  }
  const size_t mac_at = raw.rfind('|');
  if (mac_at == std::string::npos) return invalid;
  const std::string body = raw.substr(0, mac_at);
  PAT_ASSIGN_OR_RETURN(std::string key, Key());
  if (!ConstantTimeEquals(raw.substr(mac_at + 1),
                          DigestHex(HmacSha256(key, body)))) {
    return invalid;
  }
  std::vector<std::string> parts = absl::StrSplit(body, '|');
  if (parts.size() != 3 || parts[0] != "p1" || parts[2] != tag) return invalid;
  return parts[1];
}

}  // namespace pat
