#ifndef PAT_CONSOLE_LOCAL_API_H_
#define PAT_CONSOLE_LOCAL_API_H_

#include <string>

#include "absl/strings/string_view.h"
#include "console/token_api.h"

// The console's answers that need no authority call (pure logic), so that
// the page checks input against the authority's own rules (common/):
//
//   GET  /api/scopes          {"rest":[...grantable],"rest_excluded":[...],
//                              "npm":[...],"max_expiration_days":365,
//                              "max_resource_links":100}
//   POST /api/links:validate  {"kind":"TOKEN_KIND_REST_API","plan_id":"...",
//                              "link":"..."}
//        -> {"valid":true,"resource_kind":"file","id":"KEY",
//            "canonical":"https://www.figma.com/design/KEY"}
//        or {"valid":false,"message":"..."}  (HTTP 200 either way; 400 for
//            a malformed request)
// The authority additionally checks that the resource exists in the plan's
// directory; that answer comes from CreateToken/UpdateToken.
namespace pat::console {

std::string ScopesJson();
ApiResponse ValidateLink(absl::string_view body);

}  // namespace pat::console

#endif  // PAT_CONSOLE_LOCAL_API_H_
