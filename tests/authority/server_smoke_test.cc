// The gRPC edge of pat-authority: health, reflection, message size limits,
// request conversion errors, the introspection RPCs' edges, and the real
// `pat-authority` binary (port reporting, environment fallback, migrate
// subcommand, configuration errors, SIGTERM).

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/unknown_field_set.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pat/v1/pat.grpc.pb.h"
#include "tests/support/authority_harness.h"
#include "tests/support/fixtures.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_database.h"

extern char** environ;

namespace pat::testing {
namespace {

namespace v1 = ::pat::v1;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;

constexpr absl::Duration kDeadline = absl::Seconds(10);

// --- Raw protobuf and generic gRPC calls ------------------------------------
// Debian's gRPC ships neither the health nor the reflection .proto, so their
// messages are encoded by field number with UnknownFieldSet.

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + kDeadline));
  return ctx;
}

grpc::Status GenericUnary(const std::shared_ptr<grpc::Channel>& channel,
                          const std::string& method, const std::string& request,
                          std::string* response) {
  grpc::GenericStub stub(channel);
  auto ctx = Context();
  grpc::ByteBuffer req = ToBuffer(request);
  grpc::ByteBuffer resp;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(ctx.get(), method, grpc::StubOptions(), &req, &resp,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  *response = FromBuffer(resp);
  return status;
}

// grpc.health.v1.Health/Check; the ServingStatus number (1 = SERVING).
absl::StatusOr<int> HealthCheck(const std::shared_ptr<grpc::Channel>& channel,
                                const std::string& service) {
  google::protobuf::UnknownFieldSet request;
  if (!service.empty()) request.AddLengthDelimited(1, service);
  std::string bytes;
  request.SerializeToString(&bytes);
  std::string response;
  grpc::Status s =
      GenericUnary(channel, "/grpc.health.v1.Health/Check", bytes, &response);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        s.error_message());
  }
  google::protobuf::UnknownFieldSet fields;
  if (!fields.ParseFromString(response)) {
    return absl::InternalError("unparsable HealthCheckResponse");
  }
  for (int i = 0; i < fields.field_count(); ++i) {
    if (fields.field(i).number() == 1) {
      return static_cast<int>(fields.field(i).varint());
    }
  }
  return 0;  // UNKNOWN, the default.
}

// One request/response exchange on the bidi
// grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo stream.
// Returns the serialized ServerReflectionResponse.
absl::StatusOr<std::string> Reflect(
    const std::shared_ptr<grpc::Channel>& channel, int request_field,
    const std::string& value) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  auto ctx = Context();
  auto call = stub.PrepareCall(
      ctx.get(),
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  auto step = [&cq](intptr_t expected) {
    void* tag = nullptr;
    bool ok = false;
    return cq.Next(&tag, &ok) && ok &&
           reinterpret_cast<intptr_t>(tag) == expected;
  };
  google::protobuf::UnknownFieldSet request;
  request.AddLengthDelimited(request_field, value);
  std::string bytes;
  request.SerializeToString(&bytes);

  std::string response;
  bool exchanged = false;
  call->StartCall(reinterpret_cast<void*>(1));
  if (step(1)) {
    call->Write(ToBuffer(bytes), reinterpret_cast<void*>(2));
    if (step(2)) {
      grpc::ByteBuffer resp;
      call->Read(&resp, reinterpret_cast<void*>(3));
      if (step(3)) {
        response = FromBuffer(resp);
        exchanged = true;
      }
    }
  }
  call->WritesDone(reinterpret_cast<void*>(4));
  step(4);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  step(5);
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  if (!exchanged) {
    return absl::UnavailableError(
        absl::StrCat("reflection call failed: ", status.error_message()));
  }
  return response;
}

// Length-delimited values of field `number` in `fields`.
std::vector<std::string> Strings(
    const google::protobuf::UnknownFieldSet& fields, int number) {
  std::vector<std::string> out;
  for (int i = 0; i < fields.field_count(); ++i) {
    const google::protobuf::UnknownField& f = fields.field(i);
    if (f.number() == number &&
        f.type() == google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) {
      out.push_back(f.length_delimited());
    }
  }
  return out;
}

// --- In-process server
// ----------------------------------------------------------

class ServerSmokeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    harness_ = AuthorityHarness::Start();
    ASSERT_NE(harness_, nullptr);
  }
  AuthorityHarness& h() { return *harness_; }
  std::unique_ptr<AuthorityHarness> harness_;
};

TEST_F(ServerSmokeTest, HealthServing) {
  EXPECT_EQ(HealthCheck(h().channel(), "").value_or(-1), 1);
  for (const char* service : {"pat.v1.TokenService", "pat.v1.DirectoryService",
                              "pat.v1.IntrospectionService"}) {
    EXPECT_EQ(HealthCheck(h().channel(), service).value_or(-1), 1) << service;
  }
  EXPECT_THAT(HealthCheck(h().channel(), "no.such.Service"),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
}

TEST_F(ServerSmokeTest, ReflectionListsServices) {
  // list_services (field 7) -> list_services_response (6) -> service (1) ->
  // name (1).
  absl::StatusOr<std::string> bytes = Reflect(h().channel(), 7, "");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  google::protobuf::UnknownFieldSet response;
  ASSERT_TRUE(response.ParseFromString(*bytes));
  std::vector<std::string> lists = Strings(response, 6);
  ASSERT_EQ(lists.size(), 1u);
  google::protobuf::UnknownFieldSet list;
  ASSERT_TRUE(list.ParseFromString(lists[0]));
  std::vector<std::string> names;
  for (const std::string& service : Strings(list, 1)) {
    google::protobuf::UnknownFieldSet s;
    ASSERT_TRUE(s.ParseFromString(service));
    for (const std::string& name : Strings(s, 1)) names.push_back(name);
  }
  EXPECT_THAT(
      names,
      IsSupersetOf({"pat.v1.TokenService", "pat.v1.DirectoryService",
                    "pat.v1.IntrospectionService", "grpc.health.v1.Health"}));
}

TEST_F(ServerSmokeTest, ReflectionDescribesTokenService) {
  // file_containing_symbol (4) -> file_descriptor_response (4) ->
  // file_descriptor_proto (1).
  absl::StatusOr<std::string> bytes =
      Reflect(h().channel(), 4, "pat.v1.TokenService");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  google::protobuf::UnknownFieldSet response;
  ASSERT_TRUE(response.ParseFromString(*bytes));
  std::vector<std::string> files = Strings(response, 4);
  ASSERT_EQ(files.size(), 1u);
  google::protobuf::UnknownFieldSet file_response;
  ASSERT_TRUE(file_response.ParseFromString(files[0]));
  std::vector<std::string> methods;
  for (const std::string& bytes : Strings(file_response, 1)) {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(file.ParseFromString(bytes));
    if (file.package() != "pat.v1") continue;
    for (const auto& service : file.service()) {
      if (service.name() != "TokenService") continue;
      for (const auto& method : service.method()) {
        methods.push_back(method.name());
      }
    }
  }
  EXPECT_THAT(methods,
              IsSupersetOf({"ListPlans", "CreateToken", "GetToken",
                            "ListTokens", "UpdateToken", "RefreshToken",
                            "RevokeToken", "ListAuditEvents", "CheckAccess"}));
}

TEST_F(ServerSmokeTest, OversizedRequestRefused) {
  v1::CreateTokenRequest req = MakeCreateRequest();
  req.set_name(std::string(5 * 1024 * 1024, 'n'));
  v1::CreateTokenResponse resp;
  grpc::Status s =
      h().tokens().CreateToken(AuthorityHarness::Ctx(kAlice).get(), req, &resp);
  EXPECT_THAT(s, StatusCodeIs(absl::StatusCode::kResourceExhausted));
  // The server is still fine afterwards.
  EXPECT_EQ(HealthCheck(h().channel(), "").value_or(-1), 1);
}

TEST_F(ServerSmokeTest, UnknownEnumValuesAreInvalidArgument) {
  SeedWorld(h());
  v1::CreateTokenRequest create = MakeCreateRequest();
  create.set_kind(static_cast<v1::TokenKind>(7));
  v1::CreateTokenResponse created;
  EXPECT_THAT(
      h().tokens().CreateToken(AuthorityHarness::Ctx(kAlice).get(), create,
                               &created),
      StatusIs(absl::StatusCode::kInvalidArgument, "kind: unknown value 7"));

  v1::ListTokensRequest list;
  list.set_plan_id(kPlanA);
  list.add_statuses(static_cast<v1::TokenStatus>(42));
  v1::ListTokensResponse listed;
  EXPECT_THAT(h().tokens().ListTokens(AuthorityHarness::Ctx(kAlice).get(), list,
                                      &listed),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "statuses: unknown value 42"));
  list.set_statuses(0, v1::TOKEN_STATUS_UNSPECIFIED);
  EXPECT_THAT(
      h().tokens().ListTokens(AuthorityHarness::Ctx(kAlice).get(), list,
                              &listed),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("statuses:")));

  v1::UpsertPlanRequest plan;
  plan.mutable_plan()->set_id("4444444444");
  plan.mutable_plan()->set_tier(static_cast<v1::PlanTier>(-3));
  v1::Plan upserted;
  EXPECT_THAT(h().directory().UpsertPlan(AuthorityHarness::Ctx("").get(), plan,
                                         &upserted),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "plan.tier: unknown value -3"));

  v1::DeleteResourceRequest del;
  del.set_kind(static_cast<v1::ResourceKind>(99));
  del.set_id("x");
  v1::DeleteResourceResponse deleted;
  EXPECT_THAT(
      h().directory().DeleteResource(AuthorityHarness::Ctx("").get(), del,
                                     &deleted),
      StatusIs(absl::StatusCode::kInvalidArgument, "kind: unknown value 99"));
}

TEST_F(ServerSmokeTest, UnknownUpdateMaskPathIsInvalidArgument) {
  SeedWorld(h());
  v1::CreateTokenResponse created =
      MustCreate(h(), kAlice, MakeCreateRequest());
  ASSERT_FALSE(HasFailure());
  for (const char* path : {"secret_hash", "plan_id", "expire_time", "id",
                           "revoke_time", "name.x", ""}) {
    v1::UpdateTokenRequest req =
        MakeUpdateRequest(kPlanA, created.token().id(), {"name", path});
    req.set_name("renamed");
    v1::Token resp;
    EXPECT_THAT(
        UpdateToken(h(), kAlice, req, &resp),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 HasSubstr(absl::StrCat("update_mask: unknown path ", path))))
        << path;
  }
  EXPECT_EQ(MustGet(h(), kAlice, kPlanA, created.token().id()).name(),
            created.token().name());
}

TEST_F(ServerSmokeTest, MalformedActorIsUnauthenticated) {
  SeedWorld(h());
  {
    // Too long. (Non-printable values cannot be sent by a gRPC client at all;
    // CallerAuth's unit tests cover them.)
    v1::ListPlansResponse resp;
    EXPECT_THAT(
        h().tokens().ListPlans(
            AuthorityHarness::Ctx(std::string(129, 'a')).get(), {}, &resp),
        StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("x-pat-actor")));
  }
  // Given twice.
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-pat-actor", kAlice);
  ctx.AddMetadata("x-pat-actor", kBob);
  v1::ListPlansResponse resp;
  EXPECT_THAT(
      h().tokens().ListPlans(&ctx, {}, &resp),
      StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("x-pat-actor")));
  // Missing: the manager's UNAUTHENTICATED.
  EXPECT_THAT(
      h().tokens().ListPlans(AuthorityHarness::Ctx("").get(), {}, &resp),
      StatusCodeIs(absl::StatusCode::kUnauthenticated));
  // Well formed.
  EXPECT_THAT(
      h().tokens().ListPlans(AuthorityHarness::Ctx(kAlice).get(), {}, &resp),
      IsOk());
  ASSERT_EQ(resp.plans_size(), 1);
  EXPECT_EQ(resp.plans(0).id(), kPlanA);
  EXPECT_EQ(resp.plans(0).tier(), v1::PLAN_TIER_ORGANIZATION);
}

TEST_F(ServerSmokeTest, ValidateToken) {
  SeedWorld(h());
  v1::ValidateTokenRequest req;
  v1::ValidateTokenResponse resp;
  for (size_t size : {0u, 31u, 33u, 64u}) {
    req.set_secret_sha256(std::string(size, 'x'));
    EXPECT_THAT(h().introspection().ValidateToken(
                    AuthorityHarness::Ctx("").get(), req, &resp),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("secret_sha256")))
        << size;
  }
  req.set_secret_sha256(std::string(32, '\0'));
  ASSERT_THAT(h().introspection().ValidateToken(AuthorityHarness::Ctx("").get(),
                                                req, &resp),
              IsOk());
  EXPECT_FALSE(resp.found());
  EXPECT_FALSE(resp.has_grant());

  v1::CreateTokenResponse created =
      MustCreate(h(), kAlice, MakeCreateRequest());
  ASSERT_FALSE(HasFailure());
  v1::ValidateTokenResponse v = Validate(h(), created.secret());
  ASSERT_TRUE(v.found());
  EXPECT_EQ(v.grant().token_id(), created.token().id());
  EXPECT_EQ(v.grant().plan_id(), kPlanA);
  EXPECT_EQ(v.grant().kind(), v1::TOKEN_KIND_REST_API);
  EXPECT_EQ(v.grant().status(), v1::TOKEN_STATUS_ACTIVE);
  EXPECT_TRUE(v.grant().all_resources());
  EXPECT_THAT(v.grant().scopes(), Contains("files:read"));
  EXPECT_EQ(ToTime(v.secret_expire_time()),
            ToTime(created.token().expire_time()));
  EXPECT_FALSE(v.grant().has_revoke_time());

  MustRevoke(h(), kAlice, kPlanA, created.token().id());
  v = Validate(h(), created.secret());
  ASSERT_TRUE(v.found());
  EXPECT_EQ(v.grant().status(), v1::TOKEN_STATUS_REVOKED);
  EXPECT_TRUE(v.grant().has_revoke_time());
}

TEST_F(ServerSmokeTest, SidecarRpcsAnswer) {
  // An empty database: the snapshot is empty and synced at revision 0.
  auto ctx = AuthorityHarness::Ctx("");
  v1::WatchGrantsRequest watch;
  auto reader = h().introspection().WatchGrants(ctx.get(), watch);
  v1::WatchGrantsResponse message;
  ASSERT_TRUE(reader->Read(&message));
  EXPECT_EQ(message.message_case(), v1::WatchGrantsResponse::kSyncedRevision);
  EXPECT_EQ(message.synced_revision(), 0);
  ctx->TryCancel();
  while (reader->Read(&message)) {
  }
  EXPECT_THAT(reader->Finish(), StatusCodeIs(absl::StatusCode::kCancelled));

  v1::ResolveResourceResponse resolved;
  EXPECT_THAT(h().introspection().ResolveResource(
                  AuthorityHarness::Ctx("").get(), {}, &resolved),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kind")));
  v1::ReportUsageResponse reported;
  EXPECT_THAT(h().introspection().ReportUsage(AuthorityHarness::Ctx("").get(),
                                              {}, &reported),
              IsOk());
}

TEST_F(ServerSmokeTest, TokenResponsesNeverCarryTheSecretOutsideCreate) {
  SeedWorld(h());
  v1::CreateTokenResponse created =
      MustCreate(h(), kAlice, MakeCreateRequest());
  ASSERT_FALSE(HasFailure());
  ASSERT_FALSE(created.secret().empty());
  EXPECT_FALSE(
      absl::StrContains(created.token().SerializeAsString(), created.secret()));
  v1::Token got = MustGet(h(), kAlice, kPlanA, created.token().id());
  EXPECT_FALSE(absl::StrContains(got.SerializeAsString(), created.secret()));
  EXPECT_EQ(got.status(), v1::TOKEN_STATUS_ACTIVE);
  EXPECT_EQ(got.created_by(), kAlice);
  EXPECT_TRUE(got.has_create_time());
  EXPECT_TRUE(got.has_expire_time());
  EXPECT_FALSE(got.has_revoke_time());
  EXPECT_FALSE(got.has_last_refresh_time());
  EXPECT_EQ(ToTime(got.expire_time()) - ToTime(got.create_time()),
            absl::Hours(24 * 30));
}

// --- The real binary ---------------------------------------------------------

// A child process with its stderr on a pipe. Killed (SIGKILL) and reaped on
// destruction if still running.
class Subprocess {
 public:
  // Starts `binary` with `args` and exactly the parent's environment minus
  // every PAT_* variable, plus `env` ("NAME=value").
  static std::unique_ptr<Subprocess> Start(
      const std::string& binary, const std::vector<std::string>& args,
      const std::vector<std::string>& env) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return nullptr;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                     O_RDONLY, 0);

    std::vector<std::string> argv_storage = {binary};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_storage;
    for (char** e = environ; *e != nullptr; ++e) {
      if (!absl::StartsWith(*e, "PAT_")) env_storage.emplace_back(*e);
    }
    env_storage.insert(env_storage.end(), env.begin(), env.end());
    std::vector<char*> envp;
    for (std::string& e : env_storage) envp.push_back(e.data());
    envp.push_back(nullptr);

    pid_t pid = 0;
    const int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr,
                               argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
      close(fds[0]);
      return nullptr;
    }
    return std::unique_ptr<Subprocess>(new Subprocess(pid, fds[0]));
  }

  ~Subprocess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(stderr_fd_);
  }

  // The next complete stderr line, waiting until `deadline`; nullopt at end
  // of file or timeout.
  std::optional<std::string> ReadLine(absl::Time deadline) {
    while (true) {
      const size_t newline = buffer_.find('\n');
      if (newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return line;
      }
      const int timeout_ms =
          static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
      if (timeout_ms <= 0) return std::nullopt;
      pollfd p{stderr_fd_, POLLIN, 0};
      const int ready = poll(&p, 1, timeout_ms);
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return std::nullopt;
      char chunk[4096];
      const ssize_t n = read(stderr_fd_, chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<size_t>(n));
      all_output_.append(chunk, static_cast<size_t>(n));
    }
  }

  // Reads stderr lines until one is a JSON object with "msg" == `msg`.
  std::optional<nlohmann::json> WaitForLog(const std::string& msg,
                                           absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (std::optional<std::string> line = ReadLine(deadline)) {
      nlohmann::json j = nlohmann::json::parse(*line, nullptr, false);
      if (j.is_object() && j.value("msg", "") == msg) return j;
    }
    return std::nullopt;
  }

  void Signal(int sig) { kill(pid_, sig); }

  // Waits for exit up to `timeout`; the wait status, or nullopt on timeout.
  std::optional<int> Wait(absl::Duration timeout) {
    const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      const int ready =
          poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
      close(pidfd);
      if (ready <= 0) return std::nullopt;
    }
    int status = 0;
    if (waitpid(pid_, &status, 0) != pid_) return std::nullopt;
    pid_ = -1;
    return status;
  }

  // Everything read from stderr so far, then the rest until end of file.
  std::string DrainOutput(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (ReadLine(deadline).has_value()) {
    }
    return all_output_;
  }

 private:
  Subprocess(pid_t pid, int stderr_fd) : pid_(pid), stderr_fd_(stderr_fd) {}
  pid_t pid_;
  int stderr_fd_;
  std::string buffer_;
  std::string all_output_;
};

std::string AuthorityBinary() {
  const char* bin = std::getenv("PAT_AUTHORITY_BIN");
  return bin == nullptr ? "" : bin;
}

class BinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = AuthorityBinary();
    ASSERT_FALSE(binary_.empty()) << "PAT_AUTHORITY_BIN is not set";
    absl::StatusOr<std::unique_ptr<TestDatabase>> db = TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
  }
  std::string binary_;
  std::unique_ptr<TestDatabase> db_;
};

TEST_F(BinaryTest, ServesReportsPortAndStopsOnSigterm) {
  // The database URL comes from the environment, the rest from flags.
  std::unique_ptr<Subprocess> child =
      Subprocess::Start(binary_, {"--listen=127.0.0.1:0", "--insecure"},
                        {absl::StrCat("PAT_DATABASE_URL=", db_->url())});
  ASSERT_NE(child, nullptr);
  std::optional<nlohmann::json> listening =
      child->WaitForLog("listening", absl::Seconds(30));
  ASSERT_TRUE(listening.has_value()) << child->DrainOutput(absl::Seconds(1));
  const int port = listening->value("port", 0);
  ASSERT_GT(port, 0);

  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  EXPECT_EQ(HealthCheck(channel, "").value_or(-1), 1);
  // A real RPC through to the database.
  auto directory = v1::DirectoryService::NewStub(channel);
  v1::UpsertPlanRequest req;
  req.mutable_plan()->set_id(kPlanA);
  req.mutable_plan()->set_name("plan A");
  req.mutable_plan()->set_tier(v1::PLAN_TIER_ORGANIZATION);
  req.mutable_plan()->add_admin_user_ids(kAlice);
  v1::Plan plan;
  EXPECT_THAT(directory->UpsertPlan(Context().get(), req, &plan), IsOk());

  child->Signal(SIGTERM);
  std::optional<int> status = child->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.has_value()) << "pat-authority did not exit on SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  const std::string output = child->DrainOutput(absl::Seconds(5));
  EXPECT_THAT(output, HasSubstr("\"msg\":\"stopped\""));
  // No secret-shaped string and no database URL in the logs.
  EXPECT_THAT(output, ::testing::Not(HasSubstr(db_->url())));
}

TEST_F(BinaryTest, CommandLineWinsOverEnvironment) {
  std::unique_ptr<Subprocess> child = Subprocess::Start(
      binary_, {"--listen=127.0.0.1:0", "--database_url=" + db_->url()},
      {"PAT_INSECURE=true", "PAT_LISTEN=0.0.0.0:1",
       "PAT_DATABASE_URL=postgresql://nobody@127.0.0.1:1/nothing"});
  ASSERT_NE(child, nullptr);
  std::optional<nlohmann::json> listening =
      child->WaitForLog("listening", absl::Seconds(30));
  ASSERT_TRUE(listening.has_value()) << child->DrainOutput(absl::Seconds(1));
  child->Signal(SIGINT);
  std::optional<int> status = child->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
}

TEST_F(BinaryTest, ConfigurationErrorsExit2NamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--insecure"}, {}, "--database_url: required"},
      {{"--database_url=x"}, {}, "--tls_cert: required unless --insecure"},
      {{"--insecure", "--listen=0.0.0.0:0", "--database_url=x"},
       {},
       "--allow_insecure_non_loopback"},
      {{"--insecure", "--database_url=x"},
       {"PAT_DB_POOL_SIZE=lots"},
       "PAT_DB_POOL_SIZE"},
      {{"frobnicate"}, {}, "migrate"},
  };
  for (const Case& c : cases) {
    std::unique_ptr<Subprocess> child =
        Subprocess::Start(binary_, c.args, c.env);
    ASSERT_NE(child, nullptr);
    std::optional<int> status = child->Wait(absl::Seconds(30));
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(WIFEXITED(*status));
    EXPECT_EQ(WEXITSTATUS(*status), 2) << c.message;
    EXPECT_THAT(child->DrainOutput(absl::Seconds(5)), HasSubstr(c.message));
  }
}

TEST_F(BinaryTest, MigrateSubcommand) {
  // The test database is already migrated: applying again is a no-op.
  std::unique_ptr<Subprocess> child = Subprocess::Start(
      binary_, {"migrate", absl::StrCat("--database_url=", db_->url())}, {});
  ASSERT_NE(child, nullptr);
  std::optional<int> status = child->Wait(absl::Seconds(60));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0) << child->DrainOutput(absl::Seconds(5));
  EXPECT_THAT(child->DrainOutput(absl::Seconds(5)),
              HasSubstr("\"msg\":\"migrated\""));

  // An unreachable database: runtime failure, exit 1.
  child = Subprocess::Start(
      binary_, {"migrate"},
      {"PAT_DATABASE_URL=postgresql://nobody@127.0.0.1:1/nothing"});
  ASSERT_NE(child, nullptr);
  status = child->Wait(absl::Seconds(60));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 1);
}

}  // namespace
}  // namespace pat::testing
