#include "server/leak_judge.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/secret.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace pat {
namespace {

constexpr size_t kMinRedactedRun = 16;

bool IsBase62(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
         (c >= 'a' && c <= 'z');
}

// Length of the valid UTF-8 sequence at s[i], 0 if none.
size_t Utf8Length(absl::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = 0;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) n = 2;
  else if (c >= 0xe0 && c <= 0xef) n = 3;
  else if (c >= 0xf0 && c <= 0xf4) n = 4;
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  }
  const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
  if (c == 0xe0 && c1 < 0xa0) return 0;  // overlong
  if (c == 0xed && c1 > 0x9f) return 0;  // surrogates
  if (c == 0xf0 && c1 < 0x90) return 0;  // overlong
  if (c == 0xf4 && c1 > 0x8f) return 0;  // > U+10FFFF
  return n;
}

// Length of a secret-looking run at s[i] ("pat_rest_"/"pat_npm_" and what
// base62 follows), 0 if none.
size_t SecretRunLength(absl::string_view s, size_t i) {
  for (absl::string_view prefix : {kRestSecretPrefix, kNpmSecretPrefix}) {
    if (s.substr(i, prefix.size()) != prefix) continue;
    size_t j = i + prefix.size();
    while (j < s.size() && IsBase62(s[j])) ++j;
    // A rule name like "pat_rest_token" is not a secret; 16 or more base62
    // characters (a third of a body) are treated as one, cut or not.
    if (j - i - prefix.size() < kMinRedactedRun) continue;
    return j - i;
  }
  return 0;
}

std::string AuditDetails(const LeakCandidate& c) {
  nlohmann::json details = {{"reason", "leaked"},
                            {"source", SanitizeLeakField(c.source)},
                            {"url", SanitizeLeakField(c.url)},
                            {"type", SanitizeLeakField(c.type)}};
  return details.dump();
}

}  // namespace

absl::string_view LeakVerdictLabel(LeakVerdict verdict) {
  return verdict == LeakVerdict::kTruePositive ? "true_positive"
                                               : "false_positive";
}

std::string SanitizeLeakField(absl::string_view s) {
  std::string out;
  out.reserve(std::min<size_t>(s.size(), kMaxLeakFieldBytes));
  size_t i = 0;
  while (i < s.size()) {
    std::string piece;
    if (size_t run = SecretRunLength(s, i); run > 0) {
      piece = "[redacted]";
      i += run;
    } else if (size_t n = Utf8Length(s, i);
               n == 0 || (n == 1 && (static_cast<unsigned char>(s[i]) < 0x20 ||
                                     s[i] == 0x7f))) {
      piece = "?";
      ++i;
    } else {
      piece = std::string(s.substr(i, n));
      i += n;
    }
    if (out.size() + piece.size() > static_cast<size_t>(kMaxLeakFieldBytes)) {
      break;
    }
    out += piece;
  }
  return out;
}

absl::StatusOr<std::vector<LeakResult>> LeakJudge::Judge(
    const std::vector<LeakCandidate>& candidates, absl::string_view reporter) {
  const std::string actor = absl::StrCat("leak-intake:", reporter);
  std::vector<LeakResult> results;
  results.reserve(candidates.size());
  // A secret reported twice in one batch: the first report decides.
  absl::flat_hash_map<std::string, LeakResult> seen;
  for (const LeakCandidate& c : candidates) {
    if (auto it = seen.find(c.token); it != seen.end()) {
      LeakResult again = it->second;
      again.action = LeakAction::kNone;
      results.push_back(again);
      continue;
    }
    PAT_ASSIGN_OR_RETURN(LeakResult r, JudgeOne(c, actor));
    (r.verdict == LeakVerdict::kTruePositive ? metrics_.true_positive
                                             : metrics_.false_positive)
        .Inc();
    seen.emplace(c.token, r);
    results.push_back(r);
  }
  return results;
}

absl::StatusOr<LeakResult> LeakJudge::JudgeOne(const LeakCandidate& c,
                                               const std::string& actor) {
  LeakResult result;
  if (c.token.size() > static_cast<size_t>(kMaxLeakTokenBytes) ||
      !ParseSecret(c.token).ok()) {
    metrics_.offline_rejected.Inc();
    return result;
  }
  metrics_.lookups.Inc();
  absl::StatusOr<SecretLookup> found = tokens_.LookupSecret(Sha256(c.token));
  if (absl::IsNotFound(found.status())) return result;
  if (!found.ok()) return found.status();
  result.verdict = LeakVerdict::kTruePositive;
  const absl::Time now = absl::FromUnixMicros(absl::ToUnixMicros(clock_.Now()));
  const bool secret_ended = found->secret_valid_until.has_value() &&
                            *found->secret_valid_until <= now;
  if (secret_ended || StatusAt(found->token, now) != TokenStatus::kActive) {
    return result;
  }
  PAT_ASSIGN_OR_RETURN(result.action, Act(found->token, c, actor, now));
  return result;
}

absl::StatusOr<LeakAction> LeakJudge::Act(const Token& token,
                                          const LeakCandidate& c,
                                          const std::string& actor,
                                          absl::Time now) {
  PAT_ASSIGN_OR_RETURN(LeakPolicy policy, leaks_.GetLeakPolicy(token.plan_id));
  const std::string details = AuditDetails(c);
  if (policy == LeakPolicy::kFlag) {
    PAT_RETURN_IF_ERROR(leaks_.RecordLeakFlag(token, actor, now, details));
    metrics_.flagged.Inc();
    return LeakAction::kFlagged;
  }
  // A leak is revoked whatever the plan's tier or admins are now.
  PlanCheckFn any_plan = [](const Plan&) { return absl::OkStatus(); };
  MutationFn revoke = [&](const Token& current)
      -> absl::StatusOr<TokenMutation> {
    TokenMutation m;
    if (StatusAt(current, now) != TokenStatus::kActive) return m;
    m.changed = true;
    m.action = "revoke";
    m.updated = current;
    m.updated.revoke_time = now;
    m.updated.revoked_by = actor;
    m.end_all_secrets = true;
    m.audit_details_json = details;
    return m;
  };
  PAT_ASSIGN_OR_RETURN(MutationOutcome out,
                       tokens_.MutateToken(token.plan_id, token.id, actor, now,
                                           IdempotencyKey{}, any_plan, revoke));
  if (out.token.revoke_time != now) return LeakAction::kNone;  // raced
  metrics_.revoked.Inc();
  return LeakAction::kRevoked;
}

}  // namespace pat
