#include "server/leak_partner.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace pat {
namespace {

using json = nlohmann::json;

PartnerReply Error(int status, absl::string_view message) {
  return {status, json{{"message", std::string(message)}}.dump()};
}

// Optional string member: absent or null is "", another type is an error.
bool OptionalString(const json& obj, const char* name, std::string& out) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return true;
  if (!it->is_string()) return false;
  out = it->get<std::string>();
  return out.size() <= static_cast<size_t>(kMaxLeakFieldBytes) ||
         std::string_view(name) == "token";
}

std::optional<std::vector<LeakCandidate>> ParseCandidates(
    absl::string_view body) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_array() || doc.empty() ||
      doc.size() > static_cast<size_t>(kMaxLeakCandidates)) {
    return std::nullopt;
  }
  std::vector<LeakCandidate> out;
  out.reserve(doc.size());
  for (const json& item : doc) {
    if (!item.is_object()) return std::nullopt;
    auto token = item.find("token");
    if (token == item.end() || !token->is_string()) return std::nullopt;
    LeakCandidate c;
    c.token = token->get<std::string>();
    if (!OptionalString(item, "type", c.type) ||
        !OptionalString(item, "url", c.url) ||
        !OptionalString(item, "source", c.source)) {
      return std::nullopt;
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

PartnerReply LeakPartnerHandler::Handle(absl::string_view key_id,
                                        absl::string_view signature,
                                        absl::string_view body) {
  if (!keys_.Verify(key_id, signature, body).ok()) {
    return Error(401, "request signature is not valid");
  }
  std::optional<std::vector<LeakCandidate>> candidates = ParseCandidates(body);
  if (!candidates.has_value()) {
    return Error(400, absl::StrCat("body: expected a JSON array of 1 to ",
                                   kMaxLeakCandidates,
                                   " objects with a string \"token\""));
  }
  absl::StatusOr<std::vector<LeakResult>> results =
      judge_.Judge(*candidates, "github");
  if (!results.ok()) return Error(503, "temporarily unavailable; retry");
  json out = json::array();
  for (size_t i = 0; i < candidates->size(); ++i) {
    out.push_back({{"token_raw", (*candidates)[i].token},
                   {"token_type", (*candidates)[i].type},
                   {"label", std::string(LeakVerdictLabel((*results)[i].verdict))}});
  }
  // Invalid UTF-8 in an echoed string is replaced, never a throw.
  return {200, out.dump(-1, ' ', false, json::error_handler_t::replace)};
}

}  // namespace pat
