#ifndef PAT_COMMON_POLICY_ROUTE_MATCHER_H_
#define PAT_COMMON_POLICY_ROUTE_MATCHER_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/domain.h"
#include "common/policy/catalog.h"

// Exact route matching for catalog endpoints: a segment trie, no regular
// expressions, no allocation per match.
//
// Semantics (documented in docs/catalog-format.md):
//  * The method must equal the endpoint's method byte for byte. HEAD is NOT
//    treated as GET and nothing is case-folded: a catalog that wants HEAD lists
//    it.
//  * The path is split on '/'; every segment is matched against the node's
//    children in this order, and the first kind of child that accepts the
//    segment is committed to (no backtracking):
//      1. a literal child equal to the segment;
//      2. a prefixed parameter ("@{scope}") whose prefix starts the segment
//         (longest prefix first); the segment must be longer than the prefix;
//      3. the node's single plain parameter ("{name}"), which accepts any
//         non-empty segment.
//    So a parameter never captures a value that a sibling literal spells (a
//    literal shadows the parameter for that value in every route), and a plain
//    parameter never captures a segment starting with a sibling's prefix.
//  * Empty segments never match (so "//", a trailing '/', or "" never do).
//  * Captures are views into the path given. The policy matches the decision
//    form of the request path (Target::decision_path(), escapes decoded), so
//    captures are decoded segment values; Match itself decodes nothing.
namespace pat::policy {

struct RouteMatch {
  const Endpoint* endpoint = nullptr;  // null: no route
  // True when the path matched a route of some other method.
  bool path_matched = false;
  std::array<absl::string_view, kMaxPathParams> params{};
  int param_count = 0;

  // The capture named `name` of the matched endpoint; empty if none.
  absl::string_view Param(absl::string_view name) const;
};

class RouteMatcher {
 public:
  // Builds the trie. Fails (INVALID_ARGUMENT naming both lines) if two
  // endpoints have the same method and template shape.
  static absl::StatusOr<RouteMatcher> Create(Catalog catalog);

  // ParseCatalog + Create.
  static absl::StatusOr<RouteMatcher> FromText(
      absl::string_view text, absl::string_view source = "catalog");

  // The built-in catalog for `kind` (kRestApi or kNpmRegistry).
  static absl::StatusOr<RouteMatcher> Default(TokenKind kind);

  RouteMatcher(RouteMatcher&&) = default;
  RouteMatcher& operator=(RouteMatcher&&) = default;
  RouteMatcher(const RouteMatcher&) = delete;
  RouteMatcher& operator=(const RouteMatcher&) = delete;

  // Thread-safe (const). Endpoint pointers stay valid for the matcher's
  // lifetime, also across moves. Never allocates.
  RouteMatch Match(absl::string_view method, absl::string_view path) const;

  absl::Span<const Endpoint> endpoints() const { return endpoints_; }
  // The endpoint named `name`, or null.
  const Endpoint* FindByName(absl::string_view name) const;

 private:
  static constexpr uint32_t kNoNode = UINT32_MAX;

  struct PrefixedChild {
    std::string prefix;
    uint32_t node = kNoNode;
  };
  struct MethodRoute {
    std::string method;
    uint32_t endpoint = 0;
  };
  struct Node {
    absl::flat_hash_map<std::string, uint32_t> literals;
    std::vector<PrefixedChild> prefixed;  // longest prefix first
    uint32_t param = kNoNode;
    std::vector<MethodRoute> methods;
  };

  RouteMatcher() = default;
  uint32_t NewNode();

  std::vector<Endpoint> endpoints_;
  std::vector<Node> nodes_;
};

}  // namespace pat::policy

#endif  // PAT_COMMON_POLICY_ROUTE_MATCHER_H_
