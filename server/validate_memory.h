#ifndef PAT_SERVER_VALIDATE_MEMORY_H_
#define PAT_SERVER_VALIDATE_MEMORY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/metrics.h"
#include "common/secret.h"
#include "server/grant_feed.h"
#include "server/token_introspection.h"
#include "server/token_store.h"
#include "server/validate_view.h"

// ValidateToken from memory (issue #11): each replica answers secret
// lookups from a bounded ValidateView kept current by its own FeedHub, and
// reads the database on a miss (then remembers the answer), so correctness
// never depends on the view being warm.
//
// An answer comes from memory only when
//   - the feed hub is live (connected, read recently): otherwise the view
//     may be missing events and every lookup reads the database;
//   - the view has applied every feed revision this process has committed
//     (DbPool::newest_feed_commit): a revoke, edit or refresh that returned
//     OK on this replica is seen by this replica's next ValidateToken
//     (read-your-writes), as it was when every lookup read the database.
// Otherwise a change made on another replica is reflected once this
// replica's hub has read it: the same bound as the change's propagation to
// sidecars (who learn it from the same feed).
//
// A follower thread applies the hub's events to the view in revision order;
// events the hub no longer holds (a slow follower, a rewound feed head after
// a failover) clear the view.
namespace pat {

struct ValidateMemoryOptions {
  ValidateViewOptions view;
  // How long the follower waits for events before re-checking Stop().
  absl::Duration follow_slice = absl::Milliseconds(200);
  // Optional (must outlive the object).
  Counter* memory_hits = nullptr;
  Counter* database_reads = nullptr;
  Gauge* entries = nullptr;
};

class ValidateMemory final : public SecretSource {
 public:
  // The database read: each secret's token and the feed revision the read
  // reflects, in the order given (PgTokenStore::LookupSecretsWithHead: one
  // statement for all).
  using Loader = std::function<absl::StatusOr<std::vector<SecretAtHead>>(
      absl::Span<const Digest>)>;
  // The newest feed revision this process committed (DbPool).
  using LocalCommits = std::function<int64_t()>;

  // Starts the follower at the hub's head. `feed` must outlive the object.
  static absl::StatusOr<std::unique_ptr<ValidateMemory>> Start(
      ValidateMemoryOptions options, Loader loader, LocalCommits local_commits,
      FeedHub& feed);
  ~ValidateMemory() override;

  ValidateMemory(const ValidateMemory&) = delete;
  ValidateMemory& operator=(const ValidateMemory&) = delete;

  // The answer and the revision it reflects (the view's applied revision for
  // a memory answer, the read's head for a database one).
  absl::StatusOr<SecretAtHead> LookupSecret(const Digest& digest) override;
  // Each digest from memory when it may be, the others in one read (each
  // kept by the same rule as LookupSecret's).
  absl::StatusOr<std::vector<SecretAtHead>> LookupSecrets(
      absl::Span<const Digest> digests) override;
  // The answer from memory, when the serving rule above allows it and the
  // digest is held; never blocks.
  std::optional<absl::StatusOr<SecretAtHead>> TryLookupSecret(
      const Digest& digest) override;

  // Ends the follower (idempotent); lookups then read the database.
  void Stop();

  // For tests and metrics.
  const ValidateView& view() const { return view_; }

 private:
  ValidateMemory(ValidateMemoryOptions options, Loader loader,
                 LocalCommits local_commits, FeedHub& feed);
  bool Serving() const;
  // Reads `digests` with the loader and keeps each answer the view may keep.
  absl::StatusOr<std::vector<SecretAtHead>> ReadAndKeep(
      absl::Span<const Digest> digests);
  void Follow();
  void Apply(const v1::GrantEvent& event);

  const ValidateMemoryOptions options_;
  const Loader loader_;
  const LocalCommits local_commits_;
  FeedHub& feed_;
  ValidateView view_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> following_{false};
  std::thread follower_;
};

// Every lookup reads the database, with the head it reflects
// (`--validate_memory_entries=0`).
class DatabaseSecrets final : public SecretSource {
 public:
  explicit DatabaseSecrets(ValidateMemory::Loader loader)
      : loader_(std::move(loader)) {}
  absl::StatusOr<SecretAtHead> LookupSecret(const Digest& digest) override {
    absl::StatusOr<std::vector<SecretAtHead>> read = loader_({&digest, 1});
    if (!read.ok()) return read.status();
    return std::move(read->front());
  }
  absl::StatusOr<std::vector<SecretAtHead>> LookupSecrets(
      absl::Span<const Digest> digests) override {
    return loader_(digests);
  }
  std::optional<absl::StatusOr<SecretAtHead>> TryLookupSecret(
      const Digest&) override {
    return std::nullopt;
  }

 private:
  const ValidateMemory::Loader loader_;
};

}  // namespace pat

#endif  // PAT_SERVER_VALIDATE_MEMORY_H_
