#ifndef PAT_SIDECAR_ADMIN_SERVER_H_
#define PAT_SIDECAR_ADMIN_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "sidecar/authorizer.h"
#include "sidecar/metrics.h"

// The sidecar's admin endpoint (SPEC §4 --admin_listen), on its own address
// and thread:
//   GET /healthz  200 "ok" while the process serves
//   GET /readyz   200 "ready" when Authorizer::Ready(), else 503 "not ready"
//   GET /metrics  MetricsRegistry::RenderPrometheus(),
//                 Content-Type: text/plain; version=0.0.4
// HEAD works like GET without a body; other paths are 404, other methods 405.
namespace pat::sidecar {

struct AdminServerConfig {
  // "host:port"; port 0 picks a free port (see AdminServer::port()).
  std::string listen = "127.0.0.1:9901";
};

class AdminServer {
 public:
  // Binds and starts serving. The authorizer and registry must outlive the
  // server. INVALID_ARGUMENT for a bad address, UNAVAILABLE when it cannot
  // be bound.
  static absl::StatusOr<std::unique_ptr<AdminServer>> Create(
      const AdminServerConfig& config, const Authorizer& authorizer,
      const MetricsRegistry& metrics);

  // Shutdown() if it has not been called.
  ~AdminServer();

  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  int port() const;

  // Stops accepting, closes every connection and joins the thread.
  // Idempotent; must not be called from the server's own thread.
  void Shutdown();

  struct State;  // implementation

 private:
  explicit AdminServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_ADMIN_SERVER_H_
