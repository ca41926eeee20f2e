#ifndef PAT_TESTS_SUPPORT_SIDECAR_HARNESS_H_
#define PAT_TESTS_SUPPORT_SIDECAR_HARNESS_H_

// End-to-end support (tests/e2e): HTTP clients, an in-process sidecar stack
// in front of an in-process sample upstream, wired exactly like
// sidecar/main.cc and pointed at an AuthorityHarness (sharing its FakeClock),
// a TCP relay to cut the sidecar off its authority, and the real binaries
// (pat-authority, pat-sidecar, pat-sample-upstream) as subprocesses.
//
// Nothing here sleeps to synchronize: WaitFor() polls a condition with a
// bound.

#include <sys/types.h>

#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/domain.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "pat/v1/pat.grpc.pb.h"
#include "sidecar/grant_cache.h"
#include "sidecar/metrics.h"
#include "sidecar/miss_limiter.h"
#include "sidecar/sidecar_server.h"
#include "sidecar/watcher.h"
#include "tests/support/authority_harness.h"
#include "tests/support/test_database.h"
#include "tests/support/wait_for.h"
#include "tools/sample_upstream_server.h"

namespace pat::testing {

// absl::Now() truncated to whole microseconds (what PostgreSQL stores), for
// FakeClocks that must also be valid in real time.
absl::Time NowMicros();

// ---------------------------------------------------------------------------
// HTTP

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 0;  // 0: no response (I/O error or timeout; see `error`)
  std::string error;
  HeaderList headers;  // as received, in order
  std::string body;
  bool keep_alive = false;

  // The first value of header `name` (case-insensitive); "" when absent.
  std::string Header(absl::string_view name) const;
  int HeaderCount(absl::string_view name) const;
  // The body as JSON (a discarded value when it is not JSON).
  nlohmann::json Json() const;
  // For failure messages: status, headers and body.
  std::string Describe() const;
};

// A blocking HTTP/1.1 client over Boost.Beast (one keep-alive connection).
// Every call is bounded by `timeout`; on an I/O error or timeout the response
// has status 0 and the connection is dropped (the next call reconnects).
class HttpClient {
 public:
  explicit HttpClient(int port, absl::Duration timeout = absl::Seconds(15));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `method target` with Host: api.test, the given headers and body
  // (Content-Length set when the body is not empty).
  HttpResponse Send(absl::string_view method, absl::string_view target,
                    const HeaderList& headers = {},
                    absl::string_view body = "");
  HttpResponse Get(absl::string_view target, const HeaderList& headers = {}) {
    return Send("GET", target, headers);
  }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// One request on a fresh connection.
HttpResponse HttpCall(int port, absl::string_view method,
                      absl::string_view target, const HeaderList& headers = {},
                      absl::string_view body = "");
inline HttpResponse HttpGet(int port, absl::string_view target,
                            const HeaderList& headers = {}) {
  return HttpCall(port, "GET", target, headers);
}

// "Authorization: Bearer <secret>".
inline HeaderList Bearer(absl::string_view secret) {
  return {{"Authorization", "Bearer " + std::string(secret)}};
}

// A raw TCP connection (Asio) that writes exact bytes, for request shapes a
// well-behaved client library would never send.
class RawConnection {
 public:
  explicit RawConnection(int port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const;
  // Writes all of `bytes`; false on error (e.g. the peer reset the
  // connection) or timeout.
  bool Send(absl::string_view bytes,
            absl::Duration timeout = absl::Seconds(10));
  // Reads one response (parsed with Beast); status 0 on EOF, error or
  // timeout.
  HttpResponse ReadResponse(absl::Duration timeout = absl::Seconds(15));
  // True when the peer closes the connection (EOF or reset) within
  // `timeout` without sending any further byte.
  bool ClosedByPeer(absl::Duration timeout = absl::Seconds(10));

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// "METHOD target HTTP/1.1\r\nHost: api.test\r\n<lines>\r\n\r\n<body>" with
// each of `lines` as given (no CRLF) and nothing added.
std::string RawRequest(absl::string_view method, absl::string_view target,
                       const std::vector<std::string>& lines,
                       absl::string_view body = "");

// The sample upstream's count of requests served (GET /__pat_sample/count
// over HTTP); -1 when it does not answer.
int64_t UpstreamCount(int upstream_port);

// The echo of the sample upstream in an allowed response: the header values
// the upstream received for `name` (lower-case).
std::vector<std::string> EchoedHeader(const nlohmann::json& echo,
                                      const std::string& name);

// True when `text` contains something shaped like a plan token secret
// (pat_(rest|npm)_[0-9A-Za-z]{49}).
bool ContainsSecretShape(absl::string_view text);

// ---------------------------------------------------------------------------
// In-process sidecar

struct SidecarStackOptions {
  TokenKind api = TokenKind::kRestApi;
  absl::Duration staleness_bound = absl::Seconds(30);
  // gRPC target of the authority; empty: the harness's own.
  std::string authority_target;
  // Start() waits (bounded) until the first sync with the authority.
  bool wait_for_sync = true;
  // Bounds of requests waiting on the authority.
  sidecar::MissLimits miss_limits;
  // Deadline of ValidateToken and ResolveResource.
  absl::Duration rpc_timeout = absl::Seconds(2);
  // How often usage is reported (UsageReporterOptions::flush_interval).
  absl::Duration usage_flush_interval = absl::Seconds(10);
  // --cache_mode (docs/cache-modes.md).
  std::string cache_mode = "full";
};

// The production wiring of sidecar/main.cc (SidecarServer::Create), in
// process, on 127.0.0.1 port 0, with the AuthorityHarness's FakeClock, in
// front of an in-process SampleUpstream. Access log lines are captured
// (access_log()).
class SidecarStack {
 public:
  // Fails the calling test (ASSERT) and returns null on error.
  static std::unique_ptr<SidecarStack> Start(
      AuthorityHarness& authority, const SidecarStackOptions& options = {});
  // The same with an explicit clock and authority target.
  static std::unique_ptr<SidecarStack> Start(
      const Clock& clock, const SidecarStackOptions& options);
  ~SidecarStack();

  int port() const;
  int admin_port() const;
  int upstream_port() const;
  // Requests the upstream has served (/__pat_sample/count over HTTP).
  int64_t upstream_count() const { return UpstreamCount(upstream_port()); }

  // Waits (bounded) until the watcher has synced.
  bool WaitForSync(absl::Duration timeout = absl::Seconds(15)) const;
  // GET /readyz == 200.
  bool Ready() const;

  sidecar::Watcher& watcher() { return *server_->watcher(); }
  sidecar::GrantCache& grants() { return server_->grants(); }
  sidecar::MetricsRegistry& metrics() { return server_->metrics(); }
  sidecar::SidecarServer& server() { return *server_; }
  std::vector<std::string> access_log() const;

 private:
  explicit SidecarStack(const Clock& clock) : clock_(clock) {}
  void StartInto(const SidecarStackOptions& options, const std::string& target);

  const Clock& clock_;
  mutable absl::Mutex log_mu_;
  std::vector<std::string> log_ ABSL_GUARDED_BY(log_mu_);
  std::unique_ptr<tools::SampleUpstream> upstream_;
  std::unique_ptr<sidecar::SidecarServer> server_;
};

// A TCP relay on 127.0.0.1 port 0 to `target_port`: point a sidecar at it and
// Cut() to partition it from its authority (every relayed connection is
// closed and new ones are refused), Restore() to heal.
class TcpRelay {
 public:
  static std::unique_ptr<TcpRelay> Start(int target_port);
  ~TcpRelay();
  int port() const;
  std::string target() const;  // "127.0.0.1:<port>"
  void Cut();
  void Restore();

  struct Impl;

 private:
  explicit TcpRelay(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------
// Real binaries

// The path in environment variable `variable` ("" when unset).
std::string BinaryFromEnv(const char* variable);

// A child process whose stdout and stderr are captured (one pipe) by a
// reader thread, so a chatty child never blocks on a full pipe. Killed
// (SIGKILL) and reaped on destruction.
class Subprocess {
 public:
  // Starts `binary` with `args`; the environment is the parent's minus every
  // PAT_* variable. Null when it cannot be spawned.
  static std::unique_ptr<Subprocess> Start(
      const std::string& binary, const std::vector<std::string>& args);
  ~Subprocess();

  pid_t pid() const { return pid_; }
  // The first stderr line that is a JSON object with "msg" == `msg`, waiting
  // up to `timeout`; nullopt on timeout or when the child exits first.
  std::optional<nlohmann::json> WaitForLog(absl::string_view msg,
                                           absl::Duration timeout);
  // Everything written to stdout and stderr so far.
  std::string Output() const;
  void Signal(int sig);
  // Waits for exit, and for the end of its output; the wait status, or
  // nullopt on timeout.
  std::optional<int> Wait(absl::Duration timeout);
  bool exited() const { return pid_ <= 0; }

 private:
  Subprocess(pid_t pid, int fd);
  void ReadLoop();

  pid_t pid_;
  const int fd_;
  mutable absl::Mutex mu_;
  std::string output_ ABSL_GUARDED_BY(mu_);
  bool eof_ ABSL_GUARDED_BY(mu_) = false;
  std::thread reader_;
};

// A service binary that prints {"msg":"listening","port":N[,"admin_port":M]}
// once serving. Stop() kills it; Restart() starts it again with the same
// arguments (so a fixed --listen keeps its port). Logs() has the stderr of
// every run.
class ServiceProcess {
 public:
  // Null (with a test failure) when the binary does not report listening
  // within `timeout`.
  static std::unique_ptr<ServiceProcess> Start(
      std::string name, std::string binary, std::vector<std::string> args,
      absl::Duration timeout = absl::Seconds(30));
  ~ServiceProcess();

  int port() const { return port_; }
  int admin_port() const { return admin_port_; }
  std::string target() const;  // "127.0.0.1:<port>"
  bool running() const { return process_ != nullptr; }
  pid_t pid() const;

  // Sends `sig` (default SIGKILL), waits up to 30 s for the exit and reaps.
  void Stop(int sig = SIGKILL);
  // The arguments of the next Restart().
  void set_args(std::vector<std::string> args) { args_ = std::move(args); }
  // Stops if running, then starts again with `args` (empty: the same ones).
  // False (with a test failure) when it does not report listening.
  bool Restart(std::vector<std::string> args = {});
  std::string Logs() const;

 private:
  ServiceProcess(std::string name, std::string binary,
                 std::vector<std::string> args)
      : name_(std::move(name)),
        binary_(std::move(binary)),
        args_(std::move(args)) {}
  bool Launch(absl::Duration timeout);

  const std::string name_;
  const std::string binary_;
  std::vector<std::string> args_;
  std::unique_ptr<Subprocess> process_;
  std::string previous_logs_;
  int port_ = 0;
  int admin_port_ = 0;
};

struct BinaryStackOptions {
  absl::Duration staleness_bound = absl::Seconds(2);
  std::string api = "rest";
};

// pat-authority (PAT_AUTHORITY_BIN) on a fresh TestDatabase with
// --auto_migrate, pat-sample-upstream (PAT_SAMPLE_UPSTREAM_BIN) and
// pat-sidecar (PAT_SIDECAR_BIN) in front of it, all on 127.0.0.1 port 0,
// plus gRPC stubs to the authority. Restarting the authority keeps its port
// (the sidecar's --authority).
class BinaryStack {
 public:
  // Fails the calling test (ASSERT) and returns null on error.
  static std::unique_ptr<BinaryStack> Start(
      const BinaryStackOptions& options = {});
  ~BinaryStack();

  TestDatabase& db() { return *db_; }
  ServiceProcess& authority() { return *authority_; }
  ServiceProcess& sidecar() { return *sidecar_; }
  ServiceProcess& upstream() { return *upstream_; }
  int sidecar_port() const { return sidecar_->port(); }
  int64_t upstream_count() const { return UpstreamCount(upstream_->port()); }

  pat::v1::TokenService::Stub& tokens() { return *tokens_; }
  pat::v1::DirectoryService::Stub& directory() { return *directory_; }

  // Plans A, B and their directories as in fixtures.h SeedWorld (plan S is
  // not needed here). ASSERT-fails the test on error.
  void SeedWorld();
  // GET <sidecar admin>/readyz == 200.
  bool SidecarReady() const;
  // The sidecar's /metrics text.
  std::string SidecarMetrics() const;

 private:
  BinaryStack() = default;
  void StartInto(const BinaryStackOptions& options);

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<ServiceProcess> authority_;
  std::unique_ptr<ServiceProcess> upstream_;
  std::unique_ptr<ServiceProcess> sidecar_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pat::v1::TokenService::Stub> tokens_;
  std::unique_ptr<pat::v1::DirectoryService::Stub> directory_;
};

// TokenService calls against any authority (a BinaryStack's), as `actor`,
// with a 10 s deadline. Non-fatal test failure on error; check HasFailure().
pat::v1::CreateTokenResponse CreateTokenVia(
    pat::v1::TokenService::Stub& tokens, absl::string_view actor,
    const pat::v1::CreateTokenRequest& request);
pat::v1::Token RevokeTokenVia(pat::v1::TokenService::Stub& tokens,
                              absl::string_view actor,
                              absl::string_view plan_id,
                              absl::string_view token_id);
pat::v1::RefreshTokenResponse RefreshTokenVia(
    pat::v1::TokenService::Stub& tokens, absl::string_view actor,
    absl::string_view plan_id, absl::string_view token_id);

}  // namespace pat::testing

#endif  // PAT_TESTS_SUPPORT_SIDECAR_HARNESS_H_
