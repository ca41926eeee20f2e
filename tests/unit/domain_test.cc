#include "common/domain.h"

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace pat {
namespace {

TEST(DomainNamesTest, PlanTierRoundTrip) {
  for (PlanTier t : {PlanTier::kStarter, PlanTier::kProfessional,
                     PlanTier::kOrganization, PlanTier::kEnterprise}) {
    EXPECT_EQ(PlanTierFromName(PlanTierName(t)), t) << PlanTierName(t);
  }
  EXPECT_EQ(PlanTierName(PlanTier::kStarter), "starter");
  EXPECT_EQ(PlanTierName(PlanTier::kProfessional), "professional");
  EXPECT_EQ(PlanTierName(PlanTier::kOrganization), "organization");
  EXPECT_EQ(PlanTierName(PlanTier::kEnterprise), "enterprise");
  EXPECT_EQ(PlanTierName(PlanTier::kUnspecified), "unspecified");
  EXPECT_EQ(PlanTierFromName("unspecified"), PlanTier::kUnspecified);
  EXPECT_EQ(PlanTierFromName("Enterprise"), PlanTier::kUnspecified);
  EXPECT_EQ(PlanTierFromName(""), PlanTier::kUnspecified);
}

TEST(DomainNamesTest, TokenKindRoundTrip) {
  for (TokenKind k : {TokenKind::kRestApi, TokenKind::kNpmRegistry}) {
    EXPECT_EQ(TokenKindFromName(TokenKindName(k)), k) << TokenKindName(k);
  }
  EXPECT_EQ(TokenKindName(TokenKind::kRestApi), "rest_api");
  EXPECT_EQ(TokenKindName(TokenKind::kNpmRegistry), "npm_registry");
  EXPECT_EQ(TokenKindName(TokenKind::kUnspecified), "unspecified");
  EXPECT_EQ(TokenKindFromName("REST_API"), TokenKind::kUnspecified);
  EXPECT_EQ(TokenKindFromName("rest"), TokenKind::kUnspecified);
  EXPECT_EQ(TokenKindFromName(""), TokenKind::kUnspecified);
}

TEST(DomainNamesTest, ResourceKindRoundTrip) {
  for (ResourceKind k :
       {ResourceKind::kFile, ResourceKind::kProject, ResourceKind::kTeam,
        ResourceKind::kWorkspace, ResourceKind::kNpmScope}) {
    EXPECT_EQ(ResourceKindFromName(ResourceKindName(k)), k)
        << ResourceKindName(k);
  }
  EXPECT_EQ(ResourceKindName(ResourceKind::kFile), "file");
  EXPECT_EQ(ResourceKindName(ResourceKind::kProject), "project");
  EXPECT_EQ(ResourceKindName(ResourceKind::kTeam), "team");
  EXPECT_EQ(ResourceKindName(ResourceKind::kWorkspace), "workspace");
  EXPECT_EQ(ResourceKindName(ResourceKind::kNpmScope), "npm_scope");
  EXPECT_EQ(ResourceKindFromName("unspecified"), ResourceKind::kUnspecified);
  EXPECT_EQ(ResourceKindFromName("files"), ResourceKind::kUnspecified);
}

TEST(DomainNamesTest, TokenStatusNames) {
  EXPECT_EQ(TokenStatusName(TokenStatus::kActive), "active");
  EXPECT_EQ(TokenStatusName(TokenStatus::kExpired), "expired");
  EXPECT_EQ(TokenStatusName(TokenStatus::kRevoked), "revoked");
  EXPECT_EQ(TokenStatusName(TokenStatus::kUnspecified), "unspecified");
}

TEST(DomainTest, OnlyOrganizationAndEnterpriseAllowTokens) {
  EXPECT_FALSE(TierAllowsTokens(PlanTier::kUnspecified));
  EXPECT_FALSE(TierAllowsTokens(PlanTier::kStarter));
  EXPECT_FALSE(TierAllowsTokens(PlanTier::kProfessional));
  EXPECT_TRUE(TierAllowsTokens(PlanTier::kOrganization));
  EXPECT_TRUE(TierAllowsTokens(PlanTier::kEnterprise));
}

class StatusAtTest : public ::testing::Test {
 protected:
  StatusAtTest() {
    token_.create_time = absl::FromUnixSeconds(1767225600);
    token_.expire_time = token_.create_time + absl::Hours(24 * 30);
    token_.lifetime_days = 30;
  }
  Token token_;
};

TEST_F(StatusAtTest, ActiveBeforeExpiry) {
  EXPECT_EQ(StatusAt(token_, token_.create_time), TokenStatus::kActive);
  EXPECT_EQ(StatusAt(token_, token_.expire_time - absl::Nanoseconds(1)),
            TokenStatus::kActive);
}

TEST_F(StatusAtTest, ExpiredFromTheExpirationInstantOn) {
  EXPECT_EQ(StatusAt(token_, token_.expire_time), TokenStatus::kExpired);
  EXPECT_EQ(StatusAt(token_, token_.expire_time + absl::Nanoseconds(1)),
            TokenStatus::kExpired);
  EXPECT_EQ(StatusAt(token_, absl::InfiniteFuture()), TokenStatus::kExpired);
}

TEST_F(StatusAtTest, RevokedBeatsExpired) {
  token_.revoke_time = token_.create_time + absl::Hours(1);
  token_.revoked_by = "u1";
  EXPECT_EQ(StatusAt(token_, token_.create_time + absl::Hours(2)),
            TokenStatus::kRevoked);
  EXPECT_EQ(StatusAt(token_, token_.expire_time), TokenStatus::kRevoked);
  EXPECT_EQ(StatusAt(token_, token_.expire_time + absl::Hours(1000)),
            TokenStatus::kRevoked);
}

TEST_F(StatusAtTest, RevokeAfterExpiryStillReadsRevoked) {
  token_.revoke_time = token_.expire_time + absl::Hours(1);
  EXPECT_EQ(StatusAt(token_, token_.expire_time + absl::Hours(2)),
            TokenStatus::kRevoked);
}

TEST_F(StatusAtTest, DefaultTokenIsExpired) {
  // A default-constructed token expires at InfinitePast: never active.
  EXPECT_EQ(StatusAt(Token{}, absl::FromUnixSeconds(0)), TokenStatus::kExpired);
}

}  // namespace
}  // namespace pat
