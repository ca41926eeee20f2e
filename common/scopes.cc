#include "common/scopes.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/domain.h"
#include "common/secret.h"

namespace pat {
namespace {

// A request may name at most this many scopes (duplicates included); the
// REST API knows fewer than half as many.
constexpr size_t kMaxRequestedScopes = 64;

bool Contains(absl::Span<const absl::string_view> sorted, absl::string_view s) {
  return std::binary_search(sorted.begin(), sorted.end(), s);
}

}  // namespace

absl::Span<const absl::string_view> RestApiScopes() {
  // Every scope named by the vendor (endpoint catalog), in byte order.
  static constexpr absl::string_view kScopes[] = {
      "current_user:read",
      "file_code_connect:write",
      "file_comments:read",
      "file_comments:write",
      "file_content:read",
      "file_dev_resources:read",
      "file_dev_resources:write",
      "file_metadata:read",
      "file_variables:read",
      "file_variables:write",
      "file_versions:read",
      "files:read",
      "library_analytics:read",
      "library_assets:read",
      "library_content:read",
      "org:activity_log_read",
      "org:ai_metering_usage_read",
      "org:developer_log_read",
      "org:discovery_read",
      "project_metadata:read",
      "projects:read",
      "selections:read",
      "team_library_content:read",
      "webhooks:read",
      "webhooks:write",
  };
  return kScopes;
}

absl::Span<const absl::string_view> ExcludedRestScopes() {
  // R5: sorted.
  static constexpr absl::string_view kScopes[] = {
      "file_code_connect:write",
      "file_comments:write",
      "file_variables:write",
  };
  return kScopes;
}

absl::Span<const absl::string_view> NpmScopes() {
  static constexpr absl::string_view kScopes[] = {
      "packages:read",
      "packages:write",
  };
  return kScopes;
}

bool IsGrantableScope(TokenKind kind, absl::string_view scope) {
  switch (kind) {
    case TokenKind::kRestApi:
      return Contains(RestApiScopes(), scope) &&
             !Contains(ExcludedRestScopes(), scope);
    case TokenKind::kNpmRegistry:
      return Contains(NpmScopes(), scope);
    case TokenKind::kUnspecified:
      break;
  }
  return false;
}

absl::StatusOr<std::vector<std::string>> NormalizeScopes(
    TokenKind kind, absl::Span<const std::string> scopes) {
  if (kind != TokenKind::kRestApi && kind != TokenKind::kNpmRegistry) {
    return absl::InvalidArgumentError("scopes: unsupported token kind");
  }
  if (scopes.empty()) {
    return absl::InvalidArgumentError("scopes: at least one scope is required");
  }
  if (scopes.size() > kMaxRequestedScopes) {
    return absl::InvalidArgumentError(
        absl::StrCat("scopes: at most ", kMaxRequestedScopes,
                     " scopes may be requested, got ", scopes.size()));
  }

  std::vector<std::string> granted;
  std::vector<std::string> excluded;
  std::vector<std::string> unknown;
  for (const std::string& scope : scopes) {
    if (IsGrantableScope(kind, scope)) {
      granted.push_back(scope);
    } else if (kind == TokenKind::kRestApi &&
               Contains(ExcludedRestScopes(), scope)) {
      excluded.push_back(scope);
    } else {
      unknown.push_back(scope);
    }
  }
  const auto sort_unique = [](std::vector<std::string>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  };
  sort_unique(granted);
  sort_unique(excluded);
  sort_unique(unknown);

  if (!excluded.empty() || !unknown.empty()) {
    std::vector<std::string> problems;
    if (!excluded.empty()) {
      // Known names: listed verbatim.
      problems.push_back(absl::StrCat("not available to plan access tokens: ",
                                      absl::StrJoin(excluded, ", ")));
    }
    if (!unknown.empty()) {
      problems.push_back(absl::StrCat(
          "unknown scope(s) for ", TokenKindName(kind), ": ",
          absl::StrJoin(unknown, ", ",
                        [](std::string* out, const std::string& s) {
                          out->append(QuoteForError(s));
                        })));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("scopes: ", absl::StrJoin(problems, "; ")));
  }
  return granted;
}

}  // namespace pat
