#ifndef PAT_SIDECAR_GRANT_CACHE_H_
#define PAT_SIDECAR_GRANT_CACHE_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/secret.h"
#include "sidecar/feed_ledger.h"
#include "sidecar/grant.h"
#include "sidecar/metrics.h"

// The sidecar's grant cache (SPEC §7 "Cache"): secret digest -> the token's
// grant, kept current by the watch stream (watcher.h) and filled on misses by
// ValidateToken (pat_authorizer.h). Also holds the sync state the authorizer
// needs (synced at least once, last contact with the authority).
//
// Layout: 16 shards selected by a digest byte, each a flat_hash_map from
// Digest to {shared, immutable CachedToken; the secret's end} under a
// reader-writer lock. A hit takes one shard's reader lock and copies a
// shared_ptr (no allocation). Every digest of a token points to the same
// CachedToken, equal scope sets are interned and nothing else is kept per
// token (about 330 bytes for an all-resources grant with one secret), which
// keeps 100,000 grants well within the 64 MiB budget.
//
// Unknown digests (ValidateToken said "not found") are remembered for
// `negative_ttl`, at most `max_negative` of them (oldest evicted first), and
// forgotten as soon as a grant event names them.
//
// Ordering rules (the watch stream is the source of truth while it is up):
//  * Apply() (an event) always replaces what is held for the token.
//  * PutValidated()/PutUnknown() with overwrite=false never replace a grant
//    already held for the digest (an event wrote it after the miss began);
//    overwrite=true (revalidation while stale) replaces it.
//  * Revocation is sticky (R10): once a revoked state is held for a token,
//    a later non-revoked state for it (a late or reordered answer) keeps the
//    revoked status.
//
// Modes (docs/cache-modes.md):
//  * kFull: the watch stream's snapshot fills the cache with every grant and
//    every event is applied.
//  * kUsed: only grants a request needed (ValidateToken answers) are held,
//    at most `max_grants` digests (arbitrary ones evicted beyond); events
//    update held tokens and are otherwise only recorded in a FeedLedger, which
//    decides whether an answer may be kept (PutAnswer).
// In both modes a token's state carries the revision it reflects, and an
// event at or below it is not applied to it (the state held is newer).
//
// Thread-safe. Never logs; digests never leave this class.
namespace pat::sidecar {

struct DigestHash {
  size_t operator()(const Digest& d) const;
};
// Constant-time comparison (SPEC §5).
struct DigestEq {
  bool operator()(const Digest& a, const Digest& b) const {
    return ConstantTimeEquals(a, b);
  }
};

// One token as cached: immutable once published, shared by all its digests.
struct CachedToken {
  Grant grant;
  // Snapshot generation that last wrote it (see BeginSnapshot).
  uint64_t generation = 0;
  // The feed revision the state reflects (0: unknown).
  int64_t revision = 0;
};

// What the cache holds for one digest.
struct CacheEntry {
  std::shared_ptr<const CachedToken> token;  // null: nothing held
  // When this particular secret stops working.
  absl::Time secret_expire_time = absl::InfinitePast();
};

struct CacheLookup {
  enum class Kind {
    kMiss,     // nothing known: ask the authority
    kFound,    // a grant is held for the digest
    kUnknown,  // the authority recently said no token has this digest
  };
  Kind kind = Kind::kMiss;
  CacheEntry entry;  // kFound
};

enum class CacheMode { kFull, kUsed };

struct GrantCacheOptions {
  absl::Duration negative_ttl = absl::Seconds(5);
  size_t max_negative = 100000;
  CacheMode mode = CacheMode::kFull;
  // kUsed: digests held at most.
  size_t max_grants = 50000;
  // kUsed: keys the FeedLedger remembers (events older than that many keys
  // make an answer taken before them be asked again).
  size_t ledger_keys = 65536;
};

// One ValidateToken answer.
struct ValidateAnswer {
  bool found = false;
  Grant grant;  // found
  absl::Time secret_expire_time = absl::InfinitePast();
  // The feed revision it reflects (0: unknown).
  int64_t revision = 0;
};

class GrantCache {
 public:
  static constexpr int kShards = 16;

  // `clock` and `metrics` must outlive the cache.
  GrantCache(const Clock& clock, MetricsRegistry& metrics,
             GrantCacheOptions options = {});
  ~GrantCache();
  GrantCache(const GrantCache&) = delete;
  GrantCache& operator=(const GrantCache&) = delete;

  // --- Request path ---

  // Counts a hit (kFound, kUnknown) or a miss.
  CacheLookup Find(const Digest& digest) const;

  // A ValidateToken answer "found" for `digest`. Returns what the cache holds
  // for the digest afterwards (the caller decides with it).
  CacheEntry PutValidated(const Digest& digest, Grant grant,
                          absl::Time secret_expire_time, bool overwrite);
  // A ValidateToken answer "not found". With overwrite=false a grant held
  // for the digest is kept (and returned); otherwise it is dropped, the
  // digest is remembered as unknown and an empty entry is returned.
  CacheEntry PutUnknown(const Digest& digest, bool overwrite);

  // A ValidateToken answer, by the mode's rule: kFull as PutValidated /
  // PutUnknown; kUsed keeps it only when the FeedLedger says it is current
  // (nullopt when an event after it may have changed it: ask again; the
  // answer itself, not kept, while a snapshot is in progress).
  std::optional<CacheEntry> PutAnswer(const Digest& digest,
                                      ValidateAnswer answer, bool overwrite);

  // --- Watch stream ---

  // Applies one grant event (the token's full new state and its secrets):
  // every listed digest maps to the new state at once and stops being
  // "unknown". An event without secrets updates every digest held for the
  // token (a full scan; the authority is expected to list the secrets).
  // A digest the token no longer lists (a previous secret whose overlap
  // ended) keeps its old entry, which its own end already denies, until the
  // next snapshot drops it: there is no per-token digest index, to stay
  // compact.
  // `revision`: the event's (0: unknown, always applied). kUsed: applied
  // only to tokens held; recorded in the ledger either way.
  void Apply(GrantUpdate update, int64_t revision = 0);
  // A live event that is not a grant event (directory), for the ledger.
  void ApplyOther(int64_t revision);
  // Starts a snapshot: later Apply()/PutValidated() calls are tagged with a
  // new generation. Snapshot events are applied as they arrive (each is at
  // least as new as what is held).
  void BeginSnapshot();
  // Ends a snapshot at `revision`: drops every grant the snapshot did not
  // name (tagged with an older generation; in kUsed, every grant held before
  // it), and the ledger continues from `revision`.
  void FinishSnapshot(int64_t revision = 0);

  CacheMode mode() const { return options_.mode; }

  // --- Sync state ---

  void MarkSynced() { synced_.store(true, std::memory_order_release); }
  bool synced() const { return synced_.load(std::memory_order_acquire); }
  // Records a message from the authority at `t` (never moves backwards).
  void Touch(absl::Time t);
  absl::Time last_contact() const;
  // Not synced yet, or no message from the authority for longer than
  // `bound` at `now`.
  bool Stale(absl::Time now, absl::Duration bound) const;

  // Digests that map to a grant.
  size_t size() const { return size_.load(std::memory_order_relaxed); }
  // Digests remembered as unknown (expired ones may still be counted until
  // they are evicted).
  size_t negative_size() const;

 private:
  struct Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<Digest, CacheEntry, DigestHash, DigestEq> grants
        ABSL_GUARDED_BY(mu);
    // Unknown digest -> remembered until.
    absl::flat_hash_map<Digest, absl::Time, DigestHash, DigestEq> unknown
        ABSL_GUARDED_BY(mu);
    // Insertion order of `unknown`, for eviction (entries may be stale).
    std::deque<std::pair<Digest, absl::Time>> unknown_order ABSL_GUARDED_BY(mu);
  };

  Shard& ShardFor(const Digest& d) const;
  CacheEntry PutValidatedAt(const Digest& digest, Grant grant,
                            absl::Time secret_expire_time, bool overwrite,
                            int64_t revision);
  std::optional<CacheEntry> PutUsed(const Digest& digest, ValidateAnswer answer,
                                    bool overwrite);
  void ApplyUpdate(GrantUpdate update, int64_t revision, bool held_only);
  void ForgetUnknown(const Digest& digest);
  void DropOlderGenerations();
  // kUsed: drops digests other than `keep` while more than max_grants are
  // held. Every store in kUsed runs under feed_mu_, so no other store holds
  // a shard lock meanwhile.
  void TrimToBound(const Digest& keep) ABSL_EXCLUSIVE_LOCKS_REQUIRED(feed_mu_);
  // Interns grant->scopes.
  void Intern(Grant& grant);
  // Replaces the entry for `digest` (or inserts it) and forgets the digest
  // as unknown.
  void Store(Shard& shard, const Digest& digest, CacheEntry entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  void RememberUnknown(Shard& shard, const Digest& digest, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  void UpdateSizeGauge();

  const Clock& clock_;
  const GrantCacheOptions options_;
  const size_t max_negative_per_shard_;
  Counter& hits_;
  Counter& misses_;
  Gauge& size_gauge_;
  Gauge& negative_gauge_;
  Counter& evictions_;
  Counter& asked_again_;
  Counter& ignored_events_;

  std::unique_ptr<Shard[]> shards_;
  std::atomic<size_t> size_{0};
  std::atomic<size_t> negative_size_{0};
  std::atomic<uint64_t> generation_{1};
  std::atomic<bool> synced_{false};
  std::atomic<int64_t> last_contact_unix_nanos_{INT64_MIN};

  // kUsed: orders events against answers (taken before any shard lock).
  absl::Mutex feed_mu_;
  FeedLedger ledger_ ABSL_GUARDED_BY(feed_mu_);
  int trim_next_ ABSL_GUARDED_BY(feed_mu_) = 0;

  absl::Mutex intern_mu_;
  absl::flat_hash_map<std::string, ScopeSet> interned_
      ABSL_GUARDED_BY(intern_mu_);
  size_t interned_prune_at_ ABSL_GUARDED_BY(intern_mu_) = 1024;
};

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_GRANT_CACHE_H_
