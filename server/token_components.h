#ifndef PAT_SERVER_TOKEN_COMPONENTS_H_
#define PAT_SERVER_TOKEN_COMPONENTS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "server/access_checker.h"
#include "server/plan_directory.h"
#include "server/token_introspection.h"
#include "server/token_lifecycle.h"
#include "server/token_store.h"

// The four components behind the authority's gRPC services, each built by
// its own Create from its default config over one store and clock (which
// must outlive them): TokenService (lifecycle, and access for CheckAccess),
// DirectoryService (directory), IntrospectionService (introspection).
namespace pat {

struct TokenComponents {
  std::unique_ptr<TokenLifecycle> lifecycle;
  std::unique_ptr<PlanDirectory> directory;
  std::unique_ptr<TokenIntrospection> introspection;
  std::unique_ptr<AccessChecker> access;

  // `secrets`: see TokenIntrospection::Create.
  static absl::StatusOr<TokenComponents> Create(
      TokenStore& store, const Clock& clock, SecretSource* secrets = nullptr);
};

}  // namespace pat

#endif  // PAT_SERVER_TOKEN_COMPONENTS_H_
