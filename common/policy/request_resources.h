#ifndef PAT_COMMON_POLICY_REQUEST_RESOURCES_H_
#define PAT_COMMON_POLICY_REQUEST_RESOURCES_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/domain.h"
#include "common/policy/catalog.h"

// Extraction of the resources a request names in its query (query:REFS) or
// its JSON body (json:REFS), for R13. Pure; no resolution happens here.
// Format and semantics: docs/catalog-format.md "Resource selectors".
namespace pat::policy {

// Bounds for json: selectors.
inline constexpr size_t kMaxBodyResources = 100;  // distinct ids per request
inline constexpr int kMaxJsonDepth = 32;          // nested objects/arrays

struct NamedResource {
  ResourceKind kind = ResourceKind::kUnspecified;
  std::string id;
};

struct RequestResources {
  enum class Status {
    kAbsent,   // no alternative present: the resource is undeterminable
    kNamed,    // exactly one alternative, fully and validly present
    kInvalid,  // ambiguous or malformed: deny for every token
  };
  Status status = Status::kAbsent;
  // kNamed, RefForm::kFixed / kContext: distinct resources, in order.
  std::vector<NamedResource> resources;
  // kNamed, RefForm::kPlan: the plan id named.
  bool names_plan = false;
  std::string plan_id;
  // kInvalid: why, a fixed sentence that never contains request bytes.
  absl::string_view problem;
  // kNamed: the alternative that was present (for details).
  const ResourceRef* ref = nullptr;
};

// query:REFS. Parameters are looked up by decoded name (FindQueryParam).
// kAbsent when no parameter of any alternative occurs; kInvalid when a
// parameter occurs twice, two alternatives occur, an alternative is partly
// present, a context value is not team/project/file, or a value is empty.
RequestResources FromQuery(const ResourceSelector& selector,
                           absl::string_view query);

// json:REFS. The body must be one JSON object (UTF-8, no comments) with no
// duplicate member names in any object and at most kMaxJsonDepth levels;
// exactly one alternative must be present, every field of it must exist,
// ids must be non-empty strings, `[]` steps non-empty arrays of objects, and
// at most kMaxBodyResources distinct resources may be named. Otherwise
// kInvalid (never kAbsent: an endpoint whose resource is in its body and
// that names none is refused).
RequestResources FromJsonBody(const ResourceSelector& selector,
                              absl::string_view body);

}  // namespace pat::policy

#endif  // PAT_COMMON_POLICY_REQUEST_RESOURCES_H_
