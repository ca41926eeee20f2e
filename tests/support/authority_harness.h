#ifndef PAT_TESTS_SUPPORT_AUTHORITY_HARNESS_H_
#define PAT_TESTS_SUPPORT_AUTHORITY_HARNESS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "grpcpp/grpcpp.h"
#include "pat/v1/pat.grpc.pb.h"
#include "common/metrics.h"
#include "server/authority_metrics.h"
#include "server/authority_server.h"
#include "tests/support/test_database.h"

namespace pat::testing {

// What a test may change about the in-process authority.
struct HarnessOptions {
  int db_pool_size = 8;
  absl::Duration db_acquire_timeout = absl::Seconds(5);
  // With metrics the authority also writes its per-RPC access log (stderr).
  bool metrics = false;
  // --validate_memory_entries (0: ValidateToken always reads the database).
  int validate_memory_entries = 100000;
  // --watch_buffer_events, and the slow-consumer cancel grace.
  int watch_buffer_events = 10000;
  absl::Duration watch_evict_grace = absl::Seconds(5);
  // Maps the test database's URL to the one the authority uses (e.g. through
  // a TcpFaultProxy); null: the database's own. Called once, at Start.
  std::function<std::string(const std::string& url)> database_url_filter;
};

// An in-process pat-authority (real gRPC server on 127.0.0.1:0, --insecure)
// on a fresh TestDatabase, with a FakeClock the test can Advance.
class AuthorityHarness {
 public:
  // Fails the calling test (ASSERT) on error.
  static std::unique_ptr<AuthorityHarness> Start(HarnessOptions options = {});
  ~AuthorityHarness();

  FakeClock& clock() { return clock_; }
  TestDatabase& db() { return *db_; }
  std::string target() const;  // "127.0.0.1:<port>"

  pat::v1::TokenService::Stub& tokens() { return *tokens_; }
  pat::v1::DirectoryService::Stub& directory() { return *directory_; }
  pat::v1::IntrospectionService::Stub& introspection() { return *introspection_; }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }
  // The authority's metrics; only with HarnessOptions::metrics.
  MetricsRegistry& registry() { return registry_; }
  AuthorityMetrics* metrics() { return metrics_.get(); }

  // A client context carrying `x-pat-actor: actor` (none when empty) and a
  // 10 s deadline.
  static std::unique_ptr<grpc::ClientContext> Ctx(const std::string& actor);

 private:
  AuthorityHarness() = default;
  FakeClock clock_;
  MetricsRegistry registry_;
  std::unique_ptr<AuthorityMetrics> metrics_;
  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<AuthorityServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pat::v1::TokenService::Stub> tokens_;
  std::unique_ptr<pat::v1::DirectoryService::Stub> directory_;
  std::unique_ptr<pat::v1::IntrospectionService::Stub> introspection_;
};

// The value of one series of `registry`'s Prometheus text, named as
// rendered (`name` or `name{label="value",...}`); -1 when absent.
int64_t MetricValue(MetricsRegistry& registry, absl::string_view series);

}  // namespace pat::testing

#endif  // PAT_TESTS_SUPPORT_AUTHORITY_HARNESS_H_
