// Caller authentication (SPEC §4, threat checklist #40): real mTLS against an
// in-process AuthorityServer, with certificates made by the `openssl` command
// line in a temporary directory; and CallerAuth's decision table.

#include "server/caller_auth.h"

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/secret.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pat/v1/pat.grpc.pb.h"
#include "server/authority_config.h"
#include "server/authority_server.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_database.h"

namespace pat::testing {
namespace {

namespace v1 = ::pat::v1;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr char kAdminId[] = "spiffe://pat/console";
constexpr char kPlatformId[] = "platform.pat.internal";
constexpr char kSidecarId[] = "spiffe://pat/sidecar";
constexpr char kOpsId[] = "spiffe://pat/ops";
constexpr char kPlanId[] = "1111111111";

// --- Certificates
// ----------------------------------------------------------------

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Makes a CA, a server certificate and client certificates with `openssl`.
// Every name is a plain file name inside the directory.
class CertFactory {
 public:
  CertFactory() {
    std::string pattern =
        absl::StrCat(::testing::TempDir(), "/pat_mtls.XXXXXX");
    if (mkdtemp(pattern.data()) != nullptr) dir_ = pattern;
  }
  ~CertFactory() {
    if (!dir_.empty()) {
      std::system(absl::StrCat("rm -rf '", dir_, "'").c_str());
    }
  }

  bool ok() const { return !dir_.empty() && ok_; }
  std::string Path(const std::string& name) const {
    return absl::StrCat(dir_, "/", name);
  }
  std::string Read(const std::string& name) const {
    return ReadAll(Path(name));
  }
  void Write(const std::string& name, const std::string& contents) {
    std::ofstream(Path(name)) << contents;
  }

  // A self-signed CA: <name>.key, <name>.pem.
  void Ca(const std::string& name) {
    Run(absl::StrCat("openssl req -x509 ", NewKey(name), " -out ",
                     Path(name + ".pem"), " -days 2 -subj '/CN=", name, "'",
                     " -addext 'basicConstraints=critical,CA:TRUE'",
                     " -addext 'keyUsage=critical,keyCertSign,cRLSign'"));
  }

  // A certificate <name>.key/<name>.pem issued by CA `ca` with extensions
  // `san` (e.g. "URI:spiffe://x", empty for none) and extended key usage.
  void Issue(const std::string& ca, const std::string& name,
             const std::string& common_name, const std::string& san,
             const std::string& eku) {
    std::string ext =
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n";
    absl::StrAppend(&ext, "extendedKeyUsage=", eku, "\n");
    if (!san.empty()) absl::StrAppend(&ext, "subjectAltName=", san, "\n");
    Write(name + ".ext", ext);
    Run(absl::StrCat(
        "openssl req -new ", NewKey(name), " -out ", Path(name + ".csr"),
        " -subj '/CN=", absl::StrReplaceAll(common_name, {{"/", "\\/"}}), "'"));
    Run(absl::StrCat("openssl x509 -req -in ", Path(name + ".csr"), " -CA ",
                     Path(ca + ".pem"), " -CAkey ", Path(ca + ".key"),
                     " -CAcreateserial -CAserial ", Path(ca + ".srl"),
                     " -days 2 -extfile ", Path(name + ".ext"), " -out ",
                     Path(name + ".pem")));
  }

  // A self-signed (non-CA) client certificate <name>.key/<name>.pem.
  void SelfSigned(const std::string& name, const std::string& san) {
    Run(absl::StrCat("openssl req -x509 ", NewKey(name), " -out ",
                     Path(name + ".pem"), " -days 2 -subj '/CN=", name, "'",
                     " -addext 'subjectAltName=", san, "'",
                     " -addext 'extendedKeyUsage=clientAuth'"));
  }

 private:
  std::string NewKey(const std::string& name) const {
    return absl::StrCat(
        "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ",
        Path(name + ".key"));
  }
  void Run(const std::string& command) {
    const std::string full =
        absl::StrCat(command, " >>", Path("openssl.log"), " 2>&1");
    if (std::system(full.c_str()) != 0) {
      ADD_FAILURE() << "failed: " << command << "\n" << Read("openssl.log");
      ok_ = false;
    }
  }

  std::string dir_;
  bool ok_ = true;
};

// --- Fixture: one mTLS server for the whole suite
// ------------------------------

class MtlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new CertFactory();
    CertFactory& c = *certs_;
    c.Ca("ca");
    c.Ca("other_ca");
    c.Issue("ca", "server", "pat-authority", "IP:127.0.0.1,DNS:localhost",
            "serverAuth");
    c.Issue("ca", "admin", "admin", absl::StrCat("URI:", kAdminId),
            "clientAuth");
    c.Issue("ca", "platform", "platform", absl::StrCat("DNS:", kPlatformId),
            "clientAuth");
    c.Issue("ca", "sidecar", "sidecar", absl::StrCat("URI:", kSidecarId),
            "clientAuth");
    c.Issue("ca", "ops", "ops", absl::StrCat("URI:", kOpsId), "clientAuth");
    // Common name spelling the admin identity, SAN unknown: the common name
    // must never count.
    c.Issue("ca", "unknown", kAdminId, "URI:spiffe://pat/nobody", "clientAuth");
    c.Issue("ca", "no_san", kAdminId, "", "clientAuth");
    c.Issue("other_ca", "foreign_admin", "admin",
            absl::StrCat("URI:", kAdminId), "clientAuth");
    c.SelfSigned("self_signed", absl::StrCat("URI:", kAdminId));
    c.Write("callers", absl::StrCat("# test callers\n", kAdminId, " admin\n",
                                    kPlatformId, " platform\n", kSidecarId,
                                    " sidecar\n", kOpsId, " admin,platform\n"));
    ASSERT_TRUE(c.ok());

    absl::StatusOr<std::unique_ptr<TestDatabase>> db = TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = db->release();

    AuthorityConfig raw;
    raw.listen = "127.0.0.1:0";
    raw.database_url = db_->url();
    raw.tls_cert_path = c.Path("server.pem");
    raw.tls_key_path = c.Path("server.key");
    raw.tls_client_ca_path = c.Path("ca.pem");
    raw.callers_config_path = c.Path("callers");
    absl::StatusOr<AuthorityConfig> config = ValidateAuthorityConfig(raw);
    ASSERT_TRUE(config.ok()) << config.status();
    clock_ = new FakeClock();
    absl::StatusOr<std::unique_ptr<AuthorityServer>> server =
        AuthorityServer::Create(*config, *clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }

  static void TearDownTestSuite() {
    if (server_ != nullptr) {
      server_->Shutdown(absl::ZeroDuration());
      server_->Wait();
    }
    delete server_;
    server_ = nullptr;
    delete db_;
    db_ = nullptr;
    delete clock_;
    clock_ = nullptr;
    delete certs_;
    certs_ = nullptr;
  }

  void SetUp() override { ASSERT_NE(server_, nullptr); }

  // A channel presenting client certificate `name` ("" for none). Each
  // channel gets its own connection.
  static std::shared_ptr<grpc::Channel> Channel(const std::string& name) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = certs_->Read("ca.pem");
    if (!name.empty()) {
      options.pem_private_key = certs_->Read(name + ".key");
      options.pem_cert_chain = certs_->Read(name + ".pem");
    }
    static std::atomic<int> counter{0};
    grpc::ChannelArguments args;
    args.SetInt("pat.test.channel", counter++);
    return grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", server_->port()),
        grpc::SslCredentials(options), args);
  }

  static std::unique_ptr<grpc::ClientContext> Ctx(const std::string& actor) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!actor.empty()) ctx->AddMetadata("x-pat-actor", actor);
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    return ctx;
  }

  // One RPC of each service through `channel`.
  static grpc::Status CallTokenService(
      const std::shared_ptr<grpc::Channel>& channel, const std::string& actor) {
    v1::ListPlansResponse resp;
    return v1::TokenService::NewStub(channel)->ListPlans(Ctx(actor).get(), {},
                                                         &resp);
  }
  static grpc::Status CallDirectoryService(
      const std::shared_ptr<grpc::Channel>& channel) {
    v1::UpsertPlanRequest req;
    req.mutable_plan()->set_id(kPlanId);
    req.mutable_plan()->set_name("plan A");
    req.mutable_plan()->set_tier(v1::PLAN_TIER_ORGANIZATION);
    req.mutable_plan()->add_admin_user_ids("alice");
    v1::Plan resp;
    return v1::DirectoryService::NewStub(channel)->UpsertPlan(Ctx("").get(),
                                                              req, &resp);
  }
  static grpc::Status CallIntrospectionService(
      const std::shared_ptr<grpc::Channel>& channel) {
    v1::ValidateTokenRequest req;
    req.set_secret_sha256(std::string(32, '\0'));
    v1::ValidateTokenResponse resp;
    return v1::IntrospectionService::NewStub(channel)->ValidateToken(
        Ctx("").get(), req, &resp);
  }

  static CertFactory* certs_;
  static TestDatabase* db_;
  static FakeClock* clock_;
  static AuthorityServer* server_;
};

CertFactory* MtlsTest::certs_ = nullptr;
TestDatabase* MtlsTest::db_ = nullptr;
FakeClock* MtlsTest::clock_ = nullptr;
AuthorityServer* MtlsTest::server_ = nullptr;

TEST_F(MtlsTest, NoClientCertificateFailsTheHandshake) {
  auto channel = Channel("");
  EXPECT_THAT(CallTokenService(channel, "alice"),
              StatusCodeIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(CallDirectoryService(channel),
              StatusCodeIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(CallIntrospectionService(channel),
              StatusCodeIs(absl::StatusCode::kUnavailable));
}

TEST_F(MtlsTest, UntrustedClientCertificatesFailTheHandshake) {
  for (const char* name : {"self_signed", "foreign_admin"}) {
    auto channel = Channel(name);
    EXPECT_THAT(CallTokenService(channel, "alice"),
                StatusCodeIs(absl::StatusCode::kUnavailable))
        << name;
    EXPECT_THAT(CallIntrospectionService(channel),
                StatusCodeIs(absl::StatusCode::kUnavailable))
        << name;
  }
}

TEST_F(MtlsTest, AdminMayUseOnlyTokenService) {
  auto channel = Channel("admin");
  EXPECT_THAT(CallTokenService(channel, "alice"), IsOk());
  EXPECT_THAT(CallDirectoryService(channel),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "caller is not allowed to use pat.v1.DirectoryService"));
  EXPECT_THAT(
      CallIntrospectionService(channel),
      StatusIs(absl::StatusCode::kPermissionDenied,
               "caller is not allowed to use pat.v1.IntrospectionService"));
  // The admin's actor is honoured: without one, the manager refuses.
  EXPECT_THAT(CallTokenService(channel, ""),
              StatusCodeIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(MtlsTest, PlatformMayUseOnlyDirectoryService) {
  auto channel = Channel("platform");
  EXPECT_THAT(CallDirectoryService(channel), IsOk());
  // Asserting an actor does not make a platform caller an admin.
  EXPECT_THAT(CallTokenService(channel, "alice"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "caller is not allowed to use pat.v1.TokenService"));
  EXPECT_THAT(CallIntrospectionService(channel),
              StatusCodeIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(MtlsTest, SidecarMayUseOnlyIntrospectionService) {
  auto channel = Channel("sidecar");
  EXPECT_THAT(CallIntrospectionService(channel), IsOk());
  EXPECT_THAT(CallTokenService(channel, "alice"),
              StatusCodeIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(CallDirectoryService(channel),
              StatusCodeIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(MtlsTest, UnknownIdentityIsDeniedEverywhere) {
  // "unknown" has the admin identity as its common name; "no_san" has only
  // that common name.
  for (const char* name : {"unknown", "no_san"}) {
    auto channel = Channel(name);
    EXPECT_THAT(CallTokenService(channel, "alice"),
                StatusCodeIs(absl::StatusCode::kPermissionDenied))
        << name;
    EXPECT_THAT(CallDirectoryService(channel),
                StatusCodeIs(absl::StatusCode::kPermissionDenied))
        << name;
    EXPECT_THAT(CallIntrospectionService(channel),
                StatusCodeIs(absl::StatusCode::kPermissionDenied))
        << name;
  }
}

TEST_F(MtlsTest, CallerWithTwoRoles) {
  auto channel = Channel("ops");
  EXPECT_THAT(CallTokenService(channel, "alice"), IsOk());
  EXPECT_THAT(CallDirectoryService(channel), IsOk());
  EXPECT_THAT(CallIntrospectionService(channel),
              StatusCodeIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(MtlsTest, EndToEndAcrossRoles) {
  // The platform declares the plan, an admin caller creates a token for
  // alice, a sidecar validates its secret.
  ASSERT_THAT(CallDirectoryService(Channel("platform")), IsOk());
  v1::CreateTokenRequest create;
  create.set_plan_id(kPlanId);
  create.set_kind(v1::TOKEN_KIND_REST_API);
  create.set_name("mtls");
  create.set_expires_in_days(7);
  create.add_scopes("files:read");
  create.set_all_resources(true);
  v1::CreateTokenResponse created;
  ASSERT_THAT(v1::TokenService::NewStub(Channel("admin"))
                  ->CreateToken(Ctx("alice").get(), create, &created),
              IsOk());
  EXPECT_EQ(created.token().created_by(), "alice");

  v1::ValidateTokenRequest validate;
  const Digest digest = Sha256(created.secret());
  validate.set_secret_sha256(
      std::string(reinterpret_cast<const char*>(digest.data()), digest.size()));
  v1::ValidateTokenResponse validated;
  ASSERT_THAT(v1::IntrospectionService::NewStub(Channel("sidecar"))
                  ->ValidateToken(Ctx("").get(), validate, &validated),
              IsOk());
  EXPECT_TRUE(validated.found());
  EXPECT_EQ(validated.grant().token_id(), created.token().id());
}

TEST(AuthorityServerTlsTest, RefusesServerCertificateWithWrongKey) {
  CertFactory c;
  c.Ca("ca");
  c.Issue("ca", "one", "one", "DNS:localhost", "serverAuth");
  c.Issue("ca", "two", "two", "DNS:localhost", "serverAuth");
  c.Write("callers", "spiffe://pat/console admin\n");
  ASSERT_TRUE(c.ok());
  AuthorityConfig raw;
  raw.listen = "127.0.0.1:0";
  raw.database_url = "postgresql://unused@127.0.0.1:1/unused";
  raw.tls_cert_path = c.Path("one.pem");
  raw.tls_key_path = c.Path("two.key");
  raw.tls_client_ca_path = c.Path("ca.pem");
  raw.callers_config_path = c.Path("callers");
  absl::StatusOr<AuthorityConfig> config = ValidateAuthorityConfig(raw);
  ASSERT_TRUE(config.ok()) << config.status();
  RealClock clock;
  EXPECT_THAT(AuthorityServer::Create(*config, clock),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "--tls_key: does not match the --tls_cert certificate"));
  config->tls_cert_path = c.Path("callers");
  EXPECT_THAT(
      AuthorityServer::Create(*config, clock),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tls_cert: ")));
}

// --- CallerAuth's decision table
// ------------------------------------------------

std::unique_ptr<CallerAuth> TestAuth() {
  return CallerAuth::Mtls({{kAdminId, {CallerRole::kAdmin}},
                           {kPlatformId, {CallerRole::kPlatform}},
                           {kSidecarId, {CallerRole::kSidecar}}});
}

TEST(CallerAuthTest, RoleDecidesService) {
  auto auth = TestAuth();
  const std::vector<std::string> no_actor;
  for (const auto& [identity, role] :
       std::vector<std::pair<std::string, CallerRole>>{
           {kAdminId, CallerRole::kAdmin},
           {kPlatformId, CallerRole::kPlatform},
           {kSidecarId, CallerRole::kSidecar}}) {
    for (CallerRole needed :
         {CallerRole::kAdmin, CallerRole::kPlatform, CallerRole::kSidecar}) {
      absl::StatusOr<Caller> caller =
          auth->AuthorizePeer(true, {identity}, no_actor, needed);
      if (needed == role) {
        ASSERT_THAT(caller, IsOk());
        EXPECT_EQ(caller->identity, identity);
      } else {
        EXPECT_THAT(caller,
                    StatusIs(absl::StatusCode::kPermissionDenied,
                             absl::StrCat("caller is not allowed to use ",
                                          ServiceForRole(needed))));
      }
    }
  }
}

TEST(CallerAuthTest, ActorHonouredOnlyForAdmins) {
  auto auth = TestAuth();
  const std::vector<std::string> alice = {"alice"};
  absl::StatusOr<Caller> admin =
      auth->AuthorizePeer(true, {kAdminId}, alice, CallerRole::kAdmin);
  ASSERT_THAT(admin, IsOk());
  EXPECT_EQ(admin->actor, "alice");

  absl::StatusOr<Caller> platform =
      auth->AuthorizePeer(true, {kPlatformId}, alice, CallerRole::kPlatform);
  ASSERT_THAT(platform, IsOk());
  EXPECT_EQ(platform->actor, "");
  // A malformed actor from a non-admin is ignored, not an error.
  absl::StatusOr<Caller> sidecar = auth->AuthorizePeer(
      true, {kSidecarId}, {std::string("\x01")}, CallerRole::kSidecar);
  ASSERT_THAT(sidecar, IsOk());
  EXPECT_EQ(sidecar->actor, "");
}

TEST(CallerAuthTest, ActorMustBeOnePrintableAsciiValue) {
  auto auth = TestAuth();
  for (const std::string& bad :
       {std::string(), std::string(129, 'a'), std::string("al\x7fice"),
        std::string("al\nice"), std::string("caf\xc3\xa9"),
        std::string("a\0b", 3)}) {
    EXPECT_THAT(
        auth->AuthorizePeer(true, {kAdminId}, {bad}, CallerRole::kAdmin),
        StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("x-pat-actor")))
        << bad;
  }
  EXPECT_THAT(auth->AuthorizePeer(true, {kAdminId}, {"alice", "alice"},
                                  CallerRole::kAdmin),
              StatusCodeIs(absl::StatusCode::kUnauthenticated));
  absl::StatusOr<Caller> ok = auth->AuthorizePeer(
      true, {kAdminId}, {std::string(128, '~')}, CallerRole::kAdmin);
  ASSERT_THAT(ok, IsOk());
  EXPECT_EQ(ok->actor, std::string(128, '~'));
  absl::StatusOr<Caller> none =
      auth->AuthorizePeer(true, {kAdminId}, {}, CallerRole::kAdmin);
  ASSERT_THAT(none, IsOk());
  EXPECT_EQ(none->actor, "");
}

TEST(CallerAuthTest, UnauthenticatedOrUnknownPeer) {
  auto auth = TestAuth();
  EXPECT_THAT(auth->AuthorizePeer(false, {kAdminId}, {}, CallerRole::kAdmin),
              StatusCodeIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(auth->AuthorizePeer(true, {}, {}, CallerRole::kAdmin),
              StatusCodeIs(absl::StatusCode::kPermissionDenied));
  // Identities match exactly: no prefix, case or whitespace games.
  for (const std::string& san :
       {std::string("spiffe://pat/console/"),
        std::string("SPIFFE://pat/console"), std::string("spiffe://pat/consol"),
        std::string(" spiffe://pat/console"),
        std::string("spiffe://pat/console\0", 21)}) {
    EXPECT_THAT(auth->AuthorizePeer(true, {san}, {}, CallerRole::kAdmin),
                StatusCodeIs(absl::StatusCode::kPermissionDenied))
        << san;
  }
}

TEST(CallerAuthTest, SeveralSansGetTheUnionOfRoles) {
  auto auth = TestAuth();
  const std::vector<std::string> sans = {"spiffe://pat/nobody", kPlatformId,
                                         kSidecarId};
  absl::StatusOr<Caller> caller =
      auth->AuthorizePeer(true, sans, {}, CallerRole::kSidecar);
  ASSERT_THAT(caller, IsOk());
  EXPECT_EQ(caller->identity, kPlatformId);
  EXPECT_THAT(caller->roles, UnorderedElementsAre(CallerRole::kPlatform,
                                                  CallerRole::kSidecar));
}

TEST(CallerAuthTest, InsecureAllowsEveryoneWithTheirActor) {
  auto auth = CallerAuth::Insecure();
  for (CallerRole needed :
       {CallerRole::kAdmin, CallerRole::kPlatform, CallerRole::kSidecar}) {
    absl::StatusOr<Caller> caller =
        auth->AuthorizePeer(false, {}, {"alice"}, needed);
    ASSERT_THAT(caller, IsOk());
    EXPECT_EQ(caller->actor, "alice");
  }
  EXPECT_THAT(auth->AuthorizePeer(false, {}, {std::string(200, 'a')},
                                  CallerRole::kAdmin),
              StatusCodeIs(absl::StatusCode::kUnauthenticated));
}

}  // namespace
}  // namespace pat::testing
