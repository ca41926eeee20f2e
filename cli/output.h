#ifndef PAT_CLI_OUTPUT_H_
#define PAT_CLI_OUTPUT_H_

// What patctl prints: errors on stderr (each returns its exit status,
// cli/patctl_ux.h), "key: value" blocks, tables (aligned on a terminal,
// tab-separated when piped) and --output=json. Everything the authority
// sent is made terminal-safe before it is printed.

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "cli/session.h"
#include "google/protobuf/message.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "google/protobuf/timestamp.pb.h"
#include "grpcpp/grpcpp.h"
#include "pat/v1/pat.pb.h"

namespace pat::patctl {

// "patctl: <message>" and a pointer to the help; returns kExitUsage.
int UsageError(absl::string_view message);
// The RPC's code and message, and a hint when the authority could not be
// reached; returns kExitRpcError or kExitUnreachable.
int RpcError(const grpc::Status& status);
// A local failure (file, stdout); returns kExitLocal.
int LocalError(absl::string_view message);

// Rows printed as a table (terminal) or tab-separated (piped); cells are
// made terminal-safe.
class Table {
 public:
  explicit Table(std::vector<std::string> header)
      : header_(std::move(header)) {}
  void Add(std::initializer_list<std::string> cells);
  void Print(const Session& s) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

std::string TimeText(const google::protobuf::Timestamp& t);
// "key: value" on stdout, the value made terminal-safe.
void Line(absl::string_view key, absl::string_view value);
// "a,b" or "-" for none.
std::string ListText(const google::protobuf::RepeatedPtrField<std::string>& v);
// "kind:id".
std::string ResourceRef(v1::ResourceKind kind, absl::string_view id);
// "resources: all|none" or one "resource: kind:id link" line each.
void PrintResourceLines(
    bool all, const google::protobuf::RepeatedPtrField<v1::TokenResource>& rs);

// Readable blocks, one "key: value" per line.
void PrintToken(const v1::Token& t);
void PrintPlan(const v1::Plan& p);
void PrintResource(const v1::Resource& r);
// One token per row of a `list` table; the name (which may hold spaces) last.
void AddTokenRow(Table& table, const v1::Token& t);

// Prints `m` as one line of JSON (--output=json) or runs `text`. Returns the
// exit status (kExitLocal when the JSON cannot be encoded).
int Emit(const Session& s, const google::protobuf::Message& m,
         absl::FunctionRef<void()> text);
// On stderr, how to fetch the next page, when there is one.
void NoteMorePages(absl::string_view next_page_token);

}  // namespace pat::patctl

#endif  // PAT_CLI_OUTPUT_H_
