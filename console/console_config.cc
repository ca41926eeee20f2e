#include "console/console_config.h"

#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/secret.h"
#include "common/status_macros.h"
#include "console/identity.h"

namespace pat::console {
namespace {

namespace ip = boost::asio::ip;

absl::StatusOr<std::string> ReadFile(absl::string_view flag,
                                     const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("--", flag, ": cannot read ", path));
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

absl::Status ParseListen(const std::string& listen, ConsoleConfig& config) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError("--listen: want host:port");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  config.listen_address = ip::make_address(host, ec);
  uint32_t port = 0;
  if (ec || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port > 65535) {
    return absl::InvalidArgumentError(
        "--listen: want an IP address and a port, e.g. 127.0.0.1:8090");
  }
  config.listen_port = static_cast<uint16_t>(port);
  return absl::OkStatus();
}

absl::Status CheckRange(absl::string_view flag, int64_t value, int64_t lo,
                        int64_t hi) {
  if (value < lo || value > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": must be between ", lo, " and ", hi));
  }
  return absl::OkStatus();
}

absl::Status BuildSignIn(const ConsoleFlags& flags, ConsoleConfig& config) {
  SignInPolicy& policy = config.sign_in;
  if (!flags.dev_user.empty()) {
    if (!IsValidUserId(flags.dev_user)) {
      return absl::InvalidArgumentError(
          "--dev_user: 1-128 printable ASCII characters, no spaces");
    }
    if (!config.listen_address.is_loopback()) {
      return absl::InvalidArgumentError(
          "--dev_user: refused on a non-loopback --listen address (local "
          "development only)");
    }
    policy.dev_user = flags.dev_user;
  }
  for (absl::string_view part :
       absl::StrSplit(flags.trusted_proxies, ',', absl::SkipWhitespace())) {
    auto network =
        ParseIpNetwork(std::string(absl::StripAsciiWhitespace(part)));
    if (!network.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--trusted_proxies: ", network.status().message()));
    }
    policy.trusted_proxies.push_back(*network);
  }
  if (!flags.proxy_secret_file.empty()) {
    PAT_ASSIGN_OR_RETURN(std::string secret, ReadFile("proxy_secret_file",
                                                      flags.proxy_secret_file));
    policy.proxy_secret = std::string(absl::StripAsciiWhitespace(secret));
    if (policy.proxy_secret.size() < 32) {
      return absl::InvalidArgumentError(
          "--proxy_secret_file: the secret must be at least 32 characters");
    }
  }
  for (absl::string_view h :
       absl::StrSplit(flags.user_headers, ',', absl::SkipWhitespace())) {
    policy.user_headers.push_back(
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(h)));
  }
  if (policy.dev_user.empty()) {
    if (policy.trusted_proxies.empty() && policy.proxy_secret.empty()) {
      return absl::InvalidArgumentError(
          "sign-in: give --trusted_proxies and/or --proxy_secret_file (or "
          "--dev_user for local development)");
    }
    if (policy.user_headers.empty()) {
      return absl::InvalidArgumentError("--user_headers: required");
    }
  }
  return absl::OkStatus();
}

absl::Status BuildAuthority(const ConsoleFlags& flags, ConsoleConfig& config) {
  if (flags.authority.empty()) {
    return absl::InvalidArgumentError("--authority: required");
  }
  config.authority = flags.authority;
  config.insecure = flags.insecure;
  config.tls_server_name = flags.tls_server_name;
  const bool any_tls = !flags.tls_ca.empty() || !flags.tls_cert.empty() ||
                       !flags.tls_key.empty();
  if (flags.insecure) {
    if (any_tls) {
      return absl::InvalidArgumentError(
          "--insecure: cannot be combined with --tls_ca/--tls_cert/--tls_key");
    }
    return absl::OkStatus();
  }
  if (flags.tls_ca.empty() || flags.tls_cert.empty() || flags.tls_key.empty()) {
    return absl::InvalidArgumentError(
        "--tls_ca, --tls_cert, --tls_key: all three are required for mTLS to "
        "the authority (or --insecure for development)");
  }
  PAT_ASSIGN_OR_RETURN(config.tls_ca_pem, ReadFile("tls_ca", flags.tls_ca));
  PAT_ASSIGN_OR_RETURN(config.tls_cert_pem,
                       ReadFile("tls_cert", flags.tls_cert));
  PAT_ASSIGN_OR_RETURN(config.tls_key_pem, ReadFile("tls_key", flags.tls_key));
  return absl::OkStatus();
}

absl::Status BuildLimits(const ConsoleFlags& flags, ConsoleConfig& config) {
  PAT_RETURN_IF_ERROR(CheckRange("rate_limit_per_minute",
                                 flags.rate_limit_per_minute, 1, 100000));
  PAT_RETURN_IF_ERROR(
      CheckRange("rate_limit_burst", flags.rate_limit_burst, 1, 100000));
  PAT_RETURN_IF_ERROR(
      CheckRange("max_connections", flags.max_connections, 1, 100000));
  PAT_RETURN_IF_ERROR(
      CheckRange("max_body_bytes", flags.max_body_bytes, 1024, 4 << 20));
  PAT_RETURN_IF_ERROR(
      CheckRange("max_inflight_rpcs", flags.max_inflight_rpcs, 1, 10000));
  PAT_RETURN_IF_ERROR(CheckRange("io_threads", flags.io_threads, 1, 64));
  if (flags.rpc_timeout <= absl::ZeroDuration() ||
      flags.rpc_timeout > absl::Minutes(5)) {
    return absl::InvalidArgumentError("--rpc_timeout: must be in (0, 5m]");
  }
  if (flags.idle_timeout <= absl::ZeroDuration() ||
      flags.idle_timeout > absl::Minutes(10)) {
    return absl::InvalidArgumentError("--idle_timeout: must be in (0, 10m]");
  }
  config.rate_limit_per_minute = flags.rate_limit_per_minute;
  config.rate_limit_burst = flags.rate_limit_burst;
  config.max_connections = flags.max_connections;
  config.max_body_bytes = static_cast<size_t>(flags.max_body_bytes);
  config.max_inflight_rpcs = flags.max_inflight_rpcs;
  config.rpc_timeout = flags.rpc_timeout;
  config.idle_timeout = flags.idle_timeout;
  config.io_threads = flags.io_threads;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<IpNetwork> ParseIpNetwork(std::string_view text) {
  boost::system::error_code ec;
  const std::string s(text);
  if (s.find('/') == std::string::npos) {
    ip::address a = ip::make_address(s, ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("bad address ", s));
    if (a.is_v4()) return IpNetwork(ip::network_v4(a.to_v4(), 32));
    return IpNetwork(ip::network_v6(a.to_v6(), 128));
  }
  if (s.find(':') == std::string::npos) {
    ip::network_v4 n = ip::make_network_v4(s, ec);
    if (!ec) return IpNetwork(n.canonical());
  } else {
    ip::network_v6 n = ip::make_network_v6(s, ec);
    if (!ec) return IpNetwork(n.canonical());
  }
  return absl::InvalidArgumentError(absl::StrCat("bad network ", s));
}

bool NetworkContains(const IpNetwork& network, const ip::address& address) {
  ip::address a = address;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    a = ip::make_address_v4(ip::v4_mapped, a.to_v6());
  }
  if (const auto* n4 = std::get_if<ip::network_v4>(&network)) {
    if (!a.is_v4()) return false;
    return (a.to_v4().to_uint() & n4->netmask().to_uint()) ==
           n4->network().to_uint();
  }
  const auto& n6 = std::get<ip::network_v6>(network);
  if (!a.is_v6()) return false;
  const ip::address_v6 candidate =
      ip::network_v6(a.to_v6(), n6.prefix_length()).network();
  return candidate == n6.network();
}

absl::StatusOr<ConsoleConfig> BuildConsoleConfig(const ConsoleFlags& flags) {
  ConsoleConfig config;
  PAT_RETURN_IF_ERROR(ParseListen(flags.listen, config));
  PAT_RETURN_IF_ERROR(BuildAuthority(flags, config));
  PAT_RETURN_IF_ERROR(BuildSignIn(flags, config));
  PAT_RETURN_IF_ERROR(BuildLimits(flags, config));
  if (!flags.public_origin.empty()) {
    const absl::string_view o = flags.public_origin;
    if ((!absl::StartsWith(o, "https://") && !absl::StartsWith(o, "http://")) ||
        absl::EndsWith(o, "/")) {
      return absl::InvalidArgumentError(
          "--public_origin: scheme://host[:port] without a trailing slash");
    }
    config.public_origin = flags.public_origin;
  }
  if (flags.csrf_key_file.empty()) {
    config.csrf_key = RandomBase62(64);
  } else {
    PAT_ASSIGN_OR_RETURN(std::string key,
                         ReadFile("csrf_key_file", flags.csrf_key_file));
    config.csrf_key = std::string(absl::StripAsciiWhitespace(key));
    if (config.csrf_key.size() < 32) {
      return absl::InvalidArgumentError(
          "--csrf_key_file: the key must be at least 32 characters");
    }
  }
  config.assets_dir = flags.assets_dir;
  return config;
}

}  // namespace pat::console
