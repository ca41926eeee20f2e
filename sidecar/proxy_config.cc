#include "sidecar/proxy_config.h"

#include <cstddef>
#include <cstdint>

namespace pat::sidecar {

ProxyServerConfig MakeProxyServerConfig(const SidecarConfig& config) {
  ProxyServerConfig out;
  out.listen = config.listen;
  out.workers = config.workers;
  out.credential_headers = config.credential_header_names;
  out.allowed_routing_headers = config.allowed_routing_header_names;
  out.access_log = config.access_log;
  out.max_connections = config.max_connections;
  out.head_memory_budget = static_cast<std::size_t>(config.head_memory_budget);
  out.body_limit = static_cast<std::uint64_t>(config.body_limit);
  out.body_resource_limit =
      static_cast<std::uint64_t>(config.body_resource_limit);
  out.idle_timeout = config.idle_timeout;
  out.header_timeout = config.header_timeout;
  out.body_timeout = config.body_timeout;
  out.upstream_timeout = config.upstream_timeout;
  return out;
}

}  // namespace pat::sidecar
