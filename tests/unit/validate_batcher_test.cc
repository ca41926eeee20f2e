// ValidateBatcher (server/validate_batcher.h), with a fake read: calls that
// wait together are answered by one read, each with its own answer; the
// batch bound; a call past its deadline is answered DEADLINE_EXCEEDED
// without being read and never shortens the others' deadline; the queue
// bound; Stop answers every accepted call; counters.
#include "server/validate_batcher.h"

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "gtest/gtest.h"

namespace pat {
namespace {

// A read that records each batch and answers each digest with a token whose
// id is the digest, blocking the first `gated` reads until Open().
class FakeRead {
 public:
  explicit FakeRead(int gated = 0) : gated_(gated) {}

  ValidateBatcher::ReadBatch Fn() {
    return [this](absl::Span<const std::string> digests,
                  std::optional<absl::Time> deadline) {
      bool wait = false;
      {
        absl::MutexLock lock(&mu_);
        batches_.emplace_back(digests.begin(), digests.end());
        deadlines_.push_back(deadline);
        wait = static_cast<int>(batches_.size()) <= gated_;
      }
      if (wait) gate_.WaitForNotification();
      std::vector<absl::StatusOr<ValidateResult>> out;
      for (const std::string& d : digests) {
        ValidateResult r;
        r.found = true;
        r.token.id = d;
        out.push_back(r);
      }
      return out;
    };
  }
  void Open() { gate_.Notify(); }
  // Blocks until `n` reads have started.
  void AwaitReads(size_t n) {
    absl::MutexLock lock(&mu_);
    auto started = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return batches_.size() >= n;
    };
    mu_.Await(absl::Condition(&started));
  }
  std::vector<std::vector<std::string>> batches() {
    absl::MutexLock lock(&mu_);
    return batches_;
  }
  std::vector<std::optional<absl::Time>> deadlines() {
    absl::MutexLock lock(&mu_);
    return deadlines_;
  }

 private:
  const int gated_;
  absl::Notification gate_;
  absl::Mutex mu_;
  std::vector<std::vector<std::string>> batches_ ABSL_GUARDED_BY(mu_);
  std::vector<std::optional<absl::Time>> deadlines_ ABSL_GUARDED_BY(mu_);
};

// Collects every call's answer by digest.
class Answers {
 public:
  ValidateBatcher::Done For(std::string digest) {
    return [this, digest](absl::StatusOr<ValidateResult> r) {
      absl::MutexLock lock(&mu_);
      got_.emplace_back(digest, std::move(r));
    };
  }
  std::vector<std::pair<std::string, absl::StatusOr<ValidateResult>>> got() {
    absl::MutexLock lock(&mu_);
    return got_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::pair<std::string, absl::StatusOr<ValidateResult>>> got_
      ABSL_GUARDED_BY(mu_);
};

std::unique_ptr<ValidateBatcher> MustCreate(ValidateBatcher::Options options,
                                            FakeRead& read,
                                            const Clock& clock) {
  absl::StatusOr<std::unique_ptr<ValidateBatcher>> b =
      ValidateBatcher::Create(options, read.Fn(), clock);
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? *std::move(b) : nullptr;
}

TEST(ValidateBatcherTest, CallsWaitingTogetherShareOneReadEachItsOwnAnswer) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  FakeRead read(/*gated=*/1);
  Answers answers;
  MetricsRegistry registry;
  Counter& reads = registry.GetCounter("reads", "r");
  Counter& calls = registry.GetCounter("calls", "c");
  auto batcher = MustCreate({.readers = 1,
                             .max_batch = 64,
                             .max_queued = 100,
                             .reads = &reads,
                             .calls = &calls},
                            read, clock);
  ASSERT_NE(batcher, nullptr);
  ASSERT_TRUE(batcher->TrySubmit("first", std::nullopt, answers.For("first")));
  read.AwaitReads(1);  // the only reader is inside the first read
  for (int i = 0; i < 10; ++i) {
    const std::string d = absl::StrCat("d", i);
    ASSERT_TRUE(batcher->TrySubmit(d, std::nullopt, answers.For(d)));
  }
  read.Open();
  batcher->Stop();
  const auto batches = read.batches();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0], std::vector<std::string>{"first"});
  ASSERT_EQ(batches[1].size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(batches[1][i], absl::StrCat("d", i));
  const auto got = answers.got();
  ASSERT_EQ(got.size(), 11u);
  for (const auto& [digest, answer] : got) {
    ASSERT_TRUE(answer.ok()) << answer.status();
    EXPECT_EQ(answer->token.id, digest) << "an answer reached another call";
  }
  EXPECT_EQ(batcher->reads(), 2u);
  EXPECT_EQ(batcher->answered(), 11u);
  EXPECT_EQ(reads.value(), 2u);
  EXPECT_EQ(calls.value(), 11u);
}

TEST(ValidateBatcherTest, BatchesAreBoundedByMaxBatch) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  FakeRead read(/*gated=*/1);
  Answers answers;
  auto batcher = MustCreate({.readers = 1, .max_batch = 64, .max_queued = 1000},
                            read, clock);
  ASSERT_NE(batcher, nullptr);
  ASSERT_TRUE(batcher->TrySubmit("first", std::nullopt, answers.For("first")));
  read.AwaitReads(1);
  for (int i = 0; i < 150; ++i) {
    const std::string d = absl::StrCat(i);
    ASSERT_TRUE(batcher->TrySubmit(d, std::nullopt, answers.For(d)));
  }
  read.Open();
  batcher->Stop();
  std::vector<size_t> sizes;
  for (const auto& b : read.batches()) sizes.push_back(b.size());
  EXPECT_EQ(sizes, (std::vector<size_t>{1, 64, 64, 22}));
  EXPECT_EQ(answers.got().size(), 151u);
}

TEST(ValidateBatcherTest, ExpiredCallsAreNotReadAndDoNotShortenTheRead) {
  const absl::Time now = absl::FromUnixSeconds(1000);
  FakeClock clock(now);
  FakeRead read(/*gated=*/1);
  Answers answers;
  auto batcher = MustCreate({.readers = 1, .max_batch = 64, .max_queued = 100},
                            read, clock);
  ASSERT_NE(batcher, nullptr);
  ASSERT_TRUE(batcher->TrySubmit("first", now + absl::Seconds(1),
                                 answers.For("first")));
  read.AwaitReads(1);
  ASSERT_TRUE(batcher->TrySubmit("expired", now - absl::Milliseconds(1),
                                 answers.For("expired")));
  ASSERT_TRUE(
      batcher->TrySubmit("soon", now + absl::Seconds(2), answers.For("soon")));
  ASSERT_TRUE(
      batcher->TrySubmit("late", now + absl::Seconds(9), answers.For("late")));
  read.Open();
  batcher->Stop();
  const auto batches = read.batches();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[1], (std::vector<std::string>{"soon", "late"}));
  const auto deadlines = read.deadlines();
  EXPECT_EQ(deadlines[0], now + absl::Seconds(1));
  EXPECT_EQ(deadlines[1], now + absl::Seconds(9));  // the latest
  for (const auto& [digest, answer] : answers.got()) {
    if (digest == "expired") {
      EXPECT_EQ(answer.status().code(), absl::StatusCode::kDeadlineExceeded);
    } else {
      EXPECT_TRUE(answer.ok()) << digest << ": " << answer.status();
    }
  }
}

TEST(ValidateBatcherTest, ACallWithoutDeadlineReadsTheBatchWithoutOne) {
  const absl::Time now = absl::FromUnixSeconds(1000);
  FakeClock clock(now);
  FakeRead read(/*gated=*/1);
  Answers answers;
  auto batcher = MustCreate({.readers = 1}, read, clock);
  ASSERT_NE(batcher, nullptr);
  ASSERT_TRUE(batcher->TrySubmit("first", std::nullopt, answers.For("first")));
  read.AwaitReads(1);
  ASSERT_TRUE(
      batcher->TrySubmit("a", now + absl::Seconds(2), answers.For("a")));
  ASSERT_TRUE(batcher->TrySubmit("b", std::nullopt, answers.For("b")));
  read.Open();
  batcher->Stop();
  const auto deadlines = read.deadlines();
  ASSERT_EQ(deadlines.size(), 2u);
  EXPECT_EQ(deadlines[1], std::nullopt);
}

TEST(ValidateBatcherTest, FullQueueRefusesAndStopAnswersEveryAccepted) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  FakeRead read(/*gated=*/1);
  Answers answers;
  auto batcher =
      MustCreate({.readers = 1, .max_batch = 64, .max_queued = 5}, read, clock);
  ASSERT_NE(batcher, nullptr);
  ASSERT_TRUE(batcher->TrySubmit("first", std::nullopt, answers.For("first")));
  read.AwaitReads(1);
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(batcher->TrySubmit(absl::StrCat(i), std::nullopt,
                                   answers.For(absl::StrCat(i))));
  }
  EXPECT_FALSE(batcher->TrySubmit("sixth", std::nullopt, answers.For("x")));
  read.Open();
  batcher->Stop();
  EXPECT_EQ(answers.got().size(), 6u);
  EXPECT_FALSE(
      batcher->TrySubmit("after stop", std::nullopt, answers.For("y")));
  EXPECT_EQ(answers.got().size(), 6u);
}

TEST(ValidateBatcherTest, ManyReadersManyCallersEveryCallAnsweredOnce) {
  RealClock clock;
  FakeRead read;
  Answers answers;
  auto batcher = MustCreate({.readers = 4, .max_batch = 16}, read, clock);
  ASSERT_NE(batcher, nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const std::string d = absl::StrCat(t, "-", i);
        while (!batcher->TrySubmit(d, std::nullopt, answers.For(d))) {
          std::this_thread::yield();
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  batcher->Stop();
  const auto got = answers.got();
  ASSERT_EQ(got.size(), 4000u);
  std::set<std::string> seen;
  for (const auto& [digest, answer] : got) {
    ASSERT_TRUE(answer.ok());
    EXPECT_EQ(answer->token.id, digest);
    EXPECT_TRUE(seen.insert(digest).second) << digest << " answered twice";
  }
  size_t total = 0;
  for (const auto& b : read.batches()) {
    EXPECT_LE(b.size(), 16u);
    total += b.size();
  }
  EXPECT_EQ(total, 4000u);
}

// Whoever holds an answer sees it counted: the counters (and answered())
// include a call before its `done` runs, for read and expired calls alike
// (a caller that reads the metrics after its last answer gets every call).
TEST(ValidateBatcherTest, EveryAnswerIsCountedBeforeItIsDelivered) {
  RealClock clock;
  FakeRead read;
  MetricsRegistry registry;
  Counter& reads = registry.GetCounter("reads", "r");
  Counter& calls = registry.GetCounter("calls", "c");
  auto batcher = MustCreate({.readers = 2,
                             .max_batch = 8,
                             .max_queued = 4096,
                             .reads = &reads,
                             .calls = &calls},
                            read, clock);
  ASSERT_NE(batcher, nullptr);
  std::atomic<uint64_t> delivered{0};
  std::atomic<int> uncounted{0};
  ValidateBatcher* const b = batcher.get();
  const auto done = [&](absl::StatusOr<ValidateResult>) {
    const uint64_t mine = delivered.fetch_add(1) + 1;
    // Deliveries of one batch run one after another, after the batch was
    // counted; `mine` deliveries have started, so at least that many calls
    // are counted.
    if (calls.value() < mine || b->answered() < mine) {
      uncounted.fetch_add(1);
    }
  };
  for (int i = 0; i < 1000; ++i) {
    // Every tenth call is already past its deadline (answered unread).
    const std::optional<absl::Time> deadline =
        i % 10 == 0 ? std::optional<absl::Time>(clock.Now() - absl::Seconds(1))
                    : std::nullopt;
    while (!batcher->TrySubmit(absl::StrCat("d", i), deadline, done)) {
      std::this_thread::yield();
    }
  }
  batcher->Stop();
  EXPECT_EQ(delivered.load(), 1000u);
  EXPECT_EQ(uncounted.load(), 0);
  EXPECT_EQ(calls.value(), 1000u);
  EXPECT_GE(reads.value(), 1u);
}

TEST(ValidateBatcherTest, BadOptionsAreRefused) {
  RealClock clock;
  FakeRead read;
  EXPECT_EQ(
      ValidateBatcher::Create({.readers = 0}, read.Fn(), clock).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateBatcher::Create({.max_batch = 257}, read.Fn(), clock)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateBatcher::Create({.max_queued = 0}, read.Fn(), clock)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateBatcher::Create({}, nullptr, clock).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pat
