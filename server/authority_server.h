#ifndef PAT_SERVER_AUTHORITY_SERVER_H_
#define PAT_SERVER_AUTHORITY_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "server/authority_config.h"

namespace pat {

// A running pat-authority: database pool, store, token manager, the gRPC
// services (TokenService, DirectoryService, IntrospectionService, health,
// reflection) and caller authentication, listening on config.listen.
// Thread-safe. The clock must outlive the server.
class AuthorityServer {
 public:
  static absl::StatusOr<std::unique_ptr<AuthorityServer>> Create(
      const AuthorityConfig& config, const Clock& clock);
  virtual ~AuthorityServer() = default;

  // The bound port (useful when config.listen asked for port 0).
  virtual int port() const = 0;
  // Stops accepting RPCs, waits up to `grace` for in-flight RPCs, then
  // cancels the rest. Idempotent.
  virtual void Shutdown(absl::Duration grace) = 0;
  // Blocks until Shutdown has completed.
  virtual void Wait() = 0;
};

}  // namespace pat

#endif  // PAT_SERVER_AUTHORITY_SERVER_H_
