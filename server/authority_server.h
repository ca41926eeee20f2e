#ifndef PAT_SERVER_AUTHORITY_SERVER_H_
#define PAT_SERVER_AUTHORITY_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "server/authority_config.h"
#include "server/authority_metrics.h"

namespace pat {

// A running pat-authority: database pool, store, token components, the gRPC
// services (TokenService, DirectoryService, IntrospectionService, health,
// reflection) and caller authentication, listening on config.listen.
// Thread-safe. The clock must outlive the server.
class AuthorityServer {
 public:
  // `metrics` (optional) receives RPC, pool and feed metrics and enables the
  // per-RPC JSON access log on stderr; it must outlive the server.
  // UNAVAILABLE when the database cannot be reached (retry later),
  // INVALID_ARGUMENT for configuration errors.
  static absl::StatusOr<std::unique_ptr<AuthorityServer>> Create(
      const AuthorityConfig& config, const Clock& clock,
      AuthorityMetrics* metrics = nullptr);
  virtual ~AuthorityServer() = default;

  // The bound port (useful when config.listen asked for port 0).
  virtual int port() const = 0;
  // Stops accepting RPCs, waits up to `grace` for in-flight RPCs, then
  // cancels the rest. Idempotent.
  virtual void Shutdown(absl::Duration grace) = 0;
  // Blocks until Shutdown has completed.
  virtual void Wait() = 0;
  // Whether the feed listener is connected (LISTEN) and reading.
  virtual bool feed_live() const = 0;
  // "" while the feed's LISTEN self-check lets the replica be ready, else
  // why not (threat checklist #11).
  virtual std::string feed_listen_problem() const = 0;
  // Sets every service of the gRPC health service SERVING or NOT_SERVING
  // (follows readiness; NOT_SERVING for good after Shutdown).
  virtual void SetServing(bool serving) = 0;
  // Copies pool and feed state into the gauges of `metrics`.
  virtual void UpdateGauges(AuthorityMetrics& metrics) const = 0;
};

}  // namespace pat

#endif  // PAT_SERVER_AUTHORITY_SERVER_H_
