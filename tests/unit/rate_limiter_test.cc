// The TokenService rate limits: KeyedTokenBuckets (token buckets per key on a
// FakeClock: burst, refill, retry hint, key independence, bounded memory,
// clock jumps) and TokenServiceLimits (caller before actor, counters,
// limits off).

#include "server/rate_limiter.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/caller_auth.h"
#include "server/token_service_limits.h"
#include "tests/support/status_matchers.h"

namespace pat::testing {
namespace {

using ::absl::Milliseconds;
using ::absl::ZeroDuration;

// Takes `n` tokens of `key`; how many were admitted.
int TakeMany(KeyedTokenBuckets& buckets, const std::string& key, int n) {
  int admitted = 0;
  for (int i = 0; i < n; ++i) {
    if (buckets.Take(key) == ZeroDuration()) ++admitted;
  }
  return admitted;
}

TEST(KeyedTokenBucketsTest, BurstThenRefusedWithTheTimeToTheNextToken) {
  FakeClock clock;
  KeyedTokenBuckets buckets({.per_second = 20, .burst = 40}, clock);
  EXPECT_EQ(TakeMany(buckets, "alice", 40), 40);
  // Empty: one token every 50 ms.
  EXPECT_EQ(buckets.Take("alice"), Milliseconds(50));
  clock.Advance(Milliseconds(20));
  // 0.4 token there: 30 ms to go.
  EXPECT_EQ(buckets.Take("alice"), Milliseconds(30));
  clock.Advance(Milliseconds(30));
  EXPECT_EQ(buckets.Take("alice"), ZeroDuration());
  EXPECT_EQ(buckets.Take("alice"), Milliseconds(50));
}

TEST(KeyedTokenBucketsTest, WaitingTheHintAlwaysAdmits) {
  // Rates whose token period is not a whole number of milliseconds.
  for (double rate : {3.0, 7.0, 0.3, 1000.0, 2500.0}) {
    SCOPED_TRACE(rate);
    FakeClock clock;
    KeyedTokenBuckets buckets({.per_second = rate, .burst = 2}, clock);
    ASSERT_EQ(TakeMany(buckets, "k", 2), 2);
    for (int i = 0; i < 20; ++i) {
      // Empty the bucket (a wait of 1 ms refills 2.5 tokens at 2500/s).
      absl::Duration hint = ZeroDuration();
      for (int j = 0; j < 10 && hint == ZeroDuration(); ++j) {
        hint = buckets.Take("k");
      }
      ASSERT_GE(hint, Milliseconds(1));
      EXPECT_EQ(hint, absl::Milliseconds(absl::ToInt64Milliseconds(hint)))
          << "whole milliseconds";
      clock.Advance(hint);
      EXPECT_EQ(buckets.Take("k"), ZeroDuration()) << "step " << i;
    }
  }
}

TEST(KeyedTokenBucketsTest, SustainedRateIsTheConfiguredRate) {
  FakeClock clock;
  KeyedTokenBuckets buckets({.per_second = 20, .burst = 40}, clock);
  ASSERT_EQ(TakeMany(buckets, "alice", 100), 40);
  int admitted = 0;
  // 10 s in 10 ms steps, 5 attempts each (500/s offered).
  for (int step = 0; step < 1000; ++step) {
    clock.Advance(Milliseconds(10));
    admitted += TakeMany(buckets, "alice", 5);
  }
  EXPECT_EQ(admitted, 200);
}

TEST(KeyedTokenBucketsTest, RefillStopsAtTheBurst) {
  FakeClock clock;
  KeyedTokenBuckets buckets({.per_second = 20, .burst = 40}, clock);
  ASSERT_EQ(TakeMany(buckets, "alice", 40), 40);
  clock.Advance(absl::Hours(24));
  EXPECT_EQ(TakeMany(buckets, "alice", 100), 40);
}

TEST(KeyedTokenBucketsTest, KeysAreIndependent) {
  FakeClock clock;
  KeyedTokenBuckets buckets({.per_second = 1, .burst = 3}, clock);
  EXPECT_EQ(TakeMany(buckets, "alice", 10), 3);
  EXPECT_EQ(TakeMany(buckets, "bob", 10), 3);
  // Keys are compared exactly.
  EXPECT_EQ(TakeMany(buckets, "Alice", 10), 3);
  EXPECT_EQ(TakeMany(buckets, "alice ", 10), 3);
  EXPECT_EQ(TakeMany(buckets, "alice", 1), 0);
}

TEST(KeyedTokenBucketsTest, ClockGoingBackwardsRefillsNothingAndLocksNoOneOut) {
  FakeClock clock;
  KeyedTokenBuckets buckets({.per_second = 10, .burst = 2}, clock);
  ASSERT_EQ(TakeMany(buckets, "k", 2), 2);
  clock.Advance(-absl::Hours(1));
  EXPECT_EQ(buckets.Take("k"), Milliseconds(100));
  // The refill resumes from the new "now", not from the old one.
  clock.Advance(Milliseconds(100));
  EXPECT_EQ(buckets.Take("k"), ZeroDuration());
}

TEST(KeyedTokenBucketsTest, TrackedKeysAreCappedLeastRecentlyUsedFirst) {
  FakeClock clock;
  KeyedTokenBuckets buckets({.per_second = 1, .burst = 1}, clock,
                            /*max_keys=*/100);
  for (int i = 0; i < 10000; ++i) {
    ASSERT_EQ(buckets.Take(absl::StrCat("actor-", i)), ZeroDuration());
    ASSERT_LE(buckets.tracked_keys(), 100u);
  }
  EXPECT_EQ(buckets.tracked_keys(), 100u);
  // The 100 most recent keys are still tracked (and empty) ...
  for (int i = 9900; i < 10000; ++i) {
    EXPECT_EQ(buckets.Take(absl::StrCat("actor-", i)), absl::Seconds(1)) << i;
  }
  // ... an evicted one starts over with a full bucket.
  EXPECT_EQ(buckets.Take("actor-0"), ZeroDuration());
  EXPECT_EQ(buckets.tracked_keys(), 100u);
}

TEST(KeyedTokenBucketsTest, UsingAKeyKeepsItTracked) {
  FakeClock clock;
  KeyedTokenBuckets buckets({.per_second = 1, .burst = 1}, clock,
                            /*max_keys=*/3);
  ASSERT_EQ(buckets.Take("hot"), ZeroDuration());
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(buckets.Take(absl::StrCat("cold-", i)), ZeroDuration());
    // "hot" is used between every two new keys: never the LRU, still empty.
    ASSERT_EQ(buckets.Take("hot"), absl::Seconds(1)) << i;
  }
}

Caller AdminCaller(const std::string& identity, const std::string& actor) {
  Caller caller;
  caller.identity = identity;
  caller.roles = {CallerRole::kAdmin};
  caller.actor = actor;
  return caller;
}

TEST(TokenServiceLimitsTest, ActorLimitIsSharedAcrossCallers) {
  FakeClock clock;
  TokenServiceLimits limits({.per_second = 100, .burst = 100},
                            {.per_second = 1, .burst = 2}, clock);
  EXPECT_EQ(limits.Check(AdminCaller("console-1", "alice")), std::nullopt);
  EXPECT_EQ(limits.Check(AdminCaller("console-2", "alice")), std::nullopt);
  std::optional<RateLimited> refused =
      limits.Check(AdminCaller("console-3", "alice"));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->limit, "actor");
  EXPECT_EQ(refused->retry_after, absl::Seconds(1));
  EXPECT_EQ(limits.Check(AdminCaller("console-1", "bob")), std::nullopt);
}

TEST(TokenServiceLimitsTest, CallerLimitIsSharedAcrossActorsAndChecksFirst) {
  FakeClock clock;
  Counter actor_counter;
  Counter caller_counter;
  TokenServiceLimits limits(
      {.per_second = 2, .burst = 3}, {.per_second = 1, .burst = 1}, clock,
      {.actor = &actor_counter, .caller = &caller_counter});
  for (const char* actor : {"a", "b", "c"}) {
    EXPECT_EQ(limits.Check(AdminCaller("console", actor)), std::nullopt);
  }
  std::optional<RateLimited> refused =
      limits.Check(AdminCaller("console", "d"));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->limit, "caller");
  EXPECT_EQ(refused->retry_after, Milliseconds(500));
  // The refusal took no token from "d": another caller may act for it.
  EXPECT_EQ(limits.Check(AdminCaller("other", "d")), std::nullopt);
  // Check alone counts nothing (Admit does).
  EXPECT_EQ(actor_counter.value(), 0u);
  EXPECT_EQ(caller_counter.value(), 0u);
}

TEST(TokenServiceLimitsTest, NoActorIsLimitedPerCallerOnly) {
  FakeClock clock;
  TokenServiceLimits limits({.per_second = 1, .burst = 2},
                            {.per_second = 1, .burst = 1}, clock);
  EXPECT_EQ(limits.Check(AdminCaller("console", "")), std::nullopt);
  EXPECT_EQ(limits.Check(AdminCaller("console", "")), std::nullopt);
  std::optional<RateLimited> refused = limits.Check(AdminCaller("console", ""));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->limit, "caller");
}

TEST(TokenServiceLimitsTest, ZeroRateTurnsALimitOff) {
  FakeClock clock;
  TokenServiceLimits actor_only({}, {.per_second = 1, .burst = 1}, clock);
  TokenServiceLimits caller_only({.per_second = 1, .burst = 1}, {}, clock);
  TokenServiceLimits none({}, {}, clock);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(actor_only.Check(AdminCaller("console", absl::StrCat(i))),
              std::nullopt);
    ASSERT_EQ(caller_only.Check(AdminCaller(absl::StrCat(i), "alice")),
              std::nullopt);
    ASSERT_EQ(none.Check(AdminCaller("console", "alice")), std::nullopt);
  }
}

TEST(TokenServiceLimitsTest, RefusalStatusNamesTheLimitAndTheDelay) {
  EXPECT_THAT(
      RateLimitedStatus({"actor", Milliseconds(50)}),
      StatusIs(absl::StatusCode::kResourceExhausted,
               "rate limit exceeded for this actor; retry after 50 ms"));
  EXPECT_THAT(
      RateLimitedStatus({"caller", absl::Seconds(2)}),
      StatusIs(absl::StatusCode::kResourceExhausted,
               "rate limit exceeded for this caller; retry after 2000 ms"));
}

}  // namespace
}  // namespace pat::testing
