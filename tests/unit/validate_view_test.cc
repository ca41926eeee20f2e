// ValidateView: what a replica's in-memory ValidateToken answers may hold.
// The model test checks the invariant against a simulated database whose
// reads race with the feed (reads stamped before, at and after the applied
// revision, events applied late).

#include "server/validate_view.h"

#include <atomic>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace pat {
namespace {

Digest D(int n) {
  Digest d{};
  d[0] = static_cast<uint8_t>(n);
  d[1] = static_cast<uint8_t>(n >> 8);
  d[31] = 0xa5;
  return d;
}

SecretLookup Tok(const std::string& id, const std::string& version = "v1",
                 size_t resources = 0) {
  SecretLookup l;
  l.token.id = id;
  l.token.name = version;
  l.token.resources.resize(resources);
  return l;
}

TEST(ValidateViewTest, EmptyViewMissesAndStoresReadsAtOrAfterApplied) {
  ValidateView view({}, /*applied=*/10);
  EXPECT_FALSE(view.Find(D(1)).has_value());
  EXPECT_EQ(view.Insert(D(1), Tok("t1"), 10),
            ValidateView::InsertResult::kStored);
  EXPECT_EQ(view.Insert(D(2), Tok("t2"), 12),
            ValidateView::InsertResult::kStored);
  ASSERT_TRUE(view.Find(D(1)).has_value());
  ASSERT_NE(view.Find(D(1))->lookup, nullptr);
  EXPECT_EQ(view.Find(D(1))->lookup->token.id, "t1");
  EXPECT_EQ(view.Find(D(2))->lookup->token.id, "t2");
  EXPECT_EQ(view.entries(), 2u);
}

TEST(ValidateViewTest, ReadOlderThanAppliedIsRefused) {
  ValidateView view({}, 10);
  EXPECT_EQ(view.Insert(D(1), Tok("t1"), 9),
            ValidateView::InsertResult::kStale);
  EXPECT_EQ(view.Insert(D(2), std::nullopt, 9),
            ValidateView::InsertResult::kStale);
  EXPECT_FALSE(view.Find(D(1)).has_value());
  EXPECT_FALSE(view.Find(D(2)).has_value());
  EXPECT_EQ(view.entries(), 0u);
  EXPECT_EQ(view.unknown_entries(), 0u);
}

TEST(ValidateViewTest, UnknownDigestIsRememberedUntilAnEventListsIt) {
  ValidateView view({}, 1);
  ASSERT_EQ(view.Insert(D(7), std::nullopt, 1),
            ValidateView::InsertResult::kStored);
  ASSERT_TRUE(view.Find(D(7)).has_value());
  EXPECT_EQ(view.Find(D(7))->lookup, nullptr);
  // A create (or refresh) of another token whose new secret has this digest.
  const Digest listed[] = {D(7)};
  view.ApplyGrant(2, "t9", listed);
  EXPECT_FALSE(view.Find(D(7)).has_value());
  EXPECT_EQ(view.applied(), 2);
}

TEST(ValidateViewTest, GrantEventErasesEveryCachedSecretOfItsToken) {
  ValidateView view({}, 1);
  view.Insert(D(1), Tok("t1"), 1);  // current secret
  view.Insert(D(2), Tok("t1"), 1);  // previous secret, in its overlap
  view.Insert(D(3), Tok("t3"), 1);
  // The event need not list the cached digests (e.g. a previous secret that
  // has ended): the token id is enough.
  view.ApplyGrant(2, "t1", {});
  EXPECT_FALSE(view.Find(D(1)).has_value());
  EXPECT_FALSE(view.Find(D(2)).has_value());
  ASSERT_TRUE(view.Find(D(3)).has_value());
  EXPECT_EQ(view.entries(), 1u);
}

TEST(ValidateViewTest, EventsAtOrBelowAppliedAreIgnored) {
  ValidateView view({}, 5);
  view.Insert(D(1), Tok("t1"), 5);
  view.ApplyGrant(5, "t1", {});
  view.ApplyGrant(3, "t1", {});
  EXPECT_TRUE(view.Find(D(1)).has_value());
  EXPECT_EQ(view.applied(), 5);
  view.ApplyOther(8);
  EXPECT_EQ(view.applied(), 8);
  EXPECT_TRUE(view.Find(D(1)).has_value());
}

TEST(ValidateViewTest, ResetForgetsEverythingAndMayRewind) {
  ValidateView view({}, 5);
  view.Insert(D(1), Tok("t1"), 5);
  view.Insert(D(2), std::nullopt, 6);
  view.Reset(3);  // a feed head rewound by a failover
  EXPECT_EQ(view.applied(), 3);
  EXPECT_FALSE(view.Find(D(1)).has_value());
  EXPECT_FALSE(view.Find(D(2)).has_value());
  EXPECT_EQ(view.Insert(D(1), Tok("t1"), 3),
            ValidateView::InsertResult::kStored);
}

TEST(ValidateViewTest, BoundsHoldAndUnknownFloodNeverEvictsTokens) {
  ValidateViewOptions options;
  options.max_entries = 3;
  options.max_unknown = 2;
  options.max_resources_per_entry = 4;
  ValidateView view(options, 0);
  EXPECT_EQ(view.Insert(D(100), Tok("big", "v1", 5), 0),
            ValidateView::InsertResult::kTooLarge);
  EXPECT_FALSE(view.Find(D(100)).has_value());
  for (int i = 0; i < 3; ++i) view.Insert(D(i), Tok(absl::StrCat("t", i)), 0);
  EXPECT_EQ(view.entries(), 3u);
  for (int i = 0; i < 50; ++i) view.Insert(D(1000 + i), std::nullopt, 0);
  EXPECT_LE(view.unknown_entries(), 2u);
  EXPECT_EQ(view.entries(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(view.Find(D(i)).has_value());
  // A fourth token clears the tokens' part whole.
  const int64_t evictions = view.evictions();
  view.Insert(D(3), Tok("t3"), 0);
  EXPECT_EQ(view.entries(), 1u);
  EXPECT_GT(view.evictions(), evictions);
  EXPECT_TRUE(view.Find(D(3)).has_value());
  EXPECT_FALSE(view.Find(D(0)).has_value());
}

// A simulated database: tokens t0..t(n-1), each created at some revision
// and edited later (its version is the revision of its last change). A
// read at head h returns the state after the events up to h.
class ModelDatabase {
 public:
  explicit ModelDatabase(int tokens) : created_(tokens, -1) {}
  // Appends the event of a change to token i; returns its revision.
  int64_t Change(int i) {
    ++head_;
    if (created_[i] < 0) created_[i] = head_;
    history_[i].push_back(head_);
    return head_;
  }
  int64_t head() const { return head_; }
  // The version of token i after the events up to h; -1: not created yet.
  int64_t VersionAt(int i, int64_t h) const {
    int64_t v = -1;
    auto it = history_.find(i);
    if (it == history_.end()) return -1;
    for (int64_t r : it->second) {
      if (r <= h) v = r;
    }
    return v;
  }
  std::optional<SecretLookup> ReadAt(int i, int64_t h) const {
    const int64_t v = VersionAt(i, h);
    if (v < 0) return std::nullopt;
    return Tok(absl::StrCat("t", i), absl::StrCat(v));
  }

 private:
  std::vector<int64_t> created_;
  std::map<int, std::vector<int64_t>> history_;
  int64_t head_ = 0;
};

TEST(ValidateViewTest, ModelNeverServesAStateOlderThanApplied) {
  constexpr int kTokens = 12;
  std::mt19937 rng(20261202);
  ModelDatabase db(kTokens);
  ValidateViewOptions options;
  options.max_entries = 8;  // evictions happen too
  options.max_unknown = 4;
  ValidateView view(options, 0);
  // Events of the database not yet applied to the view: (revision, token).
  std::vector<std::pair<int64_t, int>> pending;
  int checks = 0;
  for (int step = 0; step < 20000; ++step) {
    const int action = std::uniform_int_distribution<int>(0, 9)(rng);
    const int i = std::uniform_int_distribution<int>(0, kTokens - 1)(rng);
    if (action < 2) {
      pending.emplace_back(db.Change(i), i);
    } else if (action < 4 && !pending.empty()) {
      // The follower applies the oldest pending event.
      const auto [revision, token] = pending.front();
      pending.erase(pending.begin());
      const Digest digests[] = {D(token)};
      view.ApplyGrant(revision, absl::StrCat("t", token), digests);
    } else if (action < 7) {
      // A database read that started at any head from a little before the
      // applied revision up to the current one (it raced with the feed).
      const int64_t low = std::max<int64_t>(0, view.applied() - 2);
      const int64_t h =
          std::uniform_int_distribution<int64_t>(low, db.head())(rng);
      view.Insert(D(i), db.ReadAt(i, h), h);
    } else {
      std::optional<ValidateView::Entry> entry = view.Find(D(i));
      if (!entry.has_value()) continue;
      ++checks;
      const int64_t at_applied = db.VersionAt(i, view.applied());
      if (entry->lookup == nullptr) {
        ASSERT_LT(at_applied, 0)
            << "t" << i << " exists at applied " << view.applied()
            << " but the view says unknown";
      } else {
        int64_t served = 0;
        ASSERT_TRUE(absl::SimpleAtoi(entry->lookup->token.name, &served));
        ASSERT_GE(served, at_applied)
            << "t" << i << " served at version " << served
            << ", older than its version at applied " << view.applied();
      }
    }
  }
  EXPECT_GT(checks, 1000);
  EXPECT_GT(view.evictions(), 0);
}

// Readers, writers and the follower at once (run under TSAN too).
TEST(ValidateViewTest, ConcurrentUse) {
  ValidateView view({}, 0);
  std::atomic<bool> done{false};
  std::thread follower([&] {
    for (int64_t r = 1; r <= 5000; ++r) {
      const Digest digests[] = {D(static_cast<int>(r % 64))};
      view.ApplyGrant(r, absl::StrCat("t", r % 64), digests);
      if (r % 1000 == 0) view.Reset(r);
    }
    done.store(true);
  });
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      int i = t;
      while (!done.load()) {
        i = (i + 7) % 64;
        view.Insert(D(i), Tok(absl::StrCat("t", i)), view.applied());
        std::optional<ValidateView::Entry> e = view.Find(D(i));
        // Whatever is found for a digest belongs to its own token.
        if (e.has_value() && e->lookup != nullptr) {
          EXPECT_EQ(e->lookup->token.id, absl::StrCat("t", i));
        }
      }
    });
  }
  follower.join();
  for (std::thread& r : readers) r.join();
  EXPECT_EQ(view.applied(), 5000);
  EXPECT_LE(view.entries(), 64u);
  // Quiet again: a read at the applied revision is stored and served.
  ASSERT_EQ(view.Insert(D(5), Tok("t5"), view.applied()),
            ValidateView::InsertResult::kStored);
  ASSERT_TRUE(view.Find(D(5)).has_value());
  EXPECT_EQ(view.Find(D(5))->lookup->token.id, "t5");
}

}  // namespace
}  // namespace pat
