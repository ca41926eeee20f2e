#include "sidecar/sidecar_config.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/policy/catalog.h"
#include "common/policy/route_matcher.h"
#include "common/secret.h"
#include "common/status_macros.h"
#include "sidecar/header_rewrite.h"

namespace pat::sidecar {
namespace {

constexpr size_t kMaxFileBytes = size_t{1} << 20;
constexpr int kMaxWorkers = 1024;

absl::Status FlagError(absl::string_view flag, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", what));
}

// host:port, [v6]:port or :port with a numeric port.
absl::Status CheckHostPort(absl::string_view flag, absl::string_view value) {
  const size_t colon = value.rfind(':');
  if (value.empty() || colon == absl::string_view::npos) {
    return FlagError(flag, "must be host:port");
  }
  absl::string_view host = value.substr(0, colon);
  const absl::string_view port = value.substr(colon + 1);
  int port_number = 0;
  if (port.empty() || port.size() > 5 ||
      !absl::c_all_of(port, [](char c) { return absl::ascii_isdigit(c); }) ||
      !absl::SimpleAtoi(port, &port_number) || port_number > 65535) {
    return FlagError(flag, "the port must be a number from 0 to 65535");
  }
  if (absl::StartsWith(host, "[") != absl::EndsWith(host, "]")) {
    return FlagError(flag, "an IPv6 host must be written [addr]:port");
  }
  for (char c : host) {
    if (absl::ascii_isspace(c) || absl::ascii_iscntrl(c) || c == '/') {
      return FlagError(flag, "must be host:port");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(absl::string_view flag,
                                     const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return FlagError(flag, absl::StrCat("cannot read ", QuoteForError(path)));
  std::ostringstream contents;
  contents << in.rdbuf();
  std::string text = std::move(contents).str();
  if (text.size() > kMaxFileBytes) {
    return FlagError(flag, absl::StrCat(QuoteForError(path), " is larger than ",
                                        kMaxFileBytes, " bytes"));
  }
  return text;
}

// RFC 9110 tchar.
bool IsTokenChar(char c) {
  return absl::ascii_isalnum(c) ||
         absl::string_view("!#$%&'*+-.^_`|~").find(c) !=
             absl::string_view::npos;
}

absl::Status CheckRange(absl::string_view flag, int64_t value, int64_t lo,
                        int64_t hi) {
  if (value < lo || value > hi) {
    return FlagError(flag, absl::StrCat("must be ", lo, "..", hi));
  }
  return absl::OkStatus();
}

// The HTTP front's connection, memory, deadline and header flags.
absl::Status ValidateFrontLimits(SidecarConfig& config) {
  PAT_RETURN_IF_ERROR(
      CheckRange("max_connections", config.max_connections, 0, 1000000));
  PAT_RETURN_IF_ERROR(CheckRange("head_memory_budget",
                                 config.head_memory_budget, int64_t{64} << 10,
                                 int64_t{16} << 30));
  PAT_RETURN_IF_ERROR(
      CheckRange("body_limit", config.body_limit, 1, int64_t{1} << 40));
  PAT_RETURN_IF_ERROR(CheckRange("body_resource_limit",
                                 config.body_resource_limit, 1,
                                 std::min<int64_t>(16 << 20,
                                                   config.body_limit)));
  PAT_RETURN_IF_ERROR(CheckRange("max_pending_lookups",
                                 config.max_pending_lookups, 1, 1 << 20));
  PAT_RETURN_IF_ERROR(
      CheckRange("cache_max_grants", config.cache_max_grants, 1, 10000000));
  PAT_RETURN_IF_ERROR(CheckRange("max_pending_lookups_per_client",
                                 config.max_pending_lookups_per_client, 1,
                                 config.max_pending_lookups));
  const std::pair<absl::string_view, absl::Duration> timeouts[] = {
      {"idle_timeout", config.idle_timeout},
      {"header_timeout", config.header_timeout},
      {"body_timeout", config.body_timeout},
      {"upstream_timeout", config.upstream_timeout}};
  for (const auto& [flag, d] : timeouts) {
    if (d <= absl::ZeroDuration() || d > absl::Hours(24)) {
      return FlagError(flag, "must be > 0 and at most 24h");
    }
  }
  config.allowed_routing_header_names.clear();
  for (absl::string_view name :
       absl::StrSplit(config.allow_routing_headers, ',', absl::SkipEmpty())) {
    name = absl::StripAsciiWhitespace(name);
    if (name.empty()) continue;
    if (!IsRoutingHeader(name)) {
      return FlagError("allow_routing_headers",
                       absl::StrCat(QuoteForError(name),
                                    " is not one of the routing headers the "
                                    "sidecar strips"));
    }
    config.allowed_routing_header_names.push_back(absl::AsciiStrToLower(name));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SidecarConfig> ValidateSidecarConfig(SidecarConfig raw) {
  SidecarConfig config = std::move(raw);

  PAT_RETURN_IF_ERROR(CheckHostPort("listen", config.listen));
  PAT_RETURN_IF_ERROR(CheckHostPort("admin_listen", config.admin_listen));
  if (config.listen == config.admin_listen &&
      !absl::EndsWith(config.listen, ":0")) {
    return FlagError("admin_listen", "must differ from --listen");
  }

  if (config.upstream.empty()) return FlagError("upstream", "required");
  if (!absl::StartsWith(config.upstream, "http://")) {
    return FlagError("upstream", "must be http://host:port");
  }
  {
    absl::string_view rest = absl::string_view(config.upstream).substr(7);
    if (absl::EndsWith(rest, "/")) rest.remove_suffix(1);
    if (rest.find('/') != absl::string_view::npos ||
        rest.find('?') != absl::string_view::npos ||
        rest.find('@') != absl::string_view::npos ||
        !CheckHostPort("upstream", rest).ok()) {
      return FlagError("upstream", "must be http://host:port");
    }
  }

  if (config.authority.empty()) return FlagError("authority", "required");

  if (config.insecure) {
    if (!config.tls_ca_path.empty()) {
      return FlagError("tls_ca", "not allowed with --insecure");
    }
    if (!config.tls_cert_path.empty()) {
      return FlagError("tls_cert", "not allowed with --insecure");
    }
    if (!config.tls_key_path.empty()) {
      return FlagError("tls_key", "not allowed with --insecure");
    }
  } else {
    if (config.tls_ca_path.empty()) {
      return FlagError("tls_ca", "required unless --insecure");
    }
    if (config.tls_cert_path.empty()) {
      return FlagError("tls_cert",
                       "required unless --insecure (the authority requires "
                       "client certificates)");
    }
    if (config.tls_key_path.empty()) {
      return FlagError("tls_key", "required unless --insecure");
    }
    PAT_ASSIGN_OR_RETURN(config.tls_ca_pem,
                         ReadFile("tls_ca", config.tls_ca_path));
    PAT_ASSIGN_OR_RETURN(config.tls_cert_pem,
                         ReadFile("tls_cert", config.tls_cert_path));
    PAT_ASSIGN_OR_RETURN(config.tls_key_pem,
                         ReadFile("tls_key", config.tls_key_path));
  }

  if (config.cache_mode != "used" && config.cache_mode != "full") {
    return FlagError("cache_mode", "must be used or full");
  }
  config.cache_used_only = config.cache_mode == "used";
  if (config.api == "rest") {
    config.api_kind = TokenKind::kRestApi;
  } else if (config.api == "npm") {
    config.api_kind = TokenKind::kNpmRegistry;
  } else {
    return FlagError("api", "must be rest or npm");
  }
  if (config.catalog_path.empty()) {
    config.catalog_text =
        std::string(policy::DefaultCatalogText(config.api_kind));
  } else {
    PAT_ASSIGN_OR_RETURN(config.catalog_text,
                         ReadFile("catalog", config.catalog_path));
  }
  {
    absl::StatusOr<policy::RouteMatcher> routes =
        policy::RouteMatcher::FromText(config.catalog_text,
                                       config.catalog_path.empty()
                                           ? "built-in catalog"
                                           : config.catalog_path);
    if (!routes.ok()) return FlagError("catalog", routes.status().message());
  }

  if (config.staleness_bound <= absl::ZeroDuration() ||
      config.staleness_bound > absl::Hours(24)) {
    return FlagError("staleness_bound", "must be > 0 and at most 24h");
  }

  config.credential_header_names.clear();
  for (absl::string_view name :
       absl::StrSplit(config.credential_headers, ',')) {
    name = absl::StripAsciiWhitespace(name);
    if (name.empty()) {
      return FlagError("credential_headers",
                       "a comma-separated list of header names, none empty");
    }
    if (!absl::c_all_of(name, IsTokenChar)) {
      return FlagError(
          "credential_headers",
          absl::StrCat(QuoteForError(name), " is not a valid header name"));
    }
    std::string lower = absl::AsciiStrToLower(name);
    if (absl::c_linear_search(config.credential_header_names, lower)) {
      return FlagError("credential_headers",
                       absl::StrCat(QuoteForError(lower), " is listed twice"));
    }
    config.credential_header_names.push_back(std::move(lower));
  }

  if (config.workers < 0 || config.workers > kMaxWorkers) {
    return FlagError("workers", absl::StrCat("must be 0..", kMaxWorkers,
                                             " (0: the default)"));
  }
  PAT_RETURN_IF_ERROR(ValidateFrontLimits(config));
  return config;
}

}  // namespace pat::sidecar
