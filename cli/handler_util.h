#ifndef PAT_CLI_HANDLER_UTIL_H_
#define PAT_CLI_HANDLER_UTIL_H_

// Helpers the command handlers share: enum flags, scopes and resources
// flags, and pagination.

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "cli/flags.h"
#include "cli/patctl_args.h"
#include "cli/session.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "grpcpp/grpcpp.h"

namespace pat::patctl {

// The value of enum flag --`flag`; nullopt (and a usage message in *error)
// when `value` is none of the table's names.
template <typename Enum>
std::optional<Enum> EnumFlag(const EnumNameTable<Enum>& table,
                             absl::string_view flag, absl::string_view value,
                             std::string* error) {
  std::optional<Enum> e = EnumFromName(table, value);
  if (!e.has_value()) {
    *error = absl::StrCat("--", flag, " must be one of ", EnumChoices(table),
                          ", not \"", TerminalSafe(value), "\"");
  }
  return e;
}

// Deprecated scopes (in --scopes) still work; says so on stderr (never an
// error).
void WarnDeprecatedScopes();

// --all_resources and --links together is a contradiction.
bool ResourcesConflict(const Session& s);

void AddAll(const std::vector<std::string>& items,
            google::protobuf::RepeatedPtrField<std::string>* out);

// A stub's synchronous method, e.g. &v1::TokenService::Stub::GetToken.
template <typename Stub, typename Request, typename Response>
using RpcMethod = grpc::Status (Stub::*)(grpc::ClientContext*, const Request&,
                                         Response*);

// One call of `method` with the session's deadline; `as_actor` adds
// x-pat-actor (Session::Prepare).
template <typename Stub, typename Request, typename Response>
grpc::Status Unary(const Session& s, bool as_actor, Stub& stub,
                   RpcMethod<Stub, Request, Response> method,
                   const Request& req, Response* resp) {
  grpc::ClientContext ctx;
  s.Prepare(ctx, as_actor);
  return (stub.*method)(&ctx, req, resp);
}

// Calls `method` (as the actor) once, or with --all_pages until the last
// page, appending each page's `items` (e.g.
// &ListTokensResponse::mutable_tokens) to `out` (which then has no
// next_page_token).
template <typename Stub, typename Request, typename Response, typename Item>
grpc::Status Paginate(
    const Session& s, Stub& stub, RpcMethod<Stub, Request, Response> method,
    google::protobuf::RepeatedPtrField<Item>* (Response::*items)(), Request req,
    Response* out) {
  absl::flat_hash_set<std::string> seen;
  for (;;) {
    Response page;
    grpc::Status status = Unary(s, /*as_actor=*/true, stub, method, req, &page);
    if (!status.ok()) return status;
    if (!absl::GetFlag(FLAGS_all_pages)) {
      *out = std::move(page);
      return grpc::Status::OK;
    }
    for (Item& item : *(page.*items)())
      *(out->*items)()->Add() = std::move(item);
    if (page.next_page_token().empty()) return grpc::Status::OK;
    if (!seen.insert(page.next_page_token()).second) {
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          "the authority returned the same page token twice");
    }
    req.set_page_token(page.next_page_token());
  }
}

}  // namespace pat::patctl

#endif  // PAT_CLI_HANDLER_UTIL_H_
