// Leaked-secret intake end to end (docs/leak-intake.md): a real pat-authority
// process (PAT_AUTHORITY_BIN) with --leak_intake_listen on real PostgreSQL,
// driven over real HTTP (the secret-scanning partner endpoint, ECDSA-signed
// requests) and gRPC (LeakIntakeService); an in-process AuthorityHarness on
// the same database seeds plans and tokens and reads the results back.
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/secret.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "openssl/evp.h"
#include "openssl/pem.h"
#include "pat/v1/leak_intake.grpc.pb.h"
#include "tests/support/fixtures.h"
#include "tests/support/sidecar_harness.h"

namespace pat::testing {
namespace {

using json = nlohmann::json;
constexpr char kPath[] = "/secret-scanning/github";

struct EcKey {
  EVP_PKEY* pkey = EVP_EC_gen("P-256");
  ~EcKey() { EVP_PKEY_free(pkey); }
  std::string Pem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, pkey);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string pem(data, n);
    BIO_free(bio);
    return pem;
  }
  std::string Sign(const std::string& body) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, pkey);
    size_t len = 0;
    const auto* in = reinterpret_cast<const unsigned char*>(body.data());
    EVP_DigestSign(ctx, nullptr, &len, in, body.size());
    std::string sig(len, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                   body.size());
    sig.resize(len);
    EVP_MD_CTX_free(ctx);
    return absl::Base64Escape(sig);
  }
};

class LeakIntakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_ = AuthorityHarness::Start();
    ASSERT_NE(h_, nullptr);
    h_->clock().Set(absl::Now());  // the binary runs on the real clock
    ASSERT_NO_FATAL_FAILURE(SeedWorld(*h_));
    const std::string binary = BinaryFromEnv("PAT_AUTHORITY_BIN");
    ASSERT_FALSE(binary.empty()) << "PAT_AUTHORITY_BIN is not set";
    keys_path_ = absl::StrCat(::testing::TempDir(), "/leak_keys_",
                              ::getpid(), ".json");
    json keys = {{"public_keys",
                  {{{"key_identifier", "key-current"},
                    {"key", current_.Pem()},
                    {"is_current", true}},
                   {{"key_identifier", "key-old"},
                    {"key", old_.Pem()},
                    {"is_current", false}}}}};
    std::ofstream(keys_path_) << keys.dump();
    process_ = Subprocess::Start(
        binary, {"--insecure", "--listen=127.0.0.1:0",
                 "--admin_listen=127.0.0.1:0", "--auto_migrate",
                 absl::StrCat("--database_url=", h_->db().url()),
                 "--leak_intake_listen=127.0.0.1:0",
                 absl::StrCat("--leak_intake_public_keys=", keys_path_)});
    ASSERT_NE(process_, nullptr);
    auto leak = process_->WaitForLog("leak intake listening", absl::Seconds(30));
    ASSERT_TRUE(leak.has_value()) << process_->Output();
    http_port_ = (*leak)["port"].get<int>();
    auto admin = process_->WaitForLog("admin listening", absl::Seconds(30));
    ASSERT_TRUE(admin.has_value()) << process_->Output();
    admin_port_ = (*admin)["admin_port"].get<int>();
    auto grpc_log = process_->WaitForLog("listening", absl::Seconds(30));
    ASSERT_TRUE(grpc_log.has_value()) << process_->Output();
    channel_ = grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", (*grpc_log)["port"].get<int>()),
        grpc::InsecureChannelCredentials());
    leaks_ = v1::LeakIntakeService::NewStub(channel_);
  }

  void TearDown() override {
    if (HasFailure() && process_ != nullptr) {
      std::cerr << "pat-authority output:\n" << process_->Output();
    }
    process_.reset();
    std::remove(keys_path_.c_str());
  }

  // A new active token of `plan` (admin `actor`) and its secret.
  std::pair<std::string, std::string> NewToken(const char* plan,
                                               const char* actor) {
    v1::CreateTokenResponse r = MustCreate(*h_, actor, MakeCreateRequest(plan));
    return {r.token().id(), r.secret()};
  }

  HttpResponse Post(const std::string& body, const HeaderList& headers) {
    HeaderList all = headers;
    all.push_back({"Content-Type", "application/json"});
    return HttpCall(http_port_, "POST", kPath, all, body);
  }
  HttpResponse PostSigned(const std::string& body) {
    return Post(body, {{"Github-Public-Key-Identifier", "key-current"},
                       {"Github-Public-Key-Signature", current_.Sign(body)}});
  }

  // The value of an unlabelled or labelled series on /metrics.
  int64_t Metric(const std::string& series) {
    HttpResponse r = HttpGet(admin_port_, "/metrics");
    EXPECT_EQ(r.status, 200);
    for (absl::string_view line : absl::StrSplit(r.body, '\n')) {
      if (absl::StartsWith(line, series + " ")) {
        double v = 0;
        EXPECT_TRUE(absl::SimpleAtod(line.substr(series.size() + 1), &v));
        return static_cast<int64_t>(v);
      }
    }
    ADD_FAILURE() << "no series " << series;
    return -1;
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& actor = "") {
    return AuthorityHarness::Ctx(actor);
  }

  // Nothing anywhere (database rows, process output) holds `secret`.
  void ExpectSecretNowhere(const std::string& secret) {
    for (const std::string& row : DumpDatabase(*h_)) {
      EXPECT_EQ(row.find(secret), std::string::npos) << row;
      EXPECT_EQ(row.find(SecretBody(secret)), std::string::npos) << row;
    }
    EXPECT_EQ(process_->Output().find(SecretBody(secret)), std::string::npos);
  }

  std::unique_ptr<AuthorityHarness> h_;
  EcKey current_, old_, stranger_;
  std::string keys_path_;
  std::unique_ptr<Subprocess> process_;
  int http_port_ = 0;
  int admin_port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LeakIntakeService::Stub> leaks_;
};

json Report(const std::string& token, const std::string& url) {
  return {{"token", token},
          {"type", "pat_rest_token"},
          {"url", url},
          {"source", "content"}};
}

TEST_F(LeakIntakeTest, SignedReportRevokesWithAuditAndFeedAndNoSecretAnywhere) {
  auto [id, secret] = NewToken(kPlanA, kAlice);
  const std::string url = "https://github.com/octo/repo/blob/abc/ci.yml";
  const std::string body = json::array({Report(secret, url)}).dump();
  const int64_t feed_before = CountRows(*h_, "grant_events");

  HttpResponse r = PostSigned(body);
  ASSERT_EQ(r.status, 200) << r.Describe() << process_->Output();
  EXPECT_EQ(r.Json(), json::parse(absl::StrCat(
                          R"([{"token_raw":")", secret,
                          R"(","token_type":"pat_rest_token","label":"true_positive"}])")));

  v1::Token t = MustGet(*h_, kAlice, kPlanA, id);
  EXPECT_EQ(t.status(), v1::TOKEN_STATUS_REVOKED);
  EXPECT_EQ(t.revoked_by(), "leak-intake:github");
  EXPECT_FALSE(WorksAt(Validate(*h_, secret), absl::Now()));
  EXPECT_EQ(CountRows(*h_, "grant_events"), feed_before + 1);
  std::vector<v1::AuditEvent> events = ListAllAuditEvents(*h_, kAlice, kPlanA, id);
  ASSERT_EQ(CountActions(events, "revoke"), 1);
  for (const v1::AuditEvent& e : events) {
    if (e.action() != "revoke") continue;
    EXPECT_EQ(e.actor(), "leak-intake:github");
    EXPECT_EQ(json::parse(e.details_json()),
              json({{"reason", "leaked"}, {"source", "content"},
                    {"url", url}, {"type", "pat_rest_token"}}));
  }
  EXPECT_EQ(Metric(R"(pat_authority_leak_actions_total{action="revoked"})"), 1);

  // The same report again (a sender's retry): still true_positive, and
  // nothing more is written.
  const int64_t audit_rows = CountRows(*h_, "audit_events");
  HttpResponse again = PostSigned(body);
  ASSERT_EQ(again.status, 200) << again.Describe();
  EXPECT_EQ(again.Json()[0]["label"], "true_positive");
  EXPECT_EQ(CountRows(*h_, "audit_events"), audit_rows);
  EXPECT_EQ(CountRows(*h_, "grant_events"), feed_before + 1);
  ExpectSecretNowhere(secret);
}

TEST_F(LeakIntakeTest, TheOldKeyOfARotationIsAccepted) {
  auto [id, secret] = NewToken(kPlanA, kAlice);
  const std::string body = json::array({Report(secret, "u")}).dump();
  HttpResponse r = Post(body, {{"Github-Public-Key-Identifier", "key-old"},
                               {"Github-Public-Key-Signature", old_.Sign(body)}});
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(MustGet(*h_, kAlice, kPlanA, id).status(), v1::TOKEN_STATUS_REVOKED);
}

TEST_F(LeakIntakeTest, EveryBadSignatureIs401AndNothingIsLookedUpOrRevoked) {
  auto [id, secret] = NewToken(kPlanA, kAlice);
  const std::string body = json::array({Report(secret, "u")}).dump();
  const std::string other = json::array({Report(secret, "v")}).dump();
  const std::vector<std::pair<std::string, HeaderList>> cases = {
      {"no headers", {}},
      {"no signature", {{"Github-Public-Key-Identifier", "key-current"}}},
      {"no key id", {{"Github-Public-Key-Signature", current_.Sign(body)}}},
      {"unknown key id",
       {{"Github-Public-Key-Identifier", "key-nobody"},
        {"Github-Public-Key-Signature", current_.Sign(body)}}},
      {"signed by another key",
       {{"Github-Public-Key-Identifier", "key-current"},
        {"Github-Public-Key-Signature", stranger_.Sign(body)}}},
      {"the other listed key's signature",
       {{"Github-Public-Key-Identifier", "key-current"},
        {"Github-Public-Key-Signature", old_.Sign(body)}}},
      {"signature of another body",
       {{"Github-Public-Key-Identifier", "key-current"},
        {"Github-Public-Key-Signature", current_.Sign(other)}}},
      {"not base64",
       {{"Github-Public-Key-Identifier", "key-current"},
        {"Github-Public-Key-Signature", "%%%not-base64%%%"}}},
      {"not DER",
       {{"Github-Public-Key-Identifier", "key-current"},
        {"Github-Public-Key-Signature", absl::Base64Escape("garbage")}}},
  };
  const int64_t lookups = Metric("pat_authority_leak_lookups_total");
  for (const auto& [name, headers] : cases) {
    HttpResponse r = Post(body, headers);
    EXPECT_EQ(r.status, 401) << name << ": " << r.Describe();
    EXPECT_EQ(r.body.find(secret), std::string::npos) << name;
  }
  EXPECT_EQ(Metric("pat_authority_leak_lookups_total"), lookups);
  EXPECT_EQ(Metric(R"(pat_authority_leak_http_requests_total{code="401"})"),
            static_cast<int64_t>(cases.size()));
  EXPECT_EQ(MustGet(*h_, kAlice, kPlanA, id).status(), v1::TOKEN_STATUS_ACTIVE);
  EXPECT_EQ(CountActions(ListAllAuditEvents(*h_, kAlice, kPlanA, id), "revoke"), 0);
}

TEST_F(LeakIntakeTest, FlagPolicyRecordsLeakFlaggedAndKeepsTheTokenActive) {
  v1::SetLeakPolicyRequest set;
  set.set_plan_id(kPlanB);
  set.set_policy(v1::LEAK_POLICY_FLAG);
  v1::LeakPolicySetting setting;
  // Only the plan's admins; no actor, another plan's admin and an unknown
  // plan are refused alike.
  EXPECT_EQ(leaks_->SetLeakPolicy(Ctx().get(), set, &setting).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(leaks_->SetLeakPolicy(Ctx(kAlice).get(), set, &setting).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::SetLeakPolicyRequest unknown = set;
  unknown.set_plan_id(kUnknownPlan);
  EXPECT_EQ(leaks_->SetLeakPolicy(Ctx(kBob).get(), unknown, &setting).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::SetLeakPolicyRequest unspecified = set;
  unspecified.set_policy(v1::LEAK_POLICY_UNSPECIFIED);
  EXPECT_EQ(leaks_->SetLeakPolicy(Ctx(kBob).get(), unspecified, &setting).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(leaks_->SetLeakPolicy(Ctx(kBob).get(), set, &setting).ok());
  EXPECT_EQ(setting.policy(), v1::LEAK_POLICY_FLAG);
  v1::GetLeakPolicyRequest get;
  get.set_plan_id(kPlanB);
  ASSERT_TRUE(leaks_->GetLeakPolicy(Ctx(kBob).get(), get, &setting).ok());
  EXPECT_EQ(setting.policy(), v1::LEAK_POLICY_FLAG);
  EXPECT_EQ(CountActions(ListAllAuditEvents(*h_, kBob, kPlanB), "leak_policy_set"), 1);

  auto [id, secret] = NewToken(kPlanB, kBob);
  const int64_t feed_before = CountRows(*h_, "grant_events");
  HttpResponse r = PostSigned(
      json::array({Report(secret, "https://gist.github.com/x")}).dump());
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.Json()[0]["label"], "true_positive");
  EXPECT_EQ(MustGet(*h_, kBob, kPlanB, id).status(), v1::TOKEN_STATUS_ACTIVE);
  EXPECT_TRUE(WorksAt(Validate(*h_, secret), absl::Now()));
  EXPECT_EQ(CountRows(*h_, "grant_events"), feed_before);
  std::vector<v1::AuditEvent> events = ListAllAuditEvents(*h_, kBob, kPlanB, id);
  EXPECT_EQ(CountActions(events, "revoke"), 0);
  ASSERT_EQ(CountActions(events, "leak_flagged"), 1);
  for (const v1::AuditEvent& e : events) {
    if (e.action() != "leak_flagged") continue;
    EXPECT_EQ(json::parse(e.details_json()),
              json({{"reason", "leaked"}, {"source", "content"},
                    {"url", "https://gist.github.com/x"},
                    {"type", "pat_rest_token"}}));
  }
  // Plan A keeps the default.
  get.set_plan_id(kPlanA);
  ASSERT_TRUE(leaks_->GetLeakPolicy(Ctx(kAlice).get(), get, &setting).ok());
  EXPECT_EQ(setting.policy(), v1::LEAK_POLICY_REVOKE);
  ExpectSecretNowhere(secret);
}

TEST_F(LeakIntakeTest, LookalikesAreFalsePositiveWithoutAnyLookup) {
  const std::string real = GenerateSecret(TokenKind::kRestApi);
  const std::string body = real.substr(kRestSecretPrefix.size());
  std::string bad_checksum = real;
  bad_checksum.back() = bad_checksum.back() == 'A' ? 'B' : 'A';
  const std::vector<std::string> lookalikes = {
      bad_checksum,
      absl::StrCat("pat_res_", body),
      absl::StrCat("PAT_REST_", body),
      absl::StrCat("pat_npm_", body),  // a REST body under the npm prefix
      real.substr(0, real.size() - 1),
      absl::StrCat(real, "0"),
      absl::StrCat(" ", real),
      absl::StrCat(real.substr(0, 20), "\xc3\xa9", real.substr(22)),
      "",
      std::string(300, 'a'),
  };
  json report = json::array();
  for (const std::string& s : lookalikes) report.push_back(Report(s, "u"));
  const int64_t lookups = Metric("pat_authority_leak_lookups_total");
  const int64_t rejected = Metric("pat_authority_leak_offline_rejected_total");
  HttpResponse r = PostSigned(report.dump());
  ASSERT_EQ(r.status, 200) << r.Describe();
  ASSERT_EQ(r.Json().size(), lookalikes.size());
  for (size_t i = 0; i < lookalikes.size(); ++i) {
    EXPECT_EQ(r.Json()[i]["label"], "false_positive") << i;
    EXPECT_EQ(r.Json()[i]["token_raw"], lookalikes[i]) << i;
  }
  EXPECT_EQ(Metric("pat_authority_leak_lookups_total"), lookups);
  EXPECT_EQ(Metric("pat_authority_leak_offline_rejected_total"),
            rejected + static_cast<int64_t>(lookalikes.size()));
}

TEST_F(LeakIntakeTest, MixedBatchOverGrpcAnswersEachCandidateInOrder) {
  auto [live_id, live] = NewToken(kPlanA, kAlice);
  auto [rotated_id, rotated_old] = NewToken(kPlanA, kAlice);
  MustRefresh(*h_, kAlice, kPlanA, rotated_id);  // old secret in its overlap
  auto [gone_id, gone] = NewToken(kPlanA, kAlice);
  MustRevoke(*h_, kAlice, kPlanA, gone_id);
  const std::string unknown = GenerateSecret(TokenKind::kRestApi);
  std::string bad = live;
  bad.back() = bad.back() == 'A' ? 'B' : 'A';

  v1::ReportLeakedSecretsRequest req;
  for (const std::string& s : {live, bad, rotated_old, gone, unknown, live}) {
    v1::LeakCandidate* c = req.add_candidates();
    c->set_token(s);
    c->set_type("pat");
    c->set_url(absl::StrCat("https://ci.example/log?leak=", s));
    c->set_source("ci-logs");
  }
  const int64_t lookups = Metric("pat_authority_leak_lookups_total");
  v1::ReportLeakedSecretsResponse resp;
  grpc::Status st = leaks_->ReportLeakedSecrets(Ctx().get(), req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.results_size(), 6);
  const std::vector<std::pair<v1::LeakOutcome, v1::LeakAction>> want = {
      {v1::LEAK_OUTCOME_TRUE_POSITIVE, v1::LEAK_ACTION_REVOKED},
      {v1::LEAK_OUTCOME_FALSE_POSITIVE, v1::LEAK_ACTION_NONE},
      {v1::LEAK_OUTCOME_TRUE_POSITIVE, v1::LEAK_ACTION_REVOKED},
      {v1::LEAK_OUTCOME_TRUE_POSITIVE, v1::LEAK_ACTION_NONE},
      {v1::LEAK_OUTCOME_FALSE_POSITIVE, v1::LEAK_ACTION_NONE},
      {v1::LEAK_OUTCOME_TRUE_POSITIVE, v1::LEAK_ACTION_NONE},  // repeated
  };
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(resp.results(i).index(), i);
    EXPECT_EQ(resp.results(i).outcome(), want[i].first) << i;
    EXPECT_EQ(resp.results(i).action(), want[i].second) << i;
  }
  // live, rotated_old, gone, unknown: one lookup each (the bad checksum and
  // the repeat cost none).
  EXPECT_EQ(Metric("pat_authority_leak_lookups_total"), lookups + 4);
  EXPECT_EQ(MustGet(*h_, kAlice, kPlanA, live_id).status(),
            v1::TOKEN_STATUS_REVOKED);
  EXPECT_EQ(MustGet(*h_, kAlice, kPlanA, rotated_id).status(),
            v1::TOKEN_STATUS_REVOKED);
  std::vector<v1::AuditEvent> events =
      ListAllAuditEvents(*h_, kAlice, kPlanA, live_id);
  for (const v1::AuditEvent& e : events) {
    if (e.action() != "revoke") continue;
    EXPECT_EQ(e.actor(), "leak-intake:insecure");
    // The secret in the reported URL is redacted before it is stored.
    EXPECT_EQ(json::parse(e.details_json())["url"],
              "https://ci.example/log?leak=[redacted]");
  }
  ExpectSecretNowhere(live);
  ExpectSecretNowhere(rotated_old);

  v1::ReportLeakedSecretsRequest empty;
  EXPECT_EQ(leaks_->ReportLeakedSecrets(Ctx().get(), empty, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(LeakIntakeTest, OversizedMalformedAndMisroutedRequestsProcessNothing) {
  auto [id, secret] = NewToken(kPlanA, kAlice);
  // Over the 1 MiB default: 413 from Content-Length, before any signature
  // check or parse.
  json big = json::array({Report(secret, std::string(1 << 20, 'u'))});
  HttpResponse r = PostSigned(big.dump());
  EXPECT_EQ(r.status, 413) << r.Describe();
  // Signed but not the documented shape: 400.
  for (const std::string& body :
       {std::string("not json"), std::string("{}"), std::string("[]"),
        std::string(R"([{"type":"x"}])"), std::string(R"([{"token":5}])"),
        std::string(R"([{"token":"a","url":7}])")}) {
    HttpResponse bad = PostSigned(body);
    EXPECT_EQ(bad.status, 400) << body << ": " << bad.Describe();
  }
  // Over the candidate bound: 400.
  json many = json::array();
  for (int i = 0; i < 1001; ++i) many.push_back(Report("x", "u"));
  EXPECT_EQ(PostSigned(many.dump()).status, 400);
  EXPECT_EQ(HttpCall(http_port_, "GET", kPath).status, 405);
  EXPECT_EQ(HttpCall(http_port_, "POST", "/other", {}, "[]").status, 404);
  EXPECT_EQ(MustGet(*h_, kAlice, kPlanA, id).status(), v1::TOKEN_STATUS_ACTIVE);
  EXPECT_EQ(Metric(R"(pat_authority_leak_http_requests_total{code="413"})"), 1);
}

}  // namespace
}  // namespace pat::testing
