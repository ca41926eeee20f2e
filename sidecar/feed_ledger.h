#ifndef PAT_SIDECAR_FEED_LEDGER_H_
#define PAT_SIDECAR_FEED_LEDGER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/secret.h"

// What a sidecar in the used-only cache mode knows of the change feed beyond
// the grants it holds (docs/cache-modes.md): the revision it has applied and,
// for the newest `capacity` keys touched by grant events, the revision of the
// last event that touched each. It decides whether a ValidateToken answer
// taken at revision A may be kept: only if it is at least as new as the
// applied revision, or no event after A touched its token or digest. Events
// for tokens the sidecar does not hold are not applied, so without this an
// answer taken before a revoke, arriving after the revoke's event, would be
// kept active.
//
// Keys are 64-bit hashes (a token id's, a digest's first 8 bytes); a
// collision can only make an answer look touched (it is asked again), never
// untouched. Not thread-safe: GrantCache serializes it with the grants.
// Pure bookkeeping, no clock.
namespace pat::sidecar {

class FeedLedger {
 public:
  // `capacity`: keys remembered (>= 1); older ones raise floor().
  explicit FeedLedger(size_t capacity);

  enum class Verdict {
    kKeep,      // current at applied(): keep it and use it
    kUseOnly,   // newer than anything known, but continuity is lost: use it
                // for the request that asked, do not keep it
    kAskAgain,  // an event after it may have changed the answer
  };
  // For an answer at `answer_revision` about a token (`token_key`, 0 when
  // the answer names none) and the digest asked about.
  Verdict Judge(int64_t answer_revision, uint64_t token_key,
                uint64_t digest_key) const;

  // A snapshot began (or events were lost): until Resume(), nothing after
  // applied() is known.
  void Break();
  // Continuity from `revision` (a snapshot's synced marker): every later
  // event will be recorded; nothing earlier is.
  void Resume(int64_t revision);
  // A live event at `revision` (> applied(); others are ignored) touching
  // `keys` (none for directory events). Ignored while broken.
  void Record(int64_t revision, absl::Span<const uint64_t> keys);

  int64_t applied() const { return applied_; }
  // Every event after floor() is recorded.
  int64_t floor() const { return floor_; }
  bool continuous() const { return continuous_; }
  size_t size() const { return order_.size(); }

  static uint64_t TokenKey(absl::string_view token_id);
  static uint64_t DigestKey(const Digest& digest);

 private:
  const size_t capacity_;
  bool continuous_ = false;
  int64_t applied_ = 0;
  int64_t floor_ = 0;
  // key -> revision of the last event that touched it (all > floor_).
  absl::flat_hash_map<uint64_t, int64_t> last_;
  // (revision, key) in revision order, for eviction.
  std::deque<std::pair<int64_t, uint64_t>> order_;
};

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_FEED_LEDGER_H_
