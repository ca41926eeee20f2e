#ifndef PAT_COMMON_POLICY_FUZZ_ENTRY_H_
#define PAT_COMMON_POLICY_FUZZ_ENTRY_H_

#include "absl/strings/string_view.h"

// The bodies of the libFuzzer targets in fuzz/, as plain functions so that
// tests/unit/fuzz_corpus_test.cc can run the checked-in corpora in the normal
// test suite. Each accepts arbitrary bytes, checks invariants and calls
// std::abort() (after printing what broke to stderr) when one is violated.
namespace pat::policy {

// CheckTarget: accepted targets are canonical, split exactly into path and
// query, are accepted again unchanged (idempotent), and every refusal has a
// reason and a detail.
void FuzzPathCanonicalizer(absl::string_view data);

// ParseCatalog: never crashes; an accepted catalog builds a matcher, every
// endpoint re-formats to a line that parses to the same route, and an
// instance of every template matches its own endpoint.
void FuzzCatalogParser(absl::string_view data);

// RouteMatcher over the built-in catalogs (and Decide on accepted paths): a
// match has the requested method, captures that are non-empty segments of
// the path, and the template filled with the captures spells the path
// exactly. Input: first byte picks the method, the rest is the path.
void FuzzRouteMatcher(absl::string_view data);

}  // namespace pat::policy

#endif  // PAT_COMMON_POLICY_FUZZ_ENTRY_H_
