// R4 / SPEC §5 / threat checklist 35, 37, 38: secrets are shown once and
// never stored, listed or audited in plaintext.

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/secret.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pat/v1/pat.pb.h"
#include "tests/support/fixtures.h"
#include "tests/support/status_matchers.h"

namespace pat::testing {
namespace {

namespace v1 = ::pat::v1;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

class SecretExposureTest : public SeededAuthorityTest {
 protected:
  // Exercises the whole lifecycle on several tokens of both kinds and plans,
  // collecting every secret handed out.
  void RunLifecycle() {
    auto keep = [&](const std::string& secret) {
      ASSERT_FALSE(secret.empty());
      secrets_.push_back(secret);
    };
    // REST, all resources: create, edit, refresh twice, revoke.
    v1::CreateTokenResponse t1 = MustCreate(h(), kAlice, MakeCreateRequest());
    ASSERT_NO_FATAL_FAILURE(keep(t1.secret()));
    v1::UpdateTokenRequest u =
        MakeUpdateRequest(kPlanA, t1.token().id(), {"name", "scopes"});
    u.set_name("renamed");
    u.add_scopes("files:read");
    u.add_scopes("webhooks:read");
    MustUpdate(h(), kAlice, u);
    clock().Advance(absl::Hours(1));
    ASSERT_NO_FATAL_FAILURE(
        keep(MustRefresh(h(), kAlice, kPlanA, t1.token().id()).secret()));
    clock().Advance(absl::Hours(1));
    ASSERT_NO_FATAL_FAILURE(
        keep(MustRefresh(h(), kAlice, kPlanA, t1.token().id()).secret()));
    MustRevoke(h(), kAlice, kPlanA, t1.token().id());

    // REST, selected resources, refreshed (still in overlap), edited.
    v1::CreateTokenResponse t2 = MustCreate(
        h(), kAlice,
        MakeCreateRequestWithLinks(kPlanA, {kLinkFileA1, kLinkProjectA}));
    ASSERT_NO_FATAL_FAILURE(keep(t2.secret()));
    ASSERT_NO_FATAL_FAILURE(
        keep(MustRefresh(h(), kAlice, kPlanA, t2.token().id()).secret()));
    u = MakeUpdateRequest(kPlanA, t2.token().id(), {"resources"});
    u.add_resource_links(kLinkTeamA);
    MustUpdate(h(), kAlice, u);

    // npm token, refreshed then revoked inside the overlap.
    v1::CreateTokenResponse t3 =
        MustCreate(h(), kAlice,
                   MakeCreateRequestWithLinks(kPlanA, {kNpmScopeA},
                                              v1::TOKEN_KIND_NPM_REGISTRY));
    ASSERT_NO_FATAL_FAILURE(keep(t3.secret()));
    ASSERT_NO_FATAL_FAILURE(
        keep(MustRefresh(h(), kAlice, kPlanA, t3.token().id()).secret()));
    MustRevoke(h(), kAlice, kPlanA, t3.token().id());

    // Plan B, with an idempotent retry of the create (no secret the second
    // time) and a short-lived token that expires.
    v1::CreateTokenRequest b_req = MakeCreateRequest(kPlanB);
    b_req.set_expires_in_days(1);
    v1::CreateTokenResponse t4 = MustCreate(h(), kBob, b_req);
    ASSERT_NO_FATAL_FAILURE(keep(t4.secret()));
    v1::CreateTokenResponse t4_again = MustCreate(h(), kBob, b_req);
    EXPECT_TRUE(t4_again.replayed());
    EXPECT_THAT(t4_again.secret(), IsEmpty());
    clock().Advance(absl::Hours(48));
    // Something happens after expiry, too.
    v1::CreateTokenResponse t5 =
        MustCreate(h(), kBob, MakeCreateRequest(kPlanB));
    ASSERT_NO_FATAL_FAILURE(keep(t5.secret()));
    ASSERT_FALSE(HasFailure());
    ASSERT_THAT(secrets_, SizeIs(9));
  }

  // The needles a leak would show: the secret, its body without the prefix,
  // and the random part without the checksum.
  std::vector<std::string> Needles() const {
    std::vector<std::string> needles;
    for (const std::string& s : secrets_) {
      std::string body = SecretBody(s);
      needles.push_back(s);
      needles.push_back(body);
      needles.push_back(body.substr(0, body.size() - kSecretChecksumLength));
    }
    return needles;
  }

  std::vector<std::string> secrets_;
};

TEST_F(SecretExposureTest, NoTableHoldsASecret) {
  ASSERT_NO_FATAL_FAILURE(RunLifecycle());
  std::vector<std::string> rows = DumpDatabase(h());
  ASSERT_THAT(rows, Not(IsEmpty()));
  // Sanity: the dump sees the tokens and their names.
  bool saw_renamed = false;
  for (const std::string& row : rows) {
    if (row.find("renamed") != std::string::npos) saw_renamed = true;
  }
  EXPECT_TRUE(saw_renamed) << "the dump does not include token rows";

  for (const std::string& needle : Needles()) {
    for (const std::string& row : rows) {
      EXPECT_EQ(row.find(needle), std::string::npos)
          << "a secret (or its body) is stored in plaintext: "
          << row.substr(0, row.find(':'));
    }
  }
  // The kind prefixes never appear either (nothing secret-shaped is stored).
  for (const std::string& row : rows) {
    EXPECT_EQ(row.find("pat_rest_"), std::string::npos)
        << row.substr(0, row.find(':'));
    EXPECT_EQ(row.find("pat_npm_"), std::string::npos)
        << row.substr(0, row.find(':'));
  }
}

TEST_F(SecretExposureTest, EveryCharacterOfASecretIsSignificant) {
  ASSERT_NO_FATAL_FAILURE(RunLifecycle());
  for (const std::string& s : secrets_) {
    for (size_t pos : {s.size() - 1, s.size() / 2, size_t{0}}) {
      std::string altered = s;
      altered[pos] = altered[pos] == 'a' ? 'b' : 'a';
      EXPECT_FALSE(Validate(h(), altered).found()) << "position " << pos;
    }
    EXPECT_FALSE(Validate(h(), s + "a").found());
    EXPECT_FALSE(Validate(h(), s.substr(0, s.size() - 1)).found());
  }
}

TEST_F(SecretExposureTest, NoRpcReturnsASecretAgain) {
  ASSERT_NO_FATAL_FAILURE(RunLifecycle());
  // Tokens and grants: neither the secret nor its digest (SPEC §4).
  std::vector<std::string> responses;
  // Audit: never the secret (R14).
  std::vector<std::string> audit;
  for (const auto& [actor, plan] :
       std::vector<std::pair<std::string, std::string>>{{kAlice, kPlanA},
                                                        {kBob, kPlanB}}) {
    for (const v1::Token& t : ListAllTokens(h(), actor, plan)) {
      responses.push_back(t.SerializeAsString());
      responses.push_back(
          MustGet(h(), actor, plan, t.id()).SerializeAsString());
    }
    for (const v1::AuditEvent& e : ListAllAuditEvents(h(), actor, plan)) {
      audit.push_back(e.SerializeAsString());
    }
  }
  for (const std::string& s : secrets_) {
    v1::ValidateTokenResponse v = Validate(h(), s);
    responses.push_back(v.SerializeAsString());
  }
  ASSERT_FALSE(HasFailure());
  ASSERT_THAT(audit, Not(IsEmpty()));
  for (const std::string& needle : Needles()) {
    for (const std::string& r : responses) {
      EXPECT_EQ(r.find(needle), std::string::npos)
          << "a Token or grant carries a secret";
    }
    for (const std::string& r : audit) {
      EXPECT_EQ(r.find(needle), std::string::npos)
          << "an audit event carries a secret";
    }
  }
  for (const std::string& s : secrets_) {
    const std::string digest = SecretDigestBytes(s);
    const std::string hex = DigestHex(Sha256(s));
    for (const std::string& r : responses) {
      EXPECT_EQ(r.find(digest), std::string::npos) << "digest in a response";
      EXPECT_EQ(r.find(hex), std::string::npos) << "hex digest in a response";
    }
  }
}

// Threat checklist 35: a secret pasted into the wrong field must not come
// back in an error string (which callers and the authority itself log).
TEST_F(SecretExposureTest, ErrorMessagesNeverEchoASecret) {
  ASSERT_NO_FATAL_FAILURE(RunLifecycle());
  std::vector<std::pair<std::string, grpc::Status>> errors;
  for (const std::string& s : secrets_) {
    v1::CreateTokenRequest req = MakeCreateRequestWithLinks(kPlanA, {s});
    v1::CreateTokenResponse resp;
    errors.emplace_back("secret as a resource link",
                        CreateToken(h(), kAlice, req, &resp));
    req = MakeCreateRequest();
    req.add_scopes(s);
    errors.emplace_back("secret as a scope",
                        CreateToken(h(), kAlice, req, &resp));
    req = MakeCreateRequest();
    req.set_request_id(s + "!");
    errors.emplace_back("secret in a bad request_id",
                        CreateToken(h(), kAlice, req, &resp));
    v1::Token t;
    errors.emplace_back("secret as a token id",
                        GetToken(h(), kAlice, kPlanA, s, &t));
    v1::ValidateTokenRequest vreq;
    vreq.set_secret_sha256(s);  // the secret itself instead of its digest
    v1::ValidateTokenResponse vresp;
    errors.emplace_back("secret instead of its digest",
                        h().introspection().ValidateToken(
                            AuthorityHarness::Ctx("").get(), vreq, &vresp));
  }
  for (const auto& [what, e] : errors) {
    SCOPED_TRACE(what);
    EXPECT_FALSE(e.ok());
    EXPECT_NE(e.error_code(), grpc::StatusCode::INTERNAL);
    std::string masked = e.error_message();
    bool echoed = false;
    for (const std::string& needle : Needles()) {
      if (e.error_details().find(needle) != std::string::npos) echoed = true;
      for (size_t pos = masked.find(needle); pos != std::string::npos;
           pos = masked.find(needle)) {
        echoed = true;
        masked.replace(pos, needle.size(), "<SECRET>");
      }
    }
    EXPECT_FALSE(echoed) << "error message echoes a secret: " << masked;
  }
}

}  // namespace
}  // namespace pat::testing
