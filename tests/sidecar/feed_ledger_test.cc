// FeedLedger (sidecar/feed_ledger.h): the bookkeeping that decides whether a
// ValidateToken answer taken at a revision may be kept by a cache that does
// not apply events for tokens it does not hold. Pure, no threads.

#include "sidecar/feed_ledger.h"

#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace pat::sidecar {
namespace {

using Verdict = FeedLedger::Verdict;

TEST(FeedLedgerTest, NothingIsKeptBeforeTheFirstSync) {
  FeedLedger ledger(16);
  EXPECT_FALSE(ledger.continuous());
  // Newer than anything known (0): usable, not kept.
  EXPECT_EQ(ledger.Judge(5, 1, 2), Verdict::kUseOnly);
  // Revision 0: the authority did not say.
  EXPECT_EQ(ledger.Judge(0, 1, 2), Verdict::kAskAgain);
}

TEST(FeedLedgerTest, AnswersAtOrAfterTheAppliedRevisionAreKept) {
  FeedLedger ledger(16);
  ledger.Resume(10);
  EXPECT_EQ(ledger.applied(), 10);
  EXPECT_EQ(ledger.Judge(10, 1, 2), Verdict::kKeep);
  EXPECT_EQ(ledger.Judge(12, 1, 2), Verdict::kKeep);
  // Before the sync point nothing is recorded.
  EXPECT_EQ(ledger.Judge(9, 1, 2), Verdict::kAskAgain);
}

TEST(FeedLedgerTest, AnOlderAnswerIsKeptOnlyIfNoLaterEventTouchedItsKeys) {
  FeedLedger ledger(16);
  ledger.Resume(10);
  const uint64_t token = FeedLedger::TokenKey("tok_a");
  const uint64_t other = FeedLedger::TokenKey("tok_b");
  const uint64_t digest = 77;
  const uint64_t keys11[] = {other};
  ledger.Record(11, keys11);
  const uint64_t keys12[] = {token};
  ledger.Record(12, keys12);
  ledger.Record(13, {});  // a directory event
  EXPECT_EQ(ledger.applied(), 13);
  EXPECT_EQ(ledger.Judge(11, token, digest), Verdict::kAskAgain)
      << "tok_a changed at 12, after the answer";
  EXPECT_EQ(ledger.Judge(12, token, digest), Verdict::kKeep);
  EXPECT_EQ(ledger.Judge(10, other, digest), Verdict::kAskAgain);
  EXPECT_EQ(ledger.Judge(11, other, digest), Verdict::kKeep);
  // A digest named by an event (a create or refresh listing it).
  const uint64_t keys14[] = {token, digest};
  ledger.Record(14, keys14);
  EXPECT_EQ(ledger.Judge(13, /*token_key=*/0, digest), Verdict::kAskAgain);
  EXPECT_EQ(ledger.Judge(13, other, 78), Verdict::kKeep);
  // Old or repeated revisions are ignored.
  ledger.Record(14, keys11);
  ledger.Record(3, keys11);
  EXPECT_EQ(ledger.Judge(13, other, 78), Verdict::kKeep);
}

TEST(FeedLedgerTest, ForgettingRaisesTheFloor) {
  FeedLedger ledger(4);
  ledger.Resume(100);
  for (int64_t r = 101; r <= 110; ++r) {
    const uint64_t keys[] = {static_cast<uint64_t>(r)};
    ledger.Record(r, keys);
  }
  EXPECT_EQ(ledger.size(), 4u);
  EXPECT_EQ(ledger.floor(), 106);
  // Untouched key, but the answer predates what is remembered.
  EXPECT_EQ(ledger.Judge(105, 9999, 0), Verdict::kAskAgain);
  EXPECT_EQ(ledger.Judge(106, 9999, 0), Verdict::kKeep);
  EXPECT_EQ(ledger.Judge(106, 108, 0), Verdict::kAskAgain);
}

TEST(FeedLedgerTest, ABreakKeepsNothingUntilTheNextResume) {
  FeedLedger ledger(16);
  ledger.Resume(10);
  const uint64_t keys[] = {1};
  ledger.Record(11, keys);
  ledger.Break();
  EXPECT_FALSE(ledger.continuous());
  EXPECT_EQ(ledger.Judge(11, 2, 0), Verdict::kUseOnly);
  EXPECT_EQ(ledger.Judge(10, 2, 0), Verdict::kAskAgain);
  ledger.Record(12, keys);  // ignored while broken
  EXPECT_EQ(ledger.applied(), 11);
  ledger.Resume(20);
  EXPECT_EQ(ledger.Judge(19, 2, 0), Verdict::kAskAgain);
  EXPECT_EQ(ledger.Judge(20, 1, 0), Verdict::kKeep);
}

// A model: events touch random keys; the authority answers at any revision
// from somewhat behind the sidecar to ahead of it; snapshots break and
// resume continuity. Whenever the ledger keeps an older answer, no event
// after it touched its keys (so the state it carries is the state at the
// applied revision); it never keeps one while broken; and, with the keys
// still remembered, it never asks again without cause.
TEST(FeedLedgerTest, ModelNeverKeepsAnAnswerAnEventChanged) {
  constexpr int kKeys = 40;
  constexpr size_t kCapacity = 64;
  std::mt19937_64 rng(20261203);
  FeedLedger ledger(kCapacity);
  // Every event: revision -> keys it touched (the truth).
  std::map<int64_t, std::vector<uint64_t>> truth;
  int64_t head = 0;
  int64_t synced_at = 0;
  bool continuous = false;
  int kept_older = 0;
  int asked_again = 0;
  for (int step = 0; step < 50000; ++step) {
    const int action = static_cast<int>(rng() % 100);
    if (action < 45) {  // an event, delivered
      std::vector<uint64_t> keys;
      const int n = static_cast<int>(rng() % 3);
      for (int i = 0; i < n; ++i) keys.push_back(1 + rng() % kKeys);
      truth[++head] = keys;
      if (continuous) ledger.Record(head, keys);
    } else if (action < 47) {  // a snapshot: continuity lost, then resumed
      ledger.Break();
      continuous = false;
    } else if (action < 50 && !continuous) {
      ledger.Resume(head);
      synced_at = head;
      continuous = true;
    } else {  // an answer
      const uint64_t token = 1 + rng() % kKeys;
      const uint64_t digest = 1 + rng() % kKeys;
      const int64_t lo = std::max<int64_t>(1, ledger.applied() - 30);
      const int64_t answer = lo + static_cast<int64_t>(rng() % (head - lo + 2));
      const Verdict verdict = ledger.Judge(answer, token, digest);
      bool touched = false;
      for (auto it = truth.upper_bound(answer);
           it != truth.end() && it->first <= ledger.applied(); ++it) {
        for (uint64_t k : it->second) touched |= k == token || k == digest;
      }
      if (!continuous) {
        ASSERT_NE(verdict, Verdict::kKeep) << "step " << step;
        ASSERT_EQ(verdict == Verdict::kUseOnly, answer >= ledger.applied())
            << "step " << step;
        continue;
      }
      ASSERT_NE(verdict, Verdict::kUseOnly) << "step " << step;
      if (verdict == Verdict::kKeep && answer < ledger.applied()) {
        ASSERT_FALSE(touched)
            << "step " << step << ": kept an answer at " << answer
            << " changed before " << ledger.applied();
        ++kept_older;
      }
      if (verdict == Verdict::kAskAgain) {
        ++asked_again;
        const bool remembered = answer >= ledger.floor();
        ASSERT_TRUE(touched || !remembered || answer < synced_at)
            << "step " << step << ": asked again without cause";
      }
    }
  }
  // The model exercised both outcomes.
  EXPECT_GT(kept_older, 1000);
  EXPECT_GT(asked_again, 1000);
}

}  // namespace
}  // namespace pat::sidecar
