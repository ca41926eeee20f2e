#ifndef PAT_COMMON_RESOURCE_LINK_H_
#define PAT_COMMON_RESOURCE_LINK_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/domain.h"

// Resource links (R6).
//
// REST_API tokens accept:
//   https://figma.com/{design,file,board,proto,slides}/KEY[/title-slug][?query]
//       -> FILE KEY
//   https://figma.com/files/ORG/project/ID[/slug][?query] -> PROJECT ID of ORG
//   https://figma.com/files/ORG/team/ID[...]              -> TEAM ID of ORG
//   https://figma.com/files/ORG/workspace/ID[...]         -> WORKSPACE ID of ORG
// with "www.figma.com" as well, "http" refused, no user info, no port, no
// fragment. KEY is [A-Za-z0-9]{1,64}; ORG and ID are [0-9A-Za-z_-]{1,64}.
// NPM_REGISTRY tokens accept an npm scope "@name" (name [a-z0-9][a-z0-9._-]*,
// at most 214 characters) -> NPM_SCOPE "@name".
// Input longer than 2048 bytes is refused.
namespace pat {

struct ParsedLink {
  ResourceKind kind = ResourceKind::kUnspecified;
  std::string id;
  // The organization named in a files/ORG/... link; empty for FILE and
  // NPM_SCOPE links (the directory tells which plan owns those).
  std::string org_id;
};

// Parses `link` for a token of `token_kind`. Errors are INVALID_ARGUMENT with
// a message that says what is wrong (never echoing more than 64 bytes of the
// input).
absl::StatusOr<ParsedLink> ParseResourceLink(absl::string_view link,
                                             TokenKind token_kind);

// The canonical link: https://www.figma.com/design/KEY,
// https://www.figma.com/files/ORG/{project,team,workspace}/ID, or "@name".
// `org_id` is required for PROJECT/TEAM/WORKSPACE.
std::string CanonicalLink(ResourceKind kind, absl::string_view id,
                          absl::string_view org_id);

}  // namespace pat

#endif  // PAT_COMMON_RESOURCE_LINK_H_
