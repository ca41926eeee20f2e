// TokenService rate limits end to end: a real in-process authority on
// PostgreSQL, real gRPC clients, a frozen FakeClock (no refill unless the
// test advances it). A burst beyond the per-actor and per-caller limits gets
// RESOURCE_EXHAUSTED with the retry hint (message and `retry-after-ms`
// trailer) and pat_authority_rate_limited_total counts it; every RPC of
// TokenService (enumerated from its descriptor) is limited; sidecar and
// directory RPCs are not; the limits are off by default with --insecure.
// And the pat-authority binary's rate flags (command line and PAT_*
// variables; given explicitly they apply under --insecure too; invalid
// values are usage errors).

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pat/v1/pat.grpc.pb.h"
#include "server/authority_config.h"
#include "server/authority_metrics.h"
#include "server/authority_server.h"
#include "server/token_service_limits.h"
#include "tests/support/fixtures.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_database.h"

extern char** environ;

namespace pat::testing {
namespace {

namespace v1 = ::pat::v1;
using ::testing::HasSubstr;

constexpr absl::Duration kDeadline = absl::Seconds(10);

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& actor) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!actor.empty()) ctx->AddMetadata("x-pat-actor", actor);
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + kDeadline));
  return ctx;
}

// The retry-after-ms trailer of a finished call, or -1 when absent or not a
// number.
int64_t RetryAfterMs(const grpc::ClientContext& ctx) {
  const auto& trailers = ctx.GetServerTrailingMetadata();
  auto it = trailers.find(std::string(kRetryAfterMetadataKey));
  if (it == trailers.end()) return -1;
  int64_t ms = -1;
  if (!absl::SimpleAtoi(std::string(it->second.data(), it->second.size()),
                        &ms)) {
    return -1;
  }
  return ms;
}

class RateLimitTest : public ::testing::Test {
 protected:
  // An insecure authority (every caller is "insecure") with the given limits
  // set explicitly.
  void StartServer(RateLimit per_caller, RateLimit per_actor,
                   bool explicit_limits = true) {
    absl::StatusOr<std::unique_ptr<TestDatabase>> db = TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    AuthorityConfig raw;
    raw.listen = "127.0.0.1:0";
    raw.database_url = db_->url();
    raw.insecure = true;
    raw.caller_rate_limit = per_caller;
    raw.actor_rate_limit = per_actor;
    raw.rate_limits_explicit = explicit_limits;
    absl::StatusOr<AuthorityConfig> config = ValidateAuthorityConfig(raw);
    ASSERT_TRUE(config.ok()) << config.status();
    metrics_ = std::make_unique<AuthorityMetrics>(registry_);
    absl::StatusOr<std::unique_ptr<AuthorityServer>> server =
        AuthorityServer::Create(*config, clock_, metrics_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    tokens_ = v1::TokenService::NewStub(channel_);
  }

  void TearDown() override {
    if (server_ != nullptr) {
      server_->Shutdown(absl::ZeroDuration());
      server_->Wait();
    }
  }

  // ListPlans as `actor`; `retry_after_ms` gets the trailer (-1 if none).
  grpc::Status ListPlans(const std::string& actor,
                         int64_t* retry_after_ms = nullptr) {
    auto ctx = Ctx(actor);
    v1::ListPlansResponse response;
    grpc::Status status = tokens_->ListPlans(ctx.get(), {}, &response);
    if (retry_after_ms != nullptr) *retry_after_ms = RetryAfterMs(*ctx);
    return status;
  }

  uint64_t Limited(const std::string& limit) {
    return limit == "actor" ? metrics_->rate_limited_actor.value()
                            : metrics_->rate_limited_caller.value();
  }

  FakeClock clock_;
  MetricsRegistry registry_;
  std::unique_ptr<AuthorityMetrics> metrics_;
  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<AuthorityServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::TokenService::Stub> tokens_;
};

TEST_F(RateLimitTest, ActorBurstBeyondTheLimitIsRefusedWithARetryHint) {
  ASSERT_NO_FATAL_FAILURE(StartServer({.per_second = 1000, .burst = 1000},
                                      {.per_second = 20, .burst = 40}));
  EXPECT_EQ(Limited("actor"), 0u);
  for (int i = 0; i < 40; ++i) {
    ASSERT_THAT(ListPlans("alice"), IsOk()) << "request " << i;
  }
  for (int i = 0; i < 5; ++i) {
    int64_t retry_after_ms = 0;
    grpc::Status status = ListPlans("alice", &retry_after_ms);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_EQ(status.error_message(),
              "rate limit exceeded for this actor; retry after 50 ms");
    EXPECT_EQ(retry_after_ms, 50);
  }
  EXPECT_EQ(Limited("actor"), 5u);
  EXPECT_EQ(Limited("caller"), 0u);
  // Another actor of the same caller has its own bucket.
  EXPECT_THAT(ListPlans("bob"), IsOk());
  // After the hinted delay, one more request of alice is admitted.
  clock_.Advance(absl::Milliseconds(50));
  EXPECT_THAT(ListPlans("alice"), IsOk());
  EXPECT_EQ(ListPlans("alice").error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Limited("actor"), 6u);
  // The series is exported with Prometheus conventions.
  const std::string text = registry_.RenderPrometheus();
  EXPECT_THAT(text,
              HasSubstr("# TYPE pat_authority_rate_limited_total counter"));
  EXPECT_THAT(text,
              HasSubstr("pat_authority_rate_limited_total{limit=\"actor\"} 6"));
  EXPECT_THAT(
      text, HasSubstr("pat_authority_rate_limited_total{limit=\"caller\"} 0"));
}

TEST_F(RateLimitTest, CallerBurstAcrossActorsIsRefused) {
  ASSERT_NO_FATAL_FAILURE(StartServer({.per_second = 2, .burst = 10},
                                      {.per_second = 20, .burst = 40}));
  for (int i = 0; i < 10; ++i) {
    ASSERT_THAT(ListPlans(absl::StrCat("actor-", i)), IsOk()) << i;
  }
  int64_t retry_after_ms = 0;
  grpc::Status status = ListPlans("actor-new", &retry_after_ms);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(status.error_message(),
            "rate limit exceeded for this caller; retry after 500 ms");
  EXPECT_EQ(retry_after_ms, 500);
  // Without an actor too: the caller's bucket is the caller's.
  EXPECT_EQ(ListPlans("").error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Limited("caller"), 2u);
  EXPECT_EQ(Limited("actor"), 0u);
  clock_.Advance(absl::Milliseconds(500));
  EXPECT_THAT(ListPlans("actor-new"), IsOk());
}

// Every TokenService method, enumerated from the service descriptor, goes
// through the limits: a new RPC cannot escape them. Each call is an empty
// request through a generic stub (the limits come before validation).
TEST_F(RateLimitTest, EveryTokenServiceRpcIsLimited) {
  ASSERT_NO_FATAL_FAILURE(StartServer({.per_second = 1000, .burst = 1000},
                                      {.per_second = 1, .burst = 1}));
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          v1::TokenService::service_full_name());
  ASSERT_NE(service, nullptr);
  ASSERT_GE(service->method_count(), 9);
  grpc::GenericStub stub(channel_);
  for (int i = 0; i < service->method_count(); ++i) {
    const google::protobuf::MethodDescriptor* method = service->method(i);
    SCOPED_TRACE(method->full_name());
    ASSERT_FALSE(method->client_streaming() || method->server_streaming())
        << "a streaming TokenService RPC needs a streaming call here";
    const std::string path =
        absl::StrCat("/", service->full_name(), "/", method->name());
    const std::string actor = absl::StrCat("actor-of-", method->name());
    std::vector<grpc::Status> statuses;
    for (int call = 0; call < 2; ++call) {
      auto ctx = Ctx(actor);
      grpc::Slice empty("");
      grpc::ByteBuffer request(&empty, 1);  // an empty message: all defaults
      grpc::ByteBuffer response;
      absl::Notification done;
      grpc::Status status;
      stub.UnaryCall(ctx.get(), path, grpc::StubOptions(), &request, &response,
                     [&](grpc::Status s) {
                       status = std::move(s);
                       done.Notify();
                     });
      // The call's deadline bounds the wait.
      done.WaitForNotification();
      statuses.push_back(status);
    }
    // The first was admitted (whatever the empty request then got) ...
    EXPECT_NE(statuses[0].error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << statuses[0].error_message();
    EXPECT_NE(statuses[0].error_code(), grpc::StatusCode::UNIMPLEMENTED);
    // ... the second, beyond the actor's burst of 1, was not.
    EXPECT_EQ(statuses[1].error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_THAT(statuses[1].error_message(),
                HasSubstr("rate limit exceeded for this actor"));
  }
  EXPECT_EQ(Limited("actor"), static_cast<uint64_t>(service->method_count()));
}

// Sidecars (IntrospectionService) and the platform (DirectoryService) are
// not limited, whatever the TokenService limits.
TEST_F(RateLimitTest, SidecarAndDirectoryRpcsAreNotLimited) {
  ASSERT_NO_FATAL_FAILURE(StartServer({.per_second = 1, .burst = 1},
                                      {.per_second = 1, .burst = 1}));
  auto introspection = v1::IntrospectionService::NewStub(channel_);
  auto directory = v1::DirectoryService::NewStub(channel_);
  for (int i = 0; i < 50; ++i) {
    v1::ValidateTokenRequest validate;
    validate.set_secret_sha256(std::string(32, '\0'));
    v1::ValidateTokenResponse validated;
    ASSERT_THAT(
        introspection->ValidateToken(Ctx("alice").get(), validate, &validated),
        IsOk());
    v1::UpsertPlanRequest upsert;
    upsert.mutable_plan()->set_id(kPlanA);
    upsert.mutable_plan()->set_name("plan A");
    upsert.mutable_plan()->set_tier(v1::PLAN_TIER_ORGANIZATION);
    upsert.mutable_plan()->add_admin_user_ids("alice");
    v1::Plan plan;
    ASSERT_THAT(directory->UpsertPlan(Ctx("alice").get(), upsert, &plan),
                IsOk());
  }
  // TokenService is limited on the same server.
  EXPECT_THAT(ListPlans("alice"), IsOk());
  EXPECT_EQ(ListPlans("alice").error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Limited("caller"), 1u);
}

// --insecure without a rate flag: no limits (development servers, the
// in-process test harness on a frozen clock, benchmarks).
TEST_F(RateLimitTest, InsecureDefaultsAreOff) {
  ASSERT_NO_FATAL_FAILURE(StartServer(kDefaultCallerRateLimit,
                                      kDefaultActorRateLimit,
                                      /*explicit_limits=*/false));
  for (int i = 0; i < 500; ++i) {
    ASSERT_THAT(ListPlans("alice"), IsOk()) << i;
  }
  EXPECT_EQ(Limited("actor"), 0u);
  EXPECT_EQ(Limited("caller"), 0u);
}

TEST(RateLimitConfigTest, DefaultsApplyWithTlsAndAreValidated) {
  AuthorityConfig raw;
  EXPECT_EQ(raw.actor_rate_limit.per_second, 20);
  EXPECT_EQ(raw.actor_rate_limit.burst, 40);
  EXPECT_EQ(raw.caller_rate_limit.per_second, 200);
  EXPECT_EQ(raw.caller_rate_limit.burst, 400);
  raw.database_url = "postgresql://unused@127.0.0.1:1/unused";
  raw.insecure = true;
  struct Bad {
    RateLimit actor;
    RateLimit caller;
    std::string message;
  };
  for (const Bad& bad : std::vector<Bad>{
           {{-1, 1}, {1, 1}, "--actor_rate_limit: must be 0 (off) to 1000000"},
           {{1e7, 1}, {1, 1}, "--actor_rate_limit: must be 0 (off) to 1000000"},
           {{std::nan(""), 1}, {1, 1}, "--actor_rate_limit: must be 0"},
           {{1, 0}, {1, 1}, "--actor_rate_burst: must be 1..1000000, got 0"},
           {{1, 1}, {1, -5}, "--caller_rate_burst: must be 1..1000000, got -5"},
           {{1, 1}, {-0.5, 1}, "--caller_rate_limit: must be 0 (off)"},
       }) {
    AuthorityConfig c = raw;
    c.actor_rate_limit = bad.actor;
    c.caller_rate_limit = bad.caller;
    EXPECT_THAT(
        ValidateAuthorityConfig(c),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(bad.message)))
        << bad.message;
  }
  // 0 turns a limit off; its burst is then ignored.
  AuthorityConfig off = raw;
  off.rate_limits_explicit = true;
  off.actor_rate_limit = {0, 0};
  absl::StatusOr<AuthorityConfig> valid = ValidateAuthorityConfig(off);
  ASSERT_THAT(valid, IsOk());
  EXPECT_FALSE(valid->actor_rate_limit.enabled());
  EXPECT_TRUE(valid->caller_rate_limit.enabled());
}

// --- The binary's flags ------------------------------------------------------

// pat-authority (PAT_AUTHORITY_BIN) with `args`, stderr on a pipe, the
// environment without PAT_* plus `env`. Killed and reaped on destruction.
class AuthorityBinary {
 public:
  AuthorityBinary(const std::vector<std::string>& args,
                  const std::vector<std::string>& env) {
    const char* binary = std::getenv("PAT_AUTHORITY_BIN");
    if (binary == nullptr || pipe2(fds_, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds_[1], STDERR_FILENO);
    std::vector<std::string> argv_storage = {binary};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_storage = env;
    for (char** e = environ; *e != nullptr; ++e) {
      if (!absl::StartsWith(*e, "PAT_")) env_storage.emplace_back(*e);
    }
    std::vector<char*> envp;
    for (std::string& e : env_storage) envp.push_back(e.data());
    envp.push_back(nullptr);
    if (posix_spawn(&pid_, binary, &actions, nullptr, argv.data(),
                    envp.data()) != 0) {
      pid_ = 0;
    }
    posix_spawn_file_actions_destroy(&actions);
    close(fds_[1]);
  }
  ~AuthorityBinary() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fds_[0] >= 0) close(fds_[0]);
  }

  // Reads stderr until a line contains `needle` (true) or end of file or
  // `timeout` (false).
  bool WaitForOutput(absl::string_view needle, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!absl::StrContains(output_, needle)) {
      const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
      if (ms <= 0 || fds_[0] < 0) return false;
      pollfd p{fds_[0], POLLIN, 0};
      const int ready = poll(&p, 1, static_cast<int>(ms));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return false;
      char chunk[4096];
      const ssize_t n = read(fds_[0], chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      output_.append(chunk, static_cast<size_t>(n));
    }
    return true;
  }

  // The port of {"msg":"listening","port":N}, or 0.
  int WaitForPort() {
    if (!WaitForOutput("\"msg\":\"listening\"", absl::Seconds(60))) return 0;
    const size_t at = output_.find("\"port\":", output_.find("listening"));
    int port = 0;
    if (at == std::string::npos) return 0;
    const std::string digits = output_.substr(at + 7, 5);
    absl::SimpleAtoi(digits.substr(0, digits.find_first_not_of("0123456789")),
                     &port);
    return port;
  }

  // Waits for the exit; the exit code, or -1.
  int WaitExit() {
    WaitForOutput("\n<never>", absl::Seconds(30));  // drain to end of file
    int status = 0;
    if (pid_ <= 0 || waitpid(pid_, &status, 0) != pid_) return -1;
    pid_ = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  const std::string& output() const { return output_; }

 private:
  int fds_[2] = {-1, -1};
  pid_t pid_ = 0;
  std::string output_;
};

// How many of `n` quick ListPlans calls of one actor are refused.
int RefusedOf(int port, int n) {
  auto stub = v1::TokenService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  int refused = 0;
  for (int i = 0; i < n; ++i) {
    v1::ListPlansResponse response;
    grpc::Status status = stub->ListPlans(Ctx("alice").get(), {}, &response);
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++refused;
    } else {
      EXPECT_THAT(status, IsOk());
    }
  }
  return refused;
}

class RateLimitBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(std::getenv("PAT_AUTHORITY_BIN"), nullptr);
    absl::StatusOr<std::unique_ptr<TestDatabase>> db = TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
  }
  std::vector<std::string> Args(std::vector<std::string> more) {
    std::vector<std::string> args = {
        "--insecure", "--listen=127.0.0.1:0",
        "--admin_listen=", "--database_url=" + db_->url()};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }
  std::unique_ptr<TestDatabase> db_;
};

// A rate of 1 per 1000 s: nothing refills during the test.
TEST_F(RateLimitBinaryTest, ExplicitFlagTurnsTheLimitOnUnderInsecure) {
  AuthorityBinary authority(
      Args({"--actor_rate_limit=0.001", "--actor_rate_burst=3"}), {});
  const int port = authority.WaitForPort();
  ASSERT_GT(port, 0) << authority.output();
  EXPECT_EQ(RefusedOf(port, 5), 2);
}

TEST_F(RateLimitBinaryTest, EnvironmentVariableCountsAsGiven) {
  AuthorityBinary authority(
      Args({}), {"PAT_CALLER_RATE_LIMIT=0.001", "PAT_CALLER_RATE_BURST=2"});
  const int port = authority.WaitForPort();
  ASSERT_GT(port, 0) << authority.output();
  EXPECT_EQ(RefusedOf(port, 4), 2);
}

TEST_F(RateLimitBinaryTest, InsecureWithoutRateFlagsIsUnlimited) {
  AuthorityBinary authority(Args({}), {});
  const int port = authority.WaitForPort();
  ASSERT_GT(port, 0) << authority.output();
  // Beyond the default actor burst (40).
  EXPECT_EQ(RefusedOf(port, 60), 0);
}

TEST_F(RateLimitBinaryTest, InvalidRateFlagsAreUsageErrors) {
  for (const auto& [flag, message] :
       std::vector<std::pair<std::string, std::string>>{
           {"--actor_rate_burst=0", "--actor_rate_burst: must be 1..1000000"},
           {"--caller_rate_limit=-1", "--caller_rate_limit: must be 0 (off)"},
       }) {
    AuthorityBinary authority(Args({flag}), {});
    EXPECT_EQ(authority.WaitExit(), 2) << flag << "\n" << authority.output();
    EXPECT_THAT(authority.output(), HasSubstr(message)) << flag;
  }
}

}  // namespace
}  // namespace pat::testing
