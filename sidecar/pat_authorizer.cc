#include "sidecar/pat_authorizer.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/policy/path.h"
#include "common/policy/policy.h"
#include "common/policy/reason.h"
#include "common/secret.h"
#include "sidecar/usage_facts.h"

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

AuthzResult RateLimited() {
  AuthzResult result = Result(Reason::kRateLimited,
                              "too many requests from this client are "
                              "waiting on the authority");
  result.retry_after_seconds = 1;
  return result;
}

}  // namespace

// One request past step 2's offline part. Views point into the front's
// request, valid until `done` has run.
struct PatAuthorizer::Pending {
  using Key = std::pair<ResourceKind, std::string>;

  absl::string_view method;
  policy::Target target;
  absl::string_view client_ip;
  // The buffered JSON body (RequestView::body), for body-resource rows.
  absl::string_view body;
  bool has_body = false;
  AuthorizeCallback done;
  MissLimiter::Permit permit;  // held while waiting on the authority
  bool stale = false;
  CacheEntry held;
  // Remote resource answers (stale only), in the order they were asked.
  std::vector<std::pair<Key, DirectoryCache::RemoteAnswer>> answers;
  int lookups = 0;

  // Runs `done` once, after giving back the permit.
  void Answer(AuthzResult result) {
    permit.Release();
    std::move(done)(std::move(result));
  }
};

namespace {

// Resolves resources for one run of Decide: from the directory's memory
// copy while fresh; while stale from the authority's answers gathered for
// this request, recording the first resource still to be asked for.
class RequestResolver final : public policy::ResourceResolver {
 public:
  RequestResolver(const DirectoryCache& directory,
                  const PatAuthorizer::Pending& pending)
      : directory_(directory), pending_(pending) {}

  std::optional<policy::ResolvedResource> Resolve(
      ResourceKind kind, absl::string_view id) const override {
    if (!pending_.stale) return directory_.Resolve(kind, id);
    for (const auto& [key, answer] : pending_.answers) {
      if (key.first != kind || key.second != id) continue;
      if (!answer.ok()) {
        failed_ = true;
        return std::nullopt;
      }
      return *answer;
    }
    if (!missing_.has_value()) missing_.emplace(kind, std::string(id));
    return std::nullopt;
  }
  // An answer said the authority could not be asked.
  bool failed() const { return failed_; }
  // A resource to ask the authority about before deciding.
  const std::optional<PatAuthorizer::Pending::Key>& missing() const {
    return missing_;
  }

 private:
  const DirectoryCache& directory_;
  const PatAuthorizer::Pending& pending_;
  mutable bool failed_ = false;
  mutable std::optional<PatAuthorizer::Pending::Key> missing_;
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
  if (options.miss_limits.max_pending == 0 ||
      options.miss_limits.max_pending_per_client == 0) {
    return absl::InvalidArgumentError(
        "--max_pending_lookups / --max_pending_lookups_per_client: must be "
        "positive");
  }
  if (options.max_resource_lookups <= 0) {
    return absl::InvalidArgumentError("max_resource_lookups: must be positive");
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
      limiter_(options.miss_limits, metrics),
      flights_(options.miss_limits.max_pending) {}

PatAuthorizer::~PatAuthorizer() = default;

bool PatAuthorizer::Ready() const {
  return !grants_.Stale(clock_.Now(), options_.staleness_bound);
}

bool PatAuthorizer::WantsBody(absl::string_view method,
                              absl::string_view target) const {
  return policy::NeedsBody(routes_, method, target,
                           policy::PathModeFor(options_.api));
}

void PatAuthorizer::Authorize(const RequestView& request,
                              AuthorizeCallback done) {
  // Step 1: the request-target, before anything else.
  const policy::TargetCheck target =
      policy::CheckTarget(request.target, policy::PathModeFor(options_.api));
  if (!target.ok()) {
    std::move(done)(Result(target.reason, target.detail));
    return;
  }
  // Step 2, offline: exactly one well-formed credential.
  const internal::CredentialCheck credential =
      internal::ExtractCredential(request.credentials);
  if (credential.reason != Reason::kAllowed) {
    std::move(done)(Result(credential.reason));
    return;
  }
  // Step 2, with the authority's data.
  if (!grants_.synced()) {
    std::move(done)(
        Unavailable("the sidecar has not synced with the authority yet"));
    return;
  }
  const Digest digest = Sha256(credential.secret);
  const absl::Time now = clock_.Now();

  Pending pending;
  pending.method = request.method;
  pending.target = target.target;
  pending.client_ip = request.client_ip;
  pending.body = request.body;
  pending.has_body = request.has_body;
  pending.done = std::move(done);
  pending.stale = grants_.Stale(now, options_.staleness_bound);

  const CacheLookup lookup = grants_.Find(digest);
  bool need_authority = false;
  switch (lookup.kind) {
    case CacheLookup::Kind::kFound: {
      pending.held = lookup.entry;
      // While stale, only denials that cannot be undone skip the authority.
      const Grant& g = pending.held.token->grant;
      const bool final_denial = g.status == TokenStatus::kRevoked ||
                                g.status == TokenStatus::kExpired ||
                                now >= g.expire_time ||
                                now >= pending.held.secret_expire_time;
      need_authority = pending.stale && !final_denial;
      break;
    }
    case CacheLookup::Kind::kUnknown:
      need_authority = pending.stale;
      break;
    case CacheLookup::Kind::kMiss:
      need_authority = true;
      break;
  }
  if (!need_authority) {
    Continue(std::move(pending));
    return;
  }
  if (!EnsurePermit(pending)) return;
  if (pending.stale) revalidations_.Inc();
  FetchGrant(digest, /*overwrite=*/pending.stale, std::move(pending));
}

bool PatAuthorizer::EnsurePermit(Pending& pending) {
  if (pending.permit.held()) return true;
  MissLimiter::Refusal refusal = MissLimiter::Refusal::kNone;
  pending.permit = limiter_.Acquire(pending.client_ip, &refusal);
  if (pending.permit.held()) return true;
  pending.Answer(refusal == MissLimiter::Refusal::kClient
                     ? RateLimited()
                     : Unavailable("too many requests are waiting on the "
                                   "authority"));
  return false;
}

void PatAuthorizer::FetchGrant(const Digest& digest, bool overwrite,
                               Pending pending) {
  GrantFlights::Callback waiter =
      [this, p = std::move(pending)](const Fetched& fetched) mutable {
        if (!fetched.ok()) {
          p.Answer(Unavailable(p.stale ? "the authority cannot be reached "
                                         "and the cached grants are stale"
                                       : "the authority cannot be reached"));
          return;
        }
        p.held = *fetched;
        Continue(std::move(p));
      };
  const GrantFlights::Joined joined = flights_.Join(
      digest, waiter, [&] { Ask(digest, overwrite, /*attempt=*/1); });
  switch (joined) {
    case GrantFlights::Joined::kStarted:
      break;
    case GrantFlights::Joined::kShared:
      validate_shared_.Inc();
      break;
    case GrantFlights::Joined::kFull:
      std::move(waiter)(Fetched(absl::UnavailableError("too many waiters")));
      break;
  }
}

void PatAuthorizer::Ask(const Digest& digest, bool overwrite, int attempt) {
  client_.ValidateToken(digest, [this, digest, overwrite,
                                 attempt](absl::StatusOr<ValidateResult> a) {
    std::optional<Fetched> stored = Store(digest, std::move(a), overwrite);
    if (!stored.has_value()) {
      if (attempt < kAnswerAttempts) {
        Ask(digest, overwrite, attempt + 1);
        return;
      }
      stored = Fetched(absl::UnavailableError(
          "the authority's answers are older than the watch stream"));
    }
    flights_.Complete(digest, *std::move(stored));
  });
}

std::optional<PatAuthorizer::Fetched> PatAuthorizer::Store(
    const Digest& digest, absl::StatusOr<ValidateResult> answer,
    bool overwrite) {
  if (!answer.ok()) return Fetched(answer.status());
  ValidateAnswer put;
  put.found = answer->found;
  put.grant = std::move(answer->grant);
  put.secret_expire_time = answer->secret_expire_time;
  put.revision = answer->revision;
  std::optional<CacheEntry> held =
      grants_.PutAnswer(digest, std::move(put), overwrite);
  if (!held.has_value()) return std::nullopt;
  return Fetched(*std::move(held));
}

void PatAuthorizer::Continue(Pending pending) {
  if (pending.held.token == nullptr) {
    pending.Answer(Result(Reason::kTokenUnknown));
    return;
  }
  const Grant& grant = pending.held.token->grant;
  const absl::Time now = clock_.Now();
  TokenStatus status = grant.status;
  if (status == TokenStatus::kActive &&
      (now >= grant.expire_time || now >= pending.held.secret_expire_time)) {
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
    pending.Answer(std::move(result));
    return;
  }
  if (usage_ != nullptr) usage_->Record(grant.token_id, pending.client_ip);
  DecideResources(std::move(pending));
}

void PatAuthorizer::DecideResources(Pending pending) {
  // Keeps the grant alive while `pending` moves.
  const std::shared_ptr<const CachedToken> token = pending.held.token;
  const Grant& grant = token->grant;
  const policy::GrantView view{
      .token_id = grant.token_id,
      .plan_id = grant.plan_id,
      .kind = grant.kind,
      .scopes = grant.scope_span(),
      .all_resources = grant.all_resources,
      .resources = grant.resources,
  };
  RequestResolver resolver(directory_, pending);
  const policy::DecisionInput input{
      .method = pending.method,
      .target = pending.target,
      .routes = &routes_,
      .grant = &view,
      .resolver = &resolver,
      .api_kind = options_.api,
      .body = pending.body,
      .has_body = pending.has_body,
  };
  const policy::Decision decision = policy::Decide(input);
  if (resolver.missing().has_value()) {
    // Stale: ask the authority about the resource, then decide again.
    if (pending.lookups >= options_.max_resource_lookups) {
      pending.Answer(Unavailable("too many resources to resolve"));
      return;
    }
    if (!EnsurePermit(pending)) return;
    ++pending.lookups;
    Pending::Key key = *resolver.missing();
    const ResourceKind kind = key.first;
    const std::string id = key.second;
    directory_.ResolveRemote(
        kind, id,
        [this, key = std::move(key), p = std::move(pending)](
            const DirectoryCache::RemoteAnswer& answer) mutable {
          p.answers.emplace_back(std::move(key), answer);
          DecideResources(std::move(p));
        });
    return;
  }
  AuthzResult result;
  if (!decision.allowed && decision.reason == Reason::kResourceNotAllowed &&
      resolver.failed()) {
    result = Unavailable(
        "the authority cannot be reached to resolve the request's resource");
  } else {
    result.reason = decision.reason;
    result.http_status = decision.http_status;
    result.endpoint = decision.endpoint;
    if (decision.allowed && usage_ != nullptr) {
      std::optional<UsageCountRecord> facts = UsageFactsOf(decision, input);
      if (facts.has_value()) usage_->RecordAllowed(std::move(*facts));
    }
    if (!decision.allowed) {
      result.message =
          policy::DecisionMessage(decision.reason, decision.detail);
    }
  }
  result.token_id = grant.token_id;
  result.plan_id = grant.plan_id;
  pending.Answer(std::move(result));
}

}  // namespace pat::sidecar
