#include "console/csrf.h"

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/secret.h"

namespace pat::console {
namespace {

constexpr absl::Duration kAllowedSkew = absl::Minutes(1);

std::string EncodeIssued(int64_t issued) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(issued & 0xff);
    issued >>= 8;
  }
  return out;
}

int64_t DecodeIssued(absl::string_view bytes) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v = (v << 8) | static_cast<uint8_t>(bytes[i]);
  }
  return static_cast<int64_t>(v);
}

absl::string_view HeaderValue(const boost::beast::http::fields& h,
                              absl::string_view name) {
  auto it = h.find(boost::beast::string_view(name.data(), name.size()));
  if (it == h.end()) return absl::string_view();
  return absl::string_view(it->value().data(), it->value().size());
}

}  // namespace

CsrfTokens::CsrfTokens(std::string key, const Clock& clock)
    : key_(std::move(key)), clock_(clock) {}

std::string CsrfTokens::Mac(absl::string_view user, int64_t issued) const {
  std::string data("pat-console-csrf");
  data.push_back('\0');
  absl::StrAppend(&data, user);
  data.push_back('\0');
  absl::StrAppend(&data, issued);
  const Digest mac = HmacSha256(key_, data);
  return std::string(reinterpret_cast<const char*>(mac.data()), mac.size());
}

std::string CsrfTokens::Issue(absl::string_view user) const {
  const int64_t issued = absl::ToUnixSeconds(clock_.Now());
  return absl::WebSafeBase64Escape(
      absl::StrCat(EncodeIssued(issued), Mac(user, issued)));
}

absl::Status CsrfTokens::Verify(absl::string_view user,
                                absl::string_view token) const {
  if (token.empty()) {
    return absl::PermissionDeniedError("csrf: missing X-Pat-Csrf token");
  }
  std::string raw;
  if (token.size() > 128 || !absl::WebSafeBase64Unescape(token, &raw) ||
      raw.size() != 8 + 32 || absl::WebSafeBase64Escape(raw) != token) {
    return absl::PermissionDeniedError("csrf: malformed token");
  }
  const int64_t issued = DecodeIssued(raw);
  if (!ConstantTimeEquals(absl::string_view(raw).substr(8),
                          Mac(user, issued))) {
    return absl::PermissionDeniedError("csrf: invalid token");
  }
  const absl::Time t = absl::FromUnixSeconds(issued);
  const absl::Time now = clock_.Now();
  if (t > now + kAllowedSkew || now - t > kCsrfTokenLifetime) {
    return absl::PermissionDeniedError("csrf: expired token, reload the page");
  }
  return absl::OkStatus();
}

absl::Status CheckStateChangingRequest(const CsrfTokens& tokens,
                                       absl::string_view user,
                                       absl::string_view public_origin,
                                       const boost::beast::http::fields& h) {
  const absl::string_view site = HeaderValue(h, "sec-fetch-site");
  if (!site.empty() && site != "same-origin") {
    return absl::PermissionDeniedError("csrf: cross-site request");
  }
  const absl::string_view origin = HeaderValue(h, "origin");
  if (!origin.empty()) {
    bool same = false;
    if (!public_origin.empty()) {
      same = origin == public_origin;
    } else {
      const absl::string_view host = HeaderValue(h, "host");
      same = !host.empty() && (origin == absl::StrCat("http://", host) ||
                               origin == absl::StrCat("https://", host));
    }
    if (!same) return absl::PermissionDeniedError("csrf: foreign Origin");
  }
  const absl::string_view type = HeaderValue(h, "content-type");
  const absl::string_view media = type.substr(0, type.find(';'));
  if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(media),
                              "application/json")) {
    return absl::PermissionDeniedError(
        "csrf: Content-Type must be application/json");
  }
  return tokens.Verify(user, HeaderValue(h, kCsrfHeader));
}

}  // namespace pat::console
