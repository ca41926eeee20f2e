#ifndef PAT_SERVER_ADMIN_SERVER_H_
#define PAT_SERVER_ADMIN_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/metrics.h"

// The authority's admin endpoint (--admin_listen), plain HTTP/1.1 on its own
// address and thread (Boost.Beast), independent of the database and of the
// gRPC server, so it answers while the database is unreachable:
//   GET /healthz  200 "ok" while the process serves
//   GET /readyz   200 "ready", or 503 "not ready: <reason>" (see Readiness)
//   GET /metrics  MetricsRegistry::RenderPrometheus(),
//                 Content-Type: text/plain; version=0.0.4
// HEAD works like GET without a body; other paths are 404, other methods
// 405. At most kMaxAdminConnections connections at once (more are closed at
// accept); each request must arrive within 10 s; headers at most 8 KiB.
namespace pat {

inline constexpr int kMaxAdminConnections = 64;

struct Readiness {
  bool ready = false;
  std::string reason;  // why not ready; never holds a secret or URL
};

class AdminServer {
 public:
  // Binds `listen` (host:port, port 0 picks one) and starts serving.
  // `readiness` is called on the server's thread for every /readyz and must
  // not block (return a cached state). The registry and whatever the
  // callback reads must outlive the server. INVALID_ARGUMENT for a bad
  // address, UNAVAILABLE when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<AdminServer>> Create(
      const std::string& listen, std::function<Readiness()> readiness,
      const MetricsRegistry& metrics);
  ~AdminServer();  // Shutdown()

  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  int port() const;
  // Stops accepting, drops every connection and joins the thread.
  // Idempotent.
  void Shutdown();

  struct State;  // implementation

 private:
  explicit AdminServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace pat

#endif  // PAT_SERVER_ADMIN_SERVER_H_
