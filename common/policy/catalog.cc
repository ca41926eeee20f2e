#include "common/policy/catalog.h"

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/domain.h"
#include "common/policy/path.h"

namespace pat::policy {
namespace {

constexpr size_t kMaxQuotedBytes = 64;
constexpr size_t kMaxIdentifierLength = 64;
constexpr size_t kMaxNameLength = 128;
constexpr absl::string_view kMethods[] = {"GET",   "HEAD",   "POST",   "PUT",
                                          "PATCH", "DELETE", "OPTIONS"};

// Path parameter / query names whose resource kind is implied by the name.
struct ImpliedKind {
  absl::string_view param;
  ResourceKind kind;
};
constexpr ImpliedKind kImpliedKinds[] = {
    {"file_key", ResourceKind::kFile},
    {"project_id", ResourceKind::kProject},
    {"team_id", ResourceKind::kTeam},
    {"workspace_id", ResourceKind::kWorkspace},
    {"scope", ResourceKind::kNpmScope},
};

std::string Quote(absl::string_view s) {
  std::string out =
      absl::StrCat("\"", absl::CHexEscape(s.substr(0, kMaxQuotedBytes)), "\"");
  if (s.size() > kMaxQuotedBytes) out.append("...");
  return out;
}

bool IsIdentifier(absl::string_view s) {
  if (s.empty() || s.size() > kMaxIdentifierLength) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok =
        absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_' ||
        (i > 0 && absl::ascii_isdigit(static_cast<unsigned char>(c)));
    if (!ok) return false;
  }
  return true;
}

bool IsOperationName(absl::string_view s) {
  if (s.empty() || s.size() > kMaxNameLength) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' &&
        c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

bool IsScopeName(absl::string_view s) {
  if (s.empty() || s.size() > kMaxIdentifierLength) return false;
  for (char c : s) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '_' &&
        c != ':' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

bool IsKnownMethod(absl::string_view m) {
  for (absl::string_view k : kMethods) {
    if (k == m) return true;
  }
  return false;
}

// A literal template segment must be a canonical path segment on its own and
// contain no percent-escape (templates are written unescaped).
bool IsLiteralSegment(absl::string_view seg) {
  if (seg.empty()) return false;
  for (char c : seg) {
    if (c == '%' || c == '?' || c == '{' || c == '}') return false;
  }
  const std::string path = absl::StrCat("/", seg);
  const TargetCheck check = CheckTarget(path);
  return check.ok() && !check.target.has_query;
}

ResourceKind ImpliedKindOf(absl::string_view param) {
  for (const ImpliedKind& k : kImpliedKinds) {
    if (k.param == param) return k.kind;
  }
  return ResourceKind::kUnspecified;
}

int CaptureIndex(const Endpoint& e, absl::string_view param) {
  for (size_t i = 0; i < e.param_names.size(); ++i) {
    if (e.param_names[i] == param) return static_cast<int>(i);
  }
  return -1;
}

std::string FormatFieldPath(const std::vector<FieldStep>& steps) {
  std::string out;
  for (const FieldStep& s : steps) {
    if (!out.empty()) out.push_back('.');
    absl::StrAppend(&out, s.name, s.each ? "[]" : "");
  }
  return out;
}

std::string FormatRef(const ResourceRef& ref) {
  switch (ref.form) {
    case RefForm::kFixed:
      return absl::StrCat(ResourceKindName(ref.kind), ":",
                          FormatFieldPath(ref.field));
    case RefForm::kContext:
      return absl::StrCat("context:", FormatFieldPath(ref.field), "+",
                          ref.id_field);
    case RefForm::kPlan:
      return absl::StrCat("plan:", FormatFieldPath(ref.field));
  }
  return {};
}

std::string FormatRefs(const std::vector<ResourceRef>& refs) {
  std::string out;
  for (const ResourceRef& r : refs) {
    if (!out.empty()) out.push_back('|');
    out.append(FormatRef(r));
  }
  return out;
}

// A JSON member name in a field path: printable ASCII except the bytes the
// path syntax uses ('.', '[', ']', '|', '+', ':').
bool IsFieldName(absl::string_view s) {
  if (s.empty() || s.size() > kMaxIdentifierLength) return false;
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) return false;
    if (c == '.' || c == '[' || c == ']' || c == '|' || c == '+' || c == ':' ||
        c == '#') {
      return false;
    }
  }
  return true;
}

// "a.b[].c" (json) or "name" (query) -> steps.
absl::StatusOr<std::vector<FieldStep>> ParseFieldPath(absl::string_view text,
                                                      bool json) {
  std::vector<FieldStep> steps;
  if (!json) {
    if (!IsIdentifier(text)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad query parameter name ", Quote(text)));
    }
    steps.push_back(FieldStep{std::string(text), false});
    return steps;
  }
  for (absl::string_view part : absl::StrSplit(text, '.')) {
    FieldStep step;
    if (absl::ConsumeSuffix(&part, "[]")) step.each = true;
    if (!IsFieldName(part)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad JSON field path ", Quote(text),
                       " (NAME[.NAME...], NAME[] for every array element)"));
    }
    step.name = std::string(part);
    steps.push_back(std::move(step));
  }
  if (steps.size() > static_cast<size_t>(kMaxFieldPathSteps)) {
    return absl::InvalidArgumentError(
        absl::StrCat("JSON field path ", Quote(text), " has more than ",
                     kMaxFieldPathSteps, " steps"));
  }
  if (steps.back().each) {
    return absl::InvalidArgumentError(absl::StrCat(
        "JSON field path ", Quote(text), " must end in a member name"));
  }
  return steps;
}

// One REF of query:REFS / json:REFS.
absl::StatusOr<ResourceRef> ParseRef(absl::string_view text, bool json) {
  ResourceRef ref;
  const size_t colon = text.find(':');
  absl::string_view field = text;
  if (colon != absl::string_view::npos) {
    const absl::string_view head = text.substr(0, colon);
    field = text.substr(colon + 1);
    if (head == "plan") {
      ref.form = RefForm::kPlan;
    } else if (head == "context") {
      ref.form = RefForm::kContext;
      const size_t plus = field.find('+');
      if (plus == absl::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            "resource ref ", Quote(text), ": expected context:KIND+ID"));
      }
      ref.id_field = std::string(field.substr(plus + 1));
      field = field.substr(0, plus);
      const bool ok =
          json ? IsFieldName(ref.id_field) : IsIdentifier(ref.id_field);
      if (!ok) {
        return absl::InvalidArgumentError(
            absl::StrCat("resource ref ", Quote(text), ": bad id field ",
                         Quote(ref.id_field)));
      }
    } else {
      ref.kind = ResourceKindFromName(head);
      if (ref.kind == ResourceKind::kUnspecified) {
        return absl::InvalidArgumentError(absl::StrCat(
            "resource ref ", Quote(text), ": unknown resource kind ",
            Quote(head),
            " (file, project, team, workspace, npm_scope, context or plan)"));
      }
    }
  }
  absl::StatusOr<std::vector<FieldStep>> steps = ParseFieldPath(field, json);
  if (!steps.ok()) return steps.status();
  ref.field = *std::move(steps);
  if (colon == absl::string_view::npos) {
    ref.kind = ImpliedKindOf(ref.field.back().name);
    if (ref.kind == ResourceKind::kUnspecified) {
      return absl::InvalidArgumentError(
          absl::StrCat("resource ref ", Quote(text),
                       ": cannot infer the resource kind; "
                       "write KIND:",
                       field));
    }
  }
  return ref;
}

// query:REFS or json:REFS.
absl::Status ParseRefs(absl::string_view rest, bool json,
                       ResourceSelector* sel) {
  if (rest.empty()) {
    return absl::InvalidArgumentError(
        "resource selector needs at least one REF");
  }
  for (absl::string_view alt : absl::StrSplit(rest, '|')) {
    absl::StatusOr<ResourceRef> ref = ParseRef(alt, json);
    if (!ref.ok()) return ref.status();
    sel->refs.push_back(*std::move(ref));
  }
  if (sel->refs.size() > static_cast<size_t>(kMaxResourceRefs)) {
    return absl::InvalidArgumentError(
        absl::StrCat("more than ", kMaxResourceRefs, " alternatives"));
  }
  const ResourceRef& first = sel->refs.front();
  if (!json && sel->refs.size() == 1 && first.form == RefForm::kFixed) {
    sel->kind = first.kind;  // the classic query:[KIND:]NAME
    sel->param = first.field.front().name;
  } else {
    sel->param = FormatRefs(sel->refs);
  }
  return absl::OkStatus();
}

// Parses `value` of resource=... for endpoint `e` (segments already parsed).
absl::StatusOr<ResourceSelector> ParseSelector(absl::string_view value,
                                               const Endpoint& e) {
  ResourceSelector sel;
  if (value == "none") return sel;
  if (value == "unscoped") {
    sel.source = ResourceSource::kUnscoped;
    return sel;
  }
  const size_t colon = value.find(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "resource ", Quote(value),
        ": expected none, unscoped, path:, query:, json:, lookup: or body:"));
  }
  const absl::string_view type = value.substr(0, colon);
  const absl::string_view rest = value.substr(colon + 1);
  if (type == "body") {
    if (rest.empty()) {
      return absl::InvalidArgumentError("resource body: needs a description");
    }
    sel.source = ResourceSource::kBody;
    sel.param = std::string(rest);
    return sel;
  }
  if (type == "query" || type == "json") {
    sel.source =
        type == "query" ? ResourceSource::kQuery : ResourceSource::kBodyJson;
    absl::Status status = ParseRefs(rest, type == "json", &sel);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("resource ", Quote(value), ": ", status.message()));
    }
    return sel;
  }
  std::vector<absl::string_view> parts = absl::StrSplit(rest, ':');
  if (type == "lookup") {
    if (parts.size() != 2 || !IsIdentifier(parts[0]) ||
        !IsIdentifier(parts[1])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "resource ", Quote(value), ": expected lookup:WHAT:PARAM"));
    }
    sel.source = ResourceSource::kLookup;
    sel.lookup_kind = std::string(parts[0]);
    sel.param = std::string(parts[1]);
    sel.capture_index = CaptureIndex(e, parts[1]);
    if (sel.capture_index < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("resource ", Quote(value),
                       ": the path template has no "
                       "parameter ",
                       Quote(parts[1])));
    }
    return sel;
  }
  if (type != "path") {
    return absl::InvalidArgumentError(absl::StrCat(
        "resource ", Quote(value), ": unknown selector type ", Quote(type)));
  }
  sel.source = ResourceSource::kPath;
  absl::string_view param;
  if (parts.size() == 1) {
    param = parts[0];
    sel.kind = ImpliedKindOf(param);
    if (sel.kind == ResourceKind::kUnspecified) {
      return absl::InvalidArgumentError(absl::StrCat(
          "resource ", Quote(value), ": cannot infer the resource kind from ",
          Quote(param), "; write ", type, ":KIND:", param));
    }
  } else if (parts.size() == 2) {
    sel.kind = ResourceKindFromName(parts[0]);
    if (sel.kind == ResourceKind::kUnspecified) {
      return absl::InvalidArgumentError(absl::StrCat(
          "resource ", Quote(value), ": unknown resource kind ",
          Quote(parts[0]), " (file, project, team, workspace or npm_scope)"));
    }
    param = parts[1];
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "resource ", Quote(value), ": expected ", type, ":[KIND:]NAME"));
  }
  if (!IsIdentifier(param)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "resource ", Quote(value), ": bad parameter name ", Quote(param)));
  }
  sel.param = std::string(param);
  sel.capture_index = CaptureIndex(e, param);
  if (sel.capture_index < 0) {
    return absl::InvalidArgumentError(absl::StrCat("resource ", Quote(value),
                                                   ": the path template has no "
                                                   "parameter ",
                                                   Quote(param)));
  }
  return sel;
}

// "GET /a/{}/@{}" -- identical for templates that match the same requests.
std::string RouteShape(const Endpoint& e) {
  std::string shape = absl::StrCat(e.method, " ");
  if (e.segments.empty()) shape.append("/");
  for (const TemplateSegment& s : e.segments) {
    shape.append("/");
    switch (s.type) {
      case SegmentType::kLiteral:
        shape.append(s.text);
        break;
      case SegmentType::kParam:
        shape.append("{}");
        break;
      case SegmentType::kPrefixedParam:
        absl::StrAppend(&shape, s.text, "{}");
        break;
    }
  }
  return shape;
}

absl::Status ParseLine(absl::string_view line, int line_number,
                       Endpoint* endpoint) {
  // Tokens, up to a token that starts a comment.
  std::vector<absl::string_view> tokens;
  for (absl::string_view t :
       absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
    if (t[0] == '#') break;
    tokens.push_back(t);
  }
  if (tokens.empty()) return absl::OkStatus();
  for (absl::string_view t : tokens) {
    for (char c : t) {
      const unsigned char u = static_cast<unsigned char>(c);
      if (u < 0x20 || u >= 0x7F) {
        return absl::InvalidArgumentError(
            "control character or non-ASCII byte outside a comment");
      }
    }
  }
  if (tokens.size() < 2) {
    return absl::InvalidArgumentError(
        "expected METHOD /path key=value... (missing path template)");
  }
  Endpoint& e = *endpoint;
  e.line = line_number;
  if (!IsKnownMethod(tokens[0])) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown method ", Quote(tokens[0]),
        " (GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS, upper case)"));
  }
  e.method = std::string(tokens[0]);
  e.path_template = std::string(tokens[1]);
  absl::StatusOr<std::vector<TemplateSegment>> segments =
      ParsePathTemplate(tokens[1]);
  if (!segments.ok()) return segments.status();
  e.segments = *std::move(segments);
  for (const TemplateSegment& s : e.segments) {
    if (s.type != SegmentType::kLiteral) e.param_names.push_back(s.param);
  }

  absl::flat_hash_map<absl::string_view, absl::string_view> fields;
  for (size_t i = 2; i < tokens.size(); ++i) {
    const size_t eq = tokens[i].find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected key=value, got ", Quote(tokens[i])));
    }
    const absl::string_view key = tokens[i].substr(0, eq);
    if (key != "scopes" && key != "plan_tokens" && key != "resource" &&
        key != "error_style" && key != "answer" && key != "name") {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown key ", Quote(key),
          " (scopes, plan_tokens, resource, error_style, answer, name)"));
    }
    if (!fields.emplace(key, tokens[i].substr(eq + 1)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate key ", Quote(key)));
    }
  }
  for (absl::string_view required :
       {"scopes", "plan_tokens", "resource", "name"}) {
    if (!fields.contains(required)) {
      return absl::InvalidArgumentError(
          absl::StrCat("missing key ", required, "="));
    }
  }

  const absl::string_view plan_tokens = fields["plan_tokens"];
  if (plan_tokens == "yes") {
    e.plan_tokens = true;
  } else if (plan_tokens == "no") {
    e.plan_tokens = false;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "plan_tokens must be yes or no, got ", Quote(plan_tokens)));
  }

  const absl::string_view scopes = fields["scopes"];
  if (scopes != "-") {
    for (absl::string_view s : absl::StrSplit(scopes, '|')) {
      if (!IsScopeName(s)) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad scope name ", Quote(s),
                         " (lower-case letters, digits, _ : . -)"));
      }
      for (const std::string& existing : e.scopes) {
        if (existing == s) {
          return absl::InvalidArgumentError(
              absl::StrCat("scope ", Quote(s), " listed twice"));
        }
      }
      e.scopes.emplace_back(s);
    }
  }
  if (e.scopes.empty() && e.plan_tokens) {
    return absl::InvalidArgumentError(
        "scopes=- (no scope) is only allowed with plan_tokens=no");
  }

  absl::StatusOr<ResourceSelector> selector =
      ParseSelector(fields["resource"], e);
  if (!selector.ok()) return selector.status();
  e.resource = *std::move(selector);

  if (auto it = fields.find("error_style"); it != fields.end()) {
    if (it->second == "A") {
      e.error_style = ErrorStyle::kA;
    } else if (it->second == "B") {
      e.error_style = ErrorStyle::kB;
    } else if (it->second == "AB") {
      e.error_style = ErrorStyle::kAB;
    } else if (it->second == "npm") {
      e.error_style = ErrorStyle::kNpm;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "error_style must be A, B, AB or npm, got ", Quote(it->second)));
    }
  }

  if (auto it = fields.find("answer"); it != fields.end()) {
    if (it->second == "whoami") {
      e.answer = LocalAnswer::kWhoami;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("answer must be whoami, got ", Quote(it->second)));
    }
  }

  const absl::string_view name = fields["name"];
  if (!IsOperationName(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad name ", Quote(name), " (1-128 of letters, digits, _ - .)"));
  }
  e.name = std::string(name);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<TemplateSegment>> ParsePathTemplate(
    absl::string_view path_template) {
  if (path_template.empty() || path_template[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "path template ", Quote(path_template), " must start with '/'"));
  }
  std::vector<TemplateSegment> segments;
  if (path_template == "/") return segments;
  for (absl::string_view seg : absl::StrSplit(path_template.substr(1), '/')) {
    TemplateSegment s;
    const size_t open = seg.find('{');
    if (open == absl::string_view::npos) {
      if (!IsLiteralSegment(seg)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "path template ", Quote(path_template), ": segment ", Quote(seg),
            " is not a canonical literal (empty, '.', '..', "
            "trailing slash, escape or character not allowed in a path)"));
      }
      s.type = SegmentType::kLiteral;
      s.text = std::string(seg);
    } else {
      const absl::string_view prefix = seg.substr(0, open);
      const absl::string_view rest = seg.substr(open + 1);
      if (rest.empty() || rest.back() != '}' ||
          !IsIdentifier(rest.substr(0, rest.size() - 1))) {
        return absl::InvalidArgumentError(absl::StrCat(
            "path template ", Quote(path_template), ": segment ", Quote(seg),
            " must be {name} or PREFIX{name} with name [A-Za-z_][A-Za-z0-9_]* "
            "ending the segment"));
      }
      if (!prefix.empty() && !IsLiteralSegment(prefix)) {
        return absl::InvalidArgumentError(
            absl::StrCat("path template ", Quote(path_template), ": prefix ",
                         Quote(prefix), " is not a canonical literal"));
      }
      s.type =
          prefix.empty() ? SegmentType::kParam : SegmentType::kPrefixedParam;
      s.text = std::string(prefix);
      s.param = std::string(rest.substr(0, rest.size() - 1));
      int params = 0;
      for (const TemplateSegment& other : segments) {
        if (other.type == SegmentType::kLiteral) continue;
        ++params;
        if (other.param == s.param) {
          return absl::InvalidArgumentError(
              absl::StrCat("path template ", Quote(path_template),
                           ": parameter ", Quote(s.param), " used twice"));
        }
      }
      if (params + 1 > kMaxPathParams) {
        return absl::InvalidArgumentError(
            absl::StrCat("path template ", Quote(path_template), ": more than ",
                         kMaxPathParams, " parameters"));
      }
    }
    segments.push_back(std::move(s));
  }
  return segments;
}

absl::StatusOr<Catalog> ParseCatalog(absl::string_view text,
                                     absl::string_view source) {
  const std::string where(source.substr(0, kMaxQuotedBytes));
  if (text.size() > kMaxCatalogBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": catalog larger than ", kMaxCatalogBytes, " bytes"));
  }
  Catalog catalog;
  absl::flat_hash_map<std::string, int> route_lines;
  absl::flat_hash_map<std::string, int> name_lines;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    Endpoint e;
    absl::Status status = ParseLine(line, line_number, &e);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ":", line_number, ": ", status.message()));
    }
    if (e.method.empty()) continue;  // blank or comment
    const std::string shape = RouteShape(e);
    if (auto [it, inserted] = route_lines.emplace(shape, line_number);
        !inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ":", line_number, ": route ", Quote(shape),
                       " duplicates line ", it->second));
    }
    if (auto [it, inserted] = name_lines.emplace(e.name, line_number);
        !inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ":", line_number, ": name ", Quote(e.name),
                       " already used on line ", it->second));
    }
    if (catalog.endpoints.size() >= kMaxCatalogEndpoints) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ":", line_number, ": more than ",
                       kMaxCatalogEndpoints, " endpoints"));
    }
    catalog.endpoints.push_back(std::move(e));
  }
  return catalog;
}

std::string FormatResourceRef(const ResourceRef& ref) { return FormatRef(ref); }

absl::string_view ErrorStyleName(ErrorStyle style) {
  switch (style) {
    case ErrorStyle::kA:
      return "A";
    case ErrorStyle::kB:
      return "B";
    case ErrorStyle::kAB:
      return "AB";
    case ErrorStyle::kNpm:
      return "npm";
  }
  return "A";
}

ErrorStyle DefaultErrorStyle(TokenKind api) {
  return api == TokenKind::kNpmRegistry ? ErrorStyle::kNpm : ErrorStyle::kA;
}

absl::string_view LocalAnswerName(LocalAnswer answer) {
  switch (answer) {
    case LocalAnswer::kNone:
      return "none";
    case LocalAnswer::kWhoami:
      return "whoami";
  }
  return "none";
}

std::string FormatEndpoint(const Endpoint& e) {
  std::string resource;
  switch (e.resource.source) {
    case ResourceSource::kNone:
      resource = "none";
      break;
    case ResourceSource::kPath:
      resource = absl::StrCat("path:", ResourceKindName(e.resource.kind), ":",
                              e.resource.param);
      break;
    case ResourceSource::kQuery:
      resource = absl::StrCat("query:", FormatRefs(e.resource.refs));
      break;
    case ResourceSource::kBodyJson:
      resource = absl::StrCat("json:", FormatRefs(e.resource.refs));
      break;
    case ResourceSource::kUnscoped:
      resource = "unscoped";
      break;
    case ResourceSource::kLookup:
      resource = absl::StrCat("lookup:", e.resource.lookup_kind, ":",
                              e.resource.param);
      break;
    case ResourceSource::kBody:
      resource = absl::StrCat("body:", e.resource.param);
      break;
  }
  return absl::StrCat(
      e.method, " ", e.path_template,
      " scopes=", e.scopes.empty() ? "-" : absl::StrJoin(e.scopes, "|"),
      " plan_tokens=", e.plan_tokens ? "yes" : "no", " resource=", resource,
      " error_style=", ErrorStyleName(e.error_style),
      e.answer == LocalAnswer::kNone
          ? std::string()
          : absl::StrCat(" answer=", LocalAnswerName(e.answer)),
      " name=", e.name);
}

absl::string_view DefaultCatalogText(TokenKind kind) {
  switch (kind) {
    case TokenKind::kRestApi:
      return DefaultRestCatalogText();
    case TokenKind::kNpmRegistry:
      return DefaultNpmCatalogText();
    case TokenKind::kUnspecified:
      break;
  }
  return {};
}

}  // namespace pat::policy
