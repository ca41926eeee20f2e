#ifndef PAT_COMMON_SCOPES_H_
#define PAT_COMMON_SCOPES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/domain.h"

// Scope sets per token kind (R5).
namespace pat {

// Every scope name the REST API knows (endpoint catalog), sorted.
absl::Span<const absl::string_view> RestApiScopes();
// The REST scopes plan tokens may never hold.
absl::Span<const absl::string_view> ExcludedRestScopes();
// packages:read, packages:write.
absl::Span<const absl::string_view> NpmScopes();

// True when a token of `kind` may hold `scope`.
bool IsGrantableScope(TokenKind kind, absl::string_view scope);

// Validates and normalizes (sorted, de-duplicated) a requested scope list.
// INVALID_ARGUMENT "scopes: ..." naming every excluded scope, every unknown
// scope (at most 64 bytes of each, escaped), or an empty list.
absl::StatusOr<std::vector<std::string>> NormalizeScopes(
    TokenKind kind, absl::Span<const std::string> scopes);

}  // namespace pat

#endif  // PAT_COMMON_SCOPES_H_
