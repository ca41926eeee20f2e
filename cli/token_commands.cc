// TokenService commands (on behalf of --actor): list-plans, create, get,
// list, update, refresh, revoke, audit, check.

#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
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

int ListPlans(Session& s) {
  v1::ListPlansResponse resp;
  grpc::Status status =
      Unary(s, /*as_actor=*/true, s.tokens(),
            &v1::TokenService::Stub::ListPlans, v1::ListPlansRequest(), &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] {
    Table table({"id", "tier", "admins", "name"});
    for (const v1::Plan& p : resp.plans()) {
      table.Add({p.id(), EnumToName(PlanTierNames(), p.tier()),
                 ListText(p.admin_user_ids()), p.name()});
    }
    table.Print(s);
  });
}

// Prints the once-only secret of create/refresh. The secret line is the only
// place patctl ever writes a secret.
void PrintNewSecret(const v1::Token& token, const std::string& secret,
                    bool replayed) {
  Line("token_id", token.id());
  if (replayed) {
    std::cerr << "patctl: this request_id was already used; the token is the "
                 "one created then and its secret is not shown again\n";
  } else {
    Line("secret", secret);
    std::cerr << "patctl: store the secret now: it cannot be shown again\n";
  }
  if (token.has_expire_time()) {
    Line("expire_time", TimeText(token.expire_time()));
  }
}

int Create(Session& s) {
  std::string error;
  std::optional<v1::TokenKind> kind =
      EnumFlag(TokenKindNames(), "kind", absl::GetFlag(FLAGS_kind), &error);
  if (!kind.has_value()) return UsageError(error);
  if (ResourcesConflict(s)) {
    return UsageError("give either --all_resources or --links, not both");
  }
  v1::CreateTokenRequest req;
  req.set_plan_id(absl::GetFlag(FLAGS_plan));
  req.set_kind(*kind);
  req.set_name(absl::GetFlag(FLAGS_name));
  req.set_description(absl::GetFlag(FLAGS_description));
  req.set_expires_in_days(absl::GetFlag(FLAGS_days));
  WarnDeprecatedScopes();
  AddAll(SplitList(absl::GetFlag(FLAGS_scopes)), req.mutable_scopes());
  req.set_all_resources(absl::GetFlag(FLAGS_all_resources));
  AddAll(SplitList(absl::GetFlag(FLAGS_links)), req.mutable_resource_links());
  req.set_request_id(absl::GetFlag(FLAGS_request_id));
  v1::CreateTokenResponse resp;
  grpc::Status status = Unary(s, /*as_actor=*/true, s.tokens(),
                              &v1::TokenService::Stub::CreateToken, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] {
    PrintNewSecret(resp.token(), resp.secret(), resp.replayed());
  });
}

int Get(Session& s) {
  v1::GetTokenRequest req;
  req.set_plan_id(absl::GetFlag(FLAGS_plan));
  req.set_token_id(absl::GetFlag(FLAGS_token));
  v1::Token resp;
  grpc::Status status = Unary(s, /*as_actor=*/true, s.tokens(),
                              &v1::TokenService::Stub::GetToken, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] { PrintToken(resp); });
}

int List(Session& s) {
  v1::ListTokensRequest req;
  req.set_plan_id(absl::GetFlag(FLAGS_plan));
  std::string error;
  if (s.Given("kind")) {
    std::optional<v1::TokenKind> kind =
        EnumFlag(TokenKindNames(), "kind", absl::GetFlag(FLAGS_kind), &error);
    if (!kind.has_value()) return UsageError(error);
    req.set_kind(*kind);
  }
  for (const std::string& name : SplitList(absl::GetFlag(FLAGS_status))) {
    std::optional<v1::TokenStatus> st =
        EnumFlag(TokenStatusNames(), "status", name, &error);
    if (!st.has_value()) return UsageError(error);
    req.add_statuses(*st);
  }
  if (absl::GetFlag(FLAGS_page_size) < 0) {
    return UsageError("--page_size must not be negative");
  }
  req.set_page_size(absl::GetFlag(FLAGS_page_size));
  req.set_page_token(absl::GetFlag(FLAGS_page_token));
  v1::ListTokensResponse resp;
  grpc::Status status =
      Paginate(s, s.tokens(), &v1::TokenService::Stub::ListTokens,
               &v1::ListTokensResponse::mutable_tokens, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] {
    Table table(
        {"id", "kind", "status", "expires", "scopes", "resources", "name"});
    for (const v1::Token& t : resp.tokens()) AddTokenRow(table, t);
    table.Print(s);
    NoteMorePages(resp.next_page_token());
  });
}

int Update(Session& s) {
  if (ResourcesConflict(s)) {
    return UsageError("give either --all_resources or --links, not both");
  }
  v1::UpdateTokenRequest req;
  req.set_plan_id(absl::GetFlag(FLAGS_plan));
  req.set_token_id(absl::GetFlag(FLAGS_token));
  for (const std::string& path : UpdateMaskPaths(s.given())) {
    req.mutable_update_mask()->add_paths(path);
  }
  if (req.update_mask().paths().empty()) {
    return UsageError(
        "update needs at least one of --name, --description, --scopes, "
        "--all_resources, --links");
  }
  req.set_name(absl::GetFlag(FLAGS_name));
  req.set_description(absl::GetFlag(FLAGS_description));
  WarnDeprecatedScopes();
  AddAll(SplitList(absl::GetFlag(FLAGS_scopes)), req.mutable_scopes());
  req.set_all_resources(absl::GetFlag(FLAGS_all_resources));
  AddAll(SplitList(absl::GetFlag(FLAGS_links)), req.mutable_resource_links());
  v1::Token resp;
  grpc::Status status = Unary(s, /*as_actor=*/true, s.tokens(),
                              &v1::TokenService::Stub::UpdateToken, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] { PrintToken(resp); });
}

int Refresh(Session& s) {
  v1::RefreshTokenRequest req;
  req.set_plan_id(absl::GetFlag(FLAGS_plan));
  req.set_token_id(absl::GetFlag(FLAGS_token));
  req.set_request_id(absl::GetFlag(FLAGS_request_id));
  v1::RefreshTokenResponse resp;
  grpc::Status status =
      Unary(s, /*as_actor=*/true, s.tokens(),
            &v1::TokenService::Stub::RefreshToken, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] {
    PrintNewSecret(resp.token(), resp.secret(), resp.replayed());
    if (resp.has_previous_secret_expire_time()) {
      Line("previous_secret_expire_time",
           TimeText(resp.previous_secret_expire_time()));
    }
  });
}

int Revoke(Session& s) {
  v1::RevokeTokenRequest req;
  req.set_plan_id(absl::GetFlag(FLAGS_plan));
  req.set_token_id(absl::GetFlag(FLAGS_token));
  v1::Token resp;
  grpc::Status status = Unary(s, /*as_actor=*/true, s.tokens(),
                              &v1::TokenService::Stub::RevokeToken, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] { PrintToken(resp); });
}

int Audit(Session& s) {
  if (absl::GetFlag(FLAGS_page_size) < 0) {
    return UsageError("--page_size must not be negative");
  }
  v1::ListAuditEventsRequest req;
  req.set_plan_id(absl::GetFlag(FLAGS_plan));
  req.set_token_id(absl::GetFlag(FLAGS_token));
  req.set_page_size(absl::GetFlag(FLAGS_page_size));
  req.set_page_token(absl::GetFlag(FLAGS_page_token));
  v1::ListAuditEventsResponse resp;
  grpc::Status status =
      Paginate(s, s.tokens(), &v1::TokenService::Stub::ListAuditEvents,
               &v1::ListAuditEventsResponse::mutable_events, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] {
    Table table({"time", "action", "actor", "token", "details"});
    for (const v1::AuditEvent& e : resp.events()) {
      table.Add({e.has_time() ? TimeText(e.time()) : "-", e.action(), e.actor(),
                 e.token_id(), e.details_json()});
    }
    table.Print(s);
    NoteMorePages(resp.next_page_token());
  });
}

int Check(Session& s) {
  v1::CheckAccessRequest req;
  req.set_plan_id(absl::GetFlag(FLAGS_plan));
  req.set_token_id(absl::GetFlag(FLAGS_token));
  req.set_method(absl::AsciiStrToUpper(absl::GetFlag(FLAGS_method)));
  req.set_path(absl::GetFlag(FLAGS_path));
  v1::CheckAccessResponse resp;
  grpc::Status status = Unary(s, /*as_actor=*/true, s.tokens(),
                              &v1::TokenService::Stub::CheckAccess, req, &resp);
  if (!status.ok()) return RpcError(status);
  const int printed = Emit(s, resp, [&] {
    Line("allowed", resp.allowed() ? "true" : "false");
    Line("reason", resp.reason());
    if (!resp.detail().empty()) Line("detail", resp.detail());
  });
  if (printed != kExitOk) return printed;
  return resp.allowed() ? kExitOk : kExitNo;
}

}  // namespace

std::vector<Command> TokenCommands() {
  return {
      {"list-plans",
       "list the plans the actor administers",
       "patctl --actor=alice list-plans\npatctl --actor=alice list-plans "
       "--output=json",
       "",
       {},
       {},
       ListPlans},
      {"create",
       "create a token; prints its secret once",
       "patctl --actor=alice create --plan=1234567890 --kind=rest --name=ci "
       "--days=90 \\\n    --scopes=file_content:read,file_metadata:read "
       "--links=https://www.figma.com/design/FILEKEY1\npatctl --actor=alice "
       "create --plan=1234567890 --kind=npm --name=publish --days=30 \\\n    "
       "--scopes=packages:read,packages:write --all_resources "
       "--request_id=ci-2024-06-01",
       "--plan=ORG --kind=rest|npm --name=N [--description=D] --days=N "
       "--scopes=a,b [--all_resources | --links=l1,l2] [--request_id=R]",
       {"plan", "kind", "name", "days", "scopes"},
       {"description", "all_resources", "links", "request_id"},
       Create},
      {"get",
       "show one token",
       "patctl --actor=alice get --plan=1234567890 --token=tok_...",
       "--plan=ORG --token=ID",
       {"plan", "token"},
       {},
       Get},
      {"list",
       "list a plan's tokens (a table; tab-separated when piped)",
       "patctl --actor=alice list --plan=1234567890 --status=active\npatctl "
       "--actor=alice list --plan=1234567890 --all_pages | cut -f1,7",
       "--plan=ORG [--kind=rest|npm] [--status=active,expired,revoked] "
       "[--page_size=N] [--page_token=T | --all_pages]",
       {"plan"},
       {"kind", "status", "page_size", "page_token", "all_pages"},
       List},
      {"update",
       "edit a token's name, description, scopes or resources",
       "patctl --actor=alice update --plan=1234567890 --token=tok_... "
       "--scopes=file_content:read\npatctl --actor=alice update "
       "--plan=1234567890 --token=tok_... --description=",
       "--plan=ORG --token=ID [--name=N] [--description=D] [--scopes=a,b] "
       "[--all_resources | --links=l1,l2]",
       {"plan", "token"},
       {"name", "description", "scopes", "all_resources", "links"},
       Update},
      {"refresh",
       "issue a new secret; the old one works 24 more hours",
       "patctl --actor=alice refresh --plan=1234567890 --token=tok_... "
       "--request_id=r1",
       "--plan=ORG --token=ID [--request_id=R]",
       {"plan", "token"},
       {"request_id"},
       Refresh},
      {"revoke",
       "revoke a token now, irreversibly",
       "patctl --actor=alice revoke --plan=1234567890 --token=tok_...",
       "--plan=ORG --token=ID",
       {"plan", "token"},
       {},
       Revoke},
      {"audit",
       "list a plan's audit events",
       "patctl --actor=alice audit --plan=1234567890 --token=tok_... "
       "--all_pages",
       "--plan=ORG [--token=ID] [--page_size=N] [--page_token=T | "
       "--all_pages]",
       {"plan"},
       {"token", "page_size", "page_token", "all_pages"},
       Audit},
      {"check",
       "would this token be allowed? exit 0 allowed, 1 denied",
       "patctl --actor=alice check --plan=1234567890 --token=tok_... "
       "--method=GET --path=/v1/files/FILEKEY1 && echo allowed",
       "--plan=ORG --token=ID --method=GET --path=/v1/files/KEY",
       {"plan", "token", "method", "path"},
       {},
       Check},
  };
}

}  // namespace pat::patctl
