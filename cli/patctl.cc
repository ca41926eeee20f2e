// patctl: the administrators' command-line client for pat-authority (SPEC §4).
//
//   patctl [global flags] <command> [flags]
//
// Exit status (cli/patctl_ux.h): 0 success; 1 a "no" answer (`check`
// denied, `validate` not found); 2 a usage error; 3 an error from the
// authority; 4 the authority could not be reached; 5 a local failure. A
// secret is printed only by `create` and `refresh`, on their `secret:` line
// (or in their JSON output).
//
// Connection settings come from, in order: the command line, PAT_<FLAG>
// environment variables, the config file (--config, PAT_CONFIG, or
// $XDG_CONFIG_HOME/patctl/config, ~/.config/patctl/config).

#include <openssl/crypto.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cli/patctl_args.h"
#include "cli/patctl_ux.h"
#include "common/grpc_log.h"
#include "common/secret.h"
#include "common/version.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"
#include "pat/v1/pat.grpc.pb.h"
#include "pat/v1/pat.pb.h"

// Global flags.
ABSL_FLAG(std::string, authority, "127.0.0.1:7443",
          "Authority address, host:port (environment fallback PAT_AUTHORITY).");
ABSL_FLAG(std::string, actor, "",
          "User id on whose behalf token RPCs are made (environment fallback "
          "PAT_ACTOR); sent as the x-pat-actor metadata.");
ABSL_FLAG(bool, insecure, false,
          "Plaintext channel, for local development and tests.");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM file of the CA certificates that verify the authority "
          "(default: the system roots).");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM file of the client certificate chain (mTLS).");
ABSL_FLAG(std::string, tls_key, "",
          "PEM file of the client certificate's private key (mTLS).");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name to verify in the authority's certificate when it differs "
          "from the --authority host.");
ABSL_FLAG(std::string, output, "text",
          "Output format: text (a table on a terminal, tab-separated when "
          "piped), json, table or tsv.");
ABSL_FLAG(std::string, config, "",
          "Config file of connection settings (default: PAT_CONFIG, else "
          "$XDG_CONFIG_HOME/patctl/config or ~/.config/patctl/config if it "
          "exists).");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "Deadline of each RPC.");

// Command flags (which command takes which: see Commands()).
ABSL_FLAG(std::string, plan, "", "Plan (organization) id.");
ABSL_FLAG(std::string, id, "", "Plan id (upsert-plan) or resource id.");
ABSL_FLAG(std::string, name, "", "Name of the plan, resource or token.");
ABSL_FLAG(std::string, tier, "",
          "Plan tier: starter, professional, organization or enterprise.");
ABSL_FLAG(std::string, admins, "", "Comma-separated admin user ids.");
ABSL_FLAG(std::string, kind, "",
          "Token kind (rest, npm) or resource kind (file, project, team, "
          "workspace, npm_scope), depending on the command.");
ABSL_FLAG(std::string, parent_kind, "", "Kind of the resource's parent.");
ABSL_FLAG(std::string, parent_id, "", "Id of the resource's parent.");
ABSL_FLAG(std::string, description, "", "Token description.");
ABSL_FLAG(int32_t, days, 0, "Token lifetime in whole days (1-365).");
ABSL_FLAG(std::string, scopes, "", "Comma-separated scopes.");
ABSL_FLAG(bool, all_resources, false,
          "The token may access every resource of its plan.");
ABSL_FLAG(std::string, links, "",
          "Comma-separated resource links (npm tokens: package scopes such "
          "as @acme).");
ABSL_FLAG(std::string, request_id, "",
          "Idempotency key: a retry with the same key returns the first "
          "result instead of acting twice.");
ABSL_FLAG(std::string, token, "", "Token id.");
ABSL_FLAG(std::string, status, "",
          "Comma-separated statuses to list: active, expired, revoked.");
ABSL_FLAG(int32_t, page_size, 0,
          "Maximum results per page (0: server default).");
ABSL_FLAG(std::string, page_token, "", "Page to fetch (from a previous list).");
ABSL_FLAG(bool, all_pages, false, "Fetch every page.");
ABSL_FLAG(std::string, method, "", "HTTP method for check, e.g. GET.");
ABSL_FLAG(std::string, path, "", "HTTP path for check, e.g. /v1/files/KEY.");
ABSL_FLAG(bool, secret_stdin, false,
          "Read the secret from standard input (the only way to pass one).");

namespace pat::patctl {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::pat::VersionLine;


// Bounded read of a secret from stdin; real secrets are ~58 bytes.
constexpr size_t kMaxSecretBytes = 4096;

// ---------------------------------------------------------------------------
// Session: what every command handler needs.

class Session {
 public:
  Session(std::shared_ptr<grpc::Channel> channel, std::string actor,
          absl::Duration timeout, std::string output,
          absl::flat_hash_set<std::string> given)
      : tokens_(v1::TokenService::NewStub(channel)),
        directory_(v1::DirectoryService::NewStub(channel)),
        introspection_(v1::IntrospectionService::NewStub(channel)),
        actor_(std::move(actor)),
        timeout_(timeout),
        json_(output == "json"),
        aligned_(output == "table" ||
                 (output == "text" && isatty(STDOUT_FILENO) == 1)),
        given_(std::move(given)) {}

  v1::TokenService::Stub& tokens() { return *tokens_; }
  v1::DirectoryService::Stub& directory() { return *directory_; }
  v1::IntrospectionService::Stub& introspection() { return *introspection_; }
  bool json() const { return json_; }
  // Tables: aligned with a header (terminal) or tab-separated (piped).
  bool aligned() const { return aligned_; }
  bool Given(absl::string_view flag) const { return given_.contains(flag); }
  const absl::flat_hash_set<std::string>& given() const { return given_; }

  // Sets the deadline; `as_actor` adds x-pat-actor. Only TokenService calls
  // carry the actor: the authority lets only admin callers assert one.
  void Prepare(grpc::ClientContext& ctx, bool as_actor) const {
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    if (as_actor && !actor_.empty()) ctx.AddMetadata("x-pat-actor", actor_);
  }

 private:
  std::unique_ptr<v1::TokenService::Stub> tokens_;
  std::unique_ptr<v1::DirectoryService::Stub> directory_;
  std::unique_ptr<v1::IntrospectionService::Stub> introspection_;
  std::string actor_;
  absl::Duration timeout_;
  bool json_;
  bool aligned_;
  absl::flat_hash_set<std::string> given_;
};

using Handler = int (*)(Session&);

struct Command {
  absl::string_view name;
  absl::string_view summary;
  absl::string_view examples;  // lines of "patctl ..." (may be empty)
  absl::string_view synopsis;
  std::vector<absl::string_view> required;
  std::vector<absl::string_view> optional;
  Handler run;
};

const std::vector<Command>& Commands();

constexpr absl::string_view kGlobalFlags[] = {
    "authority", "actor",           "insecure", "tls_ca",  "tls_cert",
    "tls_key",   "tls_server_name", "output",   "timeout", "config",
};

// Where the channel goes, for the hint after a connection failure.
struct ConnectionTarget {
  std::string authority;
  bool insecure = false;
};
ConnectionTarget& Target() {
  static ConnectionTarget target;
  return target;
}

// Required flags that may be given an empty value ("--admins=" on purpose).
constexpr absl::string_view kMayBeEmpty[] = {"admins"};

// ---------------------------------------------------------------------------
// Usage and errors.

void PrintUsage(std::ostream& out) {
  out << "patctl: manage plan access tokens on pat-authority.\n\n"
         "usage: patctl [global flags] <command> [flags]\n"
         "       patctl <command> --help      help and examples of a "
         "command\n\ncommands:\n";
  for (const Command& c : Commands()) {
    std::string name(c.name);
    name.resize(17, ' ');
    out << "  " << name << c.summary << "\n";
  }
  out << "  help [command]   this help, or a command's\n"
         "  completion bash|zsh  print a shell completion script\n"
         "  version          print the version and commit\n"
         "\nglobal flags (each also from PAT_<FLAG> and the config file):\n"
         "  --authority=HOST:PORT  authority address (default 127.0.0.1:7443)\n"
         "  --actor=USER_ID        acting admin, sent as x-pat-actor\n"
         "  --insecure             plaintext channel (local development)\n"
         "  --tls_ca=FILE --tls_cert=FILE --tls_key=FILE"
         " [--tls_server_name=NAME]\n"
         "                         TLS; client certificate and key for mTLS\n"
         "  --output=text|json|table|tsv  text: a table on a terminal, "
         "tab-separated when piped\n"
         "  --timeout=DURATION     deadline of each RPC (default 10s)\n"
         "  --config=FILE          \"key = value\" lines: authority, actor, "
         "insecure, tls_ca,\n"
         "                         tls_cert, tls_key, tls_server_name, "
         "timeout, output\n"
         "                         (default PAT_CONFIG, else "
         "~/.config/patctl/config)\n"
         "\nexit status: 0 ok; 1 no (check: denied, validate: not found); "
         "2 usage error;\n"
         "             3 error from the authority; 4 authority unreachable "
         "(TLS, refused,\n"
         "             deadline); 5 local error (file, stdout)\n";
}

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

// Rows printed as a table (terminal) or tab-separated (piped); cells are
// made terminal-safe.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void Add(std::initializer_list<std::string> cells) {
    std::vector<std::string> row;
    for (const std::string& c : cells) row.push_back(TerminalSafe(c));
    rows_.push_back(std::move(row));
  }
  void Print(const Session& s) const {
    std::cout << RenderTable(header_, rows_, s.aligned());
  }

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// ---------------------------------------------------------------------------
// Output.

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
  return absl::StrCat(EnumToName(kResourceKindNames, kind), ":", id);
}

std::string ResourcesText(
    bool all, const google::protobuf::RepeatedPtrField<v1::TokenResource>& rs) {
  if (all) return "all";
  if (rs.empty()) return "-";
  std::vector<std::string> refs;
  for (const v1::TokenResource& r : rs)
    refs.push_back(ResourceRef(r.kind(), r.id()));
  return absl::StrJoin(refs, ",");
}

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

// A readable block, one "key: value" per line.
void PrintToken(const v1::Token& t) {
  Line("id", t.id());
  Line("plan_id", t.plan_id());
  Line("kind", EnumToName(kTokenKindNames, t.kind()));
  Line("name", t.name());
  Line("description", t.description());
  Line("status", EnumToName(kTokenStatusNames, t.status()));
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

// One token per row; the name (which may hold spaces) last.
void AddTokenRow(Table& table, const v1::Token& t) {
  table.Add({t.id(), EnumToName(kTokenKindNames, t.kind()),
             EnumToName(kTokenStatusNames, t.status()),
             t.has_expire_time() ? TimeText(t.expire_time()) : "-",
             ListText(t.scopes()),
             ResourcesText(t.all_resources(), t.resources()), t.name()});
}

void PrintPlan(const v1::Plan& p) {
  Line("id", p.id());
  Line("name", p.name());
  Line("tier", EnumToName(kPlanTierNames, p.tier()));
  Line("admins", ListText(p.admin_user_ids()));
}

void PrintResource(const v1::Resource& r) {
  Line("plan_id", r.plan_id());
  Line("kind", EnumToName(kResourceKindNames, r.kind()));
  Line("id", r.id());
  Line("parent", r.parent_id().empty()
                     ? "-"
                     : ResourceRef(r.parent_kind(), r.parent_id()));
  Line("name", r.name());
}

// Prints `m` as one line of JSON (--output=json) or runs `text`.
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

// ---------------------------------------------------------------------------
// Flag helpers for handlers.

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

// Deprecated scopes still work; say so on stderr (never an error).
void WarnDeprecatedScopes() {
  for (const std::string& warning :
       DeprecatedScopeWarnings(SplitList(absl::GetFlag(FLAGS_scopes)))) {
    std::cerr << "patctl: " << warning << "\n";
  }
}

// --all_resources and --links together is a contradiction.
bool ResourcesConflict(const Session& s) {
  return absl::GetFlag(FLAGS_all_resources) && s.Given("links");
}

void AddAll(const std::vector<std::string>& items,
            google::protobuf::RepeatedPtrField<std::string>* out) {
  for (const std::string& item : items) out->Add(std::string(item));
}

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

void NoteMorePages(absl::string_view next_page_token) {
  if (next_page_token.empty()) return;
  std::cerr << "patctl: more results: rerun with --page_token="
            << TerminalSafe(next_page_token) << " or --all_pages\n";
}

// ---------------------------------------------------------------------------
// DirectoryService commands.

int UpsertPlan(Session& s) {
  std::string error;
  std::optional<v1::PlanTier> tier =
      EnumFlag(kPlanTierNames, "tier", absl::GetFlag(FLAGS_tier), &error);
  if (!tier.has_value()) return UsageError(error);
  v1::UpsertPlanRequest req;
  v1::Plan* plan = req.mutable_plan();
  plan->set_id(absl::GetFlag(FLAGS_id));
  plan->set_name(absl::GetFlag(FLAGS_name));
  plan->set_tier(*tier);
  AddAll(SplitList(absl::GetFlag(FLAGS_admins)),
         plan->mutable_admin_user_ids());
  v1::Plan resp;
  grpc::ClientContext ctx;
  s.Prepare(ctx, /*as_actor=*/false);
  grpc::Status status = s.directory().UpsertPlan(&ctx, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] { PrintPlan(resp); });
}

int UpsertResource(Session& s) {
  std::string error;
  std::optional<v1::ResourceKind> kind =
      EnumFlag(kResourceKindNames, "kind", absl::GetFlag(FLAGS_kind), &error);
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
        EnumFlag(kResourceKindNames, "parent_kind",
                 absl::GetFlag(FLAGS_parent_kind), &error);
    if (!parent_kind.has_value()) return UsageError(error);
    r->set_parent_kind(*parent_kind);
    r->set_parent_id(absl::GetFlag(FLAGS_parent_id));
  }
  v1::Resource resp;
  grpc::ClientContext ctx;
  s.Prepare(ctx, /*as_actor=*/false);
  grpc::Status status = s.directory().UpsertResource(&ctx, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] { PrintResource(resp); });
}

int DeleteResource(Session& s) {
  std::string error;
  std::optional<v1::ResourceKind> kind =
      EnumFlag(kResourceKindNames, "kind", absl::GetFlag(FLAGS_kind), &error);
  if (!kind.has_value()) return UsageError(error);
  v1::DeleteResourceRequest req;
  req.set_kind(*kind);
  req.set_id(absl::GetFlag(FLAGS_id));
  v1::DeleteResourceResponse resp;
  grpc::ClientContext ctx;
  s.Prepare(ctx, /*as_actor=*/false);
  grpc::Status status = s.directory().DeleteResource(&ctx, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp,
              [&] { Line("deleted", ResourceRef(req.kind(), req.id())); });
}

// ---------------------------------------------------------------------------
// TokenService commands.

int ListPlans(Session& s) {
  v1::ListPlansResponse resp;
  grpc::ClientContext ctx;
  s.Prepare(ctx, /*as_actor=*/true);
  grpc::Status status =
      s.tokens().ListPlans(&ctx, v1::ListPlansRequest(), &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] {
    Table table({"id", "tier", "admins", "name"});
    for (const v1::Plan& p : resp.plans()) {
      table.Add({p.id(), EnumToName(kPlanTierNames, p.tier()),
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
      EnumFlag(kTokenKindNames, "kind", absl::GetFlag(FLAGS_kind), &error);
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
  grpc::ClientContext ctx;
  s.Prepare(ctx, /*as_actor=*/true);
  grpc::Status status = s.tokens().CreateToken(&ctx, req, &resp);
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
  grpc::ClientContext ctx;
  s.Prepare(ctx, /*as_actor=*/true);
  grpc::Status status = s.tokens().GetToken(&ctx, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] { PrintToken(resp); });
}

int List(Session& s) {
  v1::ListTokensRequest req;
  req.set_plan_id(absl::GetFlag(FLAGS_plan));
  std::string error;
  if (s.Given("kind")) {
    std::optional<v1::TokenKind> kind =
        EnumFlag(kTokenKindNames, "kind", absl::GetFlag(FLAGS_kind), &error);
    if (!kind.has_value()) return UsageError(error);
    req.set_kind(*kind);
  }
  for (const std::string& name : SplitList(absl::GetFlag(FLAGS_status))) {
    std::optional<v1::TokenStatus> st =
        EnumFlag(kTokenStatusNames, "status", name, &error);
    if (!st.has_value()) return UsageError(error);
    req.add_statuses(*st);
  }
  if (absl::GetFlag(FLAGS_page_size) < 0) {
    return UsageError("--page_size must not be negative");
  }
  req.set_page_size(absl::GetFlag(FLAGS_page_size));
  req.set_page_token(absl::GetFlag(FLAGS_page_token));
  v1::ListTokensResponse resp;
  grpc::Status status = Paginate(
      s, req,
      [&](grpc::ClientContext* ctx, const v1::ListTokensRequest& r,
          v1::ListTokensResponse* page) {
        return s.tokens().ListTokens(ctx, r, page);
      },
      [](v1::ListTokensResponse& page, v1::ListTokensResponse* all) {
        for (v1::Token& t : *page.mutable_tokens()) {
          *all->add_tokens() = std::move(t);
        }
      },
      &resp);
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
  grpc::ClientContext ctx;
  s.Prepare(ctx, /*as_actor=*/true);
  grpc::Status status = s.tokens().UpdateToken(&ctx, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] { PrintToken(resp); });
}

int Refresh(Session& s) {
  v1::RefreshTokenRequest req;
  req.set_plan_id(absl::GetFlag(FLAGS_plan));
  req.set_token_id(absl::GetFlag(FLAGS_token));
  req.set_request_id(absl::GetFlag(FLAGS_request_id));
  v1::RefreshTokenResponse resp;
  grpc::ClientContext ctx;
  s.Prepare(ctx, /*as_actor=*/true);
  grpc::Status status = s.tokens().RefreshToken(&ctx, req, &resp);
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
  grpc::ClientContext ctx;
  s.Prepare(ctx, /*as_actor=*/true);
  grpc::Status status = s.tokens().RevokeToken(&ctx, req, &resp);
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
  grpc::Status status = Paginate(
      s, req,
      [&](grpc::ClientContext* ctx, const v1::ListAuditEventsRequest& r,
          v1::ListAuditEventsResponse* page) {
        return s.tokens().ListAuditEvents(ctx, r, page);
      },
      [](v1::ListAuditEventsResponse& page, v1::ListAuditEventsResponse* all) {
        for (v1::AuditEvent& e : *page.mutable_events()) {
          *all->add_events() = std::move(e);
        }
      },
      &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] {
    Table table({"time", "action", "actor", "token", "details"});
    for (const v1::AuditEvent& e : resp.events()) {
      table.Add({e.has_time() ? TimeText(e.time()) : "-", e.action(),
                 e.actor(), e.token_id(), e.details_json()});
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
  grpc::ClientContext ctx;
  s.Prepare(ctx, /*as_actor=*/true);
  grpc::Status status = s.tokens().CheckAccess(&ctx, req, &resp);
  if (!status.ok()) return RpcError(status);
  const int printed = Emit(s, resp, [&] {
    Line("allowed", resp.allowed() ? "true" : "false");
    Line("reason", resp.reason());
    if (!resp.detail().empty()) Line("detail", resp.detail());
  });
  if (printed != kExitOk) return printed;
  return resp.allowed() ? kExitOk : kExitNo;
}

// ---------------------------------------------------------------------------
// IntrospectionService: validate.

// Turns terminal echo off for its lifetime (when stdin is a terminal).
class NoEcho {
 public:
  NoEcho() {
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios quiet = saved_;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      active_ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
    }
  }
  ~NoEcho() {
    if (active_) {
      tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
      std::cerr << "\n";
    }
  }
  NoEcho(const NoEcho&) = delete;
  NoEcho& operator=(const NoEcho&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

// Reads the secret (one line, surrounding whitespace ignored) into `out`.
// Returns an error message, or "" on success. The read buffer is wiped.
std::string ReadSecret(std::string* out) {
  if (isatty(STDIN_FILENO)) std::cerr << "secret: " << std::flush;
  NoEcho no_echo;
  char buf[kMaxSecretBytes + 1];
  size_t n = 0;
  while (n < sizeof(buf)) {
    ssize_t got = read(STDIN_FILENO, buf + n, sizeof(buf) - n);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      OPENSSL_cleanse(buf, sizeof(buf));
      return absl::StrCat("cannot read stdin: ", std::strerror(errno));
    }
    if (got == 0) break;
    n += static_cast<size_t>(got);
    if (isatty(STDIN_FILENO) && buf[n - 1] == '\n') break;
  }
  std::string error;
  if (n > kMaxSecretBytes) {
    error = "the secret on stdin is too long";
  } else {
    *out = std::string(absl::StripAsciiWhitespace(absl::string_view(buf, n)));
    if (out->empty()) error = "no secret on stdin";
  }
  OPENSSL_cleanse(buf, sizeof(buf));
  return error;
}

int Validate(Session& s) {
  if (!absl::GetFlag(FLAGS_secret_stdin)) {
    return UsageError(
        "validate reads the secret from stdin: pass --secret_stdin");
  }
  std::string secret;
  if (std::string error = ReadSecret(&secret); !error.empty()) {
    return LocalError(error);
  }
  // The offline shape/checksum check; its message never contains the secret.
  if (absl::StatusOr<TokenKind> kind = ParseSecret(secret); !kind.ok()) {
    std::cerr << "patctl: warning: " << TerminalSafe(kind.status().message())
              << "\n";
  }
  Digest digest = Sha256(secret);
  OPENSSL_cleanse(secret.data(), secret.size());
  v1::ValidateTokenRequest req;
  req.set_secret_sha256(
      std::string(reinterpret_cast<const char*>(digest.data()), digest.size()));
  v1::ValidateTokenResponse resp;
  grpc::ClientContext ctx;
  s.Prepare(ctx, /*as_actor=*/false);
  grpc::Status status = s.introspection().ValidateToken(&ctx, req, &resp);
  if (!status.ok()) return RpcError(status);
  const int printed = Emit(s, resp, [&] {
    Line("found", resp.found() ? "true" : "false");
    if (!resp.found()) return;
    const v1::Grant& g = resp.grant();
    Line("token_id", g.token_id());
    Line("plan_id", g.plan_id());
    Line("kind", EnumToName(kTokenKindNames, g.kind()));
    Line("status", EnumToName(kTokenStatusNames, g.status()));
    Line("scopes", ListText(g.scopes()));
    PrintResourceLines(g.all_resources(), g.resources());
    if (g.has_expire_time()) Line("expire_time", TimeText(g.expire_time()));
    if (g.has_revoke_time()) Line("revoke_time", TimeText(g.revoke_time()));
    if (resp.has_secret_expire_time()) {
      Line("secret_expire_time", TimeText(resp.secret_expire_time()));
    }
  });
  if (printed != kExitOk) return printed;
  return resp.found() ? kExitOk : kExitNo;
}

// ---------------------------------------------------------------------------
// Command table.

const std::vector<Command>& Commands() {
  static const auto* const kCommands = new std::vector<Command>{
      {"upsert-plan",
       "create or update a plan (platform callers)",
       "patctl --insecure upsert-plan --id=1234567890 --name=\"Acme\" --tier=organization --admins=alice,bob",
       "--id=ORG --name=NAME "
       "--tier=organization|enterprise|starter|professional --admins=u1,u2",
       {"id", "name", "tier", "admins"},
       {},
       UpsertPlan},
      {"upsert-resource",
       "create or update a directory resource (platform callers)",
       "patctl --insecure upsert-resource --plan=1234567890 --kind=project --id=proj1\npatctl --insecure upsert-resource --plan=1234567890 --kind=file --id=FILEKEY1 --parent_kind=project --parent_id=proj1",
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
      {"list-plans",
       "list the plans the actor administers",
       "patctl --actor=alice list-plans\npatctl --actor=alice list-plans --output=json",
       "", {}, {}, ListPlans},
      {"create",
       "create a token; prints its secret once",
       "patctl --actor=alice create --plan=1234567890 --kind=rest --name=ci --days=90 \\\n    --scopes=file_content:read,file_metadata:read --links=https://www.figma.com/design/FILEKEY1\npatctl --actor=alice create --plan=1234567890 --kind=npm --name=publish --days=30 \\\n    --scopes=packages:read,packages:write --all_resources --request_id=ci-2024-06-01",
       "--plan=ORG --kind=rest|npm --name=N [--description=D] --days=N "
       "--scopes=a,b [--all_resources | --links=l1,l2] [--request_id=R]",
       {"plan", "kind", "name", "days", "scopes"},
       {"description", "all_resources", "links", "request_id"},
       Create},
      {"get",
       "show one token",
       "patctl --actor=alice get --plan=1234567890 --token=tok_...",
       "--plan=ORG --token=ID", {"plan", "token"}, {}, Get},
      {"list",
       "list a plan's tokens (a table; tab-separated when piped)",
       "patctl --actor=alice list --plan=1234567890 --status=active\npatctl --actor=alice list --plan=1234567890 --all_pages | cut -f1,7",
       "--plan=ORG [--kind=rest|npm] [--status=active,expired,revoked] "
       "[--page_size=N] [--page_token=T | --all_pages]",
       {"plan"},
       {"kind", "status", "page_size", "page_token", "all_pages"},
       List},
      {"update",
       "edit a token's name, description, scopes or resources",
       "patctl --actor=alice update --plan=1234567890 --token=tok_... --scopes=file_content:read\npatctl --actor=alice update --plan=1234567890 --token=tok_... --description=",
       "--plan=ORG --token=ID [--name=N] [--description=D] [--scopes=a,b] "
       "[--all_resources | --links=l1,l2]",
       {"plan", "token"},
       {"name", "description", "scopes", "all_resources", "links"},
       Update},
      {"refresh",
       "issue a new secret; the old one works 24 more hours",
       "patctl --actor=alice refresh --plan=1234567890 --token=tok_... --request_id=r1",
       "--plan=ORG --token=ID [--request_id=R]",
       {"plan", "token"},
       {"request_id"},
       Refresh},
      {"revoke",
       "revoke a token now, irreversibly",
       "patctl --actor=alice revoke --plan=1234567890 --token=tok_...",
       "--plan=ORG --token=ID", {"plan", "token"}, {}, Revoke},
      {"audit",
       "list a plan's audit events",
       "patctl --actor=alice audit --plan=1234567890 --token=tok_... --all_pages",
       "--plan=ORG [--token=ID] [--page_size=N] [--page_token=T | "
       "--all_pages]",
       {"plan"},
       {"token", "page_size", "page_token", "all_pages"},
       Audit},
      {"check",
       "would this token be allowed? exit 0 allowed, 1 denied",
       "patctl --actor=alice check --plan=1234567890 --token=tok_... --method=GET --path=/v1/files/FILEKEY1 && echo allowed",
       "--plan=ORG --token=ID --method=GET --path=/v1/files/KEY",
       {"plan", "token", "method", "path"},
       {},
       Check},
      {"validate",
       "look up a secret (read from stdin); exit 0 found, 1 not found",
       "patctl validate --secret_stdin < secret.txt\nprintf %s \"$SECRET\" | patctl validate --secret_stdin --output=json",
       "--secret_stdin", {"secret_stdin"}, {}, Validate},
  };
  return *kCommands;
}

const Command* FindCommand(absl::string_view name) {
  for (const Command& c : Commands()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

template <typename Container>
bool Contains(const Container& c, absl::string_view name) {
  for (absl::string_view item : c) {
    if (item == name) return true;
  }
  return false;
}

bool IsPatctlFlag(absl::string_view name) {
  if (Contains(kGlobalFlags, name)) return true;
  for (const Command& c : Commands()) {
    if (Contains(c.required, name) || Contains(c.optional, name)) return true;
  }
  return false;
}

FlagType TypeOfFlag(absl::string_view name) {
  if (name == "help" || name == "helpfull" || name == "helpshort" ||
      name == "h") {
    return FlagType::kHelp;
  }
  if (!IsPatctlFlag(name)) return FlagType::kUnknown;
  absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  if (flag == nullptr) return FlagType::kUnknown;
  return flag->IsOfType<bool>() ? FlagType::kBool : FlagType::kValue;
}

// Checks the given flags against the command: all required ones present (and
// not empty), none that the command does not take.
std::string CheckCommandFlags(const Command& cmd,
                              const absl::flat_hash_set<std::string>& given) {
  for (const std::string& name : given) {
    if (!Contains(kGlobalFlags, name) && !Contains(cmd.required, name) &&
        !Contains(cmd.optional, name)) {
      return absl::StrCat(cmd.name, " does not take --", name);
    }
  }
  for (absl::string_view name : cmd.required) {
    if (!given.contains(name)) {
      return absl::StrCat(cmd.name, " needs --", name);
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag->IsOfType<std::string>() && !Contains(kMayBeEmpty, name) &&
        flag->CurrentValue().empty()) {
      return absl::StrCat("--", name, " must not be empty");
    }
  }
  return "";
}

// Reads a whole (small) file; "" in *error on success.
std::string ReadFile(absl::string_view flag, const std::string& path,
                     std::string* error) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  if (in) contents << in.rdbuf();
  if (!in) {
    *error = absl::StrCat("cannot read --", flag, " file \"",
                          TerminalSafe(path), "\": ", std::strerror(errno));
  }
  return contents.str();
}

// Checks the global flags and builds the session. Returns an exit code on
// failure.
std::variant<int, std::unique_ptr<Session>> OpenSession(
    absl::flat_hash_set<std::string> given) {
  std::string output = absl::GetFlag(FLAGS_output);
  if (output != "text" && output != "json" && output != "table" &&
      output != "tsv") {
    return UsageError("--output must be text, json, table or tsv");
  }
  absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
  if (timeout <= absl::ZeroDuration()) {
    return UsageError("--timeout must be positive");
  }
  std::string authority = absl::GetFlag(FLAGS_authority);
  std::string actor = absl::GetFlag(FLAGS_actor);
  if (authority.empty()) return UsageError("--authority must not be empty");
  if (!IsValidActor(actor)) {
    return UsageError("--actor must be printable ASCII");
  }

  bool insecure = absl::GetFlag(FLAGS_insecure);
  bool any_tls = !absl::GetFlag(FLAGS_tls_ca).empty() ||
                 !absl::GetFlag(FLAGS_tls_cert).empty() ||
                 !absl::GetFlag(FLAGS_tls_key).empty() ||
                 !absl::GetFlag(FLAGS_tls_server_name).empty();
  if (insecure && any_tls) {
    return UsageError("--insecure cannot be combined with --tls_* flags");
  }
  std::shared_ptr<grpc::ChannelCredentials> creds;
  grpc::ChannelArguments args;
  if (insecure) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    std::string cert = absl::GetFlag(FLAGS_tls_cert);
    std::string key = absl::GetFlag(FLAGS_tls_key);
    if (cert.empty() != key.empty()) {
      return UsageError("--tls_cert and --tls_key go together");
    }
    grpc::SslCredentialsOptions ssl;
    std::string error;
    if (std::string ca = absl::GetFlag(FLAGS_tls_ca); !ca.empty()) {
      ssl.pem_root_certs = ReadFile("tls_ca", ca, &error);
    }
    if (error.empty() && !cert.empty()) {
      ssl.pem_cert_chain = ReadFile("tls_cert", cert, &error);
    }
    if (error.empty() && !key.empty()) {
      ssl.pem_private_key = ReadFile("tls_key", key, &error);
    }
    if (!error.empty()) return LocalError(error);
    creds = grpc::SslCredentials(ssl);
    OPENSSL_cleanse(ssl.pem_private_key.data(), ssl.pem_private_key.size());
    if (std::string name = absl::GetFlag(FLAGS_tls_server_name);
        !name.empty()) {
      args.SetSslTargetNameOverride(name);
    }
  }
  Target() = {authority, insecure};
  return std::make_unique<Session>(
      grpc::CreateCustomChannel(authority, creds, args), std::move(actor),
      timeout, std::move(output), std::move(given));
}

std::vector<std::string> CommandNames() {
  std::vector<std::string> names;
  for (const Command& c : Commands()) names.emplace_back(c.name);
  for (const char* extra : {"help", "completion", "version"}) {
    names.emplace_back(extra);
  }
  return names;
}

std::vector<std::string> AllFlagNames() {
  std::vector<std::string> names;
  absl::flat_hash_set<std::string> seen;
  auto add = [&](absl::string_view n) {
    if (seen.insert(std::string(n)).second) names.emplace_back(n);
  };
  for (absl::string_view n : kGlobalFlags) add(n);
  for (const Command& c : Commands()) {
    for (absl::string_view n : c.required) add(n);
    for (absl::string_view n : c.optional) add(n);
  }
  return names;
}

void PrintFlagLine(std::ostream& out, absl::string_view name, bool required) {
  absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  std::string left = absl::StrCat("  --", name);
  if (flag != nullptr && !flag->IsOfType<bool>()) absl::StrAppend(&left, "=V");
  left.resize(std::max<size_t>(left.size() + 2, 22), ' ');
  out << left << (flag != nullptr ? flag->Help() : "")
      << (required ? " (required)" : "") << "\n";
}

void PrintCommandHelp(std::ostream& out, const Command& c) {
  out << "patctl " << c.name << ": " << c.summary << "\n\nusage: patctl "
      << c.name;
  if (!c.synopsis.empty()) out << " " << c.synopsis;
  out << "\n\nflags:\n";
  for (absl::string_view name : c.required) PrintFlagLine(out, name, true);
  for (absl::string_view name : c.optional) PrintFlagLine(out, name, false);
  if (!c.examples.empty()) {
    out << "\nexamples:\n";
    for (absl::string_view line : absl::StrSplit(c.examples, '\n')) {
      out << "  " << line << "\n";
    }
  }
  out << "\nglobal flags and exit status: patctl help\n";
}

int UnknownCommand(absl::string_view name) {
  std::string message =
      absl::StrCat("unknown command \"", TerminalSafe(name), "\"");
  if (std::optional<std::string> near = DidYouMean(name, CommandNames())) {
    absl::StrAppend(&message, "; did you mean \"", *near, "\"?");
  }
  return UsageError(message);
}

// The first positional argument (the command), walking argv as ScanFlags
// does; "" when there is none.
std::string FirstPositional(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") return i + 1 < argc ? argv[i + 1] : "";
    if (arg.size() < 2 || arg[0] != '-') return std::string(arg);
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    if (absl::StrContains(arg, '=')) continue;
    if (TypeOfFlag(arg) == FlagType::kValue) ++i;  // "--flag value"
  }
  return "";
}

// The config file to read: --config, PAT_CONFIG, or the default location
// when it exists ("" for none). `explicit_path` is set when the user named
// one (then a missing file is an error).
std::string ConfigPath(const FlagScan& scan, bool* explicit_path) {
  *explicit_path = true;
  for (const auto& [name, value] : scan.values) {
    if (name == "config") return value;
  }
  if (const char* env = std::getenv("PAT_CONFIG"); env != nullptr && *env) {
    return env;
  }
  *explicit_path = false;
  std::string base;
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg) {
    base = xdg;
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home) {
    base = absl::StrCat(home, "/.config");
  } else {
    return "";
  }
  std::string path = absl::StrCat(base, "/patctl/config");
  return access(path.c_str(), F_OK) == 0 ? path : "";
}

// Applies the config file, then PAT_<FLAG> environment variables, as
// defaults of the connection flags (the command line, parsed later, wins).
// A TLS setting from a lower source is dropped when the command line says
// --insecure, and vice versa, so a config file for one mode does not
// contradict an explicit choice of the other. Returns a usage error or "".
std::string ApplyConnectionDefaults(const FlagScan& scan) {
  absl::flat_hash_map<std::string, std::string> defaults;
  bool explicit_path = false;
  const std::string path = ConfigPath(scan, &explicit_path);
  if (!path.empty()) {
    std::string error;
    const std::string text = ReadFile("config", path, &error);
    if (!error.empty()) return error;
    ConfigFile config = ParseConfigFile(text);
    if (!config.error.empty()) {
      return absl::StrCat("config file \"", TerminalSafe(path),
                          "\": ", config.error);
    }
    defaults = std::move(config.values);
  }
  for (absl::string_view key : kConfigKeys) {
    const std::string variable =
        absl::StrCat("PAT_", absl::AsciiStrToUpper(key));
    if (const char* env = std::getenv(variable.c_str());
        env != nullptr && *env != '\0') {
      defaults[key] = env;
    }
  }
  const bool cli_insecure = scan.given.contains("insecure");
  const bool cli_tls = scan.given.contains("tls_ca") ||
                       scan.given.contains("tls_cert") ||
                       scan.given.contains("tls_key") ||
                       scan.given.contains("tls_server_name");
  for (const auto& [key, value] : defaults) {
    if (scan.given.contains(key)) continue;
    if (cli_insecure && absl::StartsWith(key, "tls_")) continue;
    if (cli_tls && key == "insecure") continue;
    std::string error;
    if (!absl::FindCommandLineFlag(key)->ParseFrom(value, &error)) {
      return absl::StrCat("setting ", key, " (from PAT_",
                          absl::AsciiStrToUpper(key), " or the config file): ",
                          TerminalSafe(error));
    }
  }
  return "";
}

int Run(int argc, char** argv) {
  SilenceGrpcLogs();
  const std::string first = FirstPositional(argc, argv);
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg == "--version" || arg == "-version") {
      std::cout << VersionLine("patctl") << std::endl;
      return kExitOk;
    }
  }
  if (first == "version") {
    std::cout << VersionLine("patctl") << std::endl;
    return kExitOk;
  }
  FlagScan scan = ScanFlags(argc, argv, TypeOfFlag);
  if (scan.help) {
    if (const Command* cmd = FindCommand(first); cmd != nullptr) {
      PrintCommandHelp(std::cout, *cmd);
      return kExitOk;
    }
    if (!first.empty() && first != "help") return UnknownCommand(first);
    PrintUsage(std::cout);
    return kExitOk;
  }
  if (!scan.error.empty()) {
    if (!scan.unknown_flag.empty()) {
      std::string message = scan.error;
      if (std::optional<std::string> near =
              DidYouMean(scan.unknown_flag, AllFlagNames())) {
        absl::StrAppend(&message, "; did you mean --", *near, "?");
      }
      return UsageError(message);
    }
    return UsageError(scan.error);
  }
  // Validate every value first, so that a bad one is a usage error (exit 2)
  // rather than absl's exit(1) inside ParseCommandLine.
  for (const auto& [name, value] : scan.values) {
    std::string error;
    if (!absl::FindCommandLineFlag(name)->ParseFrom(value, &error)) {
      return UsageError(absl::StrCat("--", name, ": ", TerminalSafe(error)));
    }
  }
  if (std::string error = ApplyConnectionDefaults(scan); !error.empty()) {
    return UsageError(error);
  }
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() < 2) return UsageError("missing command");
  absl::string_view name = positional[1];
  if (name == "help") {
    if (positional.size() > 2) {
      const Command* cmd = FindCommand(positional[2]);
      if (cmd == nullptr) return UnknownCommand(positional[2]);
      PrintCommandHelp(std::cout, *cmd);
      return kExitOk;
    }
    PrintUsage(std::cout);
    return kExitOk;
  }
  if (name == "completion") {
    const std::string shell = positional.size() > 2 ? positional[2] : "";
    if (shell == "bash") {
      std::cout << BashCompletion(CommandNames(), AllFlagNames());
    } else if (shell == "zsh") {
      std::cout << ZshCompletion(CommandNames(), AllFlagNames());
    } else {
      return UsageError("usage: patctl completion bash|zsh");
    }
    return kExitOk;
  }
  const Command* cmd = FindCommand(name);
  if (cmd == nullptr) return UnknownCommand(name);
  if (positional.size() > 2) {
    return UsageError(absl::StrCat("unexpected argument \"",
                                   TerminalSafe(positional[2]), "\""));
  }
  if (std::string error = CheckCommandFlags(*cmd, scan.given); !error.empty()) {
    return UsageError(error);
  }
  auto session = OpenSession(std::move(scan.given));
  if (const int* code = std::get_if<int>(&session)) return *code;
  int code = cmd->run(*std::get<std::unique_ptr<Session>>(session));
  std::cout.flush();
  if (!std::cout) return LocalError("cannot write to stdout");
  return code;
}

}  // namespace
}  // namespace pat::patctl

int main(int argc, char** argv) { return pat::patctl::Run(argc, argv); }
