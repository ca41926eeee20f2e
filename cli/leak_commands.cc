// Leaked-secret intake (docs/leak-intake.md): `patctl report-leaks`,
// `patctl set-leak-policy`, `patctl get-leak-policy`.
//
// report-leaks reads candidates in the shape of GitHub's secret-scanning
// partner program (a JSON array of {token, type, url, source}) and prints
// each candidate's outcome by its index; the secrets are never printed.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "cli/handler_util.h"
#include "cli/output.h"
#include "cli/session.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "pat/v1/leak_intake.grpc.pb.h"
#include "pat/v1/leak_intake.pb.h"

ABSL_FLAG(std::string, candidates, "",
          "report-leaks: JSON file of candidates, [{\"token\",\"type\","
          "\"url\",\"source\"}, ...]; - reads standard input");
ABSL_FLAG(std::string, leak_policy, "",
          "set-leak-policy: what a reported leak does: revoke or flag");

namespace pat::patctl {
namespace {

// The server's limits (server/leak_judge.h): refused here first, so that a
// large file is never sent.
constexpr size_t kMaxCandidatesFileBytes = 4 << 20;
constexpr int kMaxCandidates = 1000;

absl::StatusOr<std::string> ReadInput(const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  if (text.size() > kMaxCandidatesFileBytes) {
    return absl::InvalidArgumentError("--candidates: larger than 4 MiB");
  }
  return text;
}

// The candidates of `text`; a message naming the first bad entry otherwise
// (never its token).
absl::StatusOr<v1::ReportLeakedSecretsRequest> ParseCandidates(
    const std::string& text) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_array()) {
    return absl::InvalidArgumentError(
        "--candidates: not a JSON array of {token, type, url, source}");
  }
  if (doc.empty() || doc.size() > kMaxCandidates) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--candidates: must hold 1 to ", kMaxCandidates, " entries"));
  }
  v1::ReportLeakedSecretsRequest req;
  for (size_t i = 0; i < doc.size(); ++i) {
    const nlohmann::json& c = doc[i];
    if (!c.is_object() || !c.contains("token") || !c["token"].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--candidates: entry ", i, " has no string \"token\""));
    }
    v1::LeakCandidate* out = req.add_candidates();
    out->set_token(c["token"].get<std::string>());
    for (const char* field : {"type", "url", "source"}) {
      if (!c.contains(field)) continue;
      if (!c[field].is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--candidates: entry ", i, " field \"", field, "\" not a string"));
      }
    }
    if (c.contains("type")) out->set_type(c["type"].get<std::string>());
    if (c.contains("url")) out->set_url(c["url"].get<std::string>());
    if (c.contains("source")) out->set_source(c["source"].get<std::string>());
  }
  return req;
}

const char* OutcomeText(v1::LeakOutcome o) {
  switch (o) {
    case v1::LEAK_OUTCOME_TRUE_POSITIVE:
      return "true_positive";
    case v1::LEAK_OUTCOME_FALSE_POSITIVE:
      return "false_positive";
    default:
      return "unspecified";
  }
}

const char* ActionText(v1::LeakAction a) {
  switch (a) {
    case v1::LEAK_ACTION_NONE:
      return "none";
    case v1::LEAK_ACTION_REVOKED:
      return "revoked";
    case v1::LEAK_ACTION_FLAGGED:
      return "flagged";
    default:
      return "unspecified";
  }
}

const char* PolicyText(v1::LeakPolicy p) {
  switch (p) {
    case v1::LEAK_POLICY_REVOKE:
      return "revoke";
    case v1::LEAK_POLICY_FLAG:
      return "flag";
    default:
      return "unspecified";
  }
}

int ReportLeaks(Session& s) {
  absl::StatusOr<std::string> text =
      ReadInput(absl::GetFlag(FLAGS_candidates));
  if (!text.ok()) return LocalError(std::string(text.status().message()));
  absl::StatusOr<v1::ReportLeakedSecretsRequest> req = ParseCandidates(*text);
  if (!req.ok()) return UsageError(std::string(req.status().message()));
  v1::ReportLeakedSecretsResponse resp;
  grpc::Status status =
      Unary(s, /*as_actor=*/false, s.leaks(),
            &v1::LeakIntakeService::Stub::ReportLeakedSecrets, *req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] {
    Table table({"index", "outcome", "action"});
    for (const v1::LeakCandidateResult& r : resp.results()) {
      table.Add({absl::StrCat(r.index()), OutcomeText(r.outcome()),
                 ActionText(r.action())});
    }
    table.Print(s);
  });
}

int SetLeakPolicy(Session& s) {
  const std::string name = absl::GetFlag(FLAGS_leak_policy);
  v1::SetLeakPolicyRequest req;
  req.set_plan_id(absl::GetFlag(FLAGS_plan));
  if (name == "revoke") {
    req.set_policy(v1::LEAK_POLICY_REVOKE);
  } else if (name == "flag") {
    req.set_policy(v1::LEAK_POLICY_FLAG);
  } else {
    return UsageError(absl::StrCat("--leak_policy must be one of revoke, flag, not \"",
                                   TerminalSafe(name), "\""));
  }
  v1::LeakPolicySetting resp;
  grpc::Status status =
      Unary(s, /*as_actor=*/true, s.leaks(),
            &v1::LeakIntakeService::Stub::SetLeakPolicy, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] {
    Line("plan_id", resp.plan_id());
    Line("leak_policy", PolicyText(resp.policy()));
  });
}

int GetLeakPolicy(Session& s) {
  v1::GetLeakPolicyRequest req;
  req.set_plan_id(absl::GetFlag(FLAGS_plan));
  v1::LeakPolicySetting resp;
  grpc::Status status =
      Unary(s, /*as_actor=*/true, s.leaks(),
            &v1::LeakIntakeService::Stub::GetLeakPolicy, req, &resp);
  if (!status.ok()) return RpcError(status);
  return Emit(s, resp, [&] {
    Line("plan_id", resp.plan_id());
    Line("leak_policy", PolicyText(resp.policy()));
  });
}

}  // namespace

std::vector<Command> LeakCommands() {
  return {
      {"report-leaks",
       "submit candidate secrets found by a scanner (platform role)",
       "patctl report-leaks --candidates=found.json",
       "--candidates=FILE|-",
       {"candidates"},
       {},
       ReportLeaks},
      {"set-leak-policy",
       "what a reported leak of the plan's secret does: revoke or flag",
       "patctl --actor=alice set-leak-policy --plan=1234567890 "
       "--leak_policy=flag",
       "--plan=ORG --leak_policy=revoke|flag",
       {"plan", "leak_policy"},
       {},
       SetLeakPolicy},
      {"get-leak-policy",
       "the plan's leak policy",
       "patctl --actor=alice get-leak-policy --plan=1234567890",
       "--plan=ORG",
       {"plan"},
       {},
       GetLeakPolicy},
  };
}

}  // namespace pat::patctl
