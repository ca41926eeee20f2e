#include "tests/support/authority_harness.h"

#include <chrono>
#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/authority_config.h"

namespace pat::testing {
namespace {

constexpr absl::Duration kRpcDeadline = absl::Seconds(10);

// The fatal part of Start: a void function so that ASSERT_* can be used.
void StartInto(const HarnessOptions& options, FakeClock& clock,
               AuthorityMetrics* metrics, std::unique_ptr<TestDatabase>& db,
               std::unique_ptr<AuthorityServer>& server) {
  absl::StatusOr<std::unique_ptr<TestDatabase>> created =
      TestDatabase::Create();
  ASSERT_TRUE(created.ok()) << created.status();
  db = *std::move(created);

  AuthorityConfig raw;
  raw.listen = "127.0.0.1:0";
  raw.database_url = options.database_url_filter
                         ? options.database_url_filter(db->url())
                         : db->url();
  raw.insecure = true;
  raw.db_pool_size = options.db_pool_size;
  raw.db_acquire_timeout = options.db_acquire_timeout;
  raw.validate_memory_entries = options.validate_memory_entries;
  raw.watch_buffer_events = options.watch_buffer_events;
  raw.watch_evict_grace = options.watch_evict_grace;
  absl::StatusOr<AuthorityConfig> config =
      ValidateAuthorityConfig(std::move(raw));
  ASSERT_TRUE(config.ok()) << config.status();
  absl::StatusOr<std::unique_ptr<AuthorityServer>> started =
      AuthorityServer::Create(*config, clock, metrics);
  ASSERT_TRUE(started.ok()) << started.status();
  server = *std::move(started);
  ASSERT_GT(server->port(), 0);
}

}  // namespace

std::unique_ptr<AuthorityHarness> AuthorityHarness::Start(
    HarnessOptions options) {
  std::unique_ptr<AuthorityHarness> h(new AuthorityHarness());
  if (options.metrics) {
    h->metrics_ = std::make_unique<AuthorityMetrics>(h->registry_);
  }
  StartInto(options, h->clock_, h->metrics_.get(), h->db_, h->server_);
  if (::testing::Test::HasFatalFailure()) return nullptr;
  h->channel_ =
      grpc::CreateChannel(h->target(), grpc::InsecureChannelCredentials());
  h->tokens_ = pat::v1::TokenService::NewStub(h->channel_);
  h->directory_ = pat::v1::DirectoryService::NewStub(h->channel_);
  h->introspection_ = pat::v1::IntrospectionService::NewStub(h->channel_);
  return h;
}

AuthorityHarness::~AuthorityHarness() {
  // Stubs and channel go with the members; the server must stop before the
  // database it uses is dropped.
  if (server_ != nullptr) {
    server_->Shutdown(absl::ZeroDuration());
    server_->Wait();
    server_.reset();
  }
}

std::string AuthorityHarness::target() const {
  return absl::StrCat("127.0.0.1:", server_->port());
}

std::unique_ptr<grpc::ClientContext> AuthorityHarness::Ctx(
    const std::string& actor) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!actor.empty()) ctx->AddMetadata("x-pat-actor", actor);
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + kRpcDeadline));
  return ctx;
}

int64_t MetricValue(MetricsRegistry& registry, absl::string_view series) {
  std::istringstream text(registry.RenderPrometheus());
  std::string line;
  const std::string prefix = absl::StrCat(series, " ");
  while (std::getline(text, line)) {
    if (!absl::StartsWith(line, prefix)) continue;
    double value = 0;
    if (absl::SimpleAtod(line.substr(prefix.size()), &value)) {
      return static_cast<int64_t>(value);
    }
  }
  return -1;
}

}  // namespace pat::testing
