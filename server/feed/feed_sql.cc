#include "server/feed/feed_sql.h"

#include <algorithm>
#include <exception>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace pat::feed {
namespace {

// `url` with application_name set, in either conninfo syntax (URI or
// key=value); a later setting wins over an earlier one in both.
std::string WithApplicationName(const std::string& url,
                                absl::string_view name) {
  if (absl::StartsWith(url, "postgresql://") ||
      absl::StartsWith(url, "postgres://")) {
    return absl::StrCat(url, absl::StrContains(url, "?") ? "&" : "?",
                        "application_name=", name);
  }
  return absl::StrCat(url, " application_name=", name);
}

}  // namespace

int64_t AppendEvent(pqxx::transaction_base& txn, const EncodedEvent& event) {
  const pqxx::result r =
      txn.exec_params("SELECT pat_append_event($1, $2, $3::jsonb)",
                      event.type, event.key, event.payload_json);
  return r[0][0].as<int64_t>();
}

std::vector<SecretDigestRow> ReadSecretDigests(pqxx::transaction_base& txn,
                                               const std::string& token_id) {
  const pqxx::result rows = txn.exec_params(
      "SELECT encode(digest, 'hex'), pat_us(valid_until) FROM token_secrets "
      "WHERE token_id = $1 ORDER BY created_at",
      token_id);
  std::vector<SecretDigestRow> out;
  out.reserve(rows.size());
  for (const pqxx::row& row : rows) {
    SecretDigestRow s{row[0].as<std::string>(), std::nullopt};
    if (!row[1].is_null()) {
      s.valid_until = absl::FromUnixMicros(row[1].as<int64_t>());
    }
    out.push_back(std::move(s));
  }
  return out;
}

absl::Status Notify(pqxx::connection& conn, absl::string_view payload) {
  try {
    pqxx::nontransaction nt(conn);
    nt.exec_params("SELECT pg_notify($1, $2)", std::string(kFeedChannel),
                   std::string(payload));
    return absl::OkStatus();
  } catch (const pqxx::broken_connection&) {
    return absl::UnavailableError("notify: connection broken");
  } catch (const pqxx::sql_error& e) {
    return absl::InternalError(
        absl::StrCat("notify refused (SQLSTATE ", e.sqlstate(), ")"));
  } catch (const std::exception&) {
    return absl::InternalError("notify failed");
  }
}

absl::Status NotifyThroughPool(DbPool& pool, absl::string_view payload) {
  absl::StatusOr<DbPool::Lease> lease = pool.Acquire();
  if (!lease.ok()) return lease.status();
  absl::Status status = Notify(**lease, payload);
  if (!status.ok()) lease->Discard();
  return status;
}

// --- ListenSession -----------------------------------------------------------

struct ListenSession::Impl {
  class Receiver final : public pqxx::notification_receiver {
   public:
    Receiver(pqxx::connection_base& conn, NotificationFn fn)
        : pqxx::notification_receiver(conn, kFeedChannel), fn_(std::move(fn)) {}
    void operator()(const std::string& payload, int) override {
      if (fn_) fn_(payload);
    }

   private:
    const NotificationFn fn_;
  };

  ~Impl() {
    if (conn != nullptr) conn->disconnect();
    // With the connection closed, dropping the receiver sends no UNLISTEN.
    receiver.reset();
    conn.reset();
  }

  std::unique_ptr<pqxx::connection> conn;
  std::unique_ptr<Receiver> receiver;
};

ListenSession::ListenSession(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
ListenSession::~ListenSession() = default;

absl::StatusOr<std::unique_ptr<ListenSession>> ListenSession::Connect(
    const std::string& url, absl::string_view application_name,
    NotificationFn on_notification) {
  auto impl = std::make_unique<Impl>();
  try {
    impl->conn = std::make_unique<pqxx::connection>(
        WithApplicationName(url, application_name));
    // Registering the receiver issues LISTEN; events are read only after it,
    // so nothing committed after a read can go unnoticed.
    impl->receiver =
        std::make_unique<Impl::Receiver>(*impl->conn, std::move(on_notification));
  } catch (const std::exception&) {
    return absl::UnavailableError("feed listener: cannot connect");
  }
  return std::unique_ptr<ListenSession>(new ListenSession(std::move(impl)));
}

absl::StatusOr<int> ListenSession::Await(absl::Duration timeout) {
  const int64_t us = std::max<int64_t>(0, absl::ToInt64Microseconds(timeout));
  try {
    return impl_->conn->await_notification(us / 1000000, us % 1000000);
  } catch (const std::exception&) {
    return absl::UnavailableError("feed listener: connection broken");
  }
}

absl::StatusOr<int64_t> ListenSession::ReadHead() {
  try {
    pqxx::nontransaction nt(*impl_->conn);
    return nt.exec("SELECT revision FROM feed_head WHERE id = 1")[0][0]
        .as<int64_t>();
  } catch (const std::exception&) {
    return absl::UnavailableError("feed listener: cannot read the feed head");
  }
}

absl::StatusOr<std::vector<FeedEventRow>> ListenSession::ReadAfter(
    int64_t after, int limit) {
  try {
    pqxx::nontransaction nt(*impl_->conn);
    const pqxx::result rows = nt.exec_params(
        "SELECT revision, type, key, payload::text FROM grant_events "
        "WHERE revision > $1 ORDER BY revision LIMIT $2",
        after, limit);
    std::vector<FeedEventRow> out;
    out.reserve(rows.size());
    for (const pqxx::row& r : rows) {
      out.push_back({r[0].as<int64_t>(), r[1].as<std::string>(),
                     r[2].as<std::string>(), r[3].as<std::string>()});
    }
    return out;
  } catch (const std::exception&) {
    return absl::UnavailableError("feed listener: cannot read events");
  }
}

absl::Status ListenSession::Prune(absl::Duration retention) {
  try {
    pqxx::nontransaction nt(*impl_->conn);
    nt.exec_params(
        "DELETE FROM grant_events WHERE revision <= (SELECT max(revision) "
        "FROM grant_events WHERE created_at < now() - $1::bigint * "
        "interval '1 microsecond') AND revision < (SELECT revision FROM "
        "feed_head WHERE id = 1)",
        absl::ToInt64Microseconds(retention));
    return absl::OkStatus();
  } catch (const std::exception&) {
    return absl::UnavailableError("feed prune failed");
  }
}

}  // namespace pat::feed
