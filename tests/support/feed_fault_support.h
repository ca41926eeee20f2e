#ifndef PAT_TESTS_SUPPORT_FEED_FAULT_SUPPORT_H_
#define PAT_TESTS_SUPPORT_FEED_FAULT_SUPPORT_H_

// Support for the change feed's fault tests (docs/feed-faults.md): a
// WatchGrants client that records every revoke it sees, and a real PgBouncer.

#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "pat/v1/pat.grpc.pb.h"

namespace pat::testing {

// A sidecar's view of the feed: a WatchGrants stream to `target` (from the
// snapshot), re-opened from the last revision whenever it ends, until
// destruction. Records the token ids whose grant carries a revoke_time.
class GrantWatcher {
 public:
  explicit GrantWatcher(const std::string& target);
  ~GrantWatcher();

  // Waits (bounded) until the first synced_revision.
  bool WaitSynced(absl::Duration timeout);
  bool Revoked(const std::string& token_id) const;
  std::set<std::string> revoked() const;
  int64_t revision() const;

 private:
  void Run();

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pat::v1::IntrospectionService::Stub> stub_;
  std::thread thread_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::string> revoked_ ABSL_GUARDED_BY(mu_);
};

// A real PgBouncer (/usr/sbin/pgbouncer, Debian package pgbouncer) on
// 127.0.0.1 in front of the PostgreSQL at `pg_port`, auth_type any, as the
// postgres OS user when run as root. Stopped on destruction.
class PgBouncer {
 public:
  // Null (with a test failure) when it cannot start.
  static std::unique_ptr<PgBouncer> Start(int pg_port,
                                          const std::string& pool_mode);
  ~PgBouncer();
  int port() const { return port_; }
  // Rewrites the configuration with `pool_mode` and reloads (SIGHUP).
  bool Reload(const std::string& pool_mode);
  // `url` (postgresql://user@127.0.0.1:PORT/db...) with PgBouncer's port.
  std::string Url(const std::string& url) const;

 private:
  PgBouncer() = default;
  bool WriteConfig(const std::string& pool_mode) const;
  int Pid() const;

  std::string dir_;
  int pg_port_ = 0;
  int port_ = 0;
};

// The port of a postgresql:// URL (0 when it has none).
int UrlPort(const std::string& url);

}  // namespace pat::testing

#endif  // PAT_TESTS_SUPPORT_FEED_FAULT_SUPPORT_H_
