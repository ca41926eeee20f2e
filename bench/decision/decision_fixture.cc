#include "bench/decision/decision_fixture.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/domain.h"
#include "common/policy/path.h"
#include "sidecar/grpc_authority_client.h"
#include "sidecar/sidecar_config.h"

namespace pat::bench {
namespace {

using policy::Reason;
using sidecar::CacheLookup;
using sidecar::Grant;
using sidecar::GrantUpdate;
using sidecar::ScopeSet;
using sidecar::SecretState;

constexpr size_t kDefaultGrants = 100000;
constexpr size_t kMinGrants = 12;
// Directory shape per plan.
constexpr int kTeamsPerPlan = 4;
constexpr int kProjectsPerTeam = 4;
constexpr int kFilesPerProject = 8;
constexpr int kProjectsPerPlan = kTeamsPerPlan * kProjectsPerTeam;
constexpr int kFilesPerPlan = kProjectsPerPlan * kFilesPerProject;
// Grants per plan (so 100 plans for 100,000 grants).
constexpr size_t kGrantsPerPlan = 1000;
constexpr size_t kMixSize = 1000;
// The FakeClock's fixed "now" (2026-01-01T00:00:00Z).
const absl::Time kNow = absl::FromUnixSeconds(1767225600);

constexpr absl::string_view kClientIp = "203.0.113.7";
constexpr absl::string_view kRequestId = "0b9f6c1e-3d4a-4f0e-9a51-6c2d8e7f1a20";
// Nothing listens here (the directory does not exist): a call would fail.
constexpr absl::string_view kNoAuthority =
    "unix:/nonexistent/pat_decision_bench/no-authority.sock";

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "pat_decision_bench: %s\n", message.c_str());
  std::abort();
}

template <typename T>
T Check(absl::StatusOr<T> value, absl::string_view what) {
  if (!value.ok()) Die(absl::StrCat(what, ": ", value.status().ToString()));
  return *std::move(value);
}

// A decimal id of `digits` digits (no leading zero), like the vendor's team
// and project ids.
std::string NumericId(std::mt19937_64& rng, int digits) {
  std::string id;
  id.reserve(digits);
  id.push_back(static_cast<char>('1' + rng() % 9));
  for (int i = 1; i < digits; ++i) {
    id.push_back(static_cast<char>('0' + rng() % 10));
  }
  return id;
}

ScopeSet Scopes(std::initializer_list<const char*> names) {
  std::vector<std::string> v(names.begin(), names.end());
  std::sort(v.begin(), v.end());
  return std::make_shared<const std::vector<std::string>>(std::move(v));
}

// A copy of `secret` whose checksum no longer matches.
std::string BadChecksum(absl::string_view secret) {
  std::string s(secret);
  s.back() = s.back() == 'A' ? 'B' : 'A';
  return s;
}

// One plan's directory: views into the fixture's arena.
struct PlanDir {
  absl::string_view plan_id;
  absl::string_view workspace_id;
  std::vector<absl::string_view> team_ids;     // kTeamsPerPlan
  std::vector<absl::string_view> project_ids;  // team * kProjectsPerTeam + j
  std::vector<absl::string_view> file_keys;    // project * kFilesPerProject + k

  // Index helpers: project p belongs to team p / kProjectsPerTeam, file f to
  // project f / kFilesPerProject.
  static int TeamOfProject(int project) { return project / kProjectsPerTeam; }
  static int ProjectOfFile(int file) { return file / kFilesPerProject; }
};

}  // namespace

absl::string_view CaseName(Case c) {
  switch (c) {
    case Case::kAllowed:
      return "allowed";
    case Case::kTokenMissing:
      return "token_missing";
    case Case::kTokenAmbiguous:
      return "token_ambiguous";
    case Case::kTokenMalformed:
      return "token_malformed";
    case Case::kTokenUnknown:
      return "token_unknown";
    case Case::kTokenRevoked:
      return "token_revoked";
    case Case::kTokenExpired:
      return "token_expired";
    case Case::kTokenKindMismatch:
      return "token_kind_mismatch";
    case Case::kEndpointUnknown:
      return "endpoint_unknown";
    case Case::kEndpointNotSupported:
      return "endpoint_not_supported";
    case Case::kScopeMissing:
      return "scope_missing";
    case Case::kResourceNotAllowed:
      return "resource_not_allowed";
    case Case::kPathInvalid:
      return "path_invalid";
    case Case::kMix:
      return "mix";
  }
  return "?";
}

size_t BenchGrantCount() {
  const char* env = std::getenv("PAT_BENCH_GRANTS");
  if (env == nullptr || *env == '\0') return kDefaultGrants;
  uint64_t n = 0;
  if (!absl::SimpleAtoi(env, &n) || n < kMinGrants) {
    Die(absl::StrCat("PAT_BENCH_GRANTS must be an integer >= ", kMinGrants));
  }
  return static_cast<size_t>(n);
}

DecisionFixture& DecisionFixture::Get() {
  // Leaked on purpose (see the header).
  static DecisionFixture* const fixture = new DecisionFixture();
  return *fixture;
}

DecisionFixture::DecisionFixture() : clock_(kNow) {
  const absl::Time setup_start = absl::Now();
  grant_count_ = BenchGrantCount();

  // The sidecar as sidecar/main.cc builds it, on the fixture's clock.
  sidecar::SidecarConfig raw;
  raw.listen = "127.0.0.1:0";
  raw.admin_listen = "127.0.0.1:0";
  // Never contacted: the benchmark calls the authorizer, not the proxy.
  raw.upstream = "http://127.0.0.1:9";
  raw.authority = std::string(kNoAuthority);
  raw.insecure = true;
  raw.api = "rest";
  raw.staleness_bound = absl::Seconds(30);
  raw.workers = 1;  // idle; one thread is enough
  raw.access_log = false;
  const sidecar::SidecarConfig config = Check(
      sidecar::ValidateSidecarConfig(std::move(raw)), "ValidateSidecarConfig");

  sidecar::SidecarDeps deps{.clock = clock_};
  // Should a call happen anyway, fail fast (the check below reports it).
  sidecar::AuthorityClientConfig client_config;
  client_config.target = config.authority;
  client_config.insecure = true;
  client_config.rpc_timeout = absl::Milliseconds(100);
  client_config.report_timeout = absl::Milliseconds(100);
  deps.authority_client_factory =
      [client_config](sidecar::MetricsRegistry& metrics) {
        return sidecar::GrpcAuthorityClient::Create(client_config, metrics);
      };
  // The real reporter, without its flush thread: the thread would call
  // ReportUsage on the unreachable authority every flush_interval, and
  // nothing would be gained, since Record() never waits for a flush. With
  // flush_records = max_records the pending set (at most a few hundred
  // tokens here) never asks for an early flush either, so Record() is in
  // the steady state of production between two flushes: one shard lock and
  // an update in place.
  deps.usage.start_thread = false;
  deps.usage.flush_records = deps.usage.max_records;
  // The snapshot is applied by BuildWorld() below, as the watcher would;
  // a started watcher would call WatchGrants on the unreachable authority.
  deps.start_watcher = false;
  server_ = Check(sidecar::SidecarServer::Create(config, std::move(deps)),
                  "SidecarServer::Create");
  routes_ = std::make_unique<policy::RouteMatcher>(
      Check(policy::RouteMatcher::Default(TokenKind::kRestApi),
            "RouteMatcher::Default"));

  // The families exist already (created by the objects above); the help
  // text is only used for new families.
  sidecar::MetricsRegistry& metrics = server_->metrics();
  cache_misses_ = &metrics.GetCounter("pat_sidecar_cache_misses_total", "");
  cache_hits_ = &metrics.GetCounter("pat_sidecar_cache_hits_total", "");
  for (const char* method :
       {"ValidateToken", "ResolveResource", "ReportUsage", "WatchGrants"}) {
    rpc_counters_.push_back(&metrics.GetCounter(
        "pat_sidecar_authority_rpcs_total", "", {{"method", method}}));
  }

  BuildWorld();
  PrepareCases();
  VerifyCases();
  CheckNoAuthorityCalls("setup");
  std::fprintf(stderr,
               "pat_decision_bench: %zu grants (%zu digests cached, %zu "
               "unknown), %zu resources, built in %.2f s (%llu cache hits "
               "while verifying)\n",
               grant_count_, grants().size(), grants().negative_size(),
               directory().size(),
               absl::ToDoubleSeconds(absl::Now() - setup_start),
               static_cast<unsigned long long>(cache_hits_->value()));
}

absl::string_view DecisionFixture::Keep(std::string s) {
  arena_.push_back(std::move(s));
  return arena_.back();
}

void DecisionFixture::CheckNoAuthorityCalls(absl::string_view where) const {
  uint64_t rpcs = 0;
  for (const sidecar::Counter* c : rpc_counters_) rpcs += c->value();
  const uint64_t misses = cache_misses_->value();
  if (misses != 0 || rpcs != 0) {
    Die(absl::StrCat(
        "after ", where, ": ", misses, " grant cache misses and ", rpcs,
        " authority RPCs; the cache must be warm and the authority never "
        "asked (a benchmark that measures RPC failures is a defect)"));
  }
}

void DecisionFixture::BuildWorld() {
  std::mt19937_64 rng(20260101);
  const size_t plan_count = std::max<size_t>(2, grant_count_ / kGrantsPerPlan);
  const absl::Time now = clock_.Now();
  const absl::Time valid_until = now + absl::Hours(24 * 90);

  // As the watcher does for a WatchGrants snapshot: BeginSnapshot, apply
  // every event, FinishSnapshot, MarkSynced on the synced marker, Touch on
  // every message.
  grants().BeginSnapshot();
  directory().BeginSnapshot();

  // --- Directory ---
  std::vector<PlanDir> plans(plan_count);
  for (PlanDir& plan : plans) {
    plan.plan_id = Keep(absl::StrCat("plan_", NumericId(rng, 19)));
    plan.workspace_id = Keep(NumericId(rng, 19));
    const std::string plan_id(plan.plan_id);
    directory().Upsert(Resource{plan_id, ResourceKind::kWorkspace,
                                std::string(plan.workspace_id),
                                ResourceKind::kUnspecified, "", "workspace"});
    for (int t = 0; t < kTeamsPerPlan; ++t) {
      plan.team_ids.push_back(Keep(NumericId(rng, 19)));
      directory().Upsert(Resource{
          plan_id, ResourceKind::kTeam, std::string(plan.team_ids.back()),
          ResourceKind::kWorkspace, std::string(plan.workspace_id), "team"});
    }
    for (int p = 0; p < kProjectsPerPlan; ++p) {
      plan.project_ids.push_back(Keep(NumericId(rng, 9)));
      directory().Upsert(Resource{
          plan_id, ResourceKind::kProject, std::string(plan.project_ids.back()),
          ResourceKind::kTeam,
          std::string(plan.team_ids[PlanDir::TeamOfProject(p)]), "project"});
    }
    for (int f = 0; f < kFilesPerPlan; ++f) {
      plan.file_keys.push_back(Keep(RandomBase62(22)));
      directory().Upsert(Resource{
          plan_id, ResourceKind::kFile, std::string(plan.file_keys.back()),
          ResourceKind::kProject,
          std::string(plan.project_ids[PlanDir::ProjectOfFile(f)]), "file"});
    }
  }

  // --- Grants ---
  const ScopeSet content = Scopes({"file_content:read"});
  const ScopeSet content_meta =
      Scopes({"file_content:read", "file_metadata:read"});
  const ScopeSet legacy = Scopes({"files:read"});
  const ScopeSet many =
      Scopes({"file_comments:read", "file_content:read", "file_metadata:read",
              "file_versions:read", "library_content:read", "projects:read"});
  const ScopeSet meta_only = Scopes({"file_metadata:read"});
  const ScopeSet npm_read = Scopes({"packages:read"});
  const ScopeSet readers[] = {content, content_meta, legacy, many};

  all_digests_.reserve(grant_count_);
  // Adds one token with one fresh secret; returns the secret (kept in the
  // arena only when `keep`).
  auto add = [&](const PlanDir& plan, TokenKind kind, TokenStatus status,
                 absl::Time expire_time, const ScopeSet& scopes,
                 std::vector<TokenResource> resources,
                 bool keep) -> absl::string_view {
    GrantUpdate update;
    Grant& g = update.grant;
    g.token_id = absl::StrCat("tok_", RandomBase62(22));
    g.plan_id = std::string(plan.plan_id);
    g.kind = kind;
    g.status = status;
    g.all_resources = resources.empty();
    g.scopes = scopes;
    g.resources = std::move(resources);
    g.expire_time = expire_time;
    if (status == TokenStatus::kRevoked) g.revoke_time = now - absl::Hours(1);
    std::string secret = GenerateSecret(kind);
    const Digest digest = Sha256(secret);
    update.secrets.push_back(SecretState{digest, expire_time});
    grants().Apply(std::move(update));
    all_digests_.push_back(digest);
    return keep ? Keep(std::move(secret)) : absl::string_view();
  };
  auto random_file = [&](const PlanDir& plan) {
    return plan.file_keys[rng() % kFilesPerPlan];
  };

  const size_t pool_size =
      std::clamp<size_t>(grant_count_ / (2 * kPoolCount), size_t{1}, kPoolSize);
  for (size_t j = 0; j < pool_size; ++j) {
    const PlanDir& plan = plans[j % plan_count];
    const int project = static_cast<int>(rng() % kProjectsPerPlan);
    const int team = PlanDir::TeamOfProject(project);
    const int file_in_project =
        project * kFilesPerProject + static_cast<int>(rng() % kFilesPerProject);
    const ScopeSet& reader = readers[j % 4];

    // Allowed: a quarter each of all-resources, file, project and team
    // allow lists; the file read is inside what the token names.
    PoolToken allowed;
    allowed.file_ok = plan.file_keys[file_in_project];
    std::vector<TokenResource> list;
    switch (j % 4) {
      case 0:
        allowed.file_ok = random_file(plan);
        break;
      case 1:
        list.push_back({ResourceKind::kFile,
                        std::string(plan.file_keys[file_in_project]), ""});
        break;
      case 2:
        list.push_back({ResourceKind::kProject,
                        std::string(plan.project_ids[project]), ""});
        break;
      case 3:
        list.push_back(
            {ResourceKind::kTeam, std::string(plan.team_ids[team]), ""});
        break;
    }
    allowed.secret = add(plan, TokenKind::kRestApi, TokenStatus::kActive,
                         valid_until, reader, std::move(list), true);
    pools_[kPoolAllowed].push_back(allowed);

    PoolToken revoked;
    revoked.file_ok = random_file(plan);
    revoked.secret = add(plan, TokenKind::kRestApi, TokenStatus::kRevoked,
                         valid_until, reader, {}, true);
    pools_[kPoolRevoked].push_back(revoked);

    // Expired by the clock alone: the authority still says "active".
    PoolToken expired;
    expired.file_ok = random_file(plan);
    expired.secret = add(plan, TokenKind::kRestApi, TokenStatus::kActive,
                         now - absl::Hours(1), reader, {}, true);
    pools_[kPoolExpired].push_back(expired);

    PoolToken npm;
    npm.file_ok = random_file(plan);
    npm.secret = add(plan, TokenKind::kNpmRegistry, TokenStatus::kActive,
                     valid_until, npm_read, {}, true);
    pools_[kPoolNpm].push_back(npm);

    PoolToken scope_poor;
    scope_poor.file_ok = random_file(plan);
    scope_poor.secret = add(plan, TokenKind::kRestApi, TokenStatus::kActive,
                            valid_until, meta_only, {}, true);
    pools_[kPoolScopePoor].push_back(scope_poor);

    // Allow list of one project; the denied file is in another project of
    // the same plan (the whole ancestor chain is compared) or, for odd j,
    // in another plan (denied on the plan check).
    PoolToken listed;
    listed.file_ok = plan.file_keys[file_in_project];
    const int other_project =
        (project + 1 + static_cast<int>(rng() % 15)) % kProjectsPerPlan;
    listed.file_denied =
        j % 2 == 0 ? plan.file_keys[other_project * kFilesPerProject +
                                    static_cast<int>(rng() % kFilesPerProject)]
                   : random_file(plans[(j + 1) % plan_count]);
    listed.secret = add(
        plan, TokenKind::kRestApi, TokenStatus::kActive, valid_until, content,
        {{ResourceKind::kProject, std::string(plan.project_ids[project]), ""}},
        true);
    pools_[kPoolAllowListed].push_back(listed);
  }

  // Filler up to grant_count_: mostly usable REST tokens, half of them
  // all-resources, the rest allow lists, npm tokens, revoked and expired.
  const size_t pooled = pool_size * kPoolCount;
  for (size_t i = pooled; i < grant_count_; ++i) {
    const PlanDir& plan = plans[rng() % plan_count];
    const int project = static_cast<int>(rng() % kProjectsPerPlan);
    const ScopeSet& reader = readers[rng() % 4];
    switch (i % 10) {
      case 0:
      case 1:
      case 2:
      case 3:
      case 4:
        add(plan, TokenKind::kRestApi, TokenStatus::kActive, valid_until,
            reader, {}, false);
        break;
      case 5:
        add(plan, TokenKind::kRestApi, TokenStatus::kActive, valid_until,
            reader,
            {{ResourceKind::kFile, std::string(random_file(plan)), ""},
             {ResourceKind::kFile, std::string(random_file(plan)), ""}},
            false);
        break;
      case 6:
        add(plan, TokenKind::kRestApi, TokenStatus::kActive, valid_until,
            reader,
            {{ResourceKind::kProject, std::string(plan.project_ids[project]),
              ""}},
            false);
        break;
      case 7:
        add(plan, TokenKind::kRestApi, TokenStatus::kActive, valid_until,
            reader,
            {{ResourceKind::kTeam,
              std::string(plan.team_ids[PlanDir::TeamOfProject(project)]), ""}},
            false);
        break;
      case 8:
        add(plan, TokenKind::kNpmRegistry, TokenStatus::kActive, valid_until,
            npm_read, {}, false);
        break;
      case 9:
        if (rng() % 2 == 0) {
          add(plan, TokenKind::kRestApi, TokenStatus::kRevoked, valid_until,
              reader, {}, false);
        } else {
          add(plan, TokenKind::kRestApi, TokenStatus::kActive,
              now - absl::Hours(24), reader, {}, false);
        }
        break;
    }
  }

  grants().FinishSnapshot();
  directory().FinishSnapshot();
  grants().Touch(clock_.Now());
  grants().MarkSynced();

  // Secrets no token has, remembered as unknown as after ValidateToken
  // answered "not found" (the clock never moves, so they never expire).
  for (size_t j = 0; j < pool_size; ++j) {
    const absl::string_view secret = Keep(GenerateSecret(TokenKind::kRestApi));
    grants().PutUnknown(Sha256(secret), /*overwrite=*/false);
    unknown_secrets_.push_back(secret);
  }
  // A fixed random lookup order for BM_Component/cache_find_spread.
  std::shuffle(all_digests_.begin(), all_digests_.end(), rng);
}

void DecisionFixture::PrepareCases() {
  auto bearer = [&](absl::string_view secret) {
    return Keep(absl::StrCat("Bearer ", secret));
  };
  auto file_target = [&](absl::string_view key, absl::string_view suffix = {}) {
    return Keep(absl::StrCat("/v1/files/", key, suffix));
  };
  auto add = [&](Case c, absl::string_view method, absl::string_view target,
                 std::vector<std::pair<absl::string_view, absl::string_view>>
                     credentials,
                 Reason expected) {
    PreparedRequest r;
    r.view.method = method;
    r.view.target = target;
    r.view.credentials = std::move(credentials);
    r.view.client_ip = kClientIp;
    r.view.request_id = kRequestId;
    r.expected = expected;
    requests_[static_cast<int>(c)].push_back(std::move(r));
  };
  constexpr absl::string_view kAuthorization = "authorization";
  constexpr absl::string_view kFigmaToken = "x-figma-token";

  const std::vector<PoolToken>& allowed = pools_[kPoolAllowed];
  for (size_t j = 0; j < allowed.size(); ++j) {
    const PoolToken& t = allowed[j];
    const absl::string_view header = bearer(t.secret);
    const absl::string_view target = file_target(t.file_ok);
    add(Case::kAllowed, "GET", target, {{kAuthorization, header}},
        Reason::kAllowed);
    add(Case::kTokenMissing, "GET", target, {}, Reason::kTokenMissing);
    if (j % 2 == 0) {
      add(Case::kTokenAmbiguous, "GET", target,
          {{kAuthorization, header}, {kFigmaToken, t.secret}},
          Reason::kTokenAmbiguous);
    } else {
      const PoolToken& other = allowed[(j + 1) % allowed.size()];
      add(Case::kTokenAmbiguous, "GET", target,
          {{kAuthorization, Keep(absl::StrCat("Bearer ", t.secret, ", Bearer ",
                                              other.secret))}},
          Reason::kTokenAmbiguous);
    }
    add(Case::kTokenMalformed, "GET", target,
        {{kAuthorization, bearer(BadChecksum(t.secret))}},
        Reason::kTokenMalformed);

    // Steps 3-5 with a usable token.
    switch (j % 4) {
      case 0:  // a path under a catalog prefix that no route spells
        add(Case::kEndpointUnknown, "GET", file_target(t.file_ok, "/history"),
            {{kAuthorization, header}}, Reason::kEndpointUnknown);
        break;
      case 1:  // a /v1 path the catalog does not know at all
        add(Case::kEndpointUnknown, "GET", "/v1/widgets",
            {{kAuthorization, header}}, Reason::kEndpointUnknown);
        break;
      case 2:  // a catalog path with a method it is not listed for
        add(Case::kEndpointUnknown, "PUT", target, {{kAuthorization, header}},
            Reason::kEndpointUnknown);
        break;
      case 3:  // another API version
        add(Case::kEndpointUnknown, "GET",
            Keep(absl::StrCat("/v2/files/", t.file_ok)),
            {{kAuthorization, header}}, Reason::kEndpointUnknown);
        break;
    }
    // In the catalog, not for plan tokens (excluded endpoints, write scopes
    // plan tokens may not hold, personal/OAuth-only endpoints).
    switch (j % 4) {
      case 0:
        add(Case::kEndpointNotSupported, "GET", "/v1/me",
            {{kAuthorization, header}}, Reason::kEndpointNotSupported);
        break;
      case 1:
        add(Case::kEndpointNotSupported, "GET", "/v1/oembed",
            {{kAuthorization, header}}, Reason::kEndpointNotSupported);
        break;
      case 2:
        add(Case::kEndpointNotSupported, "POST",
            file_target(t.file_ok, "/comments"), {{kAuthorization, header}},
            Reason::kEndpointNotSupported);
        break;
      case 3:
        add(Case::kEndpointNotSupported, "GET", "/v1/payments",
            {{kAuthorization, header}}, Reason::kEndpointNotSupported);
        break;
    }
    // Non-canonical targets, refused before the credential is looked at.
    static constexpr absl::string_view kInvalid[] = {
        "/v1/files/../me",  "/v1/files/%2e%2e/me", "/v1/files/%2E%2E/me",
        "/v1//files/KEY",   "/v1/files/KEY/",      "/v1/files/KEY;v=1",
        "/v1/files/%2FKEY", "/v1/files/.",
    };
    add(Case::kPathInvalid, "GET", kInvalid[j % std::size(kInvalid)],
        {{kAuthorization, header}}, Reason::kPathInvalid);

    AllowedSample sample;
    sample.secret = t.secret;
    sample.digest = Sha256(t.secret);
    sample.target = target;
    sample.file_key = t.file_ok;
    const CacheLookup lookup = grants().Find(sample.digest);
    if (lookup.kind != CacheLookup::Kind::kFound) Die("allowed token not held");
    sample.token = lookup.entry.token;
    const Grant& g = sample.token->grant;
    sample.grant = policy::GrantView{
        .token_id = g.token_id,
        .plan_id = g.plan_id,
        .kind = g.kind,
        .scopes = g.scope_span(),
        .all_resources = g.all_resources,
        .resources = g.resources,
    };
    allowed_samples_.push_back(std::move(sample));
  }

  for (size_t j = 0; j < unknown_secrets_.size(); ++j) {
    add(Case::kTokenUnknown, "GET",
        file_target(allowed[j % allowed.size()].file_ok),
        {{kAuthorization, bearer(unknown_secrets_[j])}}, Reason::kTokenUnknown);
  }
  for (const PoolToken& t : pools_[kPoolRevoked]) {
    add(Case::kTokenRevoked, "GET", file_target(t.file_ok),
        {{kAuthorization, bearer(t.secret)}}, Reason::kTokenRevoked);
  }
  for (const PoolToken& t : pools_[kPoolExpired]) {
    add(Case::kTokenExpired, "GET", file_target(t.file_ok),
        {{kAuthorization, bearer(t.secret)}}, Reason::kTokenExpired);
  }
  for (const PoolToken& t : pools_[kPoolNpm]) {
    add(Case::kTokenKindMismatch, "GET", file_target(t.file_ok),
        {{kAuthorization, bearer(t.secret)}}, Reason::kTokenKindMismatch);
  }
  for (const PoolToken& t : pools_[kPoolScopePoor]) {
    add(Case::kScopeMissing, "GET", file_target(t.file_ok),
        {{kAuthorization, bearer(t.secret)}}, Reason::kScopeMissing);
  }
  for (const PoolToken& t : pools_[kPoolAllowListed]) {
    add(Case::kResourceNotAllowed, "GET", file_target(t.file_denied),
        {{kAuthorization, bearer(t.secret)}}, Reason::kResourceNotAllowed);
  }

  // The mix: kMixAllowedPercent % allowed, the rest round-robin over the
  // denial cases, in a fixed shuffled order.
  std::vector<PreparedRequest>& mix = requests_[static_cast<int>(Case::kMix)];
  const size_t allowed_count = kMixSize * kMixAllowedPercent / 100;
  for (size_t i = 0; i < allowed_count; ++i) {
    const std::vector<PreparedRequest>& from = requests(Case::kAllowed);
    mix.push_back(from[i % from.size()]);
  }
  constexpr int kFirstDenial = static_cast<int>(Case::kTokenMissing);
  constexpr int kDenials = static_cast<int>(Case::kMix) - kFirstDenial;
  for (size_t i = 0; allowed_count + i < kMixSize; ++i) {
    const std::vector<PreparedRequest>& from = requests(
        static_cast<Case>(kFirstDenial + static_cast<int>(i) % kDenials));
    mix.push_back(from[(i / kDenials) % from.size()]);
  }
  std::mt19937_64 rng(7);
  std::shuffle(mix.begin(), mix.end(), rng);
}

void DecisionFixture::VerifyCases() {
  for (int c = 0; c < kCaseCount; ++c) {
    const std::vector<PreparedRequest>& list = requests_[c];
    if (list.empty()) {
      Die(absl::StrCat("case ", CaseName(static_cast<Case>(c)),
                       " has no requests"));
    }
    for (size_t i = 0; i < list.size(); ++i) {
      const PreparedRequest& r = list[i];
      const sidecar::AuthzResult result =
          DecideFromMemory(authorizer(), r.view);
      const bool want_allowed = r.expected == Reason::kAllowed;
      if (result.reason != r.expected ||
          result.http_status != policy::ReasonHttpStatus(r.expected) ||
          result.allowed() != want_allowed) {
        // Method and target only: never a credential.
        Die(absl::StrCat("case ", CaseName(static_cast<Case>(c)), " request ",
                         i, " (", r.view.method, " ", r.view.target,
                         "): expected ", policy::ReasonCode(r.expected),
                         ", got ", policy::ReasonCode(result.reason), " (",
                         result.http_status, "): ", result.message));
      }
    }
  }
}

}  // namespace pat::bench
