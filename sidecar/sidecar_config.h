#ifndef PAT_SIDECAR_SIDECAR_CONFIG_H_
#define PAT_SIDECAR_SIDECAR_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/domain.h"

// pat-sidecar's configuration (SPEC §4): the raw flag values, validated and
// completed (files read, catalog parsed) by ValidateSidecarConfig.
namespace pat::sidecar {

struct SidecarConfig {
  // --- As given by flags ---
  std::string listen = "0.0.0.0:8080";
  std::string upstream;   // http://host:port
  std::string authority;  // host:port (gRPC target)
  bool insecure = false;
  std::string tls_ca_path;
  std::string tls_cert_path;
  std::string tls_key_path;
  std::string api = "rest";  // rest | npm
  std::string catalog_path;  // empty: the built-in catalog of `api`
  std::string admin_listen = "127.0.0.1:9901";
  absl::Duration staleness_bound = absl::Seconds(30);
  std::string credential_headers = "authorization,x-figma-token";
  int workers = 0;  // 0: the proxy's default
  bool access_log = true;
  // HTTP front limits (sidecar/http_limits.h for the defaults).
  int max_connections = 0;  // 0: derived from RLIMIT_NOFILE and memory
  int64_t head_memory_budget = 32 << 20;
  int64_t body_limit = int64_t{64} << 20;
  int64_t body_resource_limit = 64 << 10;
  absl::Duration idle_timeout = absl::Seconds(60);
  absl::Duration header_timeout = absl::Seconds(15);
  absl::Duration body_timeout = absl::Seconds(60);
  absl::Duration upstream_timeout = absl::Seconds(300);
  std::string allow_routing_headers;  // comma-separated, may be empty
  // Requests that may wait on the authority at once (503 beyond), and per
  // client address (429 beyond).
  int64_t max_pending_lookups = 1024;
  int64_t max_pending_lookups_per_client = 32;
  // Which grants the cache holds (docs/cache-modes.md): "used" (the grants
  // requests needed, fetched by ValidateToken; the snapshot carries the
  // directory only) or "full" (every grant, from the snapshot).
  std::string cache_mode = "full";
  // used: digests held at most (arbitrary ones are dropped beyond).
  int64_t cache_max_grants = 50000;

  // --- Filled in by ValidateSidecarConfig ---
  TokenKind api_kind = TokenKind::kUnspecified;
  bool cache_used_only = false;  // cache_mode == "used"
  std::string catalog_text;  // the catalog in effect (file or built-in)
  std::string tls_ca_pem;
  std::string tls_cert_pem;
  std::string tls_key_pem;
  std::vector<std::string> credential_header_names;  // lower-case, unique
  std::vector<std::string> allowed_routing_header_names;  // lower-case
};

// Validates `raw` and completes it. Errors are INVALID_ARGUMENT naming the
// flag, e.g. "--upstream: required". Rules:
//  * --listen, --admin_listen: host:port (port 0..65535; 0 picks a free
//    port); they must differ;
//  * --upstream: required, http://host:port;
//  * --authority: required;
//  * without --insecure: --tls_ca, --tls_cert and --tls_key are required
//    (mTLS) and readable; with --insecure they must be empty;
//  * --api: rest or npm; --catalog: a readable catalog file that parses
//    (docs/catalog-format.md), else the built-in catalog for --api;
//  * --staleness_bound: > 0 and <= 24h;
//  * --credential_headers: a comma-separated, non-empty list of distinct
//    header names (HTTP tokens; compared case-insensitively);
//  * --workers: 0..1024;
//  * --max_connections: 0..1000000 (0: derived);
//  * --head_memory_budget: 64 KiB..16 GiB;
//  * --body_limit: 1 B..1 TiB; --body_resource_limit: 1 B..16 MiB and at
//    most --body_limit;
//  * --idle_timeout, --header_timeout, --body_timeout, --upstream_timeout:
//    > 0 and at most 24h;
//  * --allow_routing_headers: comma-separated names from the routing
//    header list (sidecar/header_rewrite.h), or empty;
//  * --cache_mode: used or full; --cache_max_grants: 1..10000000.
absl::StatusOr<SidecarConfig> ValidateSidecarConfig(SidecarConfig raw);

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_SIDECAR_CONFIG_H_
