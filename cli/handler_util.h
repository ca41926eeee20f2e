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
template <typename Enum, size_t N>
std::optional<Enum> EnumFlag(const EnumName<Enum> (&table)[N],
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

// Calls `rpc` once, or with --all_pages until the last page, merging the pages
// into `out` (which then has no next_page_token).
template <typename Request, typename Response, typename Rpc, typename Merge>
grpc::Status Paginate(const Session& s, Request req, Rpc rpc, Merge merge,
                      Response* out) {
  absl::flat_hash_set<std::string> seen;
  for (;;) {
    Response page;
    grpc::ClientContext ctx;
    s.Prepare(ctx, /*as_actor=*/true);
    grpc::Status status = rpc(&ctx, req, &page);
    if (!status.ok()) return status;
    if (!absl::GetFlag(FLAGS_all_pages)) {
      *out = std::move(page);
      return grpc::Status::OK;
    }
    merge(page, out);
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
