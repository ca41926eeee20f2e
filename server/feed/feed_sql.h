#ifndef PAT_SERVER_FEED_FEED_SQL_H_
#define PAT_SERVER_FEED_FEED_SQL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "pqxx/pqxx"
#include "server/db_pool.h"
#include "server/feed/feed_format.h"
#include "server/token_store.h"

// The change feed's SQL and its NOTIFY channel, defined once (SPEC §6).
//
// Write path (inside a store transaction; libpqxx exceptions propagate to
// the store's transaction runner, which classifies them): AppendEvent and
// ReadSecretDigests. Revisions come from pat_append_event (migrations.cc):
// dense, committed in revision order.
//
// After the commit, Notify / NotifyThroughPool announce a revision (best
// effort; never throws). The payload is only the revision (or a self-check
// probe "probe:<nonce>"), far below NOTIFY's 8000-byte limit whatever the
// event's size.
//
// Read path: ListenSession, the feed listener's own connection. Every method
// returns a status instead of throwing; after an error the session is
// unusable (the caller makes a new one).
namespace pat {

// The NOTIFY channel of the feed.
inline constexpr char kFeedChannel[] = "pat_grants";

namespace feed {

// Prefix of the LISTEN self-check's notification payloads.
inline constexpr absl::string_view kProbePrefix = "probe:";

// Appends `event` in `txn`; the new revision. Throws (libpqxx) on errors.
int64_t AppendEvent(pqxx::transaction_base& txn, const EncodedEvent& event);

// The secrets of `token_id` (digests only), oldest first. Throws (libpqxx).
std::vector<SecretDigestRow> ReadSecretDigests(pqxx::transaction_base& txn,
                                               const std::string& token_id);

// NOTIFY pat_grants, '<payload>' on `conn` outside any transaction.
// UNAVAILABLE when the connection broke, INTERNAL when PostgreSQL refused
// (e.g. "too many notifications in the NOTIFY queue"); the connection
// should then be discarded.
absl::Status Notify(pqxx::connection& conn, absl::string_view payload);
// The same on a connection of `pool` (discarded on failure).
absl::Status NotifyThroughPool(DbPool& pool, absl::string_view payload);

class ListenSession {
 public:
  // Called on the thread that runs Await, once per notification on the feed
  // channel, with its payload (never trusted beyond a wake-up and the
  // self-check's probe).
  using NotificationFn = std::function<void(const std::string& payload)>;

  // Connects to `url` with application_name `application_name` and LISTENs.
  // UNAVAILABLE when it cannot.
  static absl::StatusOr<std::unique_ptr<ListenSession>> Connect(
      const std::string& url, absl::string_view application_name,
      NotificationFn on_notification);
  ~ListenSession();

  ListenSession(const ListenSession&) = delete;
  ListenSession& operator=(const ListenSession&) = delete;

  // Waits up to `timeout` for notifications; how many arrived.
  absl::StatusOr<int> Await(absl::Duration timeout);
  // feed_head's revision.
  absl::StatusOr<int64_t> ReadHead();
  // Events with revision > after, in order, at most `limit`.
  absl::StatusOr<std::vector<FeedEventRow>> ReadAfter(int64_t after, int limit);
  // Deletes events older than `retention`: a prefix of the history, never
  // the newest event.
  absl::Status Prune(absl::Duration retention);

 private:
  struct Impl;
  explicit ListenSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace feed
}  // namespace pat

#endif  // PAT_SERVER_FEED_FEED_SQL_H_
