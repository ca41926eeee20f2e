// The least-privilege report (docs/usage-report.md): `patctl usage`.

#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/handler_util.h"
#include "cli/output.h"
#include "cli/session.h"
#include "grpcpp/grpcpp.h"
#include "pat/v1/pat.grpc.pb.h"
#include "pat/v1/pat.pb.h"

ABSL_FLAG(int32_t, hours, 0,
          "usage: the report's window in hours (1..2160; 0 = 168, 7 days)");

namespace pat::patctl {
namespace {

void PrintReport(const Session& s, const v1::TokenUsageReport& r) {
  Line("token_id", r.token_id());
  Line("window", absl::StrCat(TimeText(r.window_start()), " .. ",
                              TimeText(r.window_end())));
  Line("requests", absl::StrCat(r.total_requests()));
  Table endpoints({"endpoint", "count", "satisfied_by"});
  for (const v1::EndpointUsage& e : r.endpoints()) {
    endpoints.Add({e.endpoint(), absl::StrCat(e.count()),
                   ListText(e.satisfying_scopes())});
  }
  endpoints.Print(s);
  for (const v1::ScopeUsage& u : r.scopes()) {
    Line("scope", absl::StrCat(u.scope(), u.held() ? " held" : " not-held",
                               " used=", u.count()));
  }
  PrintResourceLines(r.all_resources(), r.allowed_resources());
  for (const v1::ResourceUsage& u : r.touched_resources()) {
    Line("touched", absl::StrCat(ResourceRef(u.resource().kind(),
                                             u.resource().id()),
                                 " count=", u.count()));
  }
  for (const v1::TokenResource& u : r.unused_resources()) {
    Line("unused", ResourceRef(u.kind(), u.id()));
  }
  const v1::SuggestedToken& g = r.suggestion();
  if (g.no_traffic()) {
    Line("suggestion", "none (no allowed request in the window)");
    return;
  }
  Line("suggested_scopes", ListText(g.scopes()));
  std::vector<std::string> links;
  for (const v1::TokenResource& t : g.resources()) links.push_back(t.link());
  Line("suggested_resources",
       g.all_resources() ? "all" : absl::StrJoin(links, ","));
}

int Usage(Session& s) {
  v1::GetTokenUsageReportRequest req;
  req.set_plan_id(absl::GetFlag(FLAGS_plan));
  req.set_token_id(absl::GetFlag(FLAGS_token));
  req.set_window_hours(absl::GetFlag(FLAGS_hours));
  v1::TokenUsageReport resp;
  grpc::Status status =
      Unary(s, /*as_actor=*/true, s.tokens(),
            &v1::TokenService::Stub::GetTokenUsageReport, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] { PrintReport(s, resp); });
}

}  // namespace

std::vector<Command> UsageCommands() {
  return {
      {"usage",
       "least-privilege report: what a token used, and a narrower token",
       "patctl --actor=alice usage --plan=1234567890 --token=tok_... "
       "--hours=72",
       "--plan=ORG --token=ID [--hours=N]",
       {"plan", "token"},
       {"hours"},
       Usage},
  };
}

}  // namespace pat::patctl
