#ifndef PAT_SIDECAR_SIDECAR_SERVER_H_
#define PAT_SIDECAR_SIDECAR_SERVER_H_

#include <functional>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "sidecar/admin_server.h"
#include "sidecar/authority_client.h"
#include "sidecar/directory_cache.h"
#include "sidecar/grant_cache.h"
#include "sidecar/metrics.h"
#include "sidecar/miss_limiter.h"
#include "sidecar/pat_authorizer.h"
#include "sidecar/proxy_server.h"
#include "sidecar/sidecar_config.h"
#include "sidecar/upstream_pool.h"
#include "sidecar/usage_reporter.h"
#include "sidecar/watcher.h"

// The whole pat-sidecar object graph, built in one place (sidecar/main.cc,
// the test harnesses and the benchmarks all use it):
//
//   AuthorityClient (gRPC unless injected) -> GrantCache + DirectoryCache
//   -> UsageReporter -> RouteMatcher -> PatAuthorizer -> Watcher
//   -> UpstreamPool -> ProxyServer -> AdminServer
//
// Shutdown order (also the destructor's): stop taking requests (the proxy
// drains for up to `grace`) and the admin server, stop the watcher, flush
// usage, then destroy the authority client, which cancels the authority
// calls still in flight and waits for their callbacks (so every pending
// decision completes while the authorizer and the proxy still exist), then
// everything else in reverse order of construction.
namespace pat::sidecar {

// What the server does not own or build from the configuration.
struct SidecarDeps {
  // Required; must outlive the server.
  const Clock& clock;
  // Injected authority (tests, benchmarks); null: a GrpcAuthorityClient
  // from the configuration.
  std::unique_ptr<AuthorityClient> authority_client = nullptr;
  // Or a factory for it, given the server's metrics registry (e.g. a
  // GrpcAuthorityClient with test deadlines). Ignored when
  // `authority_client` is set.
  std::function<absl::StatusOr<std::unique_ptr<AuthorityClient>>(
      MetricsRegistry&)>
      authority_client_factory = nullptr;
  // Access log lines (see ProxyServerConfig::access_log_sink); empty:
  // stderr.
  std::function<void(absl::string_view line)> access_log_sink = nullptr;
  // Watcher log lines; empty: stderr.
  std::function<void(absl::string_view line)> log_sink = nullptr;
  // Bounds of requests waiting on the authority. Until SidecarConfig has
  // --max_pending_lookups{,_per_client}, these are set here (defaults:
  // MissLimits{}).
  std::optional<MissLimits> miss_limits = std::nullopt;
  // Test and benchmark knobs (production keeps the defaults).
  GrantCacheOptions cache = {};
  DirectoryCacheOptions directory = {};
  UsageReporterOptions usage = {};
  WatcherOptions watcher = {};
  // false: the watcher is started later with StartWatcher().
  bool start_watcher = true;
};

class SidecarServer {
 public:
  // Builds and starts everything (binds the proxy and admin addresses).
  // INVALID_ARGUMENT for a bad configuration, UNAVAILABLE when an address
  // cannot be bound. `config` must have passed ValidateSidecarConfig.
  static absl::StatusOr<std::unique_ptr<SidecarServer>> Create(
      const SidecarConfig& config, SidecarDeps deps);

  // Shutdown(absl::ZeroDuration()) if it has not been called.
  ~SidecarServer();
  SidecarServer(const SidecarServer&) = delete;
  SidecarServer& operator=(const SidecarServer&) = delete;

  // Starts the watcher when SidecarDeps::start_watcher was false.
  // Idempotent.
  absl::Status StartWatcher();

  // See the class comment. Idempotent; not from a proxy worker thread.
  void Shutdown(absl::Duration grace);

  int port() const { return proxy_->port(); }
  int admin_port() const { return admin_->port(); }

  MetricsRegistry& metrics() { return metrics_; }
  AuthorityClient& authority_client() { return *client_; }
  GrantCache& grants() { return *grants_; }
  DirectoryCache& directory() { return *directory_; }
  UsageReporter& usage() { return *usage_; }
  PatAuthorizer& authorizer() { return *authorizer_; }
  // Null before StartWatcher() when the watcher was not started at once.
  Watcher* watcher() { return watcher_.get(); }

 private:
  explicit SidecarServer(SidecarDeps deps);
  absl::Status Build(const SidecarConfig& config);

  SidecarDeps deps_;
  MetricsRegistry metrics_;
  std::unique_ptr<AuthorityClient> client_;
  std::unique_ptr<GrantCache> grants_;
  std::unique_ptr<DirectoryCache> directory_;
  std::unique_ptr<UsageReporter> usage_;
  std::unique_ptr<PatAuthorizer> authorizer_;
  std::unique_ptr<Watcher> watcher_;
  std::unique_ptr<UpstreamPool> upstream_;
  std::unique_ptr<ProxyServer> proxy_;
  std::unique_ptr<AdminServer> admin_;
  bool shut_down_ = false;
};

// The ProxyServer's configuration from the validated sidecar configuration
// (the access log sink is SidecarDeps'). Transitional local version until
// sidecar/proxy_config.h provides it.
ProxyServerConfig MakeLocalProxyServerConfig(const SidecarConfig& config);

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_SIDECAR_SERVER_H_
