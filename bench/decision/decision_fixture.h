#ifndef PAT_BENCH_DECISION_DECISION_FIXTURE_H_
#define PAT_BENCH_DECISION_DECISION_FIXTURE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "common/policy/policy.h"
#include "common/policy/reason.h"
#include "common/policy/route_matcher.h"
#include "common/secret.h"
#include "sidecar/authorizer.h"
#include "sidecar/directory_cache.h"
#include "sidecar/grant_cache.h"
#include "sidecar/metrics.h"
#include "sidecar/pat_authorizer.h"
#include "sidecar/sidecar_server.h"
#include "sidecar/usage_reporter.h"

// The decision benchmark's world: the sidecar as production builds it
// (sidecar::SidecarServer::Create, the wiring of sidecar/main.cc: a
// PatAuthorizer over a GrantCache, a DirectoryCache, the built-in REST
// catalog, a MetricsRegistry, a UsageReporter and a gRPC AuthorityClient,
// here on a FakeClock, its proxy and admin servers on loopback port 0 and
// idle, the watcher not started), warmed up exactly the way the watcher does
// it after a WatchGrants snapshot, and the prepared requests of every
// benchmark case. The benchmark calls the server's authorizer directly.
//
// Contents (N = PAT_BENCH_GRANTS, default 100,000, the SPEC §8 size):
//  * a directory of plans, each a workspace -> 4 teams -> 4 projects per
//    team -> 8 files per project, with production-shaped ids (22-character
//    file keys, numeric team and project ids);
//  * N grants, one GenerateSecret() secret each, cached by its SHA-256:
//    per-case pools of up to kPoolSize tokens (allowed, revoked, expired,
//    npm, scope-poor, allow-listed) and filler of mixed shapes (all
//    resources or allow lists of a file, project or team; several scope
//    sets), spread over the plans;
//  * kPoolSize well-formed secrets that no token has, remembered as unknown
//    (GrantCache::PutUnknown, as after a ValidateToken "not found").
//
// The authority target is a Unix socket path where nothing listens (the
// server's gRPC client with 100 ms deadlines, so a call would fail fast):
// every request must be answered from memory. CheckNoAuthorityCalls()
// aborts if a cache miss or an authority RPC happened.
namespace pat::bench {

// Authorize() for a request decided from memory (every case here: warm
// caches, no authority): the callback runs inline and its result is
// returned. The callback captures one reference, so it is stored inline
// (no allocation on the measured path).
inline sidecar::AuthzResult DecideFromMemory(sidecar::Authorizer& authorizer,
                                             const sidecar::RequestView& view) {
  sidecar::AuthzResult out;
  authorizer.Authorize(view,
                       [&out](sidecar::AuthzResult r) { out = std::move(r); });
  return out;
}

// The benchmark cases of BM_Decision/<name>.
enum class Case {
  kAllowed,
  kTokenMissing,
  kTokenAmbiguous,
  kTokenMalformed,
  kTokenUnknown,
  kTokenRevoked,
  kTokenExpired,
  kTokenKindMismatch,
  kEndpointUnknown,
  kEndpointNotSupported,
  kScopeMissing,
  kResourceNotAllowed,
  kPathInvalid,
  kMix,  // kMixAllowedPercent % allowed, the rest spread over the denials
};
inline constexpr int kCaseCount = static_cast<int>(Case::kMix) + 1;
inline constexpr int kMixAllowedPercent = 80;

// "allowed", "token_missing", ..., "mix".
absl::string_view CaseName(Case c);

// The number of grants to cache: PAT_BENCH_GRANTS if set (an integer >= 12,
// else the program aborts with a message), otherwise 100,000.
size_t BenchGrantCount();

// One request as the HTTP front would hand it to Authorize(). The view's
// strings live in the fixture's arena (stable for the process lifetime).
struct PreparedRequest {
  sidecar::RequestView view;
  policy::Reason expected = policy::Reason::kAllowed;
};

// An allowed request reduced to what the component benchmarks need.
struct AllowedSample {
  absl::string_view secret;
  Digest digest{};
  absl::string_view target;
  absl::string_view file_key;
  std::shared_ptr<const sidecar::CachedToken> token;  // as cached
  policy::GrantView grant;                            // views into *token
};

class DecisionFixture {
 public:
  // Distinct tokens (or secrets) per case: enough that a case's working set
  // is not a single hot cache line, few enough to stay a realistic hot set.
  static constexpr size_t kPoolSize = 256;

  // The process-wide fixture, built on first use (about a second for 100,000
  // grants) and deliberately never destroyed: destroying the server would
  // flush usage to the unreachable authority at exit.
  static DecisionFixture& Get();

  DecisionFixture(const DecisionFixture&) = delete;
  DecisionFixture& operator=(const DecisionFixture&) = delete;

  sidecar::PatAuthorizer& authorizer() { return server_->authorizer(); }
  const std::vector<PreparedRequest>& requests(Case c) const {
    return requests_[static_cast<int>(c)];
  }
  const std::vector<AllowedSample>& allowed_samples() const {
    return allowed_samples_;
  }
  // Every cached digest, in a fixed pseudo-random order.
  const std::vector<Digest>& all_digests() const { return all_digests_; }

  sidecar::GrantCache& grants() { return server_->grants(); }
  sidecar::DirectoryCache& directory() { return server_->directory(); }
  sidecar::UsageReporter* usage() { return &server_->usage(); }
  FakeClock& clock() { return clock_; }
  // A second copy of the built-in REST catalog (the authorizer owns its own).
  const policy::RouteMatcher& routes() const { return *routes_; }
  size_t grant_count() const { return grant_count_; }

  // Aborts with a message naming `where` if any lookup missed the grant
  // cache or any RPC went to the authority since the fixture was built.
  void CheckNoAuthorityCalls(absl::string_view where) const;

 private:
  DecisionFixture();

  // Copies `s` into the arena and returns a stable view of it.
  absl::string_view Keep(std::string s);
  void BuildWorld();
  void PrepareCases();
  // Authorizes every prepared request once and aborts on any unexpected
  // reason (a benchmark of the wrong branch is a defect).
  void VerifyCases();

  FakeClock clock_;
  std::unique_ptr<sidecar::SidecarServer> server_;
  std::unique_ptr<policy::RouteMatcher> routes_;

  sidecar::Counter* cache_misses_ = nullptr;
  sidecar::Counter* cache_hits_ = nullptr;
  std::vector<sidecar::Counter*> rpc_counters_;

  size_t grant_count_ = 0;
  std::deque<std::string> arena_;

  // Tokens of one kind kept for the cases (BuildWorld -> PrepareCases).
  enum Pool {
    kPoolAllowed,      // active REST, may read `file_ok`
    kPoolRevoked,      // revoked REST
    kPoolExpired,      // REST, status active, expire_time before the clock
    kPoolNpm,          // active npm
    kPoolScopePoor,    // active REST, file_metadata:read only
    kPoolAllowListed,  // active REST allow list; `file_denied` is outside it
    kPoolCount,
  };
  struct PoolToken {
    absl::string_view secret;
    absl::string_view file_ok;      // a file key the token may read
    absl::string_view file_denied;  // a file key it may not (allow lists)
  };
  std::array<std::vector<PoolToken>, kPoolCount> pools_;
  std::vector<absl::string_view> unknown_secrets_;

  std::array<std::vector<PreparedRequest>, kCaseCount> requests_;
  std::vector<AllowedSample> allowed_samples_;
  std::vector<Digest> all_digests_;
};

}  // namespace pat::bench

#endif  // PAT_BENCH_DECISION_DECISION_FIXTURE_H_
