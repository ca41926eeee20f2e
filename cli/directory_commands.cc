// DirectoryService commands (platform callers): upsert-plan,
// upsert-resource, delete-resource.

#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/handler_util.h"
#include "cli/output.h"
#include "cli/patctl_args.h"
#include "cli/patctl_ux.h"
#include "cli/session.h"
#include "grpcpp/grpcpp.h"
#include "pat/v1/pat.grpc.pb.h"
#include "pat/v1/pat.pb.h"

namespace pat::patctl {
namespace {

int UpsertPlan(Session& s) {
  std::string error;
  std::optional<v1::PlanTier> tier =
      EnumFlag(PlanTierNames(), "tier", absl::GetFlag(FLAGS_tier), &error);
  if (!tier.has_value()) return UsageError(error);
  v1::UpsertPlanRequest req;
  v1::Plan* plan = req.mutable_plan();
  plan->set_id(absl::GetFlag(FLAGS_id));
  plan->set_name(absl::GetFlag(FLAGS_name));
  plan->set_tier(*tier);
  AddAll(SplitList(absl::GetFlag(FLAGS_admins)),
         plan->mutable_admin_user_ids());
  v1::Plan resp;
  grpc::Status status =
      Unary(s, /*as_actor=*/false, s.directory(),
            &v1::DirectoryService::Stub::UpsertPlan, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] { PrintPlan(resp); });
}

int UpsertResource(Session& s) {
  std::string error;
  std::optional<v1::ResourceKind> kind =
      EnumFlag(ResourceKindNames(), "kind", absl::GetFlag(FLAGS_kind), &error);
  if (!kind.has_value()) return UsageError(error);
  if (s.Given("parent_kind") != s.Given("parent_id")) {
    return UsageError("--parent_kind and --parent_id go together");
  }
  v1::UpsertResourceRequest req;
  v1::Resource* r = req.mutable_resource();
  r->set_plan_id(absl::GetFlag(FLAGS_plan));
  r->set_kind(*kind);
  r->set_id(absl::GetFlag(FLAGS_id));
  r->set_name(absl::GetFlag(FLAGS_name));
  if (s.Given("parent_kind")) {
    std::optional<v1::ResourceKind> parent_kind =
        EnumFlag(ResourceKindNames(), "parent_kind",
                 absl::GetFlag(FLAGS_parent_kind), &error);
    if (!parent_kind.has_value()) return UsageError(error);
    r->set_parent_kind(*parent_kind);
    r->set_parent_id(absl::GetFlag(FLAGS_parent_id));
  }
  v1::Resource resp;
  grpc::Status status =
      Unary(s, /*as_actor=*/false, s.directory(),
            &v1::DirectoryService::Stub::UpsertResource, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] { PrintResource(resp); });
}

int DeleteResource(Session& s) {
  std::string error;
  std::optional<v1::ResourceKind> kind =
      EnumFlag(ResourceKindNames(), "kind", absl::GetFlag(FLAGS_kind), &error);
  if (!kind.has_value()) return UsageError(error);
  v1::DeleteResourceRequest req;
  req.set_kind(*kind);
  req.set_id(absl::GetFlag(FLAGS_id));
  v1::DeleteResourceResponse resp;
  grpc::Status status =
      Unary(s, /*as_actor=*/false, s.directory(),
            &v1::DirectoryService::Stub::DeleteResource, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp,
              [&] { Line("deleted", ResourceRef(req.kind(), req.id())); });
}

}  // namespace

std::vector<Command> DirectoryCommands() {
  return {
      {"upsert-plan",
       "create or update a plan (platform callers)",
       "patctl --insecure upsert-plan --id=1234567890 --name=\"Acme\" "
       "--tier=organization --admins=alice,bob",
       "--id=ORG --name=NAME "
       "--tier=organization|enterprise|starter|professional --admins=u1,u2",
       {"id", "name", "tier", "admins"},
       {},
       UpsertPlan},
      {"upsert-resource",
       "create or update a directory resource (platform callers)",
       "patctl --insecure upsert-resource --plan=1234567890 --kind=project "
       "--id=proj1\npatctl --insecure upsert-resource --plan=1234567890 "
       "--kind=file --id=FILEKEY1 --parent_kind=project --parent_id=proj1",
       "--plan=ORG --kind=file|project|team|workspace|npm_scope --id=ID "
       "[--parent_kind=K --parent_id=ID] [--name=N]",
       {"plan", "kind", "id"},
       {"parent_kind", "parent_id", "name"},
       UpsertResource},
      {"delete-resource",
       "delete a directory resource (platform callers)",
       "patctl --insecure delete-resource --kind=file --id=FILEKEY1",
       "--kind=K --id=ID",
       {"kind", "id"},
       {},
       DeleteResource},
  };
}

}  // namespace pat::patctl
