#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/policy/policy.h"
#include "common/policy/reason.h"
#include "common/secret.h"
#include "common/status_macros.h"
#include "server/token_manager.h"
#include "server/token_rules.h"

// TokenManager's read paths: single-token lookups, listings with page
// tokens, ValidateToken and CheckAccess. No lifecycle write happens here
// (those are in token_manager.cc).
namespace pat {
namespace {

using token_rules::FilterTag;
using token_rules::IsTchar;
using token_rules::kMaxIdLength;
using token_rules::PageSize;
using token_rules::Rfc3339;
using token_rules::ValidateTokenIdField;

constexpr absl::string_view kPageTokenKeyName = "page_token_hmac";

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

}  // namespace pat
