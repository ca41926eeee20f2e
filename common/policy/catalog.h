#ifndef PAT_COMMON_POLICY_CATALOG_H_
#define PAT_COMMON_POLICY_CATALOG_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/domain.h"

// The endpoint catalog: which method + path templates exist, which scopes
// they accept, whether plan tokens may call them and where their resource is.
// Text format: docs/catalog-format.md. One endpoint per line:
//
//   METHOD /path/{param}/@{scope} scopes=a|b plan_tokens=yes|no
//       resource=SELECTOR [error_style=A|B|AB|npm] [answer=whoami]
//       name=operationId
//
// SELECTOR: none | unscoped | path:[KIND:]PARAM | query:REFS |
//           json:REFS | lookup:WHAT:PARAM | body:DESCRIPTION
// REFS:     REF[|REF...]   (alternatives; at most one may be present)
// REF:      [KIND:]FIELD | context:KINDFIELD+IDFIELD | plan:FIELD
namespace pat::policy {

// A template may capture at most this many path parameters.
inline constexpr int kMaxPathParams = 8;
// Limits that keep a hostile or broken catalog file cheap to reject.
inline constexpr size_t kMaxCatalogBytes = size_t{1} << 20;
inline constexpr size_t kMaxCatalogEndpoints = 4096;
// query:/json: selectors: alternatives per selector, steps per JSON path.
inline constexpr int kMaxResourceRefs = 4;
inline constexpr int kMaxFieldPathSteps = 8;

enum class SegmentType {
  kLiteral,        // "files": matches exactly that segment
  kParam,          // "{file_key}": any non-empty segment
  kPrefixedParam,  // "@{scope}": a segment starting with the prefix ("@")
                   // followed by at least one byte; captures the WHOLE
                   // segment, prefix included ("@acme")
};

struct TemplateSegment {
  SegmentType type = SegmentType::kLiteral;
  std::string text;   // kLiteral: the segment; kPrefixedParam: the prefix
  std::string param;  // kParam / kPrefixedParam: the parameter name
};

enum class ResourceSource {
  kNone,      // org/plan-level endpoint: not determinable
  kPath,      // a captured path parameter
  kQuery,     // query parameters named by `refs` (each at most once)
  kLookup,    // needs a lookup the sidecar cannot do: not determinable
  kBody,      // in the request body, described only: not determinable
  kBodyJson,  // JSON fields of the request body named by `refs`; the front
              // buffers the body (bounded) before the decision
  kUnscoped,  // the endpoint concerns no resource of any plan (npm ping):
              // every usable token of the API may call it
};

// How a query parameter or JSON body field names a resource.
enum class RefForm {
  kFixed,    // KIND:FIELD: the field's value is the id of a KIND resource
  kContext,  // context:KINDFIELD+IDFIELD: KINDFIELD's value ("team",
             // "project" or "file") is the kind, IDFIELD's value the id
  kPlan,     // plan:FIELD: the field's value is a plan id; it must be the
             // token's own plan, and only all-resources tokens qualify
};

// One step of a JSON field path ("dev_resources[].file_key" is the steps
// {dev_resources, each}, {file_key, !each}).
struct FieldStep {
  std::string name;   // object member name
  bool each = false;  // the member is an array; continue in every element
};

struct ResourceRef {
  RefForm form = RefForm::kFixed;
  ResourceKind kind = ResourceKind::kUnspecified;  // kFixed
  // kFixed / kPlan: the field holding the id; kContext: the field holding
  // the kind. Query: one step, a parameter name (never `each`). Body: a path
  // from the top-level object.
  std::vector<FieldStep> field;
  // kContext: the member holding the id, in the same object as the last
  // step of `field` (a query parameter for kQuery).
  std::string id_field;
};

struct ResourceSelector {
  ResourceSource source = ResourceSource::kNone;
  // kPath / kQuery with one fixed ref: the kind of resource the value names.
  ResourceKind kind = ResourceKind::kUnspecified;
  // kPath / kLookup: path parameter name; kQuery with one fixed ref: the
  // query parameter name; other kQuery / kBodyJson: the REFS text as
  // formatted; kBody: free-form description.
  std::string param;
  // kQuery / kBodyJson: the alternatives, in catalog order (non-empty).
  std::vector<ResourceRef> refs;
  // kLookup: what the parameter identifies (e.g. "component").
  std::string lookup_kind;
  // kPath / kLookup: index of `param` among the template's captures.
  int capture_index = -1;

  // True when the resource can be known from the request-target alone.
  bool determinable() const {
    return source == ResourceSource::kPath || source == ResourceSource::kQuery;
  }
  // True when the decision needs the buffered JSON request body.
  bool reads_body() const { return source == ResourceSource::kBodyJson; }
};

// Endpoints the sidecar answers itself instead of forwarding (catalog key
// answer=...). kWhoami: 200 {"username": "<token id>"}, so npm whoami shows
// which plan token is in use (the upstream never sees the credential).
enum class LocalAnswer { kNone, kWhoami };

// Error envelope of the endpoint's clients. The sidecar's own error bodies
// always carry {"status","err","reason"}; kB/kAB add the vendor B fields
// "error":true and "message"; kNpm adds "error":"<message>" (the field the
// npm CLI prints). See policy.h ErrorBody.
enum class ErrorStyle { kA, kB, kAB, kNpm };

struct Endpoint {
  std::string method;         // exact, case-sensitive ("GET")
  std::string path_template;  // as written ("/v1/files/{file_key}")
  std::vector<TemplateSegment> segments;
  std::vector<std::string> param_names;  // capture order
  std::vector<std::string> scopes;       // accepted scopes (any one); may be
                                         // empty only if !plan_tokens
  bool plan_tokens = false;              // R12
  ResourceSelector resource;
  ErrorStyle error_style = ErrorStyle::kA;
  LocalAnswer answer = LocalAnswer::kNone;
  std::string name;  // operationId, unique within a catalog
  int line = 0;      // 1-based line in the catalog text
};

struct Catalog {
  std::vector<Endpoint> endpoints;  // in file order
};

// Parses catalog text. Errors are INVALID_ARGUMENT "<source>:<line>: <what>"
// (quoting at most 64 bytes of any offending input, C-escaped). Rejects
// unknown/duplicate/missing keys, bad methods (GET HEAD POST PUT PATCH DELETE
// OPTIONS only), non-canonical templates, unknown parameters in selectors,
// duplicate routes (same method and template shape) and duplicate names.
absl::StatusOr<Catalog> ParseCatalog(absl::string_view text,
                                     absl::string_view source = "catalog");

// Parses a path template ("/a/{b}/@{c}") into segments; used by the parser
// and by tests. INVALID_ARGUMENT without a line prefix on error.
absl::StatusOr<std::vector<TemplateSegment>> ParsePathTemplate(
    absl::string_view path_template);

// Built-in catalogs (text in the format above).
//  REST: the 51 rows of the vendor's endpoint catalog.
//  npm:  the registry endpoints npm clients use, scoped packages spelled
//        /@scope/name (never @scope%2fname, see docs/catalog-format.md).
absl::string_view DefaultRestCatalogText();
absl::string_view DefaultNpmCatalogText();
// The default for a token kind; empty for kUnspecified.
absl::string_view DefaultCatalogText(TokenKind kind);

absl::string_view ErrorStyleName(ErrorStyle style);  // "A", "B", "AB", "npm"

// The error style of refusals that match no endpoint (front reasons, steps
// 1-3) for an API: kNpm for kNpmRegistry, kA otherwise.
ErrorStyle DefaultErrorStyle(TokenKind api);

absl::string_view LocalAnswerName(LocalAnswer answer);  // "none", "whoami"

// "file:dev_resources[].file_key", "context:context+context_id", ... (the
// REF syntax of query:/json: selectors).
std::string FormatResourceRef(const ResourceRef& ref);

// One catalog line describing `endpoint` (ParseCatalog of it yields an equal
// endpoint, line number aside).
std::string FormatEndpoint(const Endpoint& endpoint);

}  // namespace pat::policy

#endif  // PAT_COMMON_POLICY_CATALOG_H_
