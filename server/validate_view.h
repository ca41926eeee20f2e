#ifndef PAT_SERVER_VALIDATE_VIEW_H_
#define PAT_SERVER_VALIDATE_VIEW_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "common/secret.h"
#include "server/token_store.h"

// The bookkeeping of ValidateToken's in-memory answers (no threads, no
// database; server/validate_memory.h feeds it): what database reads
// returned, each stamped with the feed revision it reflects, and the feed
// events applied since, which erase whatever they may have changed.
//
// The invariant: every entry equals what a database read would return after
// the feed events up to applied(). It holds because
//   - a read stamped `head` is the state after exactly the events up to
//     `head` (one snapshot, server/pg_token_store.h LookupSecretWithHead);
//   - it is stored only when head >= applied(): no event it does not reflect
//     has been applied yet, and every later one will erase it;
//   - a grant event erases every entry of its token (by token id) and every
//     digest it lists (so a secret that did not exist, stored as unknown, is
//     forgotten when a create or refresh adds it);
//   - a gap (events no longer known) clears everything.
// Time-dependent state (expiry, the end of a previous secret's overlap) is
// not stored: entries hold the token and the secret's valid_until, and the
// caller computes status at its own now.
//
// Bounded: at most max_entries tokens' secrets and max_unknown unknown
// digests (each kind is cleared whole when full, so a flood of unknown
// digests never evicts tokens), and no token with more than
// max_resources_per_entry resource links is stored. Thread-safe.
namespace pat {

struct ValidateViewOptions {
  size_t max_entries = 100000;
  size_t max_unknown = 25000;
  size_t max_resources_per_entry = 1000;
};

class ValidateView {
 public:
  // `applied`: the feed revision the (empty) view starts at.
  ValidateView(ValidateViewOptions options, int64_t applied);

  ValidateView(const ValidateView&) = delete;
  ValidateView& operator=(const ValidateView&) = delete;

  struct Entry {
    // Null: no token has this secret.
    std::shared_ptr<const SecretLookup> lookup;
    // applied() when it was found: the answer holds at this revision.
    int64_t revision = 0;
  };
  // nullopt: not in the view (read the database).
  std::optional<Entry> Find(const Digest& digest) const;

  enum class InsertResult {
    kStored,
    kStale,     // head < applied(): events it does not reflect were applied
    kTooLarge,  // more resource links than max_resources_per_entry
  };
  // Records what a read at feed revision `head` returned for `digest`.
  InsertResult Insert(const Digest& digest,
                      const std::optional<SecretLookup>& lookup, int64_t head);

  // A grant event at `revision` (> applied(), else ignored) for `token_id`
  // listing `digests`: erases the token's entries and those digests.
  void ApplyGrant(int64_t revision, absl::string_view token_id,
                  absl::Span<const Digest> digests);
  // Any other event at `revision` (plans and resources change no entry).
  void ApplyOther(int64_t revision);
  // Events were missed, or history was rewound: forget everything and
  // continue at `revision`.
  void Reset(int64_t revision);

  int64_t applied() const;
  // Stored secrets of tokens, and stored unknown digests.
  size_t entries() const;
  size_t unknown_entries() const;
  // Times a kind of entry was cleared whole because it was full.
  int64_t evictions() const;

 private:
  void EraseDigest(const Digest& digest) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ClearAll() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ValidateViewOptions options_;
  mutable absl::Mutex mu_;
  int64_t applied_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Digest, std::shared_ptr<const SecretLookup>> known_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::vector<Digest>> by_token_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<Digest> unknown_ ABSL_GUARDED_BY(mu_);
  int64_t evictions_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace pat

#endif  // PAT_SERVER_VALIDATE_VIEW_H_
