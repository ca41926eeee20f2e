#include "cli/patctl_args.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pat::patctl {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

TEST(EnumNamesTest, ParsesCanonicalNamesAndAliasesIgnoringCase) {
  EXPECT_EQ(TokenKindFromName("rest"), v1::TOKEN_KIND_REST_API);
  EXPECT_EQ(TokenKindFromName("NPM"), v1::TOKEN_KIND_NPM_REGISTRY);
  EXPECT_EQ(TokenKindFromName("npm_registry"), v1::TOKEN_KIND_NPM_REGISTRY);
  EXPECT_EQ(PlanTierFromName("Enterprise"), v1::PLAN_TIER_ENTERPRISE);
  EXPECT_EQ(PlanTierFromName("starter"), v1::PLAN_TIER_STARTER);
  EXPECT_EQ(TokenStatusFromName("revoked"), v1::TOKEN_STATUS_REVOKED);
  EXPECT_EQ(ResourceKindFromName("npm_scope"), v1::RESOURCE_KIND_NPM_SCOPE);
  EXPECT_EQ(ResourceKindFromName("workspace"), v1::RESOURCE_KIND_WORKSPACE);
}

TEST(EnumNamesTest, RejectsUnknownAndUnspecified) {
  EXPECT_EQ(TokenKindFromName(""), std::nullopt);
  EXPECT_EQ(TokenKindFromName("unspecified"), std::nullopt);
  EXPECT_EQ(PlanTierFromName("free"), std::nullopt);
  EXPECT_EQ(ResourceKindFromName("files"), std::nullopt);
}

TEST(EnumNamesTest, PrintsCanonicalNames) {
  EXPECT_EQ(EnumToName(TokenKindNames(), v1::TOKEN_KIND_NPM_REGISTRY), "npm");
  EXPECT_EQ(EnumToName(TokenStatusNames(), v1::TOKEN_STATUS_ACTIVE), "active");
  EXPECT_EQ(EnumToName(TokenKindNames(), v1::TOKEN_KIND_UNSPECIFIED),
            "unspecified(0)");
}

TEST(EnumNamesTest, ChoicesListEachValueOnce) {
  EXPECT_EQ(EnumChoices(TokenKindNames()), "rest|npm");
  EXPECT_EQ(EnumChoices(PlanTierNames()),
            "starter|professional|organization|enterprise");
}

TEST(SplitListTest, TrimsAndDropsEmptyItems) {
  EXPECT_THAT(SplitList(" a, b,,c ,"), ElementsAre("a", "b", "c"));
  EXPECT_THAT(SplitList(""), IsEmpty());
  EXPECT_THAT(SplitList(" , "), IsEmpty());
}

FlagType TestFlagType(absl::string_view name) {
  if (name == "plan" || name == "token" || name == "description") {
    return FlagType::kValue;
  }
  if (name == "all_resources" || name == "insecure") return FlagType::kBool;
  if (name == "help" || name == "h") return FlagType::kHelp;
  return FlagType::kUnknown;
}

FlagScan Scan(std::vector<const char*> args) {
  args.insert(args.begin(), "patctl");
  return ScanFlags(static_cast<int>(args.size()), args.data(), TestFlagType);
}

TEST(ScanFlagsTest, FindsFlagsInEveryForm) {
  FlagScan scan = Scan({"--plan=acme", "get", "--token", "t1", "-insecure",
                        "--noall_resources", "--description="});
  ASSERT_EQ(scan.error, "");
  EXPECT_FALSE(scan.help);
  EXPECT_THAT(scan.given, UnorderedElementsAre("plan", "token", "insecure",
                                               "all_resources", "description"));
  EXPECT_THAT(
      scan.values,
      ElementsAre(Pair("plan", "acme"), Pair("token", "t1"),
                  Pair("insecure", "true"), Pair("all_resources", "false"),
                  Pair("description", "")));
}

TEST(ScanFlagsTest, StopsAtDoubleDash) {
  FlagScan scan = Scan({"get", "--", "--plan=acme"});
  ASSERT_EQ(scan.error, "");
  EXPECT_THAT(scan.given, IsEmpty());
}

TEST(ScanFlagsTest, PositionalArgumentsAreNotFlags) {
  FlagScan scan = Scan({"get", "-", "list"});
  ASSERT_EQ(scan.error, "");
  EXPECT_THAT(scan.given, IsEmpty());
}

TEST(ScanFlagsTest, RejectsUnknownFlags) {
  EXPECT_EQ(Scan({"--flagfile=/etc/passwd"}).error, "unknown flag --flagfile");
  // The negative form exists only for boolean flags.
  EXPECT_EQ(Scan({"--noplan"}).error, "unknown flag --noplan");
  EXPECT_EQ(Scan({"--noinsecure=true"}).error, "unknown flag --noinsecure");
}

TEST(ScanFlagsTest, ValueFlagNeedsAValue) {
  EXPECT_EQ(Scan({"get", "--token"}).error, "flag --token needs a value");
}

TEST(ScanFlagsTest, ValueMayLookLikeAFlag) {
  FlagScan scan = Scan({"--description", "--not-a-flag"});
  ASSERT_EQ(scan.error, "");
  EXPECT_THAT(scan.values, ElementsAre(Pair("description", "--not-a-flag")));
}

TEST(ScanFlagsTest, DetectsHelp) {
  EXPECT_TRUE(Scan({"get", "--help"}).help);
  EXPECT_TRUE(Scan({"-h"}).help);
}

TEST(UpdateMaskPathsTest, FollowsGivenFlags) {
  EXPECT_THAT(UpdateMaskPaths({}), IsEmpty());
  EXPECT_THAT(UpdateMaskPaths({"plan", "token", "description"}),
              ElementsAre("description"));
  EXPECT_THAT(UpdateMaskPaths({"name", "scopes", "links"}),
              ElementsAre("name", "scopes", "resources"));
  EXPECT_THAT(UpdateMaskPaths({"all_resources"}), ElementsAre("resources"));
  EXPECT_THAT(UpdateMaskPaths({"all_resources", "links"}),
              ElementsAre("resources"));
}

TEST(TerminalSafeTest, EscapesControlCharacters) {
  EXPECT_EQ(TerminalSafe("plain name é"), "plain name é");
  EXPECT_EQ(TerminalSafe("a\tb\nc\x1b[31m\x7f"), "a\\x09b\\x0ac\\x1b[31m\\x7f");
}

TEST(IsValidActorTest, AcceptsPrintableAsciiOnly) {
  EXPECT_TRUE(IsValidActor("alice@example.com"));
  EXPECT_TRUE(IsValidActor(""));
  EXPECT_FALSE(IsValidActor("alice\n"));
  EXPECT_FALSE(IsValidActor("al\xc3\xa9"));
}

}  // namespace
}  // namespace pat::patctl
