#include "sidecar/pat_authorizer.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/policy/path.h"
#include "common/policy/policy.h"
#include "common/policy/reason.h"
#include "common/secret.h"

namespace pat::sidecar {
namespace {

using policy::Reason;

constexpr absl::string_view kAuthorizationHeader = "authorization";
constexpr absl::string_view kBearer = "bearer";

bool IsOws(char c) { return c == ' ' || c == '\t'; }

absl::string_view TrimOws(absl::string_view s) {
  while (!s.empty() && IsOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsOws(s.back())) s.remove_suffix(1);
  return s;
}

// More than one non-empty element in a comma-separated list.
bool ListsSeveral(absl::string_view value) {
  if (value.find(',') == absl::string_view::npos) return false;
  int elements = 0;
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    if (!TrimOws(part).empty()) ++elements;
  }
  return elements > 1;
}

AuthzResult Result(Reason reason, absl::string_view detail = {}) {
  AuthzResult result;
  result.reason = reason;
  result.http_status = policy::ReasonHttpStatus(reason);
  result.message = policy::DecisionMessage(reason, detail);
  return result;
}

AuthzResult Unavailable(absl::string_view detail) {
  AuthzResult result = Result(Reason::kAuthorityUnavailable, detail);
  result.retry_after_seconds = 1;
  return result;
}

// Resolves resources for one request and remembers whether the directory
// could not ask the authority (then the denial is a 503, not a 403).
class RequestResolver final : public policy::ResourceResolver {
 public:
  explicit RequestResolver(const DirectoryCache& directory)
      : directory_(directory) {}
  std::optional<policy::ResolvedResource> Resolve(
      ResourceKind kind, absl::string_view id) const override {
    absl::StatusOr<std::optional<policy::ResolvedResource>> result =
        directory_.Lookup(kind, id);
    if (!result.ok()) {
      failed_ = true;
      return std::nullopt;
    }
    return *std::move(result);
  }
  bool failed() const { return failed_; }

 private:
  const DirectoryCache& directory_;
  mutable bool failed_ = false;
};

}  // namespace

namespace internal {

CredentialCheck ExtractCredential(
    const std::vector<std::pair<absl::string_view, absl::string_view>>&
        credentials) {
  CredentialCheck check;
  if (credentials.empty()) {
    check.reason = Reason::kTokenMissing;
    return check;
  }
  if (credentials.size() > 1) {
    check.reason = Reason::kTokenAmbiguous;
    return check;
  }
  const auto& [name, raw] = credentials.front();
  const absl::string_view value = TrimOws(raw);
  if (ListsSeveral(value)) {
    check.reason = Reason::kTokenAmbiguous;
    return check;
  }
  check.reason = Reason::kTokenMalformed;
  absl::string_view secret = value;
  if (absl::EqualsIgnoreCase(name, kAuthorizationHeader)) {
    // "Bearer" SP secret, exactly.
    if (value.size() <= kBearer.size() + 1 ||
        !absl::EqualsIgnoreCase(value.substr(0, kBearer.size()), kBearer) ||
        value[kBearer.size()] != ' ') {
      return check;
    }
    secret = value.substr(kBearer.size() + 1);
  }
  if (secret.empty()) return check;
  for (char c : secret) {
    if (IsOws(c) || c == ',') return check;
  }
  if (!ParseSecret(secret).ok()) return check;
  check.reason = Reason::kAllowed;
  check.secret = secret;
  return check;
}

}  // namespace internal

absl::StatusOr<std::unique_ptr<PatAuthorizer>> PatAuthorizer::Create(
    const PatAuthorizerOptions& options, policy::RouteMatcher routes,
    GrantCache& grants, DirectoryCache& directory, AuthorityClient& client,
    UsageReporter* usage, const Clock& clock, MetricsRegistry& metrics) {
  if (options.api != TokenKind::kRestApi &&
      options.api != TokenKind::kNpmRegistry) {
    return absl::InvalidArgumentError("--api: must be rest or npm");
  }
  if (options.staleness_bound <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--staleness_bound: must be positive");
  }
  return std::unique_ptr<PatAuthorizer>(
      new PatAuthorizer(options, std::move(routes), grants, directory, client,
                        usage, clock, metrics));
}

PatAuthorizer::PatAuthorizer(const PatAuthorizerOptions& options,
                             policy::RouteMatcher routes, GrantCache& grants,
                             DirectoryCache& directory, AuthorityClient& client,
                             UsageReporter* usage, const Clock& clock,
                             MetricsRegistry& metrics)
    : options_(options),
      routes_(std::move(routes)),
      grants_(grants),
      directory_(directory),
      client_(client),
      usage_(usage),
      clock_(clock),
      validate_shared_(metrics.GetCounter(
          "pat_sidecar_validate_shared_total",
          "Cache misses that joined a ValidateToken call already in flight "
          "for the same secret.")),
      revalidations_(metrics.GetCounter(
          "pat_sidecar_revalidations_total",
          "Requests revalidated with the authority because the watch stream "
          "was stale.")),
      flights_([this] { validate_shared_.Inc(); }) {}

bool PatAuthorizer::Ready() const {
  return !grants_.Stale(clock_.Now(), options_.staleness_bound);
}

PatAuthorizer::Fetched PatAuthorizer::Validate(const Digest& digest,
                                               bool overwrite) {
  return flights_.Do(digest, [&]() -> Fetched {
    absl::StatusOr<ValidateResult> answer = client_.ValidateToken(digest);
    if (!answer.ok()) return answer.status();
    if (!answer->found) return grants_.PutUnknown(digest, overwrite);
    return grants_.PutValidated(digest, std::move(answer->grant),
                                answer->secret_expire_time, overwrite);
  });
}

void PatAuthorizer::Authorize(const RequestView& request,
                              AuthorizeCallback done) {
  // Transitional: decided synchronously (a miss blocks the caller).
  std::move(done)(Decide(request));
}

bool PatAuthorizer::WantsBody(absl::string_view method,
                              absl::string_view target) const {
  return false;
}

AuthzResult PatAuthorizer::Decide(const RequestView& request) {
  // Step 1: the request-target, before anything else.
  const policy::TargetCheck target = policy::CheckTarget(request.target);
  if (!target.ok()) return Result(target.reason, target.detail);

  // Step 2, offline: exactly one well-formed credential.
  const internal::CredentialCheck credential =
      internal::ExtractCredential(request.credentials);
  if (credential.reason != Reason::kAllowed) return Result(credential.reason);

  // Step 2, with the authority's data.
  if (!grants_.synced()) {
    return Unavailable("the sidecar has not synced with the authority yet");
  }
  const Digest digest = Sha256(credential.secret);
  const absl::Time now = clock_.Now();
  const bool stale = grants_.Stale(now, options_.staleness_bound);

  CacheEntry held;
  const CacheLookup lookup = grants_.Find(digest);
  bool need_authority = false;
  switch (lookup.kind) {
    case CacheLookup::Kind::kFound:
      held = lookup.entry;
      if (stale) {
        // Denials that cannot be undone need no trust in the cache.
        const Grant& g = held.token->grant;
        const bool final_denial = g.status == TokenStatus::kRevoked ||
                                  g.status == TokenStatus::kExpired ||
                                  now >= g.expire_time ||
                                  now >= held.secret_expire_time;
        need_authority = !final_denial;
      }
      break;
    case CacheLookup::Kind::kUnknown:
      need_authority = stale;
      break;
    case CacheLookup::Kind::kMiss:
      need_authority = true;
      break;
  }
  if (need_authority) {
    if (stale) revalidations_.Inc();
    Fetched fetched = Validate(digest, /*overwrite=*/stale);
    if (!fetched.ok()) {
      return Unavailable(stale ? "the authority cannot be reached and the "
                                 "cached grants are stale"
                               : "the authority cannot be reached");
    }
    held = *std::move(fetched);
  }
  if (held.token == nullptr) return Result(Reason::kTokenUnknown);

  const Grant& grant = held.token->grant;
  TokenStatus status = grant.status;
  if (status == TokenStatus::kActive &&
      (now >= grant.expire_time || now >= held.secret_expire_time)) {
    status = TokenStatus::kExpired;
  }
  const Reason state =
      policy::GrantStateReason(status, grant.kind, options_.api);
  if (state != Reason::kAllowed) {
    AuthzResult result = Result(state);
    if (state != Reason::kTokenUnknown) {
      result.token_id = grant.token_id;
      result.plan_id = grant.plan_id;
    }
    return result;
  }

  if (usage_ != nullptr) usage_->Record(grant.token_id, request.client_ip);

  // Steps 3-5.
  const policy::GrantView view{
      .token_id = grant.token_id,
      .plan_id = grant.plan_id,
      .kind = grant.kind,
      .scopes = grant.scope_span(),
      .all_resources = grant.all_resources,
      .resources = grant.resources,
  };
  RequestResolver resolver(directory_);
  const policy::DecisionInput input{
      .method = request.method,
      .target = target.target,
      .routes = &routes_,
      .grant = &view,
      .resolver = &resolver,
      .api_kind = options_.api,
  };
  const policy::Decision decision = policy::Decide(input);
  AuthzResult result;
  if (!decision.allowed && decision.reason == Reason::kResourceNotAllowed &&
      resolver.failed()) {
    result = Unavailable(
        "the authority cannot be reached to resolve the "
        "request's resource");
  } else {
    result.reason = decision.reason;
    result.http_status = decision.http_status;
    result.endpoint = decision.endpoint;
    if (!decision.allowed) {
      result.message =
          policy::DecisionMessage(decision.reason, decision.detail);
    }
  }
  result.token_id = grant.token_id;
  result.plan_id = grant.plan_id;
  return result;
}

}  // namespace pat::sidecar
