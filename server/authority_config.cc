#include "server/authority_config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"

namespace pat {
namespace {

constexpr int kMaxPoolSize = 1000;
constexpr int kMaxValidateMemoryEntries = 10000000;
constexpr int kMaxWatchBufferEvents = 1000000;
constexpr int kMaxRatePerSecond = 1000000;
constexpr int kMaxBurst = 1000000;
constexpr size_t kMaxEchoBytes = 64;

std::string Echo(absl::string_view input) {
  std::string out = absl::CHexEscape(input.substr(0, kMaxEchoBytes));
  if (input.size() > kMaxEchoBytes) out += "...";
  return out;
}

absl::Status FlagError(absl::string_view flag, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", message));
}

// A parsed --listen value.
struct ListenAddress {
  std::string host;  // without brackets; empty means every interface
  bool unix_socket = false;
};

absl::StatusOr<ListenAddress> ParseListen(absl::string_view listen) {
  ListenAddress out;
  if (absl::StartsWith(listen, "unix:") ||
      absl::StartsWith(listen, "unix-abstract:")) {
    out.unix_socket = true;
    return out;
  }
  const size_t colon = listen.rfind(':');
  if (colon == absl::string_view::npos) {
    return FlagError("listen", absl::StrCat("must be host:port, got \"",
                                            Echo(listen), "\""));
  }
  absl::string_view host = listen.substr(0, colon);
  absl::string_view port = listen.substr(colon + 1);
  int port_number = 0;
  if (port.empty() || !absl::SimpleAtoi(port, &port_number) ||
      port_number < 0 || port_number > 65535 ||
      !std::all_of(port.begin(), port.end(), absl::ascii_isdigit)) {
    return FlagError("listen", absl::StrCat("port must be 0..65535, got \"",
                                            Echo(port), "\""));
  }
  if (absl::StartsWith(host, "[")) {
    if (!absl::EndsWith(host, "]") || host.size() < 3) {
      return FlagError("listen", absl::StrCat("malformed IPv6 address \"",
                                              Echo(host), "\""));
    }
    host = host.substr(1, host.size() - 2);
  } else if (absl::StrContains(host, ':')) {
    return FlagError("listen",
                     "an IPv6 address must be in brackets, e.g. "
                     "[::1]:7443");
  }
  out.host = std::string(host);
  return out;
}

bool IsLoopback(const ListenAddress& address) {
  if (address.unix_socket) return true;
  if (address.host == "localhost") return true;
  in_addr v4;
  if (inet_pton(AF_INET, address.host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, address.host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&v6)) return v6.s6_addr[12] == 127;
  }
  return false;
}

absl::StatusOr<std::string> ReadFile(absl::string_view flag,
                                     const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return FlagError(flag, absl::StrCat("cannot read \"", Echo(path),
                                        "\": ", std::strerror(errno)));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) {
    return FlagError(flag, absl::StrCat("cannot read \"", Echo(path), "\""));
  }
  return contents.str();
}

absl::StatusOr<CallerRole> ParseRole(absl::string_view name) {
  if (name == "admin") return CallerRole::kAdmin;
  if (name == "platform") return CallerRole::kPlatform;
  if (name == "sidecar") return CallerRole::kSidecar;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown role \"", Echo(name), "\" (roles: admin, platform, sidecar)"));
}

// Strips a comment: '#' at the start of the line or after whitespace (so an
// identity such as a URI may still contain '#').
absl::string_view StripComment(absl::string_view line) {
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '#' && (i == 0 || absl::ascii_isspace(line[i - 1]))) {
      return line.substr(0, i);
    }
  }
  return line;
}

absl::Status ValidateRateLimit(absl::string_view prefix,
                               const RateLimit& limit) {
  // !(x >= 0) also refuses NaN.
  if (!(limit.per_second >= 0) || limit.per_second > kMaxRatePerSecond) {
    return FlagError(absl::StrCat(prefix, "_rate_limit"),
                     absl::StrCat("must be 0 (off) to ", kMaxRatePerSecond,
                                  " requests per second"));
  }
  if (limit.enabled() && (limit.burst < 1 || limit.burst > kMaxBurst)) {
    return FlagError(
        absl::StrCat(prefix, "_rate_burst"),
        absl::StrCat("must be 1..", kMaxBurst, ", got ", limit.burst));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::map<std::string, std::set<CallerRole>>> ParseCallersConfig(
    absl::string_view text) {
  std::map<std::string, std::set<CallerRole>> callers;
  std::map<std::string, int> first_line;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    auto error = [line_number](absl::string_view message) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_number, ": ", message));
    };
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    for (char c : line) {
      const unsigned char u = static_cast<unsigned char>(c);
      if (u != '\t' && !absl::ascii_isprint(u)) {
        return error("only printable ASCII is allowed");
      }
    }
    std::vector<absl::string_view> fields = absl::StrSplit(
        StripComment(line), absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.empty()) continue;
    if (fields.size() != 2) {
      return error("expected \"<identity> <role>[,<role>...]\"");
    }
    const std::string identity(fields[0]);
    auto [it, inserted] = first_line.emplace(identity, line_number);
    if (!inserted) {
      return error(absl::StrCat("identity \"", Echo(identity),
                                "\" is already given on line ", it->second));
    }
    std::set<CallerRole>& roles = callers[identity];
    for (absl::string_view name : absl::StrSplit(fields[1], ',')) {
      absl::StatusOr<CallerRole> role = ParseRole(name);
      if (!role.ok()) return error(role.status().message());
      roles.insert(*role);
    }
  }
  return callers;
}

absl::StatusOr<AuthorityConfig> ValidateAuthorityConfig(
    AuthorityConfig raw, bool allow_insecure_non_loopback) {
  if (!raw.leak_intake_listen.empty()) {
    absl::StatusOr<ListenAddress> leak = ParseListen(raw.leak_intake_listen);
    if (!leak.ok() || leak->unix_socket) {
      return FlagError("leak_intake_listen", "must be host:port");
    }
    if (raw.leak_intake_public_keys_path.empty()) {
      return FlagError("leak_intake_public_keys",
                       "required with --leak_intake_listen");
    }
  }
  if (raw.leak_intake_max_body_bytes < 1024 ||
      raw.leak_intake_max_body_bytes > (64u << 20)) {
    return FlagError("leak_intake_max_body_bytes",
                     "must be between 1024 and 67108864");
  }
  PAT_ASSIGN_OR_RETURN(ListenAddress listen, ParseListen(raw.listen));
  if (!raw.admin_listen.empty()) {
    absl::StatusOr<ListenAddress> admin = ParseListen(raw.admin_listen);
    if (!admin.ok() || admin->unix_socket) {
      return FlagError("admin_listen",
                       absl::StrCat("must be host:port, got \"",
                                    Echo(raw.admin_listen), "\""));
    }
  }
  if (raw.database_url.empty()) return FlagError("database_url", "required");
  if (raw.db_pool_size < 1 || raw.db_pool_size > kMaxPoolSize) {
    return FlagError("db_pool_size", absl::StrCat("must be 1..", kMaxPoolSize,
                                                  ", got ", raw.db_pool_size));
  }
  if (raw.db_acquire_timeout <= absl::ZeroDuration()) {
    return FlagError("db_acquire_timeout", "must be positive");
  }
  if (raw.snapshot_reads < 1 || raw.snapshot_reads > kMaxPoolSize) {
    return FlagError("snapshot_reads",
                     absl::StrCat("must be 1..", kMaxPoolSize, ", got ",
                                  raw.snapshot_reads));
  }
  if (raw.validate_memory_entries < 0 ||
      raw.validate_memory_entries > kMaxValidateMemoryEntries) {
    return FlagError("validate_memory_entries",
                     absl::StrCat("must be 0..", kMaxValidateMemoryEntries,
                                  ", got ", raw.validate_memory_entries));
  }
  if (raw.watch_buffer_events < 1 ||
      raw.watch_buffer_events > kMaxWatchBufferEvents) {
    return FlagError("watch_buffer_events",
                     absl::StrCat("must be 1..", kMaxWatchBufferEvents,
                                  ", got ", raw.watch_buffer_events));
  }
  if (raw.watch_evict_grace <= absl::ZeroDuration()) {
    return FlagError("watch_evict_grace", "must be positive");
  }
  if (raw.feed_listen_check_interval <= absl::ZeroDuration() ||
      raw.feed_listen_check_interval > absl::Hours(1)) {
    return FlagError("feed_listen_check_interval", "must be in (0, 1h]");
  }
  if (raw.feed_listen_check_timeout <= absl::ZeroDuration() ||
      raw.feed_listen_check_timeout > absl::Minutes(1)) {
    return FlagError("feed_listen_check_timeout", "must be in (0, 1m]");
  }
  PAT_RETURN_IF_ERROR(ValidateRateLimit("actor", raw.actor_rate_limit));
  PAT_RETURN_IF_ERROR(ValidateRateLimit("caller", raw.caller_rate_limit));
  PAT_RETURN_IF_ERROR(webhooks::ValidateWebhookOptions(raw.webhooks));

  const std::pair<absl::string_view, const std::string*> tls_flags[] = {
      {"tls_cert", &raw.tls_cert_path},
      {"tls_key", &raw.tls_key_path},
      {"tls_client_ca", &raw.tls_client_ca_path},
      {"callers_config", &raw.callers_config_path},
  };
  if (raw.insecure) {
    // Plaintext with TLS flags set is a contradiction an operator should hear
    // about rather than silently run without TLS.
    for (const auto& [flag, value] : tls_flags) {
      if (!value->empty()) {
        return FlagError(flag, "cannot be combined with --insecure");
      }
    }
    if (!IsLoopback(listen) && !allow_insecure_non_loopback) {
      return FlagError(
          "insecure",
          absl::StrCat("refusing to serve plaintext on non-loopback address \"",
                       Echo(raw.listen),
                       "\" without --allow_insecure_non_loopback"));
    }
    raw.callers.clear();
    if (!raw.rate_limits_explicit) {
      raw.actor_rate_limit = RateLimit{};
      raw.caller_rate_limit = RateLimit{};
    }
    return raw;
  }

  for (const auto& [flag, value] : tls_flags) {
    if (value->empty()) return FlagError(flag, "required unless --insecure");
  }
  for (const auto& [flag, value] : tls_flags) {
    PAT_RETURN_IF_ERROR(ReadFile(flag, *value).status());
  }
  PAT_ASSIGN_OR_RETURN(std::string callers_text,
                       ReadFile("callers_config", raw.callers_config_path));
  absl::StatusOr<std::map<std::string, std::set<CallerRole>>> callers =
      ParseCallersConfig(callers_text);
  if (!callers.ok()) {
    return FlagError("callers_config",
                     absl::StrCat(Echo(raw.callers_config_path), ": ",
                                  callers.status().message()));
  }
  if (callers->empty()) {
    return FlagError(
        "callers_config",
        absl::StrCat(Echo(raw.callers_config_path), ": names no callers"));
  }
  raw.callers = *std::move(callers);
  return raw;
}

}  // namespace pat
