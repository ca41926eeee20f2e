// pat-authority's operability, against the real binary and a real
// PostgreSQL: --help/--version, the admin endpoint (/metrics checked with
// promtool, /healthz, /readyz), the per-RPC JSON access log, serving the
// admin endpoint while the database is unreachable and connecting when it
// comes, and that no secret or digest ever reaches the log or the metrics.

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "openssl/sha.h"
#include "pat/v1/pat.grpc.pb.h"
#include "tests/support/fixtures.h"
#include "tests/support/sidecar_harness.h"
#include "tests/support/test_database.h"

namespace pat::testing {
namespace {

namespace v1 = ::pat::v1;
using ::testing::HasSubstr;
using ::testing::Not;

std::string AuthorityBin() { return BinaryFromEnv("PAT_AUTHORITY_BIN"); }

// Runs `command` through the shell; its exit status and stdout+stderr.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    result.output.append(buffer, n);
  }
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::unique_ptr<grpc::ClientContext> ActorContext(absl::string_view actor) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(15));
  if (!actor.empty()) context->AddMetadata("x-pat-actor", std::string(actor));
  return context;
}

// The value of the sample `series` (name plus labels exactly as rendered:
// labels sorted by name), or nullopt.
std::optional<double> Sample(const std::string& metrics,
                             absl::string_view series) {
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (!absl::StartsWith(line, series)) continue;
    absl::string_view rest = line.substr(series.size());
    if (rest.empty() || rest[0] != ' ') continue;
    double value = 0;
    if (absl::SimpleAtod(rest.substr(1), &value)) return value;
  }
  return std::nullopt;
}

std::vector<nlohmann::json> RpcLines(const std::string& logs) {
  std::vector<nlohmann::json> out;
  for (absl::string_view line : absl::StrSplit(logs, '\n')) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("msg", "") == "rpc") out.push_back(j);
  }
  return out;
}

// Every spelling of a secret and its digest that must never appear.
std::vector<std::string> SecretForms(const std::string& secret) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
         digest);
  const std::string raw(reinterpret_cast<const char*>(digest), sizeof(digest));
  const std::string hex = absl::BytesToHexString(raw);
  // The body without prefix and checksum: the part that carries entropy.
  const std::string body = secret.substr(secret.find('_', 4) + 1, 43);
  return {secret, body, hex, absl::AsciiStrToUpper(hex),
          absl::Base64Escape(raw), absl::WebSafeBase64Escape(raw)};
}

class AuthorityObservabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(AuthorityBin().empty()) << "PAT_AUTHORITY_BIN is not set";
    absl::StatusOr<std::unique_ptr<TestDatabase>> db = TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
  }
  std::unique_ptr<TestDatabase> db_;
};

TEST(AuthorityFlags, HelpListsFlagsAndExits0) {
  ASSERT_FALSE(AuthorityBin().empty());
  for (const char* flag : {"--help", "-h"}) {
    CommandResult r = RunCommand(absl::StrCat(AuthorityBin(), " ", flag));
    EXPECT_EQ(r.exit_code, 0) << flag << "\n" << r.output;
    for (const char* name :
         {"--listen=", "--admin_listen=", "--database_url=", "--insecure=",
          "--tls_cert=", "--tls_key=", "--tls_client_ca=", "--callers_config=",
          "--db_pool_size=", "--snapshot_reads=", "--actor_rate_limit=", "--auto_migrate=", "--version"}) {
      EXPECT_THAT(r.output, HasSubstr(name)) << flag;
    }
    EXPECT_THAT(r.output, HasSubstr("PAT_ADMIN_LISTEN"));
    EXPECT_THAT(r.output, Not(HasSubstr("No flags matched")));
    // Abseil's own flags are not the user's business.
    EXPECT_THAT(r.output, Not(HasSubstr("--flagfile")));
  }
}

TEST(AuthorityFlags, VersionPrintsVersionAndCommit) {
  CommandResult r = RunCommand(absl::StrCat(AuthorityBin(), " --version"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, ::testing::MatchesRegex(
                            "pat-authority [0-9]+\\.[0-9]+\\.[0-9]+ \\(commit "
                            "[0-9a-z.-]+\\)\n"));
}

TEST_F(AuthorityObservabilityTest, MetricsAccessLogAndNoSecrets) {
  std::unique_ptr<ServiceProcess> authority = ServiceProcess::Start(
      "pat-authority", AuthorityBin(),
      {"--insecure", "--listen=127.0.0.1:0", "--admin_listen=127.0.0.1:0",
       absl::StrCat("--database_url=", db_->url())});
  ASSERT_NE(authority, nullptr);
  const int admin = authority->admin_port();
  ASSERT_GT(admin, 0) << authority->Logs();
  EXPECT_EQ(HttpGet(admin, "/healthz").status, 200);
  ASSERT_TRUE(WaitFor([&] { return HttpGet(admin, "/readyz").status == 200; },
                      absl::Seconds(30)))
      << HttpGet(admin, "/readyz").Describe();
  EXPECT_EQ(HttpGet(admin, "/nothing").status, 404);
  EXPECT_EQ(HttpCall(admin, "POST", "/metrics").status, 405);

  auto channel =
      grpc::CreateChannel(authority->target(), grpc::InsecureChannelCredentials());
  auto directory = v1::DirectoryService::NewStub(channel);
  auto tokens = v1::TokenService::NewStub(channel);
  auto introspection = v1::IntrospectionService::NewStub(channel);

  v1::UpsertPlanRequest plan_req;
  plan_req.mutable_plan()->set_id(kPlanA);
  plan_req.mutable_plan()->set_name("plan A");
  plan_req.mutable_plan()->set_tier(v1::PLAN_TIER_ORGANIZATION);
  plan_req.mutable_plan()->add_admin_user_ids(kAlice);
  v1::Plan plan;
  ASSERT_TRUE(directory->UpsertPlan(ActorContext("").get(), plan_req, &plan).ok());

  v1::CreateTokenRequest create;
  create.set_plan_id(kPlanA);
  create.set_kind(v1::TOKEN_KIND_REST_API);
  create.set_name("ci");
  create.set_expires_in_days(30);
  create.add_scopes("file_content:read");
  create.set_all_resources(true);
  v1::CreateTokenResponse created;
  ASSERT_TRUE(
      tokens->CreateToken(ActorContext(kAlice).get(), create, &created).ok());
  const std::string secret = created.secret();
  ASSERT_FALSE(secret.empty());

  v1::RefreshTokenRequest refresh;
  refresh.set_plan_id(kPlanA);
  refresh.set_token_id(created.token().id());
  v1::RefreshTokenResponse refreshed;
  ASSERT_TRUE(
      tokens->RefreshToken(ActorContext(kAlice).get(), refresh, &refreshed)
          .ok());
  ASSERT_FALSE(refreshed.secret().empty());

  for (const std::string& s : {secret, refreshed.secret()}) {
    v1::ValidateTokenRequest validate;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), digest);
    validate.set_secret_sha256(
        std::string(reinterpret_cast<const char*>(digest), sizeof(digest)));
    v1::ValidateTokenResponse validated;
    ASSERT_TRUE(introspection
                    ->ValidateToken(ActorContext("").get(), validate, &validated)
                    .ok());
    EXPECT_TRUE(validated.found());
  }

  v1::GetTokenRequest get;
  get.set_plan_id(kPlanA);
  get.set_token_id(kUnknownTokenId);
  v1::Token token;
  EXPECT_EQ(tokens->GetToken(ActorContext(kAlice).get(), get, &token)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  // The standard health service (raw ByteBuffer messages, not protobuf
  // classes) and server reflection are observed too.
  {
    grpc::GenericStub generic(channel);
    // An empty HealthCheckRequest (service "") is zero bytes.
    grpc::Slice empty_slice;
    grpc::ByteBuffer health_request(&empty_slice, 1);
    for (int i = 0; i < 2; ++i) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::seconds(15));
      grpc::ByteBuffer response;
      grpc::Status status;
      absl::Notification done;
      generic.UnaryCall(&context, "/grpc.health.v1.Health/Check",
                        grpc::StubOptions(), &health_request, &response,
                        [&](grpc::Status s) {
                          status = s;
                          done.Notify();
                        });
      done.WaitForNotification();
      EXPECT_TRUE(status.ok()) << status.error_message();
    }
  }
  // No actor: UNAUTHENTICATED, counted under its code.
  v1::ListPlansResponse plans;
  EXPECT_EQ(tokens->ListPlans(ActorContext("").get(), v1::ListPlansRequest(),
                              &plans)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  // A snapshot on a watch stream: its events include the grant (digests).
  {
    grpc::ClientContext watch_context;
    v1::WatchGrantsRequest watch;
    auto reader = introspection->WatchGrants(&watch_context, watch);
    v1::WatchGrantsResponse message;
    bool synced = false;
    while (!synced && reader->Read(&message)) {
      synced = message.has_synced_revision();
    }
    EXPECT_TRUE(synced);
    const std::string metrics = HttpGet(admin, "/metrics").body;
    EXPECT_EQ(Sample(metrics, "pat_authority_watchers"), 1);
    watch_context.TryCancel();
    reader->Finish();
  }

  std::string metrics;
  ASSERT_TRUE(WaitFor(
      [&] {
        metrics = HttpGet(admin, "/metrics").body;
        return Sample(metrics, "pat_authority_watchers") == 0 &&
               Sample(metrics,
                      "pat_authority_rpcs_total{code=\"CANCELLED\",method="
                      "\"WatchGrants\",service=\"pat.v1."
                      "IntrospectionService\"}")
                   .has_value();
      },
      absl::Seconds(15)))
      << metrics;
  const std::string svc = "service=\"pat.v1.TokenService\"";
  EXPECT_EQ(Sample(metrics, absl::StrCat("pat_authority_rpcs_total{code=\"OK\","
                                         "method=\"CreateToken\",",
                                         svc, "}")),
            1);
  EXPECT_EQ(Sample(metrics, absl::StrCat("pat_authority_rpcs_total{code=\"OK\","
                                         "method=\"RefreshToken\",",
                                         svc, "}")),
            1);
  EXPECT_EQ(Sample(metrics,
                   absl::StrCat("pat_authority_rpcs_total{code=\"NOT_FOUND\","
                                "method=\"GetToken\",",
                                svc, "}")),
            1);
  EXPECT_EQ(
      Sample(metrics,
             absl::StrCat("pat_authority_rpcs_total{code=\"UNAUTHENTICATED\","
                          "method=\"ListPlans\",",
                          svc, "}")),
      1);
  EXPECT_EQ(Sample(metrics,
                   "pat_authority_rpcs_total{code=\"OK\",method="
                   "\"ValidateToken\",service=\"pat.v1."
                   "IntrospectionService\"}"),
            2);
  EXPECT_EQ(Sample(metrics,
                   "pat_authority_rpcs_total{code=\"OK\",method=\"Check\","
                   "service=\"grpc.health.v1.Health\"}"),
            2);
  EXPECT_EQ(Sample(metrics, absl::StrCat("pat_authority_rpc_duration_seconds_"
                                         "count{method=\"CreateToken\",",
                                         svc, "}")),
            1);
  EXPECT_EQ(
      Sample(metrics, "pat_authority_lifecycle_actions_total{action=\"create\"}"),
      1);
  EXPECT_EQ(
      Sample(metrics,
             "pat_authority_lifecycle_actions_total{action=\"refresh\"}"),
      1);
  EXPECT_EQ(
      Sample(metrics, "pat_authority_lifecycle_actions_total{action=\"revoke\"}"),
      0);
  EXPECT_EQ(Sample(metrics, "pat_authority_snapshots_total"), 1);
  EXPECT_EQ(Sample(metrics, "pat_authority_snapshot_duration_seconds_count"), 1);
  // Snapshot: the plan and the grant.
  EXPECT_GE(Sample(metrics, "pat_authority_watch_events_sent_total"), 2);
  EXPECT_EQ(Sample(metrics, "pat_authority_db_pool_size"), 8);
  EXPECT_GE(Sample(metrics, "pat_authority_db_pool_open"), 1);
  EXPECT_GE(Sample(metrics, "pat_authority_db_pool_wait_seconds_count"), 1);
  EXPECT_EQ(Sample(metrics, "pat_authority_db_pool_timeouts_total"), 0);
  EXPECT_EQ(Sample(metrics, "pat_authority_ready"), 1);
  EXPECT_EQ(Sample(metrics, "pat_authority_database_up"), 1);
  EXPECT_EQ(Sample(metrics, "pat_authority_feed_listener_live"), 1);
  // Three changes (plan, create, refresh): the head is at least 3.
  EXPECT_GE(Sample(metrics, "pat_authority_feed_head_revision"), 3);
  EXPECT_TRUE(
      Sample(metrics, "pat_authority_feed_wakeups_total{cause=\"notify\"}")
          .has_value());
  EXPECT_TRUE(
      Sample(metrics, "pat_authority_feed_wakeups_total{cause=\"poll\"}")
          .has_value());
  EXPECT_THAT(metrics, HasSubstr("pat_authority_build_info{commit="));

  // promtool (Debian package prometheus) accepts the exposition.
  const std::string path =
      absl::StrCat(::testing::TempDir(), "/authority_metrics.txt");
  std::ofstream(path) << metrics;
  CommandResult promtool =
      RunCommand(absl::StrCat("promtool check metrics < ", path));
  EXPECT_EQ(promtool.exit_code, 0)
      << "promtool check metrics (install Debian package prometheus):\n"
      << promtool.output;

  // One access-log line per RPC with method, code, latency, caller, actor,
  // plan and token ids.
  ASSERT_TRUE(WaitFor(
      [&] { return RpcLines(authority->Logs()).size() >= 10; },
      absl::Seconds(10)));
  const std::string logs = authority->Logs();
  std::vector<nlohmann::json> lines = RpcLines(logs);
  int creates = 0;
  for (const nlohmann::json& line : lines) {
    EXPECT_TRUE(line.contains("latency_ms")) << line;
    EXPECT_EQ(line.value("caller", ""), "insecure") << line;
    if (line.value("method", "") != "CreateToken") continue;
    ++creates;
    EXPECT_EQ(line.value("service", ""), "pat.v1.TokenService");
    EXPECT_EQ(line.value("code", ""), "OK");
    EXPECT_EQ(line.value("actor", ""), kAlice);
    EXPECT_EQ(line.value("plan_id", ""), kPlanA);
    EXPECT_EQ(line.value("token_id", ""), created.token().id());
  }
  EXPECT_EQ(creates, 1) << logs;

  // The class: both secrets, their bodies, digests in hex (both cases) and
  // base64, in the log and in the metrics.
  for (const std::string& s : {secret, refreshed.secret()}) {
    for (const std::string& form : SecretForms(s)) {
      EXPECT_THAT(logs, Not(HasSubstr(form)));
      EXPECT_THAT(metrics, Not(HasSubstr(form)));
    }
  }
  EXPECT_THAT(logs, Not(HasSubstr(db_->url())));
}

// The admin endpoint serves while the database is unreachable (not ready);
// the authority connects when the database comes, without a restart.
TEST_F(AuthorityObservabilityTest, ServesAdminWhileDatabaseUnreachable) {
  // A relay in front of PostgreSQL, cut: connections are refused.
  const std::string url = db_->url();
  const size_t at = url.find('@');
  const size_t colon = url.find(':', at);
  const size_t slash = url.find('/', colon);
  ASSERT_TRUE(at != std::string::npos && colon != std::string::npos &&
              slash != std::string::npos)
      << "unexpected test database URL shape";
  int pg_port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(url.substr(colon + 1, slash - colon - 1),
                               &pg_port));
  std::unique_ptr<TcpRelay> relay = TcpRelay::Start(pg_port);
  ASSERT_NE(relay, nullptr);
  relay->Cut();
  const std::string relayed_url = absl::StrCat(
      url.substr(0, colon + 1), relay->port(), url.substr(slash));

  std::unique_ptr<Subprocess> authority = Subprocess::Start(
      AuthorityBin(), {"--insecure", "--listen=127.0.0.1:0",
                       "--admin_listen=127.0.0.1:0",
                       absl::StrCat("--database_url=", relayed_url)});
  ASSERT_NE(authority, nullptr);
  std::optional<nlohmann::json> admin_line =
      authority->WaitForLog("admin listening", absl::Seconds(30));
  ASSERT_TRUE(admin_line.has_value()) << authority->Output();
  const int admin = admin_line->value("admin_port", 0);
  ASSERT_GT(admin, 0);
  ASSERT_TRUE(authority->WaitForLog("database unreachable; retrying",
                                    absl::Seconds(30))
                  .has_value())
      << authority->Output();

  EXPECT_EQ(HttpGet(admin, "/healthz").status, 200);
  HttpResponse ready = HttpGet(admin, "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_THAT(ready.body, HasSubstr("database unreachable"));
  HttpResponse metrics = HttpGet(admin, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(Sample(metrics.body, "pat_authority_ready"), 0);
  EXPECT_EQ(Sample(metrics.body, "pat_authority_database_up"), 0);
  EXPECT_THAT(authority->Output(), Not(HasSubstr(relayed_url)));

  relay->Restore();
  std::optional<nlohmann::json> listening =
      authority->WaitForLog("listening", absl::Seconds(30));
  ASSERT_TRUE(listening.has_value()) << authority->Output();
  EXPECT_TRUE(WaitFor([&] { return HttpGet(admin, "/readyz").status == 200; },
                      absl::Seconds(30)))
      << HttpGet(admin, "/readyz").Describe();
  EXPECT_EQ(Sample(HttpGet(admin, "/metrics").body, "pat_authority_database_up"),
            1);

  // The database goes away again: not ready, still serving the endpoint.
  relay->Cut();
  EXPECT_TRUE(WaitFor([&] { return HttpGet(admin, "/readyz").status == 503; },
                      absl::Seconds(30)));
  EXPECT_EQ(HttpGet(admin, "/healthz").status, 200);

  authority->Signal(SIGTERM);
  std::optional<int> status = authority->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << authority->Output();
}

// gRPC core's own log lines come out as JSON in the same log.
TEST_F(AuthorityObservabilityTest, GrpcCoreLogLinesAreJson) {
  std::unique_ptr<Subprocess> authority = Subprocess::Start(
      "/usr/bin/env", {"GRPC_VERBOSITY=debug", AuthorityBin(), "--insecure",
                       "--listen=127.0.0.1:0", "--admin_listen=127.0.0.1:0",
                       absl::StrCat("--database_url=", db_->url())});
  ASSERT_NE(authority, nullptr);
  ASSERT_TRUE(authority->WaitForLog("listening", absl::Seconds(30)).has_value())
      << authority->Output();
  ASSERT_TRUE(authority->WaitForLog("grpc", absl::Seconds(10)).has_value())
      << authority->Output();
  authority->Signal(SIGTERM);
  ASSERT_TRUE(authority->Wait(absl::Seconds(30)).has_value());
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(authority->Output(), '\n')) {
    if (line.empty()) continue;
    ++lines;
    EXPECT_TRUE(nlohmann::json::accept(line)) << "not JSON: " << line;
  }
  EXPECT_GT(lines, 3);
}

}  // namespace
}  // namespace pat::testing
