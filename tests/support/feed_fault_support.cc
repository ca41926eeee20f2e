#include "tests/support/feed_fault_support.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/sidecar_harness.h"

namespace pat::testing {

GrantWatcher::GrantWatcher(const std::string& target)
    : channel_(grpc::CreateChannel(target, grpc::InsecureChannelCredentials())),
      stub_(pat::v1::IntrospectionService::NewStub(channel_)) {
  thread_ = std::thread([this] { Run(); });
}

GrantWatcher::~GrantWatcher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  thread_.join();
}

void GrantWatcher::Run() {
  while (true) {
    grpc::ClientContext context;
    pat::v1::WatchGrantsRequest request;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      context_ = &context;
      request.set_since_revision(revision_);
    }
    std::unique_ptr<grpc::ClientReader<pat::v1::WatchGrantsResponse>> reader =
        stub_->WatchGrants(&context, request);
    pat::v1::WatchGrantsResponse response;
    while (reader->Read(&response)) {
      absl::MutexLock lock(&mu_);
      if (response.has_event()) {
        const pat::v1::GrantEvent& e = response.event();
        revision_ = std::max(revision_, e.revision());
        if (e.has_grant() && e.grant().has_revoke_time()) {
          revoked_.insert(e.grant().token_id());
        }
      } else if (response.message_case() ==
                 pat::v1::WatchGrantsResponse::kSyncedRevision) {
        synced_ = true;
        revision_ = std::max(revision_, response.synced_revision());
      } else if (response.message_case() ==
                 pat::v1::WatchGrantsResponse::kHeartbeatRevision) {
        revision_ = std::max(revision_, response.heartbeat_revision());
      }
    }
    (void)reader->Finish();
    absl::MutexLock lock(&mu_);
    context_ = nullptr;
    if (stopping_) return;
    // Bounded reconnect pace (not synchronization).
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(50));
  }
}

bool GrantWatcher::WaitSynced(absl::Duration timeout) {
  return WaitFor(
      [this] {
        absl::MutexLock lock(&mu_);
        return synced_;
      },
      timeout);
}

bool GrantWatcher::Revoked(const std::string& token_id) const {
  absl::MutexLock lock(&mu_);
  return revoked_.contains(token_id);
}

std::set<std::string> GrantWatcher::revoked() const {
  absl::MutexLock lock(&mu_);
  return revoked_;
}

int64_t GrantWatcher::revision() const {
  absl::MutexLock lock(&mu_);
  return revision_;
}

// --- PgBouncer -----------------------------------------------------------------

namespace {

constexpr char kPgBouncerBin[] = "/usr/sbin/pgbouncer";

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// Runs `command` (as the postgres OS user when root); true on exit 0.
bool RunAsPostgres(const std::string& command) {
  const std::string full =
      geteuid() == 0 ? absl::StrCat("runuser -u postgres -- ", command)
                     : command;
  return std::system(full.c_str()) == 0;
}

}  // namespace

int UrlPort(const std::string& url) {
  const size_t at = url.find('@');
  const size_t colon = url.find(':', at == std::string::npos ? 12 : at);
  const size_t slash = url.find('/', colon == std::string::npos ? 0 : colon);
  int port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(url.substr(colon + 1, slash - colon - 1), &port)) {
    return 0;
  }
  return port;
}

std::string PgBouncer::Url(const std::string& url) const {
  const std::string from = absl::StrCat(":", pg_port_, "/");
  const size_t at = url.find(from);
  if (at == std::string::npos) return "";
  return absl::StrCat(url.substr(0, at), ":", port_, "/",
                      url.substr(at + from.size()));
}

bool PgBouncer::WriteConfig(const std::string& pool_mode) const {
  std::ofstream out(dir_ + "/pgbouncer.ini");
  out << "[databases]\n* = host=127.0.0.1 port=" << pg_port_
      << " user=postgres\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = "
      << port_ << "\nunix_socket_dir =\nauth_type = any\npool_mode = "
      << pool_mode << "\ndefault_pool_size = 4\nlogfile = " << dir_
      << "/pgbouncer.log\npidfile = " << dir_ << "/pgbouncer.pid\n";
  return static_cast<bool>(out);
}

int PgBouncer::Pid() const {
  std::ifstream in(dir_ + "/pgbouncer.pid");
  int pid = 0;
  in >> pid;
  return pid;
}

std::unique_ptr<PgBouncer> PgBouncer::Start(int pg_port,
                                            const std::string& pool_mode) {
  if (access(kPgBouncerBin, X_OK) != 0) {
    ADD_FAILURE() << kPgBouncerBin
                  << " missing: install the Debian package pgbouncer "
                     "(scripts/lib/bootstrap.sh does)";
    return nullptr;
  }
  std::unique_ptr<PgBouncer> b(new PgBouncer());
  char tmpl[] = "/tmp/pat-pgbouncer.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return nullptr;
  b->dir_ = tmpl;
  chmod(tmpl, 0777);
  b->pg_port_ = pg_port;
  for (int attempt = 0; attempt < 5; ++attempt) {
    b->port_ = FreePort();
    if (!b->WriteConfig(pool_mode)) return nullptr;
    if (RunAsPostgres(absl::StrCat(kPgBouncerBin, " -d -q ", b->dir_,
                                   "/pgbouncer.ini")) &&
        WaitFor([&] { return b->Pid() > 0; }, absl::Seconds(10))) {
      return b;
    }
  }
  ADD_FAILURE() << "pgbouncer did not start (see " << b->dir_ << ")";
  return nullptr;
}

bool PgBouncer::Reload(const std::string& pool_mode) {
  return WriteConfig(pool_mode) && Pid() > 0 && kill(Pid(), SIGHUP) == 0;
}

PgBouncer::~PgBouncer() {
  const int pid = Pid();
  if (pid > 0) {
    kill(pid, SIGTERM);
    WaitFor([pid] { return kill(pid, 0) != 0; }, absl::Seconds(10));
  }
  std::system(absl::StrCat("rm -rf ", dir_).c_str());
}

}  // namespace pat::testing
