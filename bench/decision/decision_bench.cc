// pat_decision_bench: the sidecar's in-process decision path (SPEC §8:
// token shape + digest + cache lookup + route match + scope + resource,
// p50 <= 1 µs, p99 <= 3 µs), measured exactly as the proxy calls it:
// PatAuthorizer::Authorize(const RequestView&) over warm caches (see
// decision_fixture.h for the world it runs in).
//
// Benchmarks (scripts/bench parses these names):
//  BM_Decision/<case>                 one Authorize() per iteration, for each
//                                     case of decision_fixture.h and "mix";
//                                     counters p50_ns p99_ns p999_ns max_ns
//                                     (per-call latency, see latency.h) and
//                                     items_per_second
//  BM_Decision/allowed/real_time/threads:2
//                                     the allowed case on two threads (shard
//                                     reader locks, shared counters);
//                                     items_per_second is the total
//  BM_ClockOverhead                   two back-to-back timer reads: the bias
//                                     in every per-call sample (p50_ns)
//  BM_Component/<part>                the parts of the path on their own
//
// Usage: pat_decision_bench [Google Benchmark flags], e.g.
//   --benchmark_format=json --benchmark_out=x.json
//   --benchmark_min_time=0.1 --benchmark_filter='BM_Decision/.*'
// Environment: PAT_BENCH_GRANTS (default 100000).

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/decision/decision_fixture.h"
#include "bench/decision/latency.h"
#include "benchmark/benchmark.h"
#include "common/policy/path.h"
#include "common/policy/policy.h"
#include "common/secret.h"
#include "sidecar/pat_authorizer.h"

namespace pat::bench {
namespace {

// One Authorize() per iteration, rotating through the case's prepared
// requests (threads start at different offsets), each call timed on its own.
void BM_Decision(benchmark::State& state, Case c) {
  DecisionFixture& fixture = DecisionFixture::Get();
  const std::vector<PreparedRequest>& requests = fixture.requests(c);
  sidecar::PatAuthorizer& authorizer = fixture.authorizer();
  std::vector<uint32_t>& samples = PrepareSamples(state);
  const size_t n = requests.size();
  size_t i = static_cast<size_t>(state.thread_index()) * n /
             static_cast<size_t>(state.threads());
  for (auto _ : state) {
    const sidecar::RequestView& view = requests[i].view;
    if (++i == n) i = 0;
    const uint64_t begin = NowNanos();
    sidecar::AuthzResult result = DecideFromMemory(authorizer, view);
    const uint64_t end = NowNanos();
    benchmark::DoNotOptimize(result);
    samples.push_back(SampleOf(begin, end));
  }
  ReportLatency(state);
  if (state.thread_index() == 0) {
    fixture.CheckNoAuthorityCalls(absl::StrCat("BM_Decision/", CaseName(c)));
  }
}

void BM_ClockOverhead(benchmark::State& state) {
  std::vector<uint32_t>& samples = PrepareSamples(state);
  for (auto _ : state) {
    const uint64_t begin = NowNanos();
    const uint64_t end = NowNanos();
    samples.push_back(SampleOf(begin, end));
  }
  ReportLatency(state);
}

// --- Components: plain Google Benchmark timing (the parts are too short
// for per-call timestamps). Each rotates through the allowed pool.

// Runs `body(sample)` once per iteration over the allowed samples.
template <typename Body>
void ForEachAllowed(benchmark::State& state, Body body) {
  DecisionFixture& fixture = DecisionFixture::Get();
  const std::vector<AllowedSample>& samples = fixture.allowed_samples();
  size_t i = 0;
  for (auto _ : state) {
    body(samples[i]);
    if (++i == samples.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  fixture.CheckNoAuthorityCalls("BM_Component");
}

void BM_CheckTarget(benchmark::State& state) {
  ForEachAllowed(state, [](const AllowedSample& s) {
    benchmark::DoNotOptimize(policy::CheckTarget(s.target));
  });
}

void BM_ExtractCredential(benchmark::State& state) {
  const std::vector<PreparedRequest>& requests =
      DecisionFixture::Get().requests(Case::kAllowed);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        sidecar::internal::ExtractCredential(requests[i].view.credentials));
    if (++i == requests.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_ParseSecret(benchmark::State& state) {
  ForEachAllowed(state, [](const AllowedSample& s) {
    benchmark::DoNotOptimize(ParseSecret(s.secret));
  });
}

void BM_Sha256(benchmark::State& state) {
  ForEachAllowed(state, [](const AllowedSample& s) {
    benchmark::DoNotOptimize(Sha256(s.secret));
  });
}

void BM_CacheFind(benchmark::State& state) {
  sidecar::GrantCache& grants = DecisionFixture::Get().grants();
  ForEachAllowed(state, [&](const AllowedSample& s) {
    benchmark::DoNotOptimize(grants.Find(s.digest));
  });
}

// Every cached digest in random order: the CPU-cache-cold lookup.
void BM_CacheFindSpread(benchmark::State& state) {
  DecisionFixture& fixture = DecisionFixture::Get();
  const std::vector<Digest>& digests = fixture.all_digests();
  sidecar::GrantCache& grants = fixture.grants();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(grants.Find(digests[i]));
    if (++i == digests.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  fixture.CheckNoAuthorityCalls("BM_Component/cache_find_spread");
}

// `prefix` + file key + `suffix` against the full REST catalog.
void RouteMatch(benchmark::State& state, absl::string_view prefix,
                absl::string_view suffix) {
  DecisionFixture& fixture = DecisionFixture::Get();
  std::vector<std::string> paths;
  for (const AllowedSample& s : fixture.allowed_samples()) {
    paths.push_back(absl::StrCat(prefix, s.file_key, suffix));
  }
  const policy::RouteMatcher& routes = fixture.routes();
  if (routes.Match("GET", paths.front()).endpoint == nullptr) {
    std::fprintf(stderr, "pat_decision_bench: %s matches no route\n",
                 paths.front().c_str());
    std::abort();
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(routes.Match("GET", paths[i]));
    if (++i == paths.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

// Row 1 of the catalog (getFile).
void BM_RouteMatchStart(benchmark::State& state) {
  RouteMatch(state, "/v1/files/", "");
}

// Row 46, the deepest template near the end of the catalog
// (getLibraryAnalyticsVariableUsages).
void BM_RouteMatchEnd(benchmark::State& state) {
  RouteMatch(state, "/v1/analytics/libraries/", "/variable/usages");
}

void BM_DirectoryLookup(benchmark::State& state) {
  const sidecar::DirectoryCache& directory = DecisionFixture::Get().directory();
  ForEachAllowed(state, [&](const AllowedSample& s) {
    benchmark::DoNotOptimize(
        directory.Resolve(ResourceKind::kFile, s.file_key));
  });
}

// policy::Decide (steps 3-5) with the DirectoryCache as resolver, as
// Authorize calls it after the grant lookup.
void BM_PolicyDecide(benchmark::State& state) {
  DecisionFixture& fixture = DecisionFixture::Get();
  const std::vector<AllowedSample>& samples = fixture.allowed_samples();
  std::vector<policy::DecisionInput> inputs;
  for (const AllowedSample& s : samples) {
    const policy::TargetCheck check = policy::CheckTarget(s.target);
    inputs.push_back(policy::DecisionInput{
        .method = "GET",
        .target = check.target,
        .routes = &fixture.routes(),
        .grant = &s.grant,
        .resolver = &fixture.directory(),
        .api_kind = TokenKind::kRestApi,
    });
    if (!policy::Decide(inputs.back()).allowed) {
      std::fprintf(stderr, "pat_decision_bench: policy_decide denies\n");
      std::abort();
    }
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(policy::Decide(inputs[i]));
    if (++i == inputs.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  fixture.CheckNoAuthorityCalls("BM_Component/policy_decide");
}

void BM_UsageRecord(benchmark::State& state) {
  sidecar::UsageReporter& usage = *DecisionFixture::Get().usage();
  ForEachAllowed(state, [&](const AllowedSample& s) {
    usage.Record(s.grant.token_id, "203.0.113.7");
  });
}

// The FakeClock takes a mutex per Now(); Authorize reads the clock twice on
// the allowed path (its own Now and UsageReporter::Record). Production's
// RealClock is absl::Now (absl_now below).
void BM_FakeClockNow(benchmark::State& state) {
  const FakeClock& clock = DecisionFixture::Get().clock();
  for (auto _ : state) benchmark::DoNotOptimize(clock.Now());
  state.SetItemsProcessed(state.iterations());
}

void BM_AbslNow(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(absl::Now());
  state.SetItemsProcessed(state.iterations());
}

void RegisterAll() {
  for (int c = 0; c < kCaseCount; ++c) {
    const Case which = static_cast<Case>(c);
    const std::string name = absl::StrCat("BM_Decision/", CaseName(which));
    benchmark::RegisterBenchmark(name.c_str(), BM_Decision, which)
        ->Unit(benchmark::kNanosecond);
  }
  // Real time, so that items_per_second is the total over both threads.
  benchmark::RegisterBenchmark("BM_Decision/allowed", BM_Decision,
                               Case::kAllowed)
      ->Threads(2)
      ->UseRealTime()
      ->Unit(benchmark::kNanosecond);
  benchmark::RegisterBenchmark("BM_ClockOverhead", BM_ClockOverhead)
      ->Unit(benchmark::kNanosecond);

  struct Component {
    const char* name;
    void (*fn)(benchmark::State&);
  };
  static constexpr Component kComponents[] = {
      {"check_target", BM_CheckTarget},
      {"extract_credential", BM_ExtractCredential},
      {"parse_secret", BM_ParseSecret},
      {"sha256", BM_Sha256},
      {"cache_find", BM_CacheFind},
      {"cache_find_spread", BM_CacheFindSpread},
      {"route_match/start", BM_RouteMatchStart},
      {"route_match/end", BM_RouteMatchEnd},
      {"directory_lookup", BM_DirectoryLookup},
      {"policy_decide", BM_PolicyDecide},
      {"usage_record", BM_UsageRecord},
      {"fake_clock_now", BM_FakeClockNow},
      {"absl_now", BM_AbslNow},
  };
  for (const Component& component : kComponents) {
    benchmark::RegisterBenchmark(
        absl::StrCat("BM_Component/", component.name).c_str(), component.fn)
        ->Unit(benchmark::kNanosecond);
  }
}

// The kernel's clocksource ("tsc" makes the timer a vDSO read).
std::string Clocksource() {
  std::ifstream in(
      "/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string source;
  if (!(in >> source)) return "unknown";
  return source;
}

}  // namespace
}  // namespace pat::bench

int main(int argc, char** argv) {
  // As pat-sidecar's main does (sidecar/main.cc): Abseil's release default.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  pat::bench::RegisterAll();
  benchmark::AddCustomContext("pat_bench_grants",
                              std::to_string(pat::bench::BenchGrantCount()));
  benchmark::AddCustomContext("pat_latency_timer",
                              "clock_gettime(CLOCK_MONOTONIC)");
  benchmark::AddCustomContext("clocksource", pat::bench::Clocksource());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
