#include "server/token_components.h"

#include <utility>

#include "common/status_macros.h"

namespace pat {

absl::StatusOr<TokenComponents> TokenComponents::Create(TokenStore& store,
                                                        const Clock& clock,
                                                        SecretSource* secrets) {
  const ComponentDeps deps{store, clock};
  TokenComponents c;
  PAT_ASSIGN_OR_RETURN(c.lifecycle,
                       TokenLifecycle::Create(TokenLifecycleConfig{}, deps));
  PAT_ASSIGN_OR_RETURN(c.directory,
                       PlanDirectory::Create(PlanDirectoryConfig{}, deps));
  PAT_ASSIGN_OR_RETURN(
      c.introspection,
      TokenIntrospection::Create(TokenIntrospectionConfig{}, deps, secrets));
  PAT_ASSIGN_OR_RETURN(c.access,
                       AccessChecker::Create(AccessCheckerConfig{}, deps));
  return c;
}

}  // namespace pat
