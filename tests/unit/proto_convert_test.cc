#include "server/proto_convert.h"

#include <cstdint>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace pat {
namespace {

using ::pat::testing::IsOk;
using ::pat::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(TimeToProtoTest, RoundTripsWithNanos) {
  for (absl::Time t :
       {absl::FromUnixSeconds(1767225600) + absl::Nanoseconds(123456789),
        absl::UnixEpoch(), absl::FromUnixNanos(-1),
        absl::FromUnixSeconds(-62135596800),
        absl::FromUnixSeconds(253402300799) + absl::Nanoseconds(999999999)}) {
    google::protobuf::Timestamp ts;
    TimeToProto(t, &ts);
    EXPECT_GE(ts.nanos(), 0);
    EXPECT_LT(ts.nanos(), 1000000000);
    absl::StatusOr<absl::Time> back = TimeFromProto(ts, "t");
    ASSERT_THAT(back, IsOk());
    EXPECT_EQ(*back, t);
  }
}

TEST(TimeToProtoTest, NegativeSubSecondRoundsDown) {
  google::protobuf::Timestamp ts;
  TimeToProto(absl::FromUnixMillis(-1500), &ts);
  EXPECT_EQ(ts.seconds(), -2);
  EXPECT_EQ(ts.nanos(), 500000000);
}

TEST(TimeToProtoTest, InfiniteAndOutOfRangeClear) {
  for (absl::Time t : {absl::InfinitePast(), absl::InfiniteFuture(),
                       absl::FromUnixSeconds(253402300800),
                       absl::FromUnixSeconds(-62135596801)}) {
    google::protobuf::Timestamp ts;
    ts.set_seconds(5);
    TimeToProto(t, &ts);
    EXPECT_EQ(ts.seconds(), 0);
    EXPECT_EQ(ts.nanos(), 0);
  }
}

TEST(TimeFromProtoTest, RejectsOutOfRange) {
  google::protobuf::Timestamp ts;
  ts.set_nanos(-1);
  EXPECT_THAT(
      TimeFromProto(ts, "when"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("when: nanos")));
  ts.set_nanos(1000000000);
  EXPECT_THAT(
      TimeFromProto(ts, "when"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("when: nanos")));
  ts.set_nanos(0);
  ts.set_seconds(253402300800);
  EXPECT_THAT(
      TimeFromProto(ts, "when"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("when: seconds")));
}

TEST(EnumConversionTest, RoundTripsEveryValue) {
  for (PlanTier t :
       {PlanTier::kUnspecified, PlanTier::kStarter, PlanTier::kProfessional,
        PlanTier::kOrganization, PlanTier::kEnterprise}) {
    EXPECT_EQ(*PlanTierFromProto(PlanTierToProto(t), "tier"), t);
  }
  for (TokenKind k : {TokenKind::kUnspecified, TokenKind::kRestApi,
                      TokenKind::kNpmRegistry}) {
    EXPECT_EQ(*TokenKindFromProto(TokenKindToProto(k), "kind"), k);
  }
  for (TokenStatus s : {TokenStatus::kUnspecified, TokenStatus::kActive,
                        TokenStatus::kExpired, TokenStatus::kRevoked}) {
    EXPECT_EQ(*TokenStatusFromProto(TokenStatusToProto(s), "status"), s);
  }
  for (ResourceKind k : {ResourceKind::kUnspecified, ResourceKind::kFile,
                         ResourceKind::kProject, ResourceKind::kTeam,
                         ResourceKind::kWorkspace, ResourceKind::kNpmScope}) {
    EXPECT_EQ(*ResourceKindFromProto(ResourceKindToProto(k), "kind"), k);
  }
}

TEST(EnumConversionTest, UnknownValuesNameTheField) {
  EXPECT_THAT(PlanTierFromProto(5, "plan.tier"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "plan.tier: unknown value 5"));
  EXPECT_THAT(
      TokenKindFromProto(-1, "kind"),
      StatusIs(absl::StatusCode::kInvalidArgument, "kind: unknown value -1"));
  EXPECT_THAT(TokenStatusFromProto(4, "statuses"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "statuses: unknown value 4"));
  EXPECT_THAT(ResourceKindFromProto(6, "resource.parent_kind"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "resource.parent_kind: unknown value 6"));
}

// The total forms the sidecar uses: every declared value maps exactly as the
// strict form does; anything else is nullopt (the sidecar's kUnspecified).
TEST(EnumConversionTest, TotalFormsAgreeWithStrictOnesOverTheIntRange) {
  for (int v = -3; v <= 8; ++v) {
    absl::StatusOr<PlanTier> tier = PlanTierFromProto(v, "f");
    EXPECT_EQ(PlanTierFromProtoValue(v).has_value(), tier.ok()) << v;
    if (tier.ok()) {
      EXPECT_EQ(*PlanTierFromProtoValue(v), *tier);
    }
    absl::StatusOr<TokenKind> kind = TokenKindFromProto(v, "f");
    EXPECT_EQ(TokenKindFromProtoValue(v).has_value(), kind.ok()) << v;
    if (kind.ok()) {
      EXPECT_EQ(*TokenKindFromProtoValue(v), *kind);
    }
    absl::StatusOr<TokenStatus> status = TokenStatusFromProto(v, "f");
    EXPECT_EQ(TokenStatusFromProtoValue(v).has_value(), status.ok()) << v;
    if (status.ok()) {
      EXPECT_EQ(*TokenStatusFromProtoValue(v), *status);
    }
    absl::StatusOr<ResourceKind> rk = ResourceKindFromProto(v, "f");
    EXPECT_EQ(ResourceKindFromProtoValue(v).has_value(), rk.ok()) << v;
    if (rk.ok()) {
      EXPECT_EQ(*ResourceKindFromProtoValue(v), *rk);
    }
  }
  EXPECT_FALSE(TokenKindFromProtoValue(3).has_value());
  EXPECT_EQ(ResourceKindFromProtoValue(v1::RESOURCE_KIND_NPM_SCOPE),
            ResourceKind::kNpmScope);
}

TEST(TimeFromProtoValueTest, NulloptExactlyWhereStrictFails) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(1700000000);
  ts.set_nanos(5);
  EXPECT_EQ(TimeFromProtoValue(ts),
            absl::FromUnixSeconds(1700000000) + absl::Nanoseconds(5));
  for (auto [seconds, nanos] :
       {std::pair<int64_t, int32_t>{253402300800, 0}, {-62135596801, 0},
        {0, -1}, {0, 1000000000}}) {
    ts.set_seconds(seconds);
    ts.set_nanos(nanos);
    EXPECT_FALSE(TimeFromProtoValue(ts).has_value()) << seconds << " " << nanos;
    EXPECT_FALSE(TimeFromProto(ts, "t").ok());
  }
}

TEST(TokenToProtoTest, CopiesEveryFieldAndLeavesUnsetTimesUnset) {
  Token t;
  t.id = "tok_0123456789abcdefABCDEF";
  t.plan_id = "1111111111";
  t.kind = TokenKind::kNpmRegistry;
  t.name = "n";
  t.description = "d";
  t.scopes = {"packages:read"};
  t.all_resources = false;
  t.resources = {{ResourceKind::kNpmScope, "@acme", "@acme"}};
  t.created_by = "alice";
  t.create_time = absl::FromUnixSeconds(1000);
  t.expire_time = absl::FromUnixSeconds(2000);
  t.lifetime_days = 30;
  t.last_used_ip = "192.0.2.1";

  v1::Token p;
  TokenToProto(t, TokenStatus::kActive, &p);
  EXPECT_EQ(p.id(), t.id);
  EXPECT_EQ(p.plan_id(), t.plan_id);
  EXPECT_EQ(p.kind(), v1::TOKEN_KIND_NPM_REGISTRY);
  EXPECT_EQ(p.name(), "n");
  EXPECT_EQ(p.description(), "d");
  EXPECT_THAT(p.scopes(), ElementsAre("packages:read"));
  EXPECT_FALSE(p.all_resources());
  ASSERT_EQ(p.resources_size(), 1);
  EXPECT_EQ(p.resources(0).kind(), v1::RESOURCE_KIND_NPM_SCOPE);
  EXPECT_EQ(p.resources(0).id(), "@acme");
  EXPECT_EQ(p.resources(0).link(), "@acme");
  EXPECT_EQ(p.status(), v1::TOKEN_STATUS_ACTIVE);
  EXPECT_EQ(p.created_by(), "alice");
  EXPECT_EQ(p.create_time().seconds(), 1000);
  EXPECT_EQ(p.expire_time().seconds(), 2000);
  EXPECT_EQ(p.lifetime_days(), 30);
  EXPECT_FALSE(p.has_revoke_time());
  EXPECT_FALSE(p.has_last_refresh_time());
  EXPECT_FALSE(p.has_last_used_time());
  EXPECT_EQ(p.last_used_ip(), "192.0.2.1");

  t.revoke_time = absl::FromUnixSeconds(1500);
  t.revoked_by = "bob";
  t.last_refresh_time = absl::FromUnixSeconds(1200);
  t.last_used_time = absl::FromUnixSeconds(1300);
  TokenToProto(t, TokenStatus::kRevoked, &p);
  EXPECT_EQ(p.status(), v1::TOKEN_STATUS_REVOKED);
  EXPECT_EQ(p.revoke_time().seconds(), 1500);
  EXPECT_EQ(p.revoked_by(), "bob");
  EXPECT_EQ(p.last_refresh_time().seconds(), 1200);
  EXPECT_EQ(p.last_used_time().seconds(), 1300);

  v1::Grant g;
  GrantToProto(t, TokenStatus::kRevoked, &g);
  EXPECT_EQ(g.token_id(), t.id);
  EXPECT_EQ(g.kind(), v1::TOKEN_KIND_NPM_REGISTRY);
  EXPECT_EQ(g.status(), v1::TOKEN_STATUS_REVOKED);
  EXPECT_EQ(g.expire_time().seconds(), 2000);
  EXPECT_EQ(g.revoke_time().seconds(), 1500);
}

TEST(UpdateTokenParamsTest, MaskPathsAreChecked) {
  v1::UpdateTokenRequest req;
  req.set_plan_id("p");
  req.set_token_id("t");
  for (const char* path : {"name", "description", "scopes", "resources"}) {
    req.mutable_update_mask()->add_paths(path);
  }
  req.set_name("x");
  absl::StatusOr<UpdateTokenParams> p = UpdateTokenParamsFromProto(req);
  ASSERT_THAT(p, IsOk());
  EXPECT_THAT(p->update_mask,
              ElementsAre("name", "description", "scopes", "resources"));
  EXPECT_EQ(p->name, "x");

  req.mutable_update_mask()->add_paths("secret_hash");
  EXPECT_THAT(UpdateTokenParamsFromProto(req),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("update_mask: unknown path secret_hash")));
  // Anything that does not look like a field name is described, not echoed
  // (it may be a secret pasted into the wrong field).
  for (const std::string& path :
       {std::string(1000, 'z'), std::string("na\nme"),
        std::string("pat_rest_x"),
        std::string("ABCdef0123456789ABCdef0123456789xyz"), std::string("")}) {
    req.mutable_update_mask()->set_paths(4, path);
    absl::StatusOr<UpdateTokenParams> bad = UpdateTokenParamsFromProto(req);
    EXPECT_THAT(bad,
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("update_mask: unknown path (not shown, ")))
        << path;
  }
}

TEST(ListTokensParamsTest, StatusesChecked) {
  v1::ListTokensRequest req;
  req.add_statuses(v1::TOKEN_STATUS_ACTIVE);
  req.add_statuses(v1::TOKEN_STATUS_REVOKED);
  absl::StatusOr<ListTokensParams> p = ListTokensParamsFromProto(req);
  ASSERT_THAT(p, IsOk());
  EXPECT_THAT(p->statuses,
              ElementsAre(TokenStatus::kActive, TokenStatus::kRevoked));
  req.add_statuses(v1::TOKEN_STATUS_UNSPECIFIED);
  EXPECT_THAT(
      ListTokensParamsFromProto(req),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("statuses:")));
}

}  // namespace
}  // namespace pat
