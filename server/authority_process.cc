#include "server/authority_process.h"

#include <algorithm>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "pqxx/pqxx"
#include "server/admin_server.h"
#include "server/authority_metrics.h"
#include "server/authority_server.h"
#include "server/migrations.h"

namespace pat {
namespace {

// `url` with the probe's connection settings, in either conninfo syntax.
std::string ProbeConninfo(const std::string& url) {
  constexpr absl::string_view kUriOptions =
      "application_name=pat-readiness&connect_timeout=3&"
      "options=-c%20statement_timeout%3D2000";
  if (absl::StartsWith(url, "postgresql://") ||
      absl::StartsWith(url, "postgres://")) {
    return absl::StrCat(url, absl::StrContains(url, "?") ? "&" : "?",
                        kUriOptions);
  }
  return absl::StrCat(url,
                      " application_name=pat-readiness connect_timeout=3 "
                      "options='-c statement_timeout=2000'");
}

class AuthorityProcessImpl final : public AuthorityProcess {
 public:
  AuthorityProcessImpl(const AuthorityConfig& config, const Clock& clock,
                       LogFn log, AuthorityProcessOptions options)
      : config_(config),
        clock_(clock),
        log_(std::move(log)),
        options_(options),
        metrics_(registry_) {
    registry_.AddCollector([this] { Collect(); });
  }

  ~AuthorityProcessImpl() override { Shutdown(absl::ZeroDuration()); }

  absl::Status StartAdmin() {
    if (config_.admin_listen.empty()) return absl::OkStatus();
    absl::StatusOr<std::unique_ptr<AdminServer>> admin = AdminServer::Create(
        config_.admin_listen, [this] { return readiness(); }, registry_);
    if (!admin.ok() && !config_.admin_listen_explicit &&
        absl::IsUnavailable(admin.status())) {
      log_({{"level", "warning"},
            {"msg", "admin endpoint disabled"},
            {"error", std::string(admin.status().message())},
            {"hint", "give --admin_listen=HOST:PORT (port 0 picks one)"}});
      return absl::OkStatus();
    }
    if (!admin.ok()) return admin.status();
    admin_ = *std::move(admin);
    return absl::OkStatus();
  }

  void StartSupervisor() {
    thread_ = std::thread([this] { Supervise(); });
  }

  int admin_port() const override {
    return admin_ != nullptr ? admin_->port() : 0;
  }

  absl::Status fatal_error() const override {
    absl::MutexLock lock(&mu_);
    return fatal_;
  }

  void Shutdown(absl::Duration grace) override {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      stopping_ = true;
      readiness_ = {false, "shutting down"};
    }
    if (thread_.joinable()) thread_.join();
    std::unique_ptr<AuthorityServer> server;
    {
      absl::MutexLock lock(&mu_);
      server = std::move(server_);
    }
    if (server != nullptr) {
      server->Shutdown(grace);
      server->Wait();
      server.reset();
    }
    if (admin_ != nullptr) admin_->Shutdown();
  }

 private:
  Readiness readiness() const {
    absl::MutexLock lock(&mu_);
    return readiness_;
  }

  void Collect() {
    absl::MutexLock lock(&mu_);
    if (server_ != nullptr) server_->UpdateGauges(metrics_);
    metrics_.ready.Set(readiness_.ready ? 1 : 0);
    metrics_.database_up.Set(database_up_ ? 1 : 0);
  }

  // Waits up to `d` for Shutdown; true when stopping.
  bool SleepOrStop(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&stopping), d);
    return stopping_;
  }

  void SetState(bool ready, std::string reason, bool database_up) {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    if (readiness_.ready != ready || readiness_.reason != reason) {
      log_({{"level", ready ? "info" : "warning"},
            {"msg", ready ? "ready" : "not ready"},
            {"reason", reason}});
    }
    readiness_ = {ready, std::move(reason)};
    database_up_ = database_up;
    // The gRPC health service says what /readyz says.
    if (server_ != nullptr) server_->SetServing(ready);
  }

  void Supervise() {
    absl::Duration backoff = options_.min_backoff;
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) return;
      }
      absl::StatusOr<std::unique_ptr<AuthorityServer>> server =
          AuthorityServer::Create(config_, clock_, &metrics_);
      if (server.ok()) {
        absl::MutexLock lock(&mu_);
        server_ = *std::move(server);
        log_({{"msg", "listening"},
              {"port", server_->port()},
              {"admin_port", admin_port()}});
        if (config_.insecure) {
          log_({{"msg", "insecure mode: plaintext, every caller allowed"}});
        }
        break;
      }
      if (!absl::IsUnavailable(server.status())) {
        log_({{"msg", "start failed"},
              {"error", server.status().ToString()}});
        absl::MutexLock lock(&mu_);
        fatal_ = server.status();
        readiness_ = {false, "start failed"};
        return;
      }
      SetState(false, "database unreachable", false);
      log_({{"level", "warning"},
            {"msg", "database unreachable; retrying"},
            {"error", std::string(server.status().message())},
            {"retry_in_ms", absl::ToInt64Milliseconds(backoff)}});
      if (SleepOrStop(backoff)) return;
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
    std::unique_ptr<pqxx::connection> probe;
    do {
      Probe(probe);
    } while (!SleepOrStop(options_.probe_interval));
  }

  // One readiness check on the probe's own connection.
  void Probe(std::unique_ptr<pqxx::connection>& conn) {
    int schema = 0;
    try {
      if (conn == nullptr || !conn->is_open()) {
        conn = std::make_unique<pqxx::connection>(
            ProbeConninfo(config_.database_url));
      }
      pqxx::nontransaction nt(*conn);
      schema = nt.exec1("SELECT coalesce(max(version), 0) FROM "
                        "schema_migrations")[0]
                   .as<int>();
    } catch (const std::exception&) {
      conn.reset();
      SetState(false, "database unreachable", false);
      return;
    }
    if (schema < LatestSchemaVersion()) {
      SetState(false,
               absl::StrCat("migrations pending (schema ", schema, ", binary ",
                            LatestSchemaVersion(), ")"),
               true);
      return;
    }
    bool live = false;
    std::string listen_problem;
    {
      absl::MutexLock lock(&mu_);
      live = server_ != nullptr && server_->feed_live();
      if (live) listen_problem = server_->feed_listen_problem();
    }
    if (!live) {
      SetState(false, "feed listener (LISTEN) not working", true);
      return;
    }
    if (!listen_problem.empty()) {
      SetState(false, std::move(listen_problem), true);
      return;
    }
    SetState(true, "", true);
  }

  const AuthorityConfig config_;
  const Clock& clock_;
  const LogFn log_;
  const AuthorityProcessOptions options_;
  MetricsRegistry registry_;
  AuthorityMetrics metrics_;
  std::unique_ptr<AdminServer> admin_;
  std::thread thread_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status fatal_ ABSL_GUARDED_BY(mu_);
  Readiness readiness_ ABSL_GUARDED_BY(mu_) = {false, "starting"};
  bool database_up_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<AuthorityServer> server_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<AuthorityProcess>> AuthorityProcess::Start(
    const AuthorityConfig& config, const Clock& clock, LogFn log,
    AuthorityProcessOptions options) {
  auto process = std::make_unique<AuthorityProcessImpl>(config, clock,
                                                        std::move(log), options);
  absl::Status admin = process->StartAdmin();
  if (!admin.ok()) return admin;
  process->StartSupervisor();
  return std::unique_ptr<AuthorityProcess>(std::move(process));
}

}  // namespace pat
