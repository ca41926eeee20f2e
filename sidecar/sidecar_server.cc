#include "sidecar/sidecar_server.h"

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "common/policy/route_matcher.h"
#include "common/status_macros.h"
#include "sidecar/grpc_authority_client.h"
#include "sidecar/proxy_config.h"

namespace pat::sidecar {

absl::StatusOr<std::unique_ptr<SidecarServer>> SidecarServer::Create(
    const SidecarConfig& config, SidecarDeps deps) {
  std::unique_ptr<SidecarServer> server(new SidecarServer(std::move(deps)));
  absl::Status built = server->Build(config);
  if (!built.ok()) return built;  // the destructor undoes what was built
  return server;
}

SidecarServer::SidecarServer(SidecarDeps deps) : deps_(std::move(deps)) {}

absl::Status SidecarServer::Build(const SidecarConfig& config) {
  const Clock& clock = deps_.clock;
  if (deps_.authority_client != nullptr) {
    client_ = std::move(deps_.authority_client);
  } else if (deps_.authority_client_factory) {
    PAT_ASSIGN_OR_RETURN(client_, deps_.authority_client_factory(metrics_));
  } else {
    AuthorityClientConfig client_config;
    client_config.target = config.authority;
    client_config.insecure = config.insecure;
    client_config.tls_ca_pem = config.tls_ca_pem;
    client_config.tls_cert_pem = config.tls_cert_pem;
    client_config.tls_key_pem = config.tls_key_pem;
    PAT_ASSIGN_OR_RETURN(client_,
                         GrpcAuthorityClient::Create(client_config, metrics_));
  }
  GrantCacheOptions cache_options = deps_.cache;
  cache_options.mode =
      config.cache_used_only ? CacheMode::kUsed : CacheMode::kFull;
  cache_options.max_grants = static_cast<size_t>(config.cache_max_grants);
  grants_ = std::make_unique<GrantCache>(clock, metrics_, cache_options);
  directory_ = std::make_unique<DirectoryCache>(client_.get(), metrics_,
                                                deps_.directory);
  PAT_ASSIGN_OR_RETURN(
      usage_, UsageReporter::Create(*client_, clock, metrics_, deps_.usage));

  PAT_ASSIGN_OR_RETURN(policy::RouteMatcher routes,
                       policy::RouteMatcher::FromText(
                           config.catalog_text, config.catalog_path.empty()
                                                    ? "built-in catalog"
                                                    : config.catalog_path));
  PatAuthorizerOptions authz_options;
  authz_options.api = config.api_kind;
  authz_options.staleness_bound = config.staleness_bound;
  authz_options.miss_limits = deps_.miss_limits.value_or(MissLimits{
      static_cast<size_t>(config.max_pending_lookups),
      static_cast<size_t>(config.max_pending_lookups_per_client)});
  PAT_ASSIGN_OR_RETURN(authorizer_,
                       PatAuthorizer::Create(authz_options, std::move(routes),
                                             *grants_, *directory_, *client_,
                                             usage_.get(), clock, metrics_));
  if (deps_.start_watcher) {
    PAT_RETURN_IF_ERROR(StartWatcher());
  }

  PAT_ASSIGN_OR_RETURN(upstream_, UpstreamPool::Create(config.upstream));
  ProxyServerConfig proxy_config = MakeProxyServerConfig(config);
  proxy_config.access_log_sink = deps_.access_log_sink;
  PAT_ASSIGN_OR_RETURN(proxy_, ProxyServer::Create(proxy_config, *authorizer_,
                                                   *upstream_, metrics_));
  AdminServerConfig admin_config;
  admin_config.listen = config.admin_listen;
  PAT_ASSIGN_OR_RETURN(
      admin_, AdminServer::Create(admin_config, *authorizer_, metrics_));
  return absl::OkStatus();
}

absl::Status SidecarServer::StartWatcher() {
  if (watcher_ != nullptr) return absl::OkStatus();
  WatcherOptions options = deps_.watcher;
  if (!options.log_sink) options.log_sink = deps_.log_sink;
  PAT_ASSIGN_OR_RETURN(
      watcher_, Watcher::Create(*client_, *grants_, *directory_, deps_.clock,
                                metrics_, options));
  return absl::OkStatus();
}

void SidecarServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (proxy_ != nullptr) proxy_->Shutdown(grace);
  if (admin_ != nullptr) admin_->Shutdown();
  if (watcher_ != nullptr) watcher_->Stop();
  if (usage_ != nullptr) usage_->Stop();  // final usage flush
  // Cancels the authority calls in flight; their callbacks complete the
  // pending decisions now, while everything they touch still exists.
  client_.reset();
}

SidecarServer::~SidecarServer() {
  Shutdown(absl::ZeroDuration());
  // Reverse order of construction (client_ is already gone).
  admin_.reset();
  proxy_.reset();
  upstream_.reset();
  watcher_.reset();
  authorizer_.reset();
  usage_.reset();
  directory_.reset();
  grants_.reset();
}

}  // namespace pat::sidecar
