#include "server/token_rules.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/secret.h"

namespace pat {
namespace {

constexpr absl::string_view kTokenIdPrefix = "tok_";
constexpr int kTokenIdRandomLength = 22;

}  // namespace

bool IsValidTokenId(absl::string_view id) {
  if (!absl::ConsumePrefix(&id, kTokenIdPrefix)) return false;
  return id.size() == kTokenIdRandomLength &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return absl::ascii_isalnum(static_cast<unsigned char>(c));
         });
}

std::string NewTokenId() {
  return absl::StrCat(kTokenIdPrefix, RandomBase62(kTokenIdRandomLength));
}

namespace token_rules {

using json = nlohmann::json;

TokenMutation RevokeMutation(const Token& current, const std::string& actor,
                             absl::Time now, absl::string_view reason) {
  TokenMutation m;
  if (current.revoke_time.has_value()) return m;  // unchanged
  m.changed = true;
  m.action = "revoke";
  m.updated = current;
  m.updated.revoke_time = now;
  m.updated.revoked_by = actor;
  m.end_all_secrets = true;
  json details = {
      {"before",
       {{"status", std::string(TokenStatusName(StatusAt(current, now)))}}},
      {"after", {{"status", "revoked"}}}};
  if (!reason.empty()) details["reason"] = std::string(reason);
  m.audit_details_json = details.dump();
  return m;
}

absl::Time TruncateToMicros(absl::Time t) {
  return absl::FromUnixMicros(absl::ToUnixMicros(t));
}

int TextLength(absl::string_view s) {
  int count = 0;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int len;
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return -1;
      len = 1;
    } else if ((c & 0xE0) == 0xC0 && c >= 0xC2) {
      len = 2;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
    } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
      len = 4;
    } else {
      return -1;
    }
    if (i + len > s.size()) return -1;
    for (int k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return -1;
    }
    i += len;
    ++count;
  }
  return count;
}

absl::Status ValidateText(absl::string_view field, absl::string_view value,
                          int min_len, int max_len) {
  const int len = TextLength(value);
  if (len < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be UTF-8 text without control characters"));
  }
  if (len < min_len) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  }
  if (len > max_len) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be at most ", max_len, " characters"));
  }
  return absl::OkStatus();
}

namespace {

bool IsIdChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         c == '-' || c == '.' || c == ':' || c == '@';
}

}  // namespace

absl::Status ValidateId(absl::string_view field, absl::string_view id) {
  if (id.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  }
  if (id.size() > kMaxIdLength ||
      !std::all_of(id.begin(), id.end(), IsIdChar)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be 1-", kMaxIdLength,
                     " characters of [A-Za-z0-9_.:@-]"));
  }
  return absl::OkStatus();
}

absl::Status ValidateRequestId(absl::string_view request_id) {
  if (request_id.empty()) return absl::OkStatus();
  if (request_id.size() > kMaxRequestIdLength ||
      !std::all_of(request_id.begin(), request_id.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
               c == '_' || c == ':' || c == '-';
      })) {
    return absl::InvalidArgumentError(
        "request_id: must be at most 128 characters of [A-Za-z0-9._:-]");
  }
  return absl::OkStatus();
}

absl::Status ValidateTokenIdField(absl::string_view token_id) {
  if (token_id.empty()) {
    return absl::InvalidArgumentError("token_id: required");
  }
  if (!IsValidTokenId(token_id)) {
    return absl::InvalidArgumentError("token_id: malformed");
  }
  return absl::OkStatus();
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone());
}

json TokenJson(const Token& t) {
  json resources = json::array();
  for (const TokenResource& r : t.resources) resources.push_back(r.link);
  json j = {{"name", t.name},
            {"description", t.description},
            {"kind", std::string(TokenKindName(t.kind))},
            {"scopes", t.scopes},
            {"all_resources", t.all_resources},
            {"resources", resources},
            {"expire_time", Rfc3339(t.expire_time)},
            {"lifetime_days", t.lifetime_days}};
  return j;
}

Digest ParamsDigest(const std::vector<std::string>& parts) {
  std::string joined;
  for (const std::string& p : parts) {
    absl::StrAppend(&joined, p.size(), ":", p, ";");
  }
  return Sha256(joined);
}

absl::Status PermissionDenied() {
  return absl::PermissionDeniedError(
      "the actor is not an administrator of this plan");
}

std::string StatusError(TokenStatus status) {
  return absl::StrCat("token is ", TokenStatusName(status));
}

int ResourceRank(ResourceKind k) {
  switch (k) {
    case ResourceKind::kFile:
      return 1;
    case ResourceKind::kProject:
      return 2;
    case ResourceKind::kTeam:
      return 3;
    case ResourceKind::kWorkspace:
      return 4;
    default:
      return 0;
  }
}

// Page tokens are opaque to clients: base64url of a cursor, a tag binding it
// to the query's filters, and an HMAC under the replicas' shared key, so a
// token can be neither forged, edited, nor replayed against another query.
std::string FilterTag(absl::string_view text) {
  return DigestHex(Sha256(text)).substr(0, 16);
}

absl::StatusOr<int> PageSize(int requested) {
  if (requested == 0) return kDefaultPageSize;
  if (requested < 0 || requested > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must be between 0 and ", kMaxPageSize));
  }
  return requested;
}

bool IsTchar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("!#$%&'*+-.^_`|~").find(c) !=
             absl::string_view::npos;
}

bool IsIpLiteral(absl::string_view ip) {
  std::string addr(ip);
  in6_addr v6;
  in_addr v4;
  if (inet_pton(AF_INET, addr.c_str(), &v4) == 1) return true;
  const size_t zone = addr.find('%');
  if (zone != std::string::npos) {
    absl::string_view z = absl::string_view(addr).substr(zone + 1);
    if (z.empty() || !std::all_of(z.begin(), z.end(), [](char c) {
          return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                 c == '.' || c == '_' || c == '-';
        })) {
      return false;
    }
    addr.resize(zone);
  }
  return inet_pton(AF_INET6, addr.c_str(), &v6) == 1;
}

absl::Status TierForbidsTokens(PlanTier tier) {
  return absl::FailedPreconditionError(absl::StrCat(
      "plan access tokens are available on organization and enterprise "
      "plans only; this plan is ",
      PlanTierName(tier)));
}

absl::Status CheckPlanAccess(const std::string& actor, const Plan& plan,
                             TierRule tier_rule) {
  if (std::find(plan.admin_user_ids.begin(), plan.admin_user_ids.end(),
                actor) == plan.admin_user_ids.end()) {
    return PermissionDenied();
  }
  if (tier_rule == TierRule::kRequired && !TierAllowsTokens(plan.tier)) {
    return TierForbidsTokens(plan.tier);
  }
  return absl::OkStatus();
}

}  // namespace token_rules
}  // namespace pat
