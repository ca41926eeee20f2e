#ifndef PAT_CONSOLE_CONSOLE_CONFIG_H_
#define PAT_CONSOLE_CONSOLE_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "boost/asio/ip/address.hpp"
#include "boost/asio/ip/network_v4.hpp"
#include "boost/asio/ip/network_v6.hpp"

// pat-console configuration: ConsoleFlags is what the command line says (raw
// strings, as given); BuildConsoleConfig() validates it once into a frozen
// ConsoleConfig. Nothing downstream re-parses a flag.
namespace pat::console {

struct ConsoleFlags {
  std::string listen = "127.0.0.1:8090";
  std::string authority;
  bool insecure = false;
  std::string tls_ca;  // PEM file paths
  std::string tls_cert;
  std::string tls_key;
  std::string tls_server_name;
  std::string dev_user;
  std::string trusted_proxies;  // comma-separated IPs or CIDRs
  std::string proxy_secret_file;
  std::string user_headers = "x-auth-request-user,x-forwarded-user";
  std::string public_origin;  // e.g. https://console.example.com
  std::string csrf_key_file;
  int rate_limit_per_minute = 120;
  int rate_limit_burst = 40;
  int max_connections = 256;
  int max_body_bytes = 64 * 1024;
  int max_inflight_rpcs = 64;
  absl::Duration rpc_timeout = absl::Seconds(10);
  absl::Duration idle_timeout = absl::Seconds(30);
  int io_threads = 2;
  std::string assets_dir;
};

using IpNetwork =
    std::variant<boost::asio::ip::network_v4, boost::asio::ip::network_v6>;

// How a request's user is established (see identity.h).
struct SignInPolicy {
  // Non-empty: every request is this user (loopback listener only).
  std::string dev_user;
  // Peers whose user headers are believed.
  std::vector<IpNetwork> trusted_proxies;
  // Non-empty: a request carrying X-Pat-Proxy-Secret equal to this is
  // believed from any peer.
  std::string proxy_secret;
  // Lower-case header names, first present wins.
  std::vector<std::string> user_headers;
};

struct ConsoleConfig {
  boost::asio::ip::address listen_address;
  uint16_t listen_port = 0;
  std::string authority;
  bool insecure = false;
  // PEM contents (not paths), read at start.
  std::string tls_ca_pem;
  std::string tls_cert_pem;
  std::string tls_key_pem;
  std::string tls_server_name;
  SignInPolicy sign_in;
  // Empty: a request's Origin must equal http(s)://<its Host header>.
  std::string public_origin;
  // At least 32 bytes; random per process when no file is given.
  std::string csrf_key;
  int rate_limit_per_minute = 0;
  int rate_limit_burst = 0;
  int max_connections = 0;
  size_t max_body_bytes = 0;
  int max_inflight_rpcs = 0;
  absl::Duration rpc_timeout;
  absl::Duration idle_timeout;
  int io_threads = 0;
  std::string assets_dir;
};

// INVALID_ARGUMENT naming the flag for every malformed or inconsistent
// value: --dev_user on a non-loopback --listen, no sign-in method at all,
// --insecure together with TLS files, TLS without all three files, limits
// out of range. NOT_FOUND when a named file cannot be read.
absl::StatusOr<ConsoleConfig> BuildConsoleConfig(const ConsoleFlags& flags);

// Parses "1.2.3.4", "::1", "10.0.0.0/8" or "fd00::/8".
absl::StatusOr<IpNetwork> ParseIpNetwork(std::string_view text);
bool NetworkContains(const IpNetwork& network,
                     const boost::asio::ip::address& address);

}  // namespace pat::console

#endif  // PAT_CONSOLE_CONSOLE_CONFIG_H_
