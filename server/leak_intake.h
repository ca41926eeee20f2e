#ifndef PAT_SERVER_LEAK_INTAKE_H_
#define PAT_SERVER_LEAK_INTAKE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "grpcpp/impl/service_type.h"
#include "server/authority_config.h"
#include "server/authority_metrics.h"
#include "server/caller_auth.h"
#include "server/db_pool.h"
#include "server/token_store.h"

// The leaked-secret intake of pat-authority (docs/leak-intake.md): the
// LeakIntakeService gRPC service and, with --leak_intake_listen, the
// secret-scanning partner HTTP endpoint on its own listener. Owns its store,
// judge, metrics and HTTP server.
namespace pat {

class LeakIntake {
 public:
  // Everything must outlive the intake. With `metrics` its series go to
  // metrics->registry() (served on /metrics), else to a private registry.
  // INVALID_ARGUMENT for a bad key file, UNAVAILABLE when the listener
  // cannot be bound. Logs {"msg":"leak intake listening","port":N} when the
  // HTTP endpoint is on.
  static absl::StatusOr<std::unique_ptr<LeakIntake>> Start(
      const AuthorityConfig& config, DbPool& pool, TokenStore& tokens,
      const CallerAuth& auth, const Clock& clock, AuthorityMetrics* metrics);
  virtual ~LeakIntake() = default;

  virtual grpc::Service* service() = 0;
  // The HTTP endpoint's port; 0 when it is off.
  virtual int http_port() const = 0;
};

}  // namespace pat

#endif  // PAT_SERVER_LEAK_INTAKE_H_
