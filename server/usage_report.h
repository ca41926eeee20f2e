#ifndef PAT_SERVER_USAGE_REPORT_H_
#define PAT_SERVER_USAGE_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/domain.h"

// The least-privilege report (docs/usage-report.md): pure logic over the
// aggregated usage of one token. No I/O, no clock.
namespace pat::usage {

// What an allowed request's resource check needed (pat.v1.UsageResourceNeed).
enum class ResourceNeed { kNone, kAll, kListed };

struct ResourceRef {
  ResourceKind kind = ResourceKind::kUnspecified;
  std::string id;
  friend bool operator==(const ResourceRef&, const ResourceRef&) = default;
  friend auto operator<=>(const ResourceRef&, const ResourceRef&) = default;
};

// A resource a request named, and its ancestors nearest first (as the
// sidecar's directory knew them).
struct TouchedResource {
  ResourceRef resource;
  std::vector<ResourceRef> ancestors;
  friend bool operator==(const TouchedResource&,
                         const TouchedResource&) = default;
  friend auto operator<=>(const TouchedResource&,
                          const TouchedResource&) = default;
};

// Allowed requests of one key (endpoint, satisfying scopes, resources).
struct UsageCount {
  std::string endpoint;
  // The endpoint's accepted scopes the token held; sorted, unique.
  std::vector<std::string> satisfying_scopes;
  ResourceNeed need = ResourceNeed::kNone;
  // kListed: sorted, unique.
  std::vector<TouchedResource> resources;
  int64_t count = 0;
};

// A stable text form of a count's key (not its count), for storage keys.
std::string CanonicalKey(const UsageCount& count);

// Sorts and deduplicates the key's lists in place.
void Canonicalize(UsageCount& count);

// The smallest set of scopes containing at least one scope of every
// non-empty list in `alternatives` (an exact minimum hitting set, i.e. set
// cover of the requests by scopes). Among the minimum sets, the one whose
// sorted list is lexicographically smallest. Exact while at most
// kMaxExactScopes distinct scopes remain after reduction; greedy beyond (never
// reached with pat's catalogs; see docs/usage-report.md).
inline constexpr int kMaxExactScopes = 24;
std::vector<std::string> MinimumScopeCover(
    const std::vector<std::vector<std::string>>& alternatives);

// The least-privilege allowlist covering every resource in `touched`:
// - candidates: the token's own entries (`allowed`), or, for an
//   all-resources token, any resource;
// - for each touched resource, its lowest covering candidate (the resource
//   itself if it is a candidate, else its nearest ancestor that is); a
//   resource no entry covers (the list was narrowed since) stands for itself;
// - minus every chosen entry that is under another chosen entry.
// The result covers the fewest resources of all candidate lists that cover
// every touched resource (it is under-or-equal to each of them), and no
// entry can be removed. Sorted by (kind, id).
std::vector<ResourceRef> LeastResourceCover(
    const std::vector<TouchedResource>& touched, bool all_resources,
    const std::vector<TokenResource>& allowed);

struct EndpointUsage {
  std::string endpoint;
  int64_t count = 0;
  std::vector<std::string> satisfying_scopes;
};
struct ScopeUsage {
  std::string scope;
  bool held = false;
  int64_t count = 0;
};
struct ResourceUsage {
  ResourceRef resource;
  int64_t count = 0;
};
struct Suggestion {
  std::vector<std::string> scopes;
  bool all_resources = false;
  std::vector<ResourceRef> resources;
  bool no_traffic = true;
};
struct Report {
  int64_t total_requests = 0;
  std::vector<EndpointUsage> endpoints;    // count desc, then name
  std::vector<ScopeUsage> scopes;          // by name
  std::vector<ResourceUsage> touched;      // count desc, then (kind, id)
  std::vector<ResourceRef> unused_allowed;  // token entries covering nothing
  int64_t all_resources_requests = 0;
  Suggestion suggestion;
};

// The report of `token` over `counts` (any order; equal keys may repeat,
// e.g. one per hour bucket). No counts: no_traffic, nothing suggested.
Report BuildReport(const Token& token, const std::vector<UsageCount>& counts);

}  // namespace pat::usage

#endif  // PAT_SERVER_USAGE_REPORT_H_
