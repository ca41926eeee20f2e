#include "server/webhooks/webhook_rules.h"

#include <algorithm>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace pat::webhooks {

absl::Span<const absl::string_view> EventTypes() {
  static constexpr absl::string_view kTypes[] = {
      "token.created",     "token.updated", "token.refreshed",
      "token.revoked",     "token.leaked",  "token.expiring_7d",
      "token.expiring_1d", "token.expired", "token.previous_secret_ending",
  };
  return kTypes;
}

absl::Status ValidateEventTypes(const std::vector<std::string>& types) {
  std::set<std::string> seen;
  for (const std::string& t : types) {
    const auto known = EventTypes();
    if (std::find(known.begin(), known.end(), t) == known.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("event_types: unknown type \"", t.substr(0, 64), "\""));
    }
    if (!seen.insert(t).second) {
      return absl::InvalidArgumentError("event_types: repeated type");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Target> ParseTarget(absl::string_view url) {
  auto bad = [](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("url: ", why));
  };
  if (url.size() > kMaxUrlLength) return bad("too long");
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return bad("must not contain spaces or control characters");
    }
  }
  if (absl::StartsWithIgnoreCase(url, "https://")) {
    return bad("https targets are not supported yet (docs/webhooks.md)");
  }
  if (!absl::StartsWithIgnoreCase(url, "http://")) {
    return bad("must start with http://");
  }
  absl::string_view rest = url.substr(7);
  if (absl::StrContains(url, "#")) return bad("must not have a fragment");
  const size_t slash = rest.find_first_of("/?");
  absl::string_view authority = rest.substr(0, slash);
  Target t;
  t.target =
      slash == absl::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (t.target[0] == '?') t.target = absl::StrCat("/", t.target);
  if (absl::StrContains(authority, "@")) return bad("must not have userinfo");
  absl::string_view host = authority, port = "80";
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) return bad("bad IPv6 literal");
    host = authority.substr(1, close - 1);
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("bad port");
      port = after.substr(1);
    }
  } else if (const size_t colon = authority.rfind(':');
             colon != absl::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  int port_number = 0;
  if (host.empty()) return bad("needs a host");
  if (!absl::SimpleAtoi(port, &port_number) || port_number < 1 ||
      port_number > 65535) {
    return bad("bad port");
  }
  t.host = std::string(host);
  t.port = absl::StrCat(port_number);
  return t;
}

std::string IdempotencyKey(absl::string_view subscription_id,
                           int64_t event_id) {
  return absl::StrCat(subscription_id, ":", event_id);
}

std::string PayloadJson(const DeliveryJob& job) {
  nlohmann::json data = nlohmann::json::parse(job.data_json, nullptr, false);
  if (data.is_discarded() || !data.is_object()) data = nlohmann::json::object();
  nlohmann::json body = {
      {"idempotency_key", IdempotencyKey(job.subscription_id, job.event_id)},
      {"event_id", job.event_id},
      {"type", job.event_type},
      {"plan_id", job.plan_id},
      {"token_id", job.token_id},
      {"time", absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", job.event_time,
                                absl::UTCTimeZone())},
      {"data", std::move(data)},
  };
  return body.dump();
}

absl::Duration RetryBackoff(int attempt, absl::Duration base,
                            absl::Duration cap, double unit_random) {
  absl::Duration d = base;
  for (int i = 1; i < attempt && d < cap; ++i) d *= 2;
  d = std::min(d, cap);
  unit_random = std::clamp(unit_random, 0.0, 1.0);
  return d / 2 + (d / 2) * unit_random;
}

}  // namespace pat::webhooks
