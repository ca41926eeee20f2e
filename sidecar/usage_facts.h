#ifndef PAT_SIDECAR_USAGE_FACTS_H_
#define PAT_SIDECAR_USAGE_FACTS_H_

#include <optional>

#include "common/policy/policy.h"
#include "sidecar/authority_client.h"

// What an allowed request exercised, for the least-privilege report
// (docs/usage-report.md): the endpoint (catalog operation id), the token's
// scopes that satisfied it (the endpoint's accepted scopes the grant holds)
// and the resources it named with their ancestors, as the same resolver the
// decision used knows them. Pure.
namespace pat::sidecar {

// nullopt unless `decision` allowed a matched endpoint. `input` is the one
// the decision was taken with (same resolver, target and body). count = 1.
std::optional<UsageCountRecord> UsageFactsOf(
    const policy::Decision& decision, const policy::DecisionInput& input);

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_USAGE_FACTS_H_
