#ifndef PAT_SERVER_PLAN_DIRECTORY_H_
#define PAT_SERVER_PLAN_DIRECTORY_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/domain.h"
#include "server/token_store.h"
#include "server/token_types.h"

// Plans and the resource directory of pat.v1.DirectoryService (platform
// callers; no actor), independent of gRPC. Every method validates its input
// (INVALID_ARGUMENT naming the field).
//
// R1 at the directory: an UpsertPlan that leaves a plan on a tier without
// plan access tokens revokes every live token of the plan in the same
// transaction (actor "system", audit reason "plan tier no longer supports
// plan access tokens"); a later upgrade does not undo those revokes.
// Thread-safe.
namespace pat {

struct PlanDirectoryConfig {};

class PlanDirectory {
 public:
  static absl::StatusOr<std::unique_ptr<PlanDirectory>> Create(
      const PlanDirectoryConfig& config, ComponentDeps deps);

  PlanDirectory(const PlanDirectory&) = delete;
  PlanDirectory& operator=(const PlanDirectory&) = delete;

  // The plan as stored after the write.
  absl::StatusOr<Plan> UpsertPlan(const Plan& plan);
  // The resource as stored after the write.
  absl::StatusOr<Resource> UpsertResource(const Resource& resource);
  absl::Status DeleteResource(ResourceKind kind, const std::string& id);

 private:
  explicit PlanDirectory(ComponentDeps deps)
      : store_(deps.store), clock_(deps.clock) {}

  TokenStore& store_;
  const Clock& clock_;
};

}  // namespace pat

#endif  // PAT_SERVER_PLAN_DIRECTORY_H_
