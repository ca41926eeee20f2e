// The one name table per enum: common/domain.h names the domain values,
// proto/convert's ProtoEnumName names the pat.v1 values through them, and
// patctl's tables are built from ProtoEnumName (plus its own kind aliases).
// Every declared value of every enum is checked, in both directions.
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cli/patctl_args.h"
#include "common/domain.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "proto/convert/proto_convert.h"

namespace pat {
namespace {

TEST(DomainEnumNamesTest, TokenStatusRoundTrip) {
  for (TokenStatus s :
       {TokenStatus::kActive, TokenStatus::kExpired, TokenStatus::kRevoked}) {
    EXPECT_EQ(TokenStatusFromName(TokenStatusName(s)), s) << TokenStatusName(s);
  }
  EXPECT_EQ(TokenStatusFromName("unspecified"), TokenStatus::kUnspecified);
  EXPECT_EQ(TokenStatusFromName("Active"), TokenStatus::kUnspecified);
  EXPECT_EQ(TokenStatusFromName(""), TokenStatus::kUnspecified);
}

// For every declared value of a pat.v1 enum: *_UNSPECIFIED has no name, any
// other value is named by its domain form's name, and patctl parses that
// name (in any case) back to the value and prints it (kinds: their short
// names). A value outside the declared enum has no name and prints as
// "unspecified(N)".
template <typename Proto, typename Domain>
void CheckEnum(std::optional<Domain> (*from_proto)(int),
               absl::string_view (*domain_name)(Domain),
               const patctl::EnumNameTable<Proto>& table) {
  const google::protobuf::EnumDescriptor* d =
      google::protobuf::GetEnumDescriptor<Proto>();
  for (int i = 0; i < d->value_count(); ++i) {
    const Proto value = static_cast<Proto>(d->value(i)->number());
    SCOPED_TRACE(d->value(i)->name());
    const std::optional<absl::string_view> name = ProtoEnumName(value);
    if (d->value(i)->number() == 0) {
      EXPECT_EQ(name, std::nullopt);
      EXPECT_EQ(patctl::EnumToName(table, value), "unspecified(0)");
      EXPECT_EQ(patctl::EnumFromName(table, "unspecified"), std::nullopt);
      continue;
    }
    ASSERT_TRUE(name.has_value());
    EXPECT_EQ(*name, domain_name(*from_proto(d->value(i)->number())));
    EXPECT_EQ(patctl::EnumFromName(table, *name), value);
    EXPECT_EQ(patctl::EnumFromName(table, absl::AsciiStrToUpper(*name)), value);
  }
  const Proto beyond = static_cast<Proto>(d->value_count() + 7);
  EXPECT_EQ(ProtoEnumName(beyond), std::nullopt);
  EXPECT_EQ(patctl::EnumToName(table, beyond),
            absl::StrCat("unspecified(", d->value_count() + 7, ")"));
}

TEST(ProtoEnumNameTest, PlanTier) {
  CheckEnum(&PlanTierFromProtoValue, &PlanTierName, patctl::PlanTierNames());
  EXPECT_EQ(ProtoEnumName(v1::PLAN_TIER_ORGANIZATION), "organization");
}

TEST(ProtoEnumNameTest, TokenKind) {
  CheckEnum(&TokenKindFromProtoValue, &TokenKindName, patctl::TokenKindNames());
  EXPECT_EQ(ProtoEnumName(v1::TOKEN_KIND_NPM_REGISTRY), "npm_registry");
  // patctl prints kinds by its own short names.
  EXPECT_EQ(
      patctl::EnumToName(patctl::TokenKindNames(), v1::TOKEN_KIND_REST_API),
      "rest");
}

TEST(ProtoEnumNameTest, TokenStatus) {
  CheckEnum(&TokenStatusFromProtoValue, &TokenStatusName,
            patctl::TokenStatusNames());
  EXPECT_EQ(ProtoEnumName(v1::TOKEN_STATUS_EXPIRED), "expired");
}

TEST(ProtoEnumNameTest, ResourceKind) {
  CheckEnum(&ResourceKindFromProtoValue, &ResourceKindName,
            patctl::ResourceKindNames());
  EXPECT_EQ(ProtoEnumName(v1::RESOURCE_KIND_NPM_SCOPE), "npm_scope");
}

// Every non-kind patctl name is a shared name and every shared name is
// printed unchanged: the CLI and the server agree on names.
TEST(ProtoEnumNameTest, PatctlPrintsSharedNames) {
  for (const auto& row : patctl::PlanTierNames()) {
    EXPECT_EQ(ProtoEnumName(row.value), row.name);
  }
  for (const auto& row : patctl::TokenStatusNames()) {
    EXPECT_EQ(ProtoEnumName(row.value), row.name);
  }
  for (const auto& row : patctl::ResourceKindNames()) {
    EXPECT_EQ(ProtoEnumName(row.value), row.name);
  }
}

}  // namespace
}  // namespace pat
