#include "server/token_introspection.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/secret.h"
#include "common/status_macros.h"
#include "server/token_rules.h"

namespace pat {
namespace {

using token_rules::IsIpLiteral;
using token_rules::TruncateToMicros;
using token_rules::ValidateId;

}  // namespace

absl::StatusOr<std::unique_ptr<TokenIntrospection>> TokenIntrospection::Create(
    const TokenIntrospectionConfig& config, ComponentDeps deps,
    SecretSource* secrets) {
  if (config.snapshot_keep_expired < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "snapshot_keep_expired: must not be negative");
  }
  return std::unique_ptr<TokenIntrospection>(
      new TokenIntrospection(config, deps, secrets));
}

absl::StatusOr<ValidateResult> TokenIntrospection::ValidateToken(
    absl::string_view digest_bytes) {
  PAT_ASSIGN_OR_RETURN(Digest digest, DigestFromBytes(digest_bytes));
  if (secrets_ != nullptr) return ResultOf(secrets_->LookupSecret(digest));
  absl::StatusOr<SecretLookup> found = store_.LookupSecret(digest);
  if (absl::IsNotFound(found.status())) return ResultOf(SecretAtHead{});
  if (!found.ok()) return found.status();
  return ResultOf(SecretAtHead{*std::move(found), 0});
}

absl::StatusOr<std::vector<SecretAtHead>> SecretSource::LookupSecrets(
    absl::Span<const Digest> digests) {
  std::vector<SecretAtHead> out;
  out.reserve(digests.size());
  for (const Digest& d : digests) {
    PAT_ASSIGN_OR_RETURN(SecretAtHead read, LookupSecret(d));
    out.push_back(std::move(read));
  }
  return out;
}

std::vector<absl::StatusOr<ValidateResult>> TokenIntrospection::ValidateTokens(
    absl::Span<const std::string> digests_bytes) {
  std::vector<absl::StatusOr<ValidateResult>> out(
      digests_bytes.size(), absl::InternalError("not answered"));
  if (secrets_ == nullptr) {
    for (size_t i = 0; i < digests_bytes.size(); ++i) {
      out[i] = ValidateToken(digests_bytes[i]);
    }
    return out;
  }
  std::vector<Digest> digests;
  std::vector<size_t> at;  // digests[k] answers out[at[k]]
  for (size_t i = 0; i < digests_bytes.size(); ++i) {
    absl::StatusOr<Digest> digest = DigestFromBytes(digests_bytes[i]);
    if (!digest.ok()) {
      out[i] = digest.status();
      continue;
    }
    digests.push_back(*digest);
    at.push_back(i);
  }
  if (digests.empty()) return out;
  absl::StatusOr<std::vector<SecretAtHead>> read =
      secrets_->LookupSecrets(digests);
  for (size_t k = 0; k < at.size(); ++k) {
    out[at[k]] = read.ok() ? ResultOf(std::move((*read)[k])) : read.status();
  }
  return out;
}

std::optional<absl::StatusOr<ValidateResult>>
TokenIntrospection::TryValidateToken(absl::string_view digest_bytes) {
  absl::StatusOr<Digest> digest = DigestFromBytes(digest_bytes);
  if (!digest.ok()) return digest.status();
  if (secrets_ == nullptr) return std::nullopt;
  std::optional<absl::StatusOr<SecretAtHead>> found =
      secrets_->TryLookupSecret(*digest);
  if (!found.has_value()) return std::nullopt;
  return ResultOf(*std::move(found));
}

absl::StatusOr<ValidateResult> TokenIntrospection::ResultOf(
    absl::StatusOr<SecretAtHead> read) const {
  if (!read.ok()) return read.status();
  ValidateResult result;
  result.revision = read->head;
  if (!read->lookup.has_value()) return result;
  SecretLookup* found = &*read->lookup;
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
    ValidateResult past;  // a previous secret past its overlap
    past.revision = read->head;
    return past;
  }
  result.found = true;
  result.secret_expire_time =
      found->secret_valid_until.has_value()
          ? std::min(*found->secret_valid_until, result.token.expire_time)
          : result.token.expire_time;
  return result;
}

absl::StatusOr<FeedSnapshot> TokenIntrospection::ReadFeedSnapshot(
    bool with_grants) {
  return store_.ReadFeedSnapshot(clock_.Now(), config_.snapshot_keep_expired,
                                 with_grants);
}

absl::StatusOr<FeedPosition> TokenIntrospection::GetFeedPosition(
    int64_t since) {
  if (since < 0) {
    return absl::InvalidArgumentError("since_revision: must not be negative");
  }
  return store_.GetFeedPosition(since);
}

absl::StatusOr<std::vector<FeedEventRow>> TokenIntrospection::ReadFeedEvents(
    int64_t after, int limit) {
  return store_.ReadFeedEvents(after, limit);
}

absl::StatusOr<std::vector<Resource>> TokenIntrospection::ResolveResource(
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

absl::Status TokenIntrospection::ReportUsage(std::vector<UsageReport> reports) {
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
