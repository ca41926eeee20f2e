#include "cli/output.h"

#include <initializer_list>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "cli/patctl_args.h"
#include "cli/patctl_ux.h"
#include "cli/session.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace pat::patctl {

using ::google::protobuf::util::TimeUtil;

int UsageError(absl::string_view message) {
  std::cerr << "patctl: " << message
            << "\nRun 'patctl help' (or 'patctl <command> --help') for "
               "usage.\n";
  return kExitUsage;
}

int RpcError(const grpc::Status& status) {
  std::cerr << "patctl: "
            << absl::StatusCodeToString(
                   static_cast<absl::StatusCode>(status.error_code()))
            << ": " << TerminalSafe(status.error_message()) << "\n";
  const bool unreachable =
      status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
  if (!unreachable) return kExitRpcError;
  const std::string hint = ConnectionHint(
      status.error_message(), Target().insecure, Target().authority);
  if (!hint.empty()) std::cerr << "patctl: " << TerminalSafe(hint) << "\n";
  return kExitUnreachable;
}

int LocalError(absl::string_view message) {
  std::cerr << "patctl: " << message << "\n";
  return kExitLocal;
}

void Table::Add(std::initializer_list<std::string> cells) {
  std::vector<std::string> row;
  for (const std::string& c : cells) row.push_back(TerminalSafe(c));
  rows_.push_back(std::move(row));
}

void Table::Print(const Session& s) const {
  std::cout << RenderTable(header_, rows_, s.aligned());
}

std::string TimeText(const google::protobuf::Timestamp& t) {
  return TimeUtil::ToString(t);
}

void Line(absl::string_view key, absl::string_view value) {
  std::cout << key << ": " << TerminalSafe(value) << "\n";
}

std::string ListText(const google::protobuf::RepeatedPtrField<std::string>& v) {
  return v.empty() ? "-" : absl::StrJoin(v, ",");
}

std::string ResourceRef(v1::ResourceKind kind, absl::string_view id) {
  return absl::StrCat(EnumToName(ResourceKindNames(), kind), ":", id);
}

namespace {

std::string ResourcesText(
    bool all, const google::protobuf::RepeatedPtrField<v1::TokenResource>& rs) {
  if (all) return "all";
  if (rs.empty()) return "-";
  std::vector<std::string> refs;
  for (const v1::TokenResource& r : rs)
    refs.push_back(ResourceRef(r.kind(), r.id()));
  return absl::StrJoin(refs, ",");
}

}  // namespace

void PrintResourceLines(
    bool all, const google::protobuf::RepeatedPtrField<v1::TokenResource>& rs) {
  if (all || rs.empty()) {
    Line("resources", all ? "all" : "none");
    return;
  }
  for (const v1::TokenResource& r : rs) {
    Line("resource",
         absl::StrCat(ResourceRef(r.kind(), r.id()), " ", r.link()));
  }
}

void PrintToken(const v1::Token& t) {
  Line("id", t.id());
  Line("plan_id", t.plan_id());
  Line("kind", EnumToName(TokenKindNames(), t.kind()));
  Line("name", t.name());
  Line("description", t.description());
  Line("status", EnumToName(TokenStatusNames(), t.status()));
  Line("scopes", ListText(t.scopes()));
  PrintResourceLines(t.all_resources(), t.resources());
  Line("created_by", t.created_by());
  if (t.has_create_time()) Line("create_time", TimeText(t.create_time()));
  if (t.has_expire_time()) Line("expire_time", TimeText(t.expire_time()));
  Line("lifetime_days", absl::StrCat(t.lifetime_days()));
  if (t.has_last_refresh_time()) {
    Line("last_refresh_time", TimeText(t.last_refresh_time()));
  }
  if (t.has_last_used_time()) {
    Line("last_used_time", TimeText(t.last_used_time()));
    if (!t.last_used_ip().empty()) Line("last_used_ip", t.last_used_ip());
  }
  if (t.has_revoke_time()) {
    Line("revoke_time", TimeText(t.revoke_time()));
    Line("revoked_by", t.revoked_by());
  }
}

void AddTokenRow(Table& table, const v1::Token& t) {
  table.Add({t.id(), EnumToName(TokenKindNames(), t.kind()),
             EnumToName(TokenStatusNames(), t.status()),
             t.has_expire_time() ? TimeText(t.expire_time()) : "-",
             ListText(t.scopes()),
             ResourcesText(t.all_resources(), t.resources()), t.name()});
}

void PrintPlan(const v1::Plan& p) {
  Line("id", p.id());
  Line("name", p.name());
  Line("tier", EnumToName(PlanTierNames(), p.tier()));
  Line("admins", ListText(p.admin_user_ids()));
}

void PrintResource(const v1::Resource& r) {
  Line("plan_id", r.plan_id());
  Line("kind", EnumToName(ResourceKindNames(), r.kind()));
  Line("id", r.id());
  Line("parent", r.parent_id().empty()
                     ? "-"
                     : ResourceRef(r.parent_kind(), r.parent_id()));
  Line("name", r.name());
}

int Emit(const Session& s, const google::protobuf::Message& m,
         absl::FunctionRef<void()> text) {
  if (!s.json()) {
    text();
    return kExitOk;
  }
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(m, &json, options);
  if (!status.ok()) {
    return LocalError(absl::StrCat("cannot encode the response as JSON: ",
                                   status.message().as_string()));
  }
  std::cout << json << "\n";
  return kExitOk;
}

void NoteMorePages(absl::string_view next_page_token) {
  if (next_page_token.empty()) return;
  std::cerr << "patctl: more results: rerun with --page_token="
            << TerminalSafe(next_page_token) << " or --all_pages\n";
}

}  // namespace pat::patctl
