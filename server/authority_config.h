#ifndef PAT_SERVER_AUTHORITY_CONFIG_H_
#define PAT_SERVER_AUTHORITY_CONFIG_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/webhooks/webhook_options.h"

namespace pat {

// Which services a caller may use (SPEC §4).
enum class CallerRole { kAdmin, kPlatform, kSidecar };

// A token bucket: `per_second` requests a second on average, up to `burst`
// at once. per_second 0 turns the limit off (burst is then ignored).
struct RateLimit {
  double per_second = 0;
  int burst = 0;
  bool enabled() const { return per_second > 0; }
};

// The production defaults of the TokenService rate limits (the flags'
// defaults; see ValidateAuthorityConfig for --insecure).
inline constexpr RateLimit kDefaultActorRateLimit = {20, 40};
inline constexpr RateLimit kDefaultCallerRateLimit = {200, 400};

// Validated, immutable configuration of pat-authority.
struct AuthorityConfig {
  std::string listen = "127.0.0.1:7443";
  // /metrics, /healthz, /readyz (plain HTTP); "" disables it.
  std::string admin_listen = "127.0.0.1:9902";
  // False when admin_listen is the built-in default (not given): then an
  // address already in use only disables the endpoint, with a warning, so
  // that several authorities on one host (tests, benchmarks) can start.
  bool admin_listen_explicit = true;
  std::string database_url;
  bool insecure = false;
  std::string tls_cert_path;
  std::string tls_key_path;
  std::string tls_client_ca_path;
  std::string callers_config_path;
  int db_pool_size = 8;
  absl::Duration db_acquire_timeout = absl::Seconds(5);
  // WatchGrants snapshot reads running at once (--snapshot_reads); each
  // holds one pooled connection for the whole read, and streams that need
  // a snapshot meanwhile share them (docs/capacity.md "Shared snapshots").
  // Used as min(snapshot_reads, db_pool_size - 1), at least 1, so that a
  // start-up storm always leaves a connection for the other RPCs.
  int snapshot_reads = 2;
  // ValidateToken answers from memory (--validate_memory_entries): at most
  // this many tokens' secrets are held per replica, plus a quarter as many
  // unknown digests; 0 reads the database for every call
  // (server/validate_memory.h, docs/capacity.md).
  int validate_memory_entries = 100000;
  // WatchGrants events each replica keeps serialized for its streams
  // (--watch_buffer_events); a stream that falls further behind than this
  // is a slow consumer and ends RESOURCE_EXHAUSTED with its resume revision
  // (server/watch_stream.h, docs/capacity.md).
  int watch_buffer_events = 10000;
  // How long such a stream's outstanding write may wait before the call is
  // cancelled (not a flag).
  absl::Duration watch_evict_grace = absl::Seconds(5);
  bool auto_migrate = false;
  // TokenService rate limits per actor (x-pat-actor) and per caller
  // identity (certificate SAN).
  RateLimit actor_rate_limit = kDefaultActorRateLimit;
  RateLimit caller_rate_limit = kDefaultCallerRateLimit;
  // False when the four rate-limit fields are the defaults (no flag given):
  // then --insecure turns both limits off, so that development servers,
  // tests on a frozen FakeClock and benchmarks are not throttled.
  bool rate_limits_explicit = false;
  // The feed listener's LISTEN session (--feed_database_url); "" means
  // database_url. Must reach PostgreSQL directly or through a session-mode
  // pooler: a transaction-mode pooler drops notifications, which the LISTEN
  // self-check then reports (docs/feed-faults.md).
  std::string feed_database_url;
  // LISTEN self-check: a probe every interval, expected back within timeout.
  absl::Duration feed_listen_check_interval = absl::Seconds(5);
  absl::Duration feed_listen_check_timeout = absl::Seconds(2);
  // Leaked-secret intake (docs/leak-intake.md): the secret-scanning partner
  // HTTP endpoint's address ("" = off), its public keys file (JSON in the
  // shape of GitHub's /meta/public_keys/secret_scanning; required with the
  // listener) and its request body limit.
  std::string leak_intake_listen;
  std::string leak_intake_public_keys_path;
  uint64_t leak_intake_max_body_bytes = 1 << 20;
  // Parsed callers config: certificate identity (a SAN) -> roles.
  std::map<std::string, std::set<CallerRole>> callers;
  // Lifecycle notifications (--webhooks, --webhook_*; docs/webhooks.md).
  webhooks::WebhookOptions webhooks;
};

// Validates `raw` (fields as given by flags) and loads the callers config.
// Errors are INVALID_ARGUMENT naming the flag: e.g. "--database_url: required".
// Rules: database_url required; without --insecure, tls_cert, tls_key,
// tls_client_ca and callers_config are required; with --insecure and a
// non-loopback listen address, refused unless allow_insecure_non_loopback;
// a rate limit's per_second must be 0..1e6 and, when not 0, its burst
// 1..1e6; with --insecure and !rate_limits_explicit both limits are off.
absl::StatusOr<AuthorityConfig> ValidateAuthorityConfig(
    AuthorityConfig raw, bool allow_insecure_non_loopback = false);

// Callers config format, one caller per line, '#' comments:
//   <identity> <role>[,<role>...]     roles: admin, platform, sidecar
// e.g. "spiffe://pat/console admin". Errors name the line number.
absl::StatusOr<std::map<std::string, std::set<CallerRole>>> ParseCallersConfig(
    absl::string_view text);

}  // namespace pat

#endif  // PAT_SERVER_AUTHORITY_CONFIG_H_
