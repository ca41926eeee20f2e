#ifndef PAT_SERVER_ACCESS_CHECKER_H_
#define PAT_SERVER_ACCESS_CHECKER_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/policy/route_matcher.h"
#include "server/token_store.h"
#include "server/token_types.h"

// pat.v1.TokenService.CheckAccess, independent of gRPC: what the sidecar
// would decide for a token, a method and a path (SPEC §7 rule 1, the token's
// state from rule 2, then 3-5), using the built-in catalog of the token's
// kind and the resource directory. Thread-safe.
namespace pat {

struct AccessCheckerConfig {};

class AccessChecker {
 public:
  // INTERNAL if a built-in endpoint catalog does not compile.
  static absl::StatusOr<std::unique_ptr<AccessChecker>> Create(
      const AccessCheckerConfig& config, ComponentDeps deps);

  AccessChecker(const AccessChecker&) = delete;
  AccessChecker& operator=(const AccessChecker&) = delete;

  // Authorized like GetToken (R2, R1): a token of another plan is NOT_FOUND.
  // INVALID_ARGUMENT for an empty or non-token method or an empty path; a
  // non-canonical path is the decision path_invalid, not an error. A storage
  // error while resolving resources is that error, never a denial.
  absl::StatusOr<CheckAccessResult> CheckAccess(const std::string& actor,
                                                const CheckAccessParams& p);

 private:
  AccessChecker(ComponentDeps deps, policy::RouteMatcher rest_routes,
                policy::RouteMatcher npm_routes)
      : store_(deps.store),
        clock_(deps.clock),
        rest_routes_(std::move(rest_routes)),
        npm_routes_(std::move(npm_routes)) {}

  TokenStore& store_;
  const Clock& clock_;
  // The built-in catalogs. Immutable after construction.
  const policy::RouteMatcher rest_routes_;
  const policy::RouteMatcher npm_routes_;
};

}  // namespace pat

#endif  // PAT_SERVER_ACCESS_CHECKER_H_
