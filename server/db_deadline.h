#ifndef PAT_SERVER_DB_DEADLINE_H_
#define PAT_SERVER_DB_DEADLINE_H_

#include <optional>

#include "absl/time/time.h"

// The deadline of the RPC a thread is serving, for the database layer: the
// pool waits no longer than it for a connection, and every transaction runs
// with `SET LOCAL statement_timeout` = the time left (so a slow or blocked
// statement is cancelled by PostgreSQL when the client has stopped waiting,
// and its connection returns to the pool).
//
// Every synchronous gRPC handler of the process gets its RPC's deadline
// (grpc::Server::GlobalCallbacks, installed by this library before main, so
// before any grpc::Server exists); code off an RPC thread (the feed, the
// supervisor) has none unless it opens a ScopedDbDeadline.
namespace grpc {
class ServerContextBase;
}  // namespace grpc

namespace pat {

// The deadline of an RPC (nullopt when none, or infinite), e.g. for a
// ScopedDbDeadline around a callback-API handler's database work.
std::optional<absl::Time> RpcDeadline(const grpc::ServerContextBase& context);

// The deadline of the current thread's RPC; nullopt when none (or infinite).
std::optional<absl::Time> CurrentDbDeadline();

// Sets the current thread's deadline for its lifetime (restoring the one
// before). For code that is not a gRPC handler, and for tests.
class ScopedDbDeadline {
 public:
  explicit ScopedDbDeadline(std::optional<absl::Time> deadline);
  ~ScopedDbDeadline();
  ScopedDbDeadline(const ScopedDbDeadline&) = delete;
  ScopedDbDeadline& operator=(const ScopedDbDeadline&) = delete;

 private:
  std::optional<absl::Time> previous_;
};

}  // namespace pat

#endif  // PAT_SERVER_DB_DEADLINE_H_
