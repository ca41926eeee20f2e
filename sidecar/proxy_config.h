#ifndef PAT_SIDECAR_PROXY_CONFIG_H_
#define PAT_SIDECAR_PROXY_CONFIG_H_

#include "sidecar/proxy_server.h"
#include "sidecar/sidecar_config.h"

namespace pat::sidecar {

// The HTTP front's configuration from a validated SidecarConfig (listen,
// workers, credential and routing headers, limits, deadlines, access log).
// The access log sink and the default error style are left at their
// defaults (stderr, style A).
ProxyServerConfig MakeProxyServerConfig(const SidecarConfig& config);

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_PROXY_CONFIG_H_
