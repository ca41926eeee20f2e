// Client certificates at the authority's TLS handshake (threat checklist
// #40), with certificates made by the OpenSSL API (validity dates the
// `openssl` command line of Debian 12 cannot set): an expired client
// certificate, a not-yet-valid one and one issued by an expired CA are
// refused at the handshake (UNAVAILABLE on the client) while a valid one is
// accepted. And function-level authorization (BFLA) over every RPC of every
// pat.v1 service, enumerated from the descriptors: a caller whose role does
// not grant the service is refused PERMISSION_DENIED, so a new RPC or
// service cannot be added without coverage. And the per-caller rate limit
// keyed by the certificate identity.

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/generic/generic_stub.h"
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
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kAdminId[] = "spiffe://pat/console";
constexpr char kSecondAdminId[] = "spiffe://pat/console-2";
// The per-caller burst of this suite's authority (every test but
// CallerLimitIsPerCertificateIdentity makes fewer admin calls).
constexpr int kCallerBurst = 30;
constexpr char kPlatformId[] = "spiffe://pat/directory-sync";
constexpr char kSidecarId[] = "spiffe://pat/sidecar";

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& actor) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!actor.empty()) ctx->AddMetadata("x-pat-actor", actor);
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  return ctx;
}

// --- Certificates (OpenSSL API) ---------------------------------------------

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

// A key and its certificate, and their PEM forms.
struct Identity {
  Pkey key;
  Cert cert;
  std::string key_pem;
  std::string cert_pem;
};

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<size_t>(size));
  BIO_free(bio);
  return text;
}

void AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(ext, nullptr) << "extension " << nid << "=" << value;
  ASSERT_EQ(X509_add_ext(cert, ext, -1), 1);
  X509_EXTENSION_free(ext);
}

struct CertSpec {
  std::string common_name;
  std::string san;  // e.g. "URI:spiffe://x"; "" for none
  bool ca = false;
  bool server = false;
  absl::Time not_before;
  absl::Time not_after;
};

// Issues `spec` signed by `issuer` (self-signed when null).
void Issue(const CertSpec& spec, const Identity* issuer, Identity& out) {
  static long serial = 1;
  out.key.reset(EVP_EC_gen("P-256"));
  ASSERT_NE(out.key, nullptr);
  out.cert.reset(X509_new());
  X509* x = out.cert.get();
  ASSERT_EQ(X509_set_version(x, 2), 1);
  ASSERT_EQ(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++), 1);
  ASSERT_NE(
      ASN1_TIME_set(X509_getm_notBefore(x), absl::ToTimeT(spec.not_before)),
      nullptr);
  ASSERT_NE(ASN1_TIME_set(X509_getm_notAfter(x), absl::ToTimeT(spec.not_after)),
            nullptr);
  ASSERT_EQ(X509_set_pubkey(x, out.key.get()), 1);
  X509_NAME* name = X509_get_subject_name(x);
  ASSERT_EQ(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                       reinterpret_cast<const unsigned char*>(
                                           spec.common_name.c_str()),
                                       -1, -1, 0),
            1);
  X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : x;
  EVP_PKEY* issuer_key = issuer != nullptr ? issuer->key.get() : out.key.get();
  ASSERT_EQ(X509_set_issuer_name(x, X509_get_subject_name(issuer_cert)), 1);
  ASSERT_NO_FATAL_FAILURE(
      AddExtension(x, issuer_cert, NID_subject_key_identifier, "hash"));
  ASSERT_NO_FATAL_FAILURE(AddExtension(
      x, issuer_cert, NID_authority_key_identifier, "keyid:always"));
  if (spec.ca) {
    ASSERT_NO_FATAL_FAILURE(AddExtension(x, issuer_cert, NID_basic_constraints,
                                         "critical,CA:TRUE"));
    ASSERT_NO_FATAL_FAILURE(AddExtension(x, issuer_cert, NID_key_usage,
                                         "critical,keyCertSign,cRLSign"));
  } else {
    ASSERT_NO_FATAL_FAILURE(AddExtension(x, issuer_cert, NID_basic_constraints,
                                         "critical,CA:FALSE"));
    ASSERT_NO_FATAL_FAILURE(AddExtension(x, issuer_cert, NID_key_usage,
                                         "critical,digitalSignature"));
    ASSERT_NO_FATAL_FAILURE(
        AddExtension(x, issuer_cert, NID_ext_key_usage,
                     spec.server ? "serverAuth" : "clientAuth"));
  }
  if (!spec.san.empty()) {
    ASSERT_NO_FATAL_FAILURE(
        AddExtension(x, issuer_cert, NID_subject_alt_name, spec.san.c_str()));
  }
  ASSERT_GT(X509_sign(x, issuer_key, EVP_sha256()), 0);
  BIO* cert_bio = BIO_new(BIO_s_mem());
  ASSERT_EQ(PEM_write_bio_X509(cert_bio, x), 1);
  out.cert_pem = BioText(cert_bio);
  BIO* key_bio = BIO_new(BIO_s_mem());
  ASSERT_EQ(PEM_write_bio_PrivateKey(key_bio, out.key.get(), nullptr, nullptr,
                                     0, nullptr, nullptr),
            1);
  out.key_pem = BioText(key_bio);
}

std::string WriteTemp(const std::string& dir, const std::string& name,
                      const std::string& contents) {
  const std::string path = absl::StrCat(dir, "/", name);
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

// --- Fixture: one mTLS authority for the suite ------------------------------

class ClientCertTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const absl::Time now = absl::Now();
    const absl::Duration day = absl::Hours(24);
    ids_ = new std::map<std::string, Identity>();
    auto issue = [&](const std::string& name, const std::string& issuer,
                     CertSpec spec) {
      Issue(spec, issuer.empty() ? nullptr : &(*ids_)[issuer], (*ids_)[name]);
    };
    // Valid for a day either side of now, unless said otherwise.
    auto spec = [&](const std::string& cn, const std::string& san) {
      return CertSpec{cn, san, false, false, now - day, now + day};
    };
    CertSpec ca = spec("pat test CA", "");
    ca.ca = true;
    issue("ca", "", ca);
    CertSpec expired_ca = spec("pat expired CA", "");
    expired_ca.ca = true;
    expired_ca.not_before = now - 3 * day;
    expired_ca.not_after = now - day;
    issue("expired_ca", "", expired_ca);
    CertSpec server_spec = spec("pat-authority", "IP:127.0.0.1,DNS:localhost");
    server_spec.server = true;
    issue("server", "ca", server_spec);
    const std::string admin_san = absl::StrCat("URI:", kAdminId);
    issue("admin", "ca", spec("admin", admin_san));
    issue("second_admin", "ca",
          spec("admin 2", absl::StrCat("URI:", kSecondAdminId)));
    issue("platform", "ca",
          spec("platform", absl::StrCat("URI:", kPlatformId)));
    issue("sidecar", "ca", spec("sidecar", absl::StrCat("URI:", kSidecarId)));
    CertSpec expired = spec("admin", admin_san);
    expired.not_before = now - 2 * day;
    expired.not_after = now - absl::Minutes(5);
    issue("expired_admin", "ca", expired);
    CertSpec future = spec("admin", admin_san);
    future.not_before = now + absl::Hours(1);
    future.not_after = now + 2 * day;
    issue("future_admin", "ca", future);
    issue("admin_of_expired_ca", "expired_ca", spec("admin", admin_san));
    ASSERT_FALSE(HasFatalFailure());

    std::string pattern =
        absl::StrCat(::testing::TempDir(), "/pat_client_cert.XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = new std::string(pattern);
    AuthorityConfig raw;
    raw.listen = "127.0.0.1:0";
    raw.tls_cert_path =
        WriteTemp(*dir_, "server.pem", (*ids_)["server"].cert_pem);
    raw.tls_key_path =
        WriteTemp(*dir_, "server.key", (*ids_)["server"].key_pem);
    // Both CAs are trusted: only the expiry of one refuses its certificates.
    raw.tls_client_ca_path =
        WriteTemp(*dir_, "ca.pem",
                  (*ids_)["ca"].cert_pem + (*ids_)["expired_ca"].cert_pem);
    raw.callers_config_path = WriteTemp(
        *dir_, "callers",
        absl::StrCat(kAdminId, " admin\n", kSecondAdminId, " admin\n",
                     kPlatformId, " platform\n", kSidecarId, " sidecar\n"));
    absl::StatusOr<std::unique_ptr<TestDatabase>> db = TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = db->release();
    raw.database_url = db_->url();
    raw.caller_rate_limit = {.per_second = 1, .burst = kCallerBurst};
    raw.rate_limits_explicit = true;
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
    if (dir_ != nullptr) {
      std::system(absl::StrCat("rm -rf '", *dir_, "'").c_str());
    }
    delete dir_;
    dir_ = nullptr;
    delete ids_;
    ids_ = nullptr;
  }

  void SetUp() override { ASSERT_NE(server_, nullptr); }

  // A channel (its own connection) presenting client identity `name`.
  static std::shared_ptr<grpc::Channel> Channel(const std::string& name) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = (*ids_)["ca"].cert_pem;
    options.pem_private_key = (*ids_)[name].key_pem;
    options.pem_cert_chain = (*ids_)[name].cert_pem;
    static int counter = 0;
    grpc::ChannelArguments args;
    args.SetInt("pat.test.channel", counter++);
    return grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", server_->port()),
        grpc::SslCredentials(options), args);
  }

  static grpc::Status ListPlans(const std::shared_ptr<grpc::Channel>& channel) {
    v1::ListPlansResponse response;
    return v1::TokenService::NewStub(channel)->ListPlans(Ctx("alice").get(), {},
                                                         &response);
  }

  static std::map<std::string, Identity>* ids_;
  static std::string* dir_;
  static TestDatabase* db_;
  static FakeClock* clock_;
  static AuthorityServer* server_;
};

std::map<std::string, Identity>* ClientCertTest::ids_ = nullptr;
std::string* ClientCertTest::dir_ = nullptr;
TestDatabase* ClientCertTest::db_ = nullptr;
FakeClock* ClientCertTest::clock_ = nullptr;
AuthorityServer* ClientCertTest::server_ = nullptr;

// OpenSSL's verdict on certificate `leaf` against CA `ca` (as the
// authority's trust store would give it), with or without the time checks.
int VerifyError(const Identity& ca, const Identity& leaf, bool check_time) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca.cert.get());
  if (!check_time) X509_STORE_set_flags(store, X509_V_FLAG_NO_CHECK_TIME);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf.cert.get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
  const int ok = X509_verify_cert(ctx);
  const int error = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return error;
}

// The refused certificates differ from the accepted one only by their dates:
// without the time checks every one verifies.
TEST_F(ClientCertTest, RefusedCertificatesAreWrongOnlyInTime) {
  const Identity& ca = (*ids_)["ca"];
  const Identity& expired_ca = (*ids_)["expired_ca"];
  EXPECT_EQ(VerifyError(ca, (*ids_)["admin"], true), X509_V_OK);
  EXPECT_EQ(VerifyError(ca, (*ids_)["expired_admin"], true),
            X509_V_ERR_CERT_HAS_EXPIRED);
  EXPECT_EQ(VerifyError(ca, (*ids_)["future_admin"], true),
            X509_V_ERR_CERT_NOT_YET_VALID);
  EXPECT_EQ(VerifyError(expired_ca, (*ids_)["admin_of_expired_ca"], true),
            X509_V_ERR_CERT_HAS_EXPIRED);
  for (const char* name : {"admin", "expired_admin", "future_admin"}) {
    EXPECT_EQ(VerifyError(ca, (*ids_)[name], false), X509_V_OK) << name;
  }
  EXPECT_EQ(VerifyError(expired_ca, (*ids_)["admin_of_expired_ca"], false),
            X509_V_OK);
}

TEST_F(ClientCertTest, ValidClientCertificateIsAccepted) {
  EXPECT_THAT(ListPlans(Channel("admin")), IsOk());
}

TEST_F(ClientCertTest, ExpiredClientCertificateFailsTheHandshake) {
  auto channel = Channel("expired_admin");
  EXPECT_THAT(ListPlans(channel), StatusCodeIs(absl::StatusCode::kUnavailable));
  // Not a retry artefact: the channel never connects.
  EXPECT_THAT(ListPlans(channel), StatusCodeIs(absl::StatusCode::kUnavailable));
  EXPECT_NE(channel->GetState(false), GRPC_CHANNEL_READY);
}

TEST_F(ClientCertTest, NotYetValidClientCertificateFailsTheHandshake) {
  EXPECT_THAT(ListPlans(Channel("future_admin")),
              StatusCodeIs(absl::StatusCode::kUnavailable));
}

TEST_F(ClientCertTest, CertificateOfAnExpiredCaFailsTheHandshake) {
  EXPECT_THAT(ListPlans(Channel("admin_of_expired_ca")),
              StatusCodeIs(absl::StatusCode::kUnavailable));
}

// The per-caller bucket is keyed by the certificate's configured SAN: one
// admin identity exhausting its bucket (with a new actor each call, so the
// actor limit never trips) leaves another admin identity untouched.
TEST_F(ClientCertTest, CallerLimitIsPerCertificateIdentity) {
  // Full buckets whatever ran before (burst / rate = 30 s).
  clock_->Advance(absl::Seconds(kCallerBurst));
  auto second = v1::TokenService::NewStub(Channel("second_admin"));
  for (int i = 0; i < kCallerBurst; ++i) {
    v1::ListPlansResponse response;
    ASSERT_THAT(
        second->ListPlans(Ctx(absl::StrCat("actor-", i)).get(), {}, &response),
        IsOk())
        << i;
  }
  // A new connection with the same certificate shares the bucket.
  auto again = v1::TokenService::NewStub(Channel("second_admin"));
  v1::ListPlansResponse response;
  grpc::Status refused =
      again->ListPlans(Ctx("actor-new").get(), {}, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(refused.error_message(),
            "rate limit exceeded for this caller; retry after 1000 ms");
  EXPECT_THAT(ListPlans(Channel("admin")), IsOk());
}

// --- BFLA over every RPC, from the descriptors -------------------------------

// The outcome of one call made without generated stubs.
struct CallResult {
  grpc::Status status;
  bool got_message = false;
};

// Calls `path` with an empty request message as a stream (which serves
// unary and streaming methods alike: the wire is the same); stops after the
// first response message.
CallResult GenericCall(const std::shared_ptr<grpc::Channel>& channel,
                       const std::string& path, const std::string& actor) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  auto ctx = Ctx(actor);
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      stub.PrepareCall(ctx.get(), path, &cq);
  void* tag = nullptr;
  bool ok = false;
  auto wait = [&] { return cq.Next(&tag, &ok) && ok; };
  CallResult result;
  call->StartCall(nullptr);
  if (wait()) {
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1);
    call->Write(request, nullptr);
    if (wait()) {
      call->WritesDone(nullptr);
      if (wait()) {
        grpc::ByteBuffer response;
        call->Read(&response, nullptr);
        result.got_message = wait();
        if (result.got_message) ctx->TryCancel();
      }
    }
  }
  call->Finish(&result.status, nullptr);
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return result;
}

// Which role's callers may use each pat.v1 service (SPEC §4). A service of
// the proto file missing here fails the test.
const std::map<std::string, std::string>& ServiceOwners() {
  static const auto* owners = new std::map<std::string, std::string>{
      {"pat.v1.TokenService", "admin"},
      {"pat.v1.DirectoryService", "platform"},
      {"pat.v1.IntrospectionService", "sidecar"},
  };
  return *owners;
}

TEST_F(ClientCertTest, EveryRpcRefusesCallersWithoutTheServicesRole) {
  const google::protobuf::FileDescriptor* file =
      google::protobuf::DescriptorPool::generated_pool()
          ->FindServiceByName(v1::TokenService::service_full_name())
          ->file();
  std::set<std::string> seen;
  int methods = 0;
  for (int s = 0; s < file->service_count(); ++s) {
    const google::protobuf::ServiceDescriptor* service = file->service(s);
    seen.insert(service->full_name());
    auto owner = ServiceOwners().find(service->full_name());
    if (owner == ServiceOwners().end()) {
      ADD_FAILURE() << service->full_name()
                    << " has no owner role in this BFLA table: add one";
      continue;
    }
    for (int m = 0; m < service->method_count(); ++m) {
      const google::protobuf::MethodDescriptor* method = service->method(m);
      ++methods;
      const std::string path =
          absl::StrCat("/", service->full_name(), "/", method->name());
      for (const std::string role : {"admin", "platform", "sidecar"}) {
        SCOPED_TRACE(absl::StrCat(path, " as ", role));
        const CallResult r = GenericCall(Channel(role), path, "alice");
        if (role == owner->second) {
          // Admitted: whatever the empty request then got, it was not the
          // caller check (nor an unknown method).
          if (!r.got_message) {
            EXPECT_THAT(r.status.error_message(),
                        Not(StartsWith("caller is not allowed")));
            EXPECT_NE(r.status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
            EXPECT_NE(r.status.error_code(), grpc::StatusCode::UNAVAILABLE);
          }
        } else {
          EXPECT_FALSE(r.got_message);
          EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
          EXPECT_EQ(r.status.error_message(),
                    absl::StrCat("caller is not allowed to use ",
                                 service->full_name()));
        }
      }
    }
  }
  for (const auto& [service, role] : ServiceOwners()) {
    EXPECT_TRUE(seen.contains(service)) << service << " is not in the proto";
  }
  EXPECT_GE(methods, 16);
}

}  // namespace
}  // namespace pat::testing
