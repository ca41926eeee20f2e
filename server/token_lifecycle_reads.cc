#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "server/plan_access.h"
#include "server/token_lifecycle.h"
#include "server/token_rules.h"

// TokenLifecycle's reads: plans, single tokens, listings with page tokens.
// No write happens here (those are in token_lifecycle.cc).
namespace pat {
namespace {

using token_rules::FilterTag;
using token_rules::PageSize;
using token_rules::ValidateTokenIdField;

}  // namespace

absl::StatusOr<std::vector<Plan>> TokenLifecycle::ListPlans(
    const std::string& actor) {
  if (actor.empty()) {
    return absl::UnauthenticatedError("no actor: x-pat-actor is required");
  }
  return store_.ListPlansAdministeredBy(actor);
}

absl::StatusOr<Token> TokenLifecycle::GetToken(const std::string& actor,
                                               const std::string& plan_id,
                                               const std::string& token_id) {
  PAT_RETURN_IF_ERROR(
      AuthorizePlan(store_, actor, plan_id, TierRule::kRequired).status());
  PAT_RETURN_IF_ERROR(ValidateTokenIdField(token_id));
  return store_.GetToken(plan_id, token_id);
}

absl::StatusOr<TokenPage> TokenLifecycle::ListTokens(
    const std::string& actor, const ListTokensParams& p) {
  PAT_RETURN_IF_ERROR(
      AuthorizePlan(store_, actor, p.plan_id, TierRule::kRequired).status());
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
                         page_tokens_.Decode(p.page_token, tag));
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
        page_tokens_.Encode(
            absl::StrCat(absl::ToUnixMicros(last.create_time), ":", last.id),
            tag));
  }
  page.tokens = std::move(tokens);
  return page;
}

absl::StatusOr<AuditPage> TokenLifecycle::ListAuditEvents(
    const std::string& actor, const std::string& plan_id,
    const std::string& token_id, int page_size_requested,
    const std::string& page_token) {
  PAT_RETURN_IF_ERROR(
      AuthorizePlan(store_, actor, plan_id, TierRule::kRequired).status());
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
    PAT_ASSIGN_OR_RETURN(std::string cursor,
                         page_tokens_.Decode(page_token, tag));
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
    PAT_ASSIGN_OR_RETURN(
        page.next_page_token,
        page_tokens_.Encode(absl::StrCat(events.back().id), tag));
  }
  page.events = std::move(events);
  return page;
}

}  // namespace pat
