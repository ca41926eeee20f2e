// AsyncSingleFlight and MissLimiter: the building blocks that keep cache
// misses from blocking or piling up.

#include "sidecar/single_flight.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "sidecar/metrics.h"
#include "sidecar/miss_limiter.h"

namespace pat::sidecar {
namespace {

using Flights = AsyncSingleFlight<std::string, int>;

TEST(AsyncSingleFlightTest, OneCallPerKeyAndEveryWaiterGetsTheResult) {
  Flights flights(/*max_waiters=*/3);
  std::vector<int> got;
  int starts = 0;
  auto join = [&](const std::string& key) {
    Flights::Callback cb = [&got](const int& v) { got.push_back(v); };
    return flights.Join(key, cb, [&] { ++starts; });
  };
  EXPECT_EQ(join("a"), Flights::Joined::kStarted);
  EXPECT_EQ(join("a"), Flights::Joined::kShared);
  EXPECT_EQ(join("a"), Flights::Joined::kShared);
  EXPECT_EQ(join("b"), Flights::Joined::kStarted);
  EXPECT_EQ(starts, 2);
  EXPECT_EQ(flights.in_flight(), 2u);
  EXPECT_TRUE(got.empty());  // nothing runs before Complete
  flights.Complete("a", 7);
  EXPECT_EQ(got, (std::vector<int>{7, 7, 7}));
  flights.Complete("b", 8);
  EXPECT_EQ(got, (std::vector<int>{7, 7, 7, 8}));
  EXPECT_EQ(flights.in_flight(), 0u);
  // Nothing is cached: the next caller starts again.
  EXPECT_EQ(join("a"), Flights::Joined::kStarted);
  EXPECT_EQ(starts, 3);
  flights.Complete("a", 1);
  flights.Complete("a", 2);  // no call in flight: ignored
  EXPECT_EQ(got.back(), 1);
}

TEST(AsyncSingleFlightTest, BoundedWaitersAndARefusedCallbackIsKept) {
  Flights flights(/*max_waiters=*/2);
  int ran = 0;
  Flights::Callback a = [&](const int&) { ++ran; };
  Flights::Callback b = [&](const int&) { ++ran; };
  Flights::Callback c = [&](const int&) { ran += 100; };
  EXPECT_EQ(flights.Join("k", a, [] {}), Flights::Joined::kStarted);
  EXPECT_EQ(flights.Join("k", b, [] {}), Flights::Joined::kShared);
  EXPECT_EQ(flights.Join("k", c, [] {}), Flights::Joined::kFull);
  ASSERT_TRUE(c != nullptr);  // still the caller's
  std::move(c)(0);
  EXPECT_EQ(ran, 100);
  flights.Complete("k", 0);
  EXPECT_EQ(ran, 102);
}

TEST(AsyncSingleFlightTest, ACallThatCompletesInsideStartIsDelivered) {
  Flights flights(4);
  int value = 0;
  Flights::Callback cb = [&](const int& v) { value = v; };
  EXPECT_EQ(flights.Join("k", cb, [&] { flights.Complete("k", 5); }),
            Flights::Joined::kStarted);
  EXPECT_EQ(value, 5);
  EXPECT_EQ(flights.in_flight(), 0u);
}

TEST(MissLimiterTest, GlobalAndPerClientBounds) {
  MetricsRegistry metrics;
  MissLimiter limiter(MissLimits{.max_pending = 3, .max_pending_per_client = 2},
                      metrics);
  MissLimiter::Refusal refusal;
  MissLimiter::Permit a1 = limiter.Acquire("a", &refusal);
  EXPECT_TRUE(a1.held());
  MissLimiter::Permit a2 = limiter.Acquire("a", &refusal);
  EXPECT_TRUE(a2.held());
  MissLimiter::Permit a3 = limiter.Acquire("a", &refusal);
  EXPECT_FALSE(a3.held());
  EXPECT_EQ(refusal, MissLimiter::Refusal::kClient);
  MissLimiter::Permit b1 = limiter.Acquire("b", &refusal);
  EXPECT_TRUE(b1.held());
  MissLimiter::Permit c1 = limiter.Acquire("c", &refusal);
  EXPECT_FALSE(c1.held());
  EXPECT_EQ(refusal, MissLimiter::Refusal::kGlobal);
  EXPECT_EQ(limiter.pending(), 3u);
  EXPECT_EQ(limiter.pending_for("a"), 2u);

  // Moving keeps one slot; releasing (or destroying) gives it back once.
  MissLimiter::Permit moved = std::move(a1);
  EXPECT_FALSE(a1.held());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(limiter.pending(), 3u);
  moved.Release();
  moved.Release();
  EXPECT_EQ(limiter.pending(), 2u);
  EXPECT_EQ(limiter.pending_for("a"), 1u);
  { MissLimiter::Permit gone = std::move(a2); }
  EXPECT_EQ(limiter.pending_for("a"), 0u);
  EXPECT_TRUE(limiter.Acquire("c", &refusal).held());
  EXPECT_EQ(metrics
                .GetCounter("pat_sidecar_authority_refused_total", "",
                            {{"limit", "client"}})
                .value(),
            1u);
  EXPECT_EQ(metrics
                .GetCounter("pat_sidecar_authority_refused_total", "",
                            {{"limit", "global"}})
                .value(),
            1u);
}

}  // namespace
}  // namespace pat::sidecar
