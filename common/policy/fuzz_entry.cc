#include "common/policy/fuzz_entry.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/domain.h"
#include "common/policy/catalog.h"
#include "common/policy/path.h"
#include "common/policy/policy.h"
#include "common/policy/reason.h"
#include "common/policy/route_matcher.h"
#include "common/scopes.h"

namespace pat::policy {
namespace {

void Check(bool condition, absl::string_view what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz invariant violated: %.*s\n",
               static_cast<int>(what.size()), what.data());
  std::abort();
}

constexpr absl::string_view kFuzzMethods[] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get"};

// Every resource is in plan "p" and has one ancestor (team "t").
class EverythingInPlan : public ResourceResolver {
 public:
  std::optional<ResolvedResource> Resolve(ResourceKind kind,
                                          absl::string_view id) const override {
    ResolvedResource r;
    r.plan_id = "p";
    r.ancestors.emplace_back(ResourceKind::kTeam, "t");
    return r;
  }
};

const RouteMatcher& BuiltIn(TokenKind kind) {
  static const RouteMatcher* const rest =
      new RouteMatcher(*RouteMatcher::Default(TokenKind::kRestApi));
  static const RouteMatcher* const npm =
      new RouteMatcher(*RouteMatcher::Default(TokenKind::kNpmRegistry));
  return kind == TokenKind::kRestApi ? *rest : *npm;
}

// Every scope of both kinds, so that only endpoint and resource rules decide.
const std::vector<std::string>& EveryScope() {
  static const std::vector<std::string>* const scopes = [] {
    auto* v = new std::vector<std::string>();
    for (absl::string_view s : RestApiScopes()) v->emplace_back(s);
    for (absl::string_view s : NpmScopes()) v->emplace_back(s);
    return v;
  }();
  return *scopes;
}

bool Inside(absl::string_view part, absl::string_view whole) {
  return part.data() >= whole.data() &&
         part.data() + part.size() <= whole.data() + whole.size();
}

// The template of `e` with its captures substituted.
std::string Fill(const Endpoint& e, const RouteMatch& m) {
  if (e.segments.empty()) return "/";
  std::string out;
  int p = 0;
  for (const TemplateSegment& s : e.segments) {
    out.push_back('/');
    if (s.type == SegmentType::kLiteral) {
      out.append(s.text);
    } else {
      absl::StrAppend(&out, m.params[p++]);  // prefixed: prefix included
    }
  }
  return out;
}

void CheckMatch(const RouteMatcher& routes, absl::string_view method,
                absl::string_view path) {
  const RouteMatch m = routes.Match(method, path);
  if (m.endpoint == nullptr) {
    Check(m.param_count == 0, "no match but captures");
    return;
  }
  const Endpoint& e = *m.endpoint;
  Check(e.method == method, "matched another method");
  Check(m.param_count == static_cast<int>(e.param_names.size()),
        "capture count differs from the template");
  int p = 0;
  for (const TemplateSegment& s : e.segments) {
    if (s.type == SegmentType::kLiteral) continue;
    const absl::string_view v = m.params[p++];
    Check(!v.empty(), "empty capture");
    Check(Inside(v, path), "capture outside the path");
    Check(!absl::StrContains(v, '/'), "capture spans segments");
    if (s.type == SegmentType::kPrefixedParam) {
      Check(absl::StartsWith(v, s.text) && v.size() > s.text.size(),
            "prefixed capture without its prefix");
    }
  }
  Check(Fill(e, m) == path, "template filled with captures != path");
}

// npm mode accepts a superset of strict mode, and its only extra acceptance
// is an escaped '/' right after a leading "@scope".
void CheckNpmMode(absl::string_view data, const TargetCheck& strict) {
  const TargetCheck npm = CheckTarget(data, PathMode::kNpm);
  if (strict.ok()) {
    Check(npm.ok() && npm.target.path == strict.target.path &&
              npm.target.decision_path() == strict.target.decision_path(),
          "npm mode refuses or decides differently what strict mode accepts");
  }
  if (!npm.ok()) return;
  const absl::string_view decided = npm.target.decision_path();
  Check(!absl::StrContains(decided, "//") &&
            !absl::StrContains(decided, "/./") &&
            !absl::StrContains(decided, "/../") &&
            !absl::EndsWith(decided, "/.") && !absl::EndsWith(decided, "/.."),
        "npm decision form has an empty or dot segment");
  Check(!absl::StrContains(decided, '%'), "decision form still has a '%'");
  const TargetCheck again = CheckTarget(npm.target.path, PathMode::kNpm);
  Check(again.ok() && again.target.decision_path() == decided,
        "npm mode is not idempotent");
}

}  // namespace

void FuzzPathCanonicalizer(absl::string_view data) {
  const TargetCheck check = CheckTarget(data);
  CheckNpmMode(data, check);
  if (!check.ok()) {
    Check(check.reason == Reason::kPathInvalid ||
              check.reason == Reason::kTokenInQuery,
          "refusal with an unexpected reason");
    Check(!check.detail.empty(), "refusal without detail");
    return;
  }
  const Target& t = check.target;
  Check(Inside(t.path, data) && (t.query.empty() || Inside(t.query, data)),
        "views outside the input");
  const std::string rebuilt =
      t.has_query ? absl::StrCat(t.path, "?", t.query) : std::string(t.path);
  Check(rebuilt == data, "path + query != input");
  Check(!t.path.empty() && t.path[0] == '/', "path does not start with '/'");
  Check(!absl::StrContains(t.path, "//"), "accepted '//'");
  Check(t.path == "/" || t.path.back() != '/', "accepted a trailing slash");
  Check(!absl::StrContains(t.path, "/./") &&
            !absl::StrContains(t.path, "/../") &&
            !absl::EndsWith(t.path, "/.") && !absl::EndsWith(t.path, "/.."),
        "accepted a dot segment");
  Check(!absl::StrContains(data, '#'), "accepted a fragment");
  Check(!absl::StrContains(t.path, '\\') && !absl::StrContains(t.path, ';'),
        "accepted '\\' or ';' in the path");
  for (absl::string_view bad :
       {"%2F", "%2f", "%5C", "%5c", "%2E", "%2e", "%00", "%25"}) {
    Check(!absl::StrContains(t.path, bad), "accepted a forbidden escape");
  }
  for (char c : data) {
    const unsigned char u = static_cast<unsigned char>(c);
    Check(u > 0x20 && u < 0x7F, "accepted a control, space or non-ASCII byte");
  }
  // Idempotent: the accepted path alone is accepted as the same path.
  const TargetCheck again = CheckTarget(t.path);
  Check(again.ok() && again.target.path == t.path && !again.target.has_query,
        "accepted path is not accepted again");
  // The decision form decodes exactly the escapes and keeps the segments.
  const absl::string_view decided = t.decision_path();
  Check(t.decoded_path.empty() == !absl::StrContains(t.path, '%'),
        "decoded form present iff the path has escapes");
  Check(!absl::StrContains(decided, '%'), "decision form still has a '%'");
  Check(std::count(decided.begin(), decided.end(), '/') ==
            std::count(t.path.begin(), t.path.end(), '/'),
        "decoding changed the segments");
  std::string value;
  FindQueryParam(t.query, "context_id", &value);
}

void FuzzCatalogParser(absl::string_view data) {
  absl::StatusOr<Catalog> catalog = ParseCatalog(data, "fuzz");
  if (!catalog.ok()) {
    Check(absl::StartsWith(catalog.status().message(), "fuzz:"),
          "parse error without a source:line prefix");
    return;
  }
  for (const Endpoint& e : catalog->endpoints) {
    const std::string line = FormatEndpoint(e);
    absl::StatusOr<Catalog> again = ParseCatalog(line, "format");
    Check(again.ok() && again->endpoints.size() == 1,
          "formatted endpoint does not parse");
    const Endpoint& f = again->endpoints[0];
    Check(f.method == e.method && f.path_template == e.path_template &&
              f.scopes == e.scopes && f.plan_tokens == e.plan_tokens &&
              f.name == e.name && f.resource.source == e.resource.source &&
              f.resource.kind == e.resource.kind &&
              f.resource.param == e.resource.param &&
              f.error_style == e.error_style,
          "formatted endpoint parses differently");
  }
  absl::StatusOr<RouteMatcher> routes = RouteMatcher::Create(*catalog);
  Check(routes.ok(), "accepted catalog does not build a matcher");
  for (const Endpoint& e : routes->endpoints()) {
    // '{' never appears in a literal or prefix, so "{" reaches the parameter.
    std::string path;
    for (const TemplateSegment& s : e.segments) {
      path.push_back('/');
      path.append(s.type == SegmentType::kLiteral ? s.text
                                                  : absl::StrCat(s.text, "{"));
    }
    if (path.empty()) path = "/";
    const RouteMatch m = routes->Match(e.method, path);
    Check(m.endpoint == &e, "template instance does not match its endpoint");
    CheckMatch(*routes, e.method, path);
  }
}

void FuzzRouteMatcher(absl::string_view data) {
  if (data.empty()) return;
  const absl::string_view method =
      kFuzzMethods[static_cast<unsigned char>(data[0]) %
                   (sizeof(kFuzzMethods) / sizeof(kFuzzMethods[0]))];
  const absl::string_view path = data.substr(1);
  for (TokenKind kind : {TokenKind::kRestApi, TokenKind::kNpmRegistry}) {
    const RouteMatcher& routes = BuiltIn(kind);
    CheckMatch(routes, method, path);

    const TargetCheck check = CheckTarget(path, PathModeFor(kind));
    if (!check.ok()) continue;
    const EverythingInPlan resolver;
    for (bool all_resources : {true, false}) {
      GrantView grant;
      grant.plan_id = "p";
      grant.kind = kind;
      grant.scopes = EveryScope();
      grant.all_resources = all_resources;
      const TokenResource team{ResourceKind::kTeam, "t", ""};
      grant.resources = absl::MakeConstSpan(&team, 1);
      DecisionInput input;
      input.method = method;
      input.target = check.target;
      input.routes = &routes;
      input.grant = &grant;
      input.resolver = &resolver;
      input.api_kind = kind;
      const Decision d = Decide(input);
      Check(d.http_status == ReasonHttpStatus(d.reason),
            "status does not match the reason");
      if (d.allowed) {
        Check(d.endpoint != nullptr && d.endpoint->plan_tokens,
              "allowed without a plan-token endpoint");
        Check(d.endpoint->method == method, "allowed another method");
        const ResourceSource source = d.endpoint->resource.source;
        Check(all_resources || d.endpoint->resource.determinable() ||
                  source == ResourceSource::kUnscoped,
              "undeterminable resource allowed for a selected list");
        Check(source != ResourceSource::kBodyJson,
              "body resource allowed without a body");
      }
    }
  }
}

}  // namespace pat::policy
