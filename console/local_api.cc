#include "console/local_api.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "common/domain.h"
#include "common/resource_link.h"
#include "common/scopes.h"
#include "nlohmann/json.hpp"

namespace pat::console {
namespace {

nlohmann::json Names(absl::Span<const absl::string_view> names) {
  nlohmann::json out = nlohmann::json::array();
  for (absl::string_view n : names) out.push_back(std::string(n));
  return out;
}

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string ScopesJson() {
  nlohmann::json rest = nlohmann::json::array();
  for (absl::string_view s : RestApiScopes()) {
    if (IsGrantableScope(TokenKind::kRestApi, s))
      rest.push_back(std::string(s));
  }
  return Dump({{"rest", rest},
               {"rest_excluded", Names(ExcludedRestScopes())},
               {"npm", Names(NpmScopes())},
               {"max_expiration_days", 365},
               {"max_resource_links", 100}});
}

ApiResponse ValidateLink(absl::string_view body) {
  nlohmann::json in = nlohmann::json::parse(body, nullptr, false);
  if (in.is_discarded() || !in.is_object() || !in["kind"].is_string() ||
      !in["link"].is_string() ||
      (in.contains("plan_id") && !in["plan_id"].is_string())) {
    return ErrorResponse(grpc::StatusCode::INVALID_ARGUMENT,
                         "request body: want {kind, plan_id, link} strings");
  }
  const std::string kind_name = in["kind"];
  TokenKind kind = TokenKind::kUnspecified;
  if (kind_name == "TOKEN_KIND_REST_API") kind = TokenKind::kRestApi;
  if (kind_name == "TOKEN_KIND_NPM_REGISTRY") kind = TokenKind::kNpmRegistry;
  if (kind == TokenKind::kUnspecified) {
    return ErrorResponse(
        grpc::StatusCode::INVALID_ARGUMENT,
        "kind: TOKEN_KIND_REST_API or TOKEN_KIND_NPM_REGISTRY");
  }
  const std::string plan_id = in.value("plan_id", "");
  const std::string link = in["link"];
  absl::StatusOr<ParsedLink> parsed = ParseResourceLink(link, kind);
  nlohmann::json out;
  if (!parsed.ok()) {
    absl::string_view msg = parsed.status().message();
    absl::ConsumePrefix(&msg, "resource_links: ");
    out = {{"valid", false}, {"message", std::string(msg)}};
  } else if (!parsed->org_id.empty() && parsed->org_id != plan_id) {
    out = {{"valid", false}, {"message", "belongs to another organization"}};
  } else {
    out = {{"valid", true},
           {"resource_kind", std::string(ResourceKindName(parsed->kind))},
           {"id", parsed->id},
           {"canonical", CanonicalLink(parsed->kind, parsed->id, plan_id)}};
  }
  return ApiResponse{200, Dump(out)};
}

}  // namespace pat::console
