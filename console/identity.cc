#include "console/identity.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/secret.h"

namespace pat::console {
namespace {

bool FromTrustedPeer(const SignInPolicy& policy,
                     const boost::asio::ip::address& peer) {
  for (const IpNetwork& network : policy.trusted_proxies) {
    if (NetworkContains(network, peer)) return true;
  }
  return false;
}

}  // namespace

bool IsValidUserId(absl::string_view user) {
  if (user.empty() || user.size() > 128) return false;
  for (char c : user) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

absl::StatusOr<std::string> IdentifyUser(
    const SignInPolicy& policy, const boost::asio::ip::address& peer,
    const boost::beast::http::fields& headers) {
  if (!policy.dev_user.empty()) return policy.dev_user;

  bool trusted = FromTrustedPeer(policy, peer);
  if (!policy.proxy_secret.empty()) {
    auto [begin, end] = headers.equal_range(boost::beast::string_view(
        kProxySecretHeader.data(), kProxySecretHeader.size()));
    if (begin != end) {
      // A wrong secret is a failure even from a trusted address: something
      // is misconfigured or someone is probing.
      if (std::next(begin) != end ||
          !ConstantTimeEquals(
              absl::string_view(begin->value().data(), begin->value().size()),
              policy.proxy_secret)) {
        return absl::UnauthenticatedError(
            "not signed in: the sign-in proxy's secret is wrong");
      }
      trusted = true;
    }
  }
  if (!trusted) {
    return absl::UnauthenticatedError(
        "not signed in: the request did not come through the sign-in proxy");
  }
  for (const std::string& name : policy.user_headers) {
    auto [begin, end] = headers.equal_range(name);  // std::string -> beast sv
    if (begin == end) continue;
    if (std::next(begin) != end) {
      return absl::InvalidArgumentError(
          absl::StrCat("sign-in header ", name, " given more than once"));
    }
    const absl::string_view user(begin->value().data(), begin->value().size());
    if (!IsValidUserId(user)) {
      return absl::InvalidArgumentError(
          absl::StrCat("sign-in header ", name, " is malformed"));
    }
    return std::string(user);
  }
  return absl::UnauthenticatedError("not signed in: no user header");
}

}  // namespace pat::console
