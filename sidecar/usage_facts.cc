#include "sidecar/usage_facts.h"

#include <algorithm>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/policy/catalog.h"
#include "common/policy/request_resources.h"

namespace pat::sidecar {

std::optional<UsageCountRecord> UsageFactsOf(
    const policy::Decision& decision, const policy::DecisionInput& input) {
  if (!decision.allowed || decision.endpoint == nullptr ||
      input.grant == nullptr) {
    return std::nullopt;
  }
  const policy::Endpoint& endpoint = *decision.endpoint;
  const policy::GrantView& grant = *input.grant;
  UsageCountRecord out;
  out.token_id = std::string(grant.token_id);
  out.endpoint = endpoint.name;
  out.count = 1;
  for (const std::string& scope : endpoint.scopes) {
    if (std::find(grant.scopes.begin(), grant.scopes.end(), scope) !=
        grant.scopes.end()) {
      out.satisfying_scopes.push_back(scope);
    }
  }
  std::sort(out.satisfying_scopes.begin(), out.satisfying_scopes.end());
  out.satisfying_scopes.erase(
      std::unique(out.satisfying_scopes.begin(), out.satisfying_scopes.end()),
      out.satisfying_scopes.end());
  if (endpoint.resource.source == policy::ResourceSource::kUnscoped) {
    out.need = UsageCountRecord::Need::kNone;
    return out;
  }
  // Allowed with no determinable resource (none, undeterminable, or the
  // whole plan named): only an all-resources token could.
  const std::vector<policy::NamedResource> named =
      policy::ResourcesToResolve(input);
  if (named.empty()) {
    out.need = UsageCountRecord::Need::kAll;
    return out;
  }
  out.need = UsageCountRecord::Need::kListed;
  for (const policy::NamedResource& r : named) {
    UsageResourceChain chain;
    chain.kind = r.kind;
    chain.id = r.id;
    if (input.resolver != nullptr) {
      std::optional<policy::ResolvedResource> resolved =
          input.resolver->Resolve(r.kind, r.id);
      if (resolved.has_value()) chain.ancestors = std::move(resolved->ancestors);
    }
    out.resources.push_back(std::move(chain));
  }
  std::sort(out.resources.begin(), out.resources.end(),
            [](const UsageResourceChain& a, const UsageResourceChain& b) {
              return std::tie(a.kind, a.id) < std::tie(b.kind, b.id);
            });
  out.resources.erase(
      std::unique(out.resources.begin(), out.resources.end(),
                  [](const UsageResourceChain& a, const UsageResourceChain& b) {
                    return a.kind == b.kind && a.id == b.id;
                  }),
      out.resources.end());
  return out;
}

}  // namespace pat::sidecar
