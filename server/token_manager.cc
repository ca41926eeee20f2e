#include "server/token_manager.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/policy/policy.h"
#include "common/policy/reason.h"
#include "common/resource_link.h"
#include "common/scopes.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace pat {
namespace {

using json = nlohmann::json;

constexpr absl::string_view kTokenIdPrefix = "tok_";
constexpr int kTokenIdRandomLength = 22;
constexpr int kMaxRequestIdLength = 128;
constexpr int kMaxIdLength = 128;
constexpr int kMaxPlanNameLength = 256;

// Times are kept at microsecond precision, as stored.
absl::Time TruncateToMicros(absl::Time t) {
  return absl::FromUnixMicros(absl::ToUnixMicros(t));
}

// Number of UTF-8 code points; -1 if `s` is not valid UTF-8 text without
// control characters.
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

bool IsIdChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         c == '-' || c == '.' || c == ':' || c == '@';
}

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

// The audited view of a token: everything but volatile usage fields. Never
// contains a secret (the domain Token has none).
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

// Digest of a request's parameters, to tell a retry from a reuse of a
// request_id for something else.
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

constexpr absl::string_view kPageTokenKeyName = "page_token_hmac";

absl::StatusOr<int> PageSize(int requested) {
  if (requested == 0) return kDefaultPageSize;
  if (requested < 0 || requested > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must be between 0 and ", kMaxPageSize));
  }
  return requested;
}

// RFC 9110 token characters (an HTTP method is a token).
bool IsTchar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("!#$%&'*+-.^_`|~").find(c) !=
             absl::string_view::npos;
}

// An IPv4 or IPv6 literal; IPv6 may carry a zone ("fe80::1%eth0").
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

// The store's resource directory as the decision engine sees it. Records the
// first storage error, so that a database failure is reported as an error
// and never as a denial.
class StoreResourceResolver final : public policy::ResourceResolver {
 public:
  explicit StoreResourceResolver(TokenStore& store) : store_(store) {}

  std::optional<policy::ResolvedResource> Resolve(
      ResourceKind kind, absl::string_view id) const override {
    // Ids longer than any stored one cannot exist: no query for them.
    if (id.empty() || id.size() > kMaxIdLength) return std::nullopt;
    absl::StatusOr<std::vector<Resource>> chain =
        store_.ResolveResource(kind, std::string(id));
    if (!chain.ok()) {
      if (!absl::IsNotFound(chain.status()) && error_.ok()) {
        error_ = chain.status();
      }
      return std::nullopt;
    }
    policy::ResolvedResource resolved;
    resolved.plan_id = chain->front().plan_id;
    for (size_t i = 1; i < chain->size(); ++i) {
      resolved.ancestors.emplace_back((*chain)[i].kind, (*chain)[i].id);
    }
    return resolved;
  }

  const absl::Status& error() const { return error_; }

 private:
  TokenStore& store_;
  // Decide runs on one thread; the resolver lives for one decision.
  mutable absl::Status error_;
};

}  // namespace

TokenManager::TokenManager(TokenStore& store, const Clock& clock)
    : store_(store),
      clock_(clock),
      rest_routes_(policy::RouteMatcher::Default(TokenKind::kRestApi)),
      npm_routes_(policy::RouteMatcher::Default(TokenKind::kNpmRegistry)) {}

absl::StatusOr<std::string> TokenManager::PageTokenKey() {
  absl::MutexLock lock(&key_mu_);
  if (page_token_key_.empty()) {
    PAT_ASSIGN_OR_RETURN(page_token_key_,
                         store_.GetOrCreateServerKey(
                             std::string(kPageTokenKeyName), RandomBase62(43)));
  }
  return page_token_key_;
}

absl::StatusOr<std::string> TokenManager::EncodePageToken(
    absl::string_view cursor, absl::string_view tag) {
  PAT_ASSIGN_OR_RETURN(std::string key, PageTokenKey());
  const std::string body = absl::StrCat("p1|", cursor, "|", tag);
  return absl::WebSafeBase64Escape(
      absl::StrCat(body, "|", DigestHex(HmacSha256(key, body))));
}

absl::StatusOr<std::string> TokenManager::DecodePageToken(
    absl::string_view token, absl::string_view tag) {
  const absl::Status invalid =
      absl::InvalidArgumentError("page_token: invalid");
  std::string raw;
  if (token.size() > 512 || !absl::WebSafeBase64Unescape(token, &raw)) {
    return invalid;
  }
  const size_t mac_at = raw.rfind('|');
  if (mac_at == std::string::npos) return invalid;
  const std::string body = raw.substr(0, mac_at);
  PAT_ASSIGN_OR_RETURN(std::string key, PageTokenKey());
  if (!ConstantTimeEquals(raw.substr(mac_at + 1),
                          DigestHex(HmacSha256(key, body)))) {
    return invalid;
  }
  std::vector<std::string> parts = absl::StrSplit(body, '|');
  if (parts.size() != 3 || parts[0] != "p1" || parts[2] != tag) return invalid;
  return parts[1];
}

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

namespace {

// The actor of changes no user made (the tier-downgrade sweep).
constexpr absl::string_view kSystemActor = "system";

// R1 and R2 for one plan state: the pre-check before the write and the
// re-check inside the write's transaction use this same function.
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

}  // namespace

absl::StatusOr<Plan> TokenManager::AuthorizePlan(const std::string& actor,
                                                 const std::string& plan_id,
                                                 TierRule tier_rule) {
  if (actor.empty()) {
    return absl::UnauthenticatedError("no actor: x-pat-actor is required");
  }
  PAT_RETURN_IF_ERROR(ValidateId("plan_id", plan_id));
  absl::StatusOr<Plan> plan = store_.GetPlan(plan_id);
  if (absl::IsNotFound(plan.status())) return PermissionDenied();
  if (!plan.ok()) return plan.status();
  PAT_RETURN_IF_ERROR(CheckPlanAccess(actor, *plan, tier_rule));
  return plan;
}

namespace {

// The re-check of R1/R2 that the store runs under the plan row's lock.
PlanCheckFn PlanCheckAtWrite(std::string actor, TierRule tier_rule) {
  return [actor = std::move(actor), tier_rule](const Plan& locked) {
    return CheckPlanAccess(actor, locked, tier_rule);
  };
}

// R10: revoking ends every secret now; revoking a revoked token changes
// nothing.
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

// R1: a plan whose tier no longer allows plan access tokens keeps none: the
// downgrade revokes every live token in its own transaction (a revoke that a
// later upgrade does not undo).
PlanSweep TierDowngradeSweep(absl::Time now) {
  PlanSweep sweep;
  sweep.applies = [](const Plan& plan) { return !TierAllowsTokens(plan.tier); };
  sweep.actor = std::string(kSystemActor);
  sweep.mutate = [now](const Token& current) -> absl::StatusOr<TokenMutation> {
    return RevokeMutation(current, std::string(kSystemActor), now,
                          "plan tier no longer supports plan access tokens");
  };
  return sweep;
}

}  // namespace

absl::StatusOr<std::vector<TokenResource>> TokenManager::ResolveLinks(
    const Plan& plan, TokenKind kind, bool all_resources,
    const std::vector<std::string>& links) {
  if (all_resources) {
    if (!links.empty()) {
      return absl::InvalidArgumentError(
          "resource_links: must be empty when all_resources is set");
    }
    return std::vector<TokenResource>{};
  }
  if (links.empty()) {
    return absl::InvalidArgumentError(
        "resource_links: at least one link is required unless all_resources "
        "is set");
  }
  if (links.size() > kMaxResourceLinks) {
    return absl::InvalidArgumentError(
        absl::StrCat("resource_links: at most ", kMaxResourceLinks, " links"));
  }
  std::vector<TokenResource> out;
  std::set<std::pair<ResourceKind, std::string>> seen;
  for (size_t i = 0; i < links.size(); ++i) {
    const std::string field = absl::StrCat("resource_links[", i, "]");
    absl::StatusOr<ParsedLink> parsed = ParseResourceLink(links[i], kind);
    if (!parsed.ok()) {
      absl::string_view msg = parsed.status().message();
      absl::ConsumePrefix(&msg, "resource_links: ");
      return absl::InvalidArgumentError(absl::StrCat(field, ": ", msg));
    }
    if (!parsed->org_id.empty() && parsed->org_id != plan.id) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": belongs to another organization"));
    }
    absl::StatusOr<Resource> res = store_.GetResource(parsed->kind, parsed->id);
    if (absl::IsNotFound(res.status()) ||
        (res.ok() && res->plan_id != plan.id)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": no such ", ResourceKindName(parsed->kind),
                       " in this organization"));
    }
    if (!res.ok()) return res.status();
    if (!seen.insert({parsed->kind, parsed->id}).second) continue;
    out.push_back({parsed->kind, parsed->id,
                   CanonicalLink(parsed->kind, parsed->id, plan.id)});
  }
  return out;
}

absl::StatusOr<std::vector<Plan>> TokenManager::ListPlans(
    const std::string& actor) {
  if (actor.empty()) {
    return absl::UnauthenticatedError("no actor: x-pat-actor is required");
  }
  return store_.ListPlansAdministeredBy(actor);
}

absl::StatusOr<CreateTokenResult> TokenManager::CreateToken(
    const std::string& actor, const CreateTokenParams& p) {
  PAT_ASSIGN_OR_RETURN(Plan plan,
                       AuthorizePlan(actor, p.plan_id, TierRule::kRequired));
  if (p.kind != TokenKind::kRestApi && p.kind != TokenKind::kNpmRegistry) {
    return absl::InvalidArgumentError(
        "kind: must be TOKEN_KIND_REST_API or TOKEN_KIND_NPM_REGISTRY");
  }
  PAT_RETURN_IF_ERROR(ValidateText("name", p.name, 1, kMaxNameLength));
  PAT_RETURN_IF_ERROR(
      ValidateText("description", p.description, 0, kMaxDescriptionLength));
  if (p.expires_in_days < 1 || p.expires_in_days > kMaxExpiresInDays) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expires_in_days: must be between 1 and ", kMaxExpiresInDays));
  }
  PAT_ASSIGN_OR_RETURN(std::vector<std::string> scopes,
                       NormalizeScopes(p.kind, p.scopes));
  PAT_RETURN_IF_ERROR(ValidateRequestId(p.request_id));
  PAT_ASSIGN_OR_RETURN(
      std::vector<TokenResource> resources,
      ResolveLinks(plan, p.kind, p.all_resources, p.resource_links));

  const absl::Time now = TruncateToMicros(clock_.Now());
  NewToken nt;
  Token& t = nt.token;
  t.id = NewTokenId();
  t.plan_id = plan.id;
  t.kind = p.kind;
  t.name = p.name;
  t.description = p.description;
  t.scopes = std::move(scopes);
  t.all_resources = p.all_resources;
  t.resources = std::move(resources);
  t.created_by = actor;
  t.create_time = now;
  t.lifetime_days = p.expires_in_days;
  t.expire_time = now + absl::Hours(24) * p.expires_in_days;
  std::string secret = GenerateSecret(p.kind);
  nt.secret_digest = Sha256(secret);
  nt.actor = actor;
  nt.audit_details_json = json{{"after", TokenJson(t)}}.dump();

  IdempotencyKey key;
  if (!p.request_id.empty()) {
    key.request_id = p.request_id;
    key.operation = "create";
    std::vector<std::string> parts = {std::string(TokenKindName(p.kind)),
                                      p.name,
                                      p.description,
                                      absl::StrCat(p.expires_in_days),
                                      absl::StrJoin(t.scopes, " "),
                                      p.all_resources ? "all" : "selected"};
    for (const TokenResource& r : t.resources) parts.push_back(r.link);
    key.params_digest = ParamsDigest(parts);
  }
  PAT_ASSIGN_OR_RETURN(
      CreateOutcome outcome,
      store_.CreateToken(nt, key,
                         PlanCheckAtWrite(actor, TierRule::kRequired)));
  CreateTokenResult result;
  result.token = std::move(outcome.token);
  result.replayed = outcome.replayed;
  if (!outcome.replayed) result.secret = std::move(secret);
  return result;
}

absl::StatusOr<Token> TokenManager::GetToken(const std::string& actor,
                                             const std::string& plan_id,
                                             const std::string& token_id) {
  PAT_RETURN_IF_ERROR(
      AuthorizePlan(actor, plan_id, TierRule::kRequired).status());
  PAT_RETURN_IF_ERROR(ValidateTokenIdField(token_id));
  return store_.GetToken(plan_id, token_id);
}

absl::StatusOr<TokenPage> TokenManager::ListTokens(const std::string& actor,
                                                   const ListTokensParams& p) {
  PAT_RETURN_IF_ERROR(
      AuthorizePlan(actor, p.plan_id, TierRule::kRequired).status());
  PAT_ASSIGN_OR_RETURN(int page_size, PageSize(p.page_size));
  std::set<TokenStatus> statuses;
  for (TokenStatus s : p.statuses) {
    if (s == TokenStatus::kUnspecified) {
      return absl::InvalidArgumentError(
          "statuses: TOKEN_STATUS_UNSPECIFIED is not a status");
    }
    statuses.insert(s);
  }
  ListTokensQuery q;
  q.plan_id = p.plan_id;
  q.kind = p.kind;
  q.statuses.assign(statuses.begin(), statuses.end());
  q.now = clock_.Now();
  q.page_size = page_size + 1;
  std::string tag_text = absl::StrCat(p.plan_id, "|", TokenKindName(p.kind));
  for (TokenStatus s : statuses) {
    absl::StrAppend(&tag_text, "|", TokenStatusName(s));
  }
  const std::string tag = FilterTag(tag_text);
  if (!p.page_token.empty()) {
    PAT_ASSIGN_OR_RETURN(std::string cursor,
                         DecodePageToken(p.page_token, tag));
    std::pair<std::string, std::string> fields =
        absl::StrSplit(cursor, absl::MaxSplits(':', 1));
    int64_t us = 0;
    if (!absl::SimpleAtoi(fields.first, &us) ||
        !IsValidTokenId(fields.second)) {
      return absl::InvalidArgumentError("page_token: invalid");
    }
    q.after = std::make_pair(absl::FromUnixMicros(us), fields.second);
  }
  PAT_ASSIGN_OR_RETURN(std::vector<Token> tokens, store_.ListTokens(q));
  TokenPage page;
  if (static_cast<int>(tokens.size()) > page_size) {
    tokens.resize(page_size);
    const Token& last = tokens.back();
    PAT_ASSIGN_OR_RETURN(
        page.next_page_token,
        EncodePageToken(
            absl::StrCat(absl::ToUnixMicros(last.create_time), ":", last.id),
            tag));
  }
  page.tokens = std::move(tokens);
  return page;
}

absl::StatusOr<Token> TokenManager::UpdateToken(const std::string& actor,
                                                const UpdateTokenParams& p) {
  PAT_ASSIGN_OR_RETURN(Plan plan,
                       AuthorizePlan(actor, p.plan_id, TierRule::kRequired));
  PAT_RETURN_IF_ERROR(ValidateTokenIdField(p.token_id));
  if (p.update_mask.empty()) {
    return absl::InvalidArgumentError(
        "update_mask: required (name, description, scopes, resources)");
  }
  bool set_name = false, set_description = false, set_scopes = false,
       set_resources = false;
  for (const std::string& path : p.update_mask) {
    bool* flag = path == "name"          ? &set_name
                 : path == "description" ? &set_description
                 : path == "scopes"      ? &set_scopes
                 : path == "resources"   ? &set_resources
                                         : nullptr;
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "update_mask: unknown or immutable path ", QuoteForError(path),
          " (allowed: name, description, scopes, resources)"));
    }
    *flag = true;
  }
  if (set_name) {
    PAT_RETURN_IF_ERROR(ValidateText("name", p.name, 1, kMaxNameLength));
  }
  if (set_description) {
    PAT_RETURN_IF_ERROR(
        ValidateText("description", p.description, 0, kMaxDescriptionLength));
  }
  // The kind never changes, so it can be read before the locked mutation;
  // link resolution needs the directory and must not run inside it.
  PAT_ASSIGN_OR_RETURN(Token before, store_.GetToken(p.plan_id, p.token_id));
  std::vector<std::string> scopes;
  if (set_scopes) {
    PAT_ASSIGN_OR_RETURN(scopes, NormalizeScopes(before.kind, p.scopes));
  }
  std::vector<TokenResource> resources;
  if (set_resources) {
    PAT_ASSIGN_OR_RETURN(
        resources,
        ResolveLinks(plan, before.kind, p.all_resources, p.resource_links));
  }
  const absl::Time now = TruncateToMicros(clock_.Now());
  MutationFn fn = [&](const Token& current) -> absl::StatusOr<TokenMutation> {
    const TokenStatus status = StatusAt(current, now);
    if (status != TokenStatus::kActive) {
      return absl::FailedPreconditionError(
          absl::StrCat(StatusError(status), "; it cannot be edited"));
    }
    TokenMutation m;
    m.updated = current;
    if (set_name) m.updated.name = p.name;
    if (set_description) m.updated.description = p.description;
    if (set_scopes) m.updated.scopes = scopes;
    if (set_resources) {
      m.updated.all_resources = p.all_resources;
      m.updated.resources = resources;
    }
    json before_j = TokenJson(current), after_j = TokenJson(m.updated);
    m.changed = before_j != after_j;
    m.action = "update";
    json b, a;
    for (const char* f :
         {"name", "description", "scopes", "all_resources", "resources"}) {
      if (before_j[f] != after_j[f]) {
        b[f] = before_j[f];
        a[f] = after_j[f];
      }
    }
    m.audit_details_json = json{
        {"update_mask", p.update_mask},
        {"before", b},
        {"after", a}}.dump();
    return m;
  };
  PAT_ASSIGN_OR_RETURN(
      MutationOutcome out,
      store_.MutateToken(p.plan_id, p.token_id, actor, now, IdempotencyKey{},
                         PlanCheckAtWrite(actor, TierRule::kRequired), fn));
  return out.token;
}

absl::StatusOr<RefreshTokenResult> TokenManager::RefreshToken(
    const std::string& actor, const std::string& plan_id,
    const std::string& token_id, const std::string& request_id) {
  PAT_RETURN_IF_ERROR(
      AuthorizePlan(actor, plan_id, TierRule::kRequired).status());
  PAT_RETURN_IF_ERROR(ValidateTokenIdField(token_id));
  PAT_RETURN_IF_ERROR(ValidateRequestId(request_id));
  const absl::Time now = TruncateToMicros(clock_.Now());
  PAT_ASSIGN_OR_RETURN(Token current_view, store_.GetToken(plan_id, token_id));
  std::string secret = GenerateSecret(current_view.kind);
  const Digest digest = Sha256(secret);
  MutationFn fn = [&](const Token& current) -> absl::StatusOr<TokenMutation> {
    const TokenStatus status = StatusAt(current, now);
    if (status != TokenStatus::kActive) {
      return absl::FailedPreconditionError(absl::StrCat(
          StatusError(status), "; only an active token can be refreshed"));
    }
    TokenMutation m;
    m.changed = true;
    m.action = "refresh";
    m.updated = current;
    m.updated.expire_time = now + absl::Hours(24) * current.lifetime_days;
    m.updated.last_refresh_time = now;
    m.new_secret_digest = digest;
    m.previous_secret_valid_until = now + kRefreshOverlap;
    m.audit_details_json =
        json{{"before", {{"expire_time", Rfc3339(current.expire_time)}}},
             {"after", {{"expire_time", Rfc3339(m.updated.expire_time)}}},
             {"previous_secret_expire_time",
              Rfc3339(m.previous_secret_valid_until)}}
            .dump();
    return m;
  };
  IdempotencyKey key;
  if (!request_id.empty()) {
    key.request_id = request_id;
    key.operation = "refresh";
    key.params_digest = ParamsDigest({"refresh", token_id});
  }
  PAT_ASSIGN_OR_RETURN(
      MutationOutcome out,
      store_.MutateToken(plan_id, token_id, actor, now, key,
                         PlanCheckAtWrite(actor, TierRule::kRequired), fn));
  RefreshTokenResult result;
  result.token = std::move(out.token);
  result.replayed = out.replayed;
  if (out.previous_secret_expire_time.has_value()) {
    result.previous_secret_expire_time = *out.previous_secret_expire_time;
  }
  if (!out.replayed) result.secret = std::move(secret);
  return result;
}

absl::StatusOr<Token> TokenManager::RevokeToken(const std::string& actor,
                                                const std::string& plan_id,
                                                const std::string& token_id) {
  // Revoking never needs the tier: a token still live on a plan whose tier
  // no longer allows tokens (e.g. one a race left before writes re-checked
  // the tier) must be revocable, and revoking one the downgrade already
  // revoked is the usual no-op. An unknown token on such a plan is R1's
  // FAILED_PRECONDITION.
  PAT_ASSIGN_OR_RETURN(Plan plan,
                       AuthorizePlan(actor, plan_id, TierRule::kNotRequired));
  PAT_RETURN_IF_ERROR(ValidateTokenIdField(token_id));
  const absl::Time now = TruncateToMicros(clock_.Now());
  // The tier under the plan's lock, set by the check of the last attempt.
  PlanTier locked_tier = plan.tier;
  PlanCheckFn check = [&](const Plan& locked) -> absl::Status {
    PAT_RETURN_IF_ERROR(CheckPlanAccess(actor, locked, TierRule::kNotRequired));
    locked_tier = locked.tier;
    return absl::OkStatus();
  };
  MutationFn fn = [&](const Token& current) -> absl::StatusOr<TokenMutation> {
    return RevokeMutation(current, actor, now, "");
  };
  absl::StatusOr<MutationOutcome> out = store_.MutateToken(
      plan_id, token_id, actor, now, IdempotencyKey{}, check, fn);
  if (absl::IsNotFound(out.status()) && !TierAllowsTokens(locked_tier)) {
    return TierForbidsTokens(locked_tier);
  }
  if (!out.ok()) return out.status();
  return std::move(out->token);
}

absl::StatusOr<AuditPage> TokenManager::ListAuditEvents(
    const std::string& actor, const std::string& plan_id,
    const std::string& token_id, int page_size_requested,
    const std::string& page_token) {
  PAT_RETURN_IF_ERROR(
      AuthorizePlan(actor, plan_id, TierRule::kRequired).status());
  PAT_ASSIGN_OR_RETURN(int page_size, PageSize(page_size_requested));
  if (!token_id.empty()) {
    PAT_RETURN_IF_ERROR(ValidateTokenIdField(token_id));
    PAT_RETURN_IF_ERROR(store_.GetToken(plan_id, token_id).status());
  }
  ListAuditQuery q;
  q.plan_id = plan_id;
  q.token_id = token_id;
  q.page_size = page_size + 1;
  const std::string tag =
      FilterTag(absl::StrCat("audit|", plan_id, "|", token_id));
  if (!page_token.empty()) {
    PAT_ASSIGN_OR_RETURN(std::string cursor, DecodePageToken(page_token, tag));
    int64_t id = 0;
    if (!absl::SimpleAtoi(cursor, &id) || id <= 0) {
      return absl::InvalidArgumentError("page_token: invalid");
    }
    q.after_id = id;
  }
  PAT_ASSIGN_OR_RETURN(std::vector<AuditEvent> events,
                       store_.ListAuditEvents(q));
  AuditPage page;
  if (static_cast<int>(events.size()) > page_size) {
    events.resize(page_size);
    PAT_ASSIGN_OR_RETURN(page.next_page_token,
                         EncodePageToken(absl::StrCat(events.back().id), tag));
  }
  page.events = std::move(events);
  return page;
}

absl::StatusOr<Plan> TokenManager::UpsertPlan(const Plan& plan) {
  PAT_RETURN_IF_ERROR(ValidateId("plan.id", plan.id));
  PAT_RETURN_IF_ERROR(
      ValidateText("plan.name", plan.name, 1, kMaxPlanNameLength));
  if (plan.tier == PlanTier::kUnspecified) {
    return absl::InvalidArgumentError("plan.tier: required");
  }
  for (const std::string& admin : plan.admin_user_ids) {
    PAT_RETURN_IF_ERROR(ValidateId("plan.admin_user_ids", admin));
  }
  const absl::Time now = TruncateToMicros(clock_.Now());
  PAT_RETURN_IF_ERROR(store_.UpsertPlan(plan, now, TierDowngradeSweep(now)));
  return store_.GetPlan(plan.id);
}

absl::StatusOr<Resource> TokenManager::UpsertResource(const Resource& r) {
  PAT_RETURN_IF_ERROR(ValidateId("resource.plan_id", r.plan_id));
  if (r.kind == ResourceKind::kUnspecified) {
    return absl::InvalidArgumentError("resource.kind: required");
  }
  PAT_RETURN_IF_ERROR(ValidateId("resource.id", r.id));
  if ((r.kind == ResourceKind::kNpmScope) != absl::StartsWith(r.id, "@")) {
    return absl::InvalidArgumentError(
        "resource.id: npm scopes, and only they, start with '@'");
  }
  PAT_RETURN_IF_ERROR(ValidateText("resource.name", r.name, 0, 256));
  if (r.parent_kind != ResourceKind::kUnspecified || !r.parent_id.empty()) {
    PAT_RETURN_IF_ERROR(ValidateId("resource.parent_id", r.parent_id));
    if (ResourceRank(r.kind) == 0 ||
        ResourceRank(r.parent_kind) <= ResourceRank(r.kind)) {
      return absl::InvalidArgumentError(
          "resource.parent_kind: a parent must be a project, team or "
          "workspace above the resource (file < project < team < workspace)");
    }
  }
  PAT_RETURN_IF_ERROR(store_.UpsertResource(r));
  return store_.GetResource(r.kind, r.id);
}

absl::Status TokenManager::DeleteResource(ResourceKind kind,
                                          const std::string& id) {
  if (kind == ResourceKind::kUnspecified) {
    return absl::InvalidArgumentError("kind: required");
  }
  PAT_RETURN_IF_ERROR(ValidateId("id", id));
  return store_.DeleteResource(kind, id);
}

absl::StatusOr<ValidateResult> TokenManager::ValidateToken(
    absl::string_view digest_bytes) {
  PAT_ASSIGN_OR_RETURN(Digest digest, DigestFromBytes(digest_bytes));
  absl::StatusOr<SecretLookup> found = store_.LookupSecret(digest);
  ValidateResult result;
  if (absl::IsNotFound(found.status())) return result;
  if (!found.ok()) return found.status();
  const absl::Time now = clock_.Now();
  result.token = std::move(found->token);
  result.status = StatusAt(result.token, now);
  if (result.status == TokenStatus::kRevoked) {
    result.found = true;
    result.secret_expire_time = *result.token.revoke_time;
    return result;
  }
  if (found->secret_valid_until.has_value() &&
      now >= *found->secret_valid_until) {
    return ValidateResult{};  // a previous secret past its overlap
  }
  result.found = true;
  result.secret_expire_time =
      found->secret_valid_until.has_value()
          ? std::min(*found->secret_valid_until, result.token.expire_time)
          : result.token.expire_time;
  return result;
}

absl::StatusOr<CheckAccessResult> TokenManager::CheckAccess(
    const std::string& actor, const CheckAccessParams& p) {
  PAT_RETURN_IF_ERROR(
      AuthorizePlan(actor, p.plan_id, TierRule::kRequired).status());
  PAT_RETURN_IF_ERROR(ValidateTokenIdField(p.token_id));
  if (p.method.empty()) return absl::InvalidArgumentError("method: required");
  if (p.method.size() > kMaxMethodLength ||
      !std::all_of(p.method.begin(), p.method.end(), IsTchar)) {
    return absl::InvalidArgumentError(
        absl::StrCat("method: must be an HTTP method (at most ",
                     kMaxMethodLength, " token characters, e.g. GET)"));
  }
  if (p.path.empty()) {
    return absl::InvalidArgumentError(
        "path: required (the request-target, e.g. /v1/files/KEY)");
  }
  PAT_ASSIGN_OR_RETURN(Token token, store_.GetToken(p.plan_id, p.token_id));

  CheckAccessResult result;
  auto deny = [&result](policy::Reason reason, absl::string_view detail) {
    result.allowed = false;
    result.reason = std::string(policy::ReasonCode(reason));
    result.detail = policy::DecisionMessage(reason, detail);
    return result;
  };
  // Rule 1: the path, exactly as the sidecar checks it.
  const policy::TargetCheck target =
      policy::CheckTarget(p.path, policy::PathModeFor(token.kind));
  if (!target.ok()) return deny(target.reason, target.detail);
  // Rule 2: the token's state (the credential itself is not part of this
  // question: the token is named by id).
  const absl::Time now = clock_.Now();
  const policy::Reason state =
      policy::GrantStateReason(StatusAt(token, now), token.kind, token.kind);
  if (state == policy::Reason::kTokenRevoked) {
    return deny(state, absl::StrCat("revoked at ",
                                    Rfc3339(token.revoke_time.value_or(now))));
  }
  if (state == policy::Reason::kTokenExpired) {
    return deny(state, absl::StrCat("expired at ", Rfc3339(token.expire_time)));
  }
  if (state != policy::Reason::kAllowed) return deny(state, "");
  // Rules 3-5 with the catalog of the API the token is for.
  const absl::StatusOr<policy::RouteMatcher>& routes =
      token.kind == TokenKind::kNpmRegistry ? npm_routes_ : rest_routes_;
  if (!routes.ok()) {
    return absl::InternalError("the built-in endpoint catalog is unusable");
  }
  const policy::GrantView grant = policy::GrantViewOf(token);
  StoreResourceResolver resolver(store_);
  policy::DecisionInput input;
  input.method = p.method;
  input.target = target.target;
  input.routes = &*routes;
  input.grant = &grant;
  input.resolver = &resolver;
  input.api_kind = token.kind;
  const policy::Decision decision = policy::Decide(input);
  PAT_RETURN_IF_ERROR(resolver.error());
  if (!decision.allowed) return deny(decision.reason, decision.detail);
  result.allowed = true;
  result.reason = std::string(policy::ReasonCode(policy::Reason::kAllowed));
  result.detail = decision.endpoint == nullptr
                      ? std::string("allowed")
                      : absl::StrCat("allowed: ", decision.endpoint->name, " (",
                                     decision.endpoint->method, " ",
                                     decision.endpoint->path_template, ")");
  return result;
}

absl::StatusOr<FeedSnapshot> TokenManager::ReadFeedSnapshot() {
  return store_.ReadFeedSnapshot(clock_.Now(), kSnapshotKeepExpired);
}

absl::StatusOr<FeedPosition> TokenManager::GetFeedPosition(int64_t since) {
  if (since < 0) {
    return absl::InvalidArgumentError("since_revision: must not be negative");
  }
  return store_.GetFeedPosition(since);
}

absl::StatusOr<std::vector<FeedEventRow>> TokenManager::ReadFeedEvents(
    int64_t after, int limit) {
  return store_.ReadFeedEvents(after, limit);
}

absl::StatusOr<std::vector<Resource>> TokenManager::ResolveResource(
    ResourceKind kind, const std::string& id) {
  if (kind == ResourceKind::kUnspecified) {
    return absl::InvalidArgumentError("kind: required");
  }
  // An id the directory cannot hold is simply not in it: answer as for any
  // unknown resource, so that sidecars cache the miss and deny (R13).
  if (id.empty()) return absl::InvalidArgumentError("id: required");
  if (!ValidateId("id", id).ok()) {
    return absl::NotFoundError("resource not found");
  }
  return store_.ResolveResource(kind, id);
}

absl::Status TokenManager::ReportUsage(std::vector<UsageReport> reports) {
  if (reports.size() > static_cast<size_t>(kMaxUsageRecords)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "records: at most ", kMaxUsageRecords, " records per call"));
  }
  const absl::Time now = TruncateToMicros(clock_.Now());
  for (size_t i = 0; i < reports.size(); ++i) {
    UsageReport& r = reports[i];
    const std::string field = absl::StrCat("records[", i, "]");
    if (!IsValidTokenId(r.token_id)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".token_id: malformed"));
    }
    if (r.last_used_time == absl::InfinitePast() ||
        r.last_used_time == absl::InfiniteFuture()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".last_used_time: required"));
    }
    if (!r.client_ip.empty() &&
        (r.client_ip.size() > static_cast<size_t>(kMaxClientIpLength) ||
         !IsIpLiteral(r.client_ip))) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".client_ip: must be an IPv4 or IPv6 address of at most ",
          kMaxClientIpLength, " characters"));
    }
    // A sidecar's clock ahead of ours must not push last-used into the
    // future, where greatest() would keep it.
    r.last_used_time = std::min(TruncateToMicros(r.last_used_time), now);
  }
  return store_.RecordUsage(reports).status();
}

}  // namespace pat
