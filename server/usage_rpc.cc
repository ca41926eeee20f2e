#include "server/usage_rpc.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/resource_link.h"
#include "common/status_macros.h"
#include "proto/convert/proto_convert.h"
#include "server/pg_usage_store.h"
#include "server/usage_report.h"

namespace pat::usage {
namespace {

constexpr size_t kMaxNameBytes = 128;

absl::Status Bad(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::StatusOr<ResourceRef> RefFromProto(const v1::TokenResource& r,
                                         const std::string& field) {
  PAT_ASSIGN_OR_RETURN(ResourceKind kind,
                       ResourceKindFromProto(r.kind(), field + ".kind"));
  if (kind == ResourceKind::kUnspecified) return Bad(field, "kind required");
  if (r.id().empty() || r.id().size() > kMaxNameBytes) {
    return Bad(field + ".id", "1 to 128 bytes");
  }
  return ResourceRef{kind, r.id()};
}

absl::StatusOr<UsageCount> CountFromProto(const v1::UsageCount& in,
                                          const std::string& field) {
  UsageCount c;
  if (in.endpoint().empty() || in.endpoint().size() > kMaxNameBytes) {
    return Bad(field + ".endpoint", "1 to 128 bytes");
  }
  c.endpoint = in.endpoint();
  if (in.satisfying_scopes_size() == 0 ||
      in.satisfying_scopes_size() > kMaxSatisfyingScopes) {
    return Bad(field + ".satisfying_scopes", "1 to 32 scopes");
  }
  for (const std::string& s : in.satisfying_scopes()) {
    if (s.empty() || s.size() > kMaxNameBytes) {
      return Bad(field + ".satisfying_scopes", "1 to 128 bytes each");
    }
    c.satisfying_scopes.push_back(s);
  }
  switch (in.resource_need()) {
    case v1::USAGE_RESOURCE_NEED_NONE:
      c.need = ResourceNeed::kNone;
      break;
    case v1::USAGE_RESOURCE_NEED_ALL:
      c.need = ResourceNeed::kAll;
      break;
    case v1::USAGE_RESOURCE_NEED_LISTED:
      c.need = ResourceNeed::kListed;
      break;
    default:
      return Bad(field + ".resource_need", "required");
  }
  if (c.need == ResourceNeed::kListed) {
    if (in.resources_size() == 0 || in.resources_size() > kMaxCountResources) {
      return Bad(field + ".resources", "1 to 100 resources when listed");
    }
  } else if (in.resources_size() != 0) {
    return Bad(field + ".resources", "only for a listed resource need");
  }
  for (int i = 0; i < in.resources_size(); ++i) {
    const v1::ResourceChain& chain = in.resources(i);
    const std::string f = absl::StrCat(field, ".resources[", i, "]");
    TouchedResource t;
    PAT_ASSIGN_OR_RETURN(t.resource, RefFromProto(chain.resource(), f));
    if (chain.ancestors_size() > kMaxResourceAncestors) {
      return Bad(f + ".ancestors", "at most 8");
    }
    for (const v1::TokenResource& a : chain.ancestors()) {
      PAT_ASSIGN_OR_RETURN(ResourceRef r, RefFromProto(a, f + ".ancestors"));
      t.ancestors.push_back(std::move(r));
    }
    c.resources.push_back(std::move(t));
  }
  if (in.count() <= 0 || in.count() > 1'000'000'000) {
    return Bad(field + ".count", "1 to 1e9");
  }
  c.count = in.count();
  Canonicalize(c);
  return c;
}

void RefToProto(const ResourceRef& r, const std::string& plan_id,
                v1::TokenResource* out) {
  out->set_kind(ResourceKindToProto(r.kind));
  out->set_id(r.id);
  out->set_link(CanonicalLink(r.kind, r.id, plan_id));
}

void ReportToProto(const Token& token, const Report& report,
                   v1::TokenUsageReport& out) {
  out.set_total_requests(report.total_requests);
  for (const EndpointUsage& e : report.endpoints) {
    v1::EndpointUsage* p = out.add_endpoints();
    p->set_endpoint(e.endpoint);
    p->set_count(e.count);
    for (const std::string& s : e.satisfying_scopes) {
      p->add_satisfying_scopes(s);
    }
  }
  for (const ScopeUsage& s : report.scopes) {
    v1::ScopeUsage* p = out.add_scopes();
    p->set_scope(s.scope);
    p->set_held(s.held);
    p->set_count(s.count);
  }
  out.set_all_resources(token.all_resources);
  for (const TokenResource& r : token.resources) {
    v1::TokenResource* p = out.add_allowed_resources();
    p->set_kind(ResourceKindToProto(r.kind));
    p->set_id(r.id);
    p->set_link(r.link);
  }
  for (const ResourceUsage& r : report.touched) {
    v1::ResourceUsage* p = out.add_touched_resources();
    RefToProto(r.resource, token.plan_id, p->mutable_resource());
    p->set_count(r.count);
  }
  for (const ResourceRef& r : report.unused_allowed) {
    RefToProto(r, token.plan_id, out.add_unused_resources());
  }
  out.set_all_resources_requests(report.all_resources_requests);
  v1::SuggestedToken* s = out.mutable_suggestion();
  s->set_no_traffic(report.suggestion.no_traffic);
  for (const std::string& scope : report.suggestion.scopes) {
    s->add_scopes(scope);
  }
  s->set_all_resources(report.suggestion.all_resources);
  for (const ResourceRef& r : report.suggestion.resources) {
    RefToProto(r, token.plan_id, s->add_resources());
  }
}

}  // namespace

absl::StatusOr<std::vector<TokenUsageCount>> UsageCountsFromProto(
    const v1::ReportUsageRequest& request) {
  if (request.counts_size() > kMaxUsageCounts) {
    return Bad("counts", "at most 10000 per call");
  }
  std::vector<TokenUsageCount> out;
  out.reserve(request.counts_size());
  for (int i = 0; i < request.counts_size(); ++i) {
    const std::string field = absl::StrCat("counts[", i, "]");
    const v1::UsageCount& in = request.counts(i);
    if (!IsValidTokenId(in.token_id())) {
      return Bad(field + ".token_id", "malformed");
    }
    PAT_ASSIGN_OR_RETURN(UsageCount c, CountFromProto(in, field));
    out.push_back({in.token_id(), std::move(c)});
  }
  return out;
}

absl::Status UsageService::Record(const v1::ReportUsageRequest& request) {
  if (request.counts_size() == 0) return absl::OkStatus();
  PAT_ASSIGN_OR_RETURN(std::vector<TokenUsageCount> counts,
                       UsageCountsFromProto(request));
  return store_.Add(counts, lifecycle_.Now());
}

absl::Status UsageService::Report(const std::string& actor,
                                  const v1::GetTokenUsageReportRequest& request,
                                  v1::TokenUsageReport& response) {
  PAT_ASSIGN_OR_RETURN(
      Token token,
      lifecycle_.GetToken(actor, request.plan_id(), request.token_id()));
  int hours = request.window_hours();
  if (hours < 0 || hours > kMaxWindowHours) {
    return Bad("window_hours", "0 (7 days) or 1 to 2160");
  }
  if (hours == 0) hours = kDefaultWindowHours;
  const absl::Time now = lifecycle_.Now();
  // The current hour's bucket counts as the window's last hour.
  const absl::Time start = HourBucket(now) - absl::Hours(hours - 1);
  PAT_ASSIGN_OR_RETURN(std::vector<UsageCount> counts,
                       store_.Read(token.id, start));
  const usage::Report report = BuildReport(token, counts);
  response.set_plan_id(token.plan_id);
  response.set_token_id(token.id);
  TimeToProto(start, response.mutable_window_start());
  TimeToProto(now, response.mutable_window_end());
  ReportToProto(token, report, response);
  return absl::OkStatus();
}

}  // namespace pat::usage
