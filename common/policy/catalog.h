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
//       resource=SELECTOR [error_style=A|B|AB] name=operationId
//
// SELECTOR: none | path:[KIND:]PARAM | query:[KIND:]NAME |
//           lookup:WHAT:PARAM | body:DESCRIPTION
namespace pat::policy {

// A template may capture at most this many path parameters.
inline constexpr int kMaxPathParams = 8;
// Limits that keep a hostile or broken catalog file cheap to reject.
inline constexpr size_t kMaxCatalogBytes = size_t{1} << 20;
inline constexpr size_t kMaxCatalogEndpoints = 4096;

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
  kNone,    // org/plan-level endpoint: not determinable
  kPath,    // a captured path parameter
  kQuery,   // a query parameter (must occur at most once)
  kLookup,  // needs a lookup the sidecar cannot do: not determinable
  kBody,    // in the request body, described only: not determinable
  // Declared for the front/policy contract; parsed and decided by pat_policy
  // (see docs/catalog-format.md once implemented):
  kBodyJson,  // JSON fields of the request body, which the front buffers
              // (bounded) before the decision
  kUnscoped,  // the endpoint concerns no resource of any plan (npm ping):
              // every usable token of the API may call it
};

struct ResourceSelector {
  ResourceSource source = ResourceSource::kNone;
  // kPath / kQuery: the kind of resource the value names.
  ResourceKind kind = ResourceKind::kUnspecified;
  // kPath / kLookup: path parameter name; kQuery: query parameter name;
  // kBody: free-form description.
  std::string param;
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

// Vendor error envelope of the endpoint (informational; the sidecar's own
// error bodies always carry {"status","err","reason"}, and for B/AB also the
// B fields "error" and "message").
enum class ErrorStyle { kA, kB, kAB };

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

absl::string_view ErrorStyleName(ErrorStyle style);  // "A", "B", "AB"

// One catalog line describing `endpoint` (ParseCatalog of it yields an equal
// endpoint, line number aside).
std::string FormatEndpoint(const Endpoint& endpoint);

}  // namespace pat::policy

#endif  // PAT_COMMON_POLICY_CATALOG_H_
