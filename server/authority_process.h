#ifndef PAT_SERVER_AUTHORITY_PROCESS_H_
#define PAT_SERVER_AUTHORITY_PROCESS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "nlohmann/json.hpp"
#include "server/authority_config.h"

// The serving pat-authority process: the admin endpoint (metrics, health,
// readiness) comes up first and stays up; the gRPC server (AuthorityServer)
// is started by a supervisor thread as soon as the database can be reached,
// retrying with backoff (100 ms doubling to 5 s) while it cannot. /readyz is
// 200 only while the gRPC server runs, the database answers, the schema is
// at LatestSchemaVersion() and the feed listener is LISTENing (its
// self-check probes come back, see FeedHub); the gRPC health service
// follows /readyz (SERVING only while ready); the
// supervisor re-checks every `probe_interval` on its own connection
// (connect_timeout 3 s, statement_timeout 2 s), so probes never wait on the
// database.
namespace pat {

using LogFn = std::function<void(const nlohmann::ordered_json&)>;

struct AuthorityProcessOptions {
  absl::Duration probe_interval = absl::Seconds(1);
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
};

class AuthorityProcess {
 public:
  // Binds the admin endpoint (if configured) and starts the supervisor.
  // Fails only if the admin address cannot be bound. `clock` must outlive
  // the process. `log` writes one JSON line.
  static absl::StatusOr<std::unique_ptr<AuthorityProcess>> Start(
      const AuthorityConfig& config, const Clock& clock, LogFn log,
      AuthorityProcessOptions options = {});
  virtual ~AuthorityProcess() = default;

  // 0 without an admin endpoint.
  virtual int admin_port() const = 0;
  // A start error that retrying cannot fix (configuration, bind): the
  // process should exit. OK while starting or serving.
  virtual absl::Status fatal_error() const = 0;
  // Stops the supervisor, drains the gRPC server (up to `grace`) and stops
  // the admin endpoint. Idempotent.
  virtual void Shutdown(absl::Duration grace) = 0;
};

}  // namespace pat

#endif  // PAT_SERVER_AUTHORITY_PROCESS_H_
