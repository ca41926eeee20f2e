#include "server/leak_intake.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/leak_http_server.h"
#include "server/leak_intake_service.h"
#include "server/leak_judge.h"
#include "server/leak_metrics.h"
#include "server/leak_partner.h"
#include "server/leak_signature.h"
#include "server/pg_leak_store.h"

namespace pat {
namespace {

constexpr size_t kMaxKeyFileBytes = 1 << 20;

absl::StatusOr<std::string> ReadKeyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        "--leak_intake_public_keys: cannot read the file");
  }
  std::ostringstream out;
  out << in.rdbuf();
  std::string text = out.str();
  if (text.size() > kMaxKeyFileBytes) {
    return absl::InvalidArgumentError(
        "--leak_intake_public_keys: file larger than 1 MiB");
  }
  return text;
}

class LeakIntakeImpl final : public LeakIntake {
 public:
  LeakIntakeImpl(DbPool& pool, TokenStore& tokens, const CallerAuth& auth,
                 const Clock& clock, MetricsRegistry& registry)
      : store_(pool),
        metrics_(registry),
        judge_(tokens, store_, clock, metrics_),
        service_(judge_, tokens, store_, auth, clock) {}

  ~LeakIntakeImpl() override {
    if (http_ != nullptr) http_->Shutdown();
  }

  absl::Status StartHttp(const AuthorityConfig& config) {
    PAT_ASSIGN_OR_RETURN(std::string text,
                         ReadKeyFile(config.leak_intake_public_keys_path));
    absl::StatusOr<std::unique_ptr<LeakKeyring>> keys =
        LeakKeyring::FromJson(text);
    if (!keys.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--leak_intake_public_keys: ", keys.status().message()));
    }
    keys_ = *std::move(keys);
    partner_ = std::make_unique<LeakPartnerHandler>(*keys_, judge_);
    LeakHttpOptions options;
    options.listen = config.leak_intake_listen;
    options.max_body_bytes = config.leak_intake_max_body_bytes;
    PAT_ASSIGN_OR_RETURN(http_,
                         LeakHttpServer::Create(options, *partner_, metrics_));
    std::fprintf(stderr, "{\"msg\":\"leak intake listening\",\"port\":%d}\n",
                 http_->port());
    return absl::OkStatus();
  }

  grpc::Service* service() override { return &service_; }
  int http_port() const override {
    return http_ == nullptr ? 0 : http_->port();
  }

 private:
  PgLeakStore store_;
  LeakMetrics metrics_;
  LeakJudge judge_;
  LeakIntakeServiceImpl service_;
  std::unique_ptr<LeakKeyring> keys_;
  std::unique_ptr<LeakPartnerHandler> partner_;
  std::unique_ptr<LeakHttpServer> http_;
};

// The registry of an intake started without AuthorityMetrics (tests, tools).
MetricsRegistry& PrivateRegistry() {
  static MetricsRegistry* registry = new MetricsRegistry();
  return *registry;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LeakIntake>> LeakIntake::Start(
    const AuthorityConfig& config, DbPool& pool, TokenStore& tokens,
    const CallerAuth& auth, const Clock& clock, AuthorityMetrics* metrics) {
  MetricsRegistry& registry =
      metrics != nullptr ? metrics->registry() : PrivateRegistry();
  auto intake =
      std::make_unique<LeakIntakeImpl>(pool, tokens, auth, clock, registry);
  if (!config.leak_intake_listen.empty()) {
    PAT_RETURN_IF_ERROR(intake->StartHttp(config));
  }
  return std::unique_ptr<LeakIntake>(std::move(intake));
}

}  // namespace pat
