// The sidecar's usage counts for the least-privilege report: per allowed
// request one (token, endpoint, satisfying scopes, resources) key, counted
// in memory, sent with the usage records in one ReportUsage call; keys over
// max_count_keys are dropped and counted; denied requests are not counted.

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/secret.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sidecar/fake_authority.h"

namespace pat::sidecar {
namespace {

using ::pat::sidecar::testing::GrantSpec;
using ::pat::sidecar::testing::Harness;
using ::pat::sidecar::testing::MakeGrant;
using ::pat::sidecar::testing::MakeResource;
using ::testing::ElementsAre;

std::string AddToken(Harness& h, GrantSpec spec) {
  std::string secret = GenerateSecret(TokenKind::kRestApi);
  h.fake.PutGrant(MakeGrant(spec), {{secret, spec.expire_time}});
  return secret;
}

Harness::Options WithKeyBound(size_t keys) {
  Harness::Options options;
  options.usage.max_count_keys = keys;
  return options;
}

void AddDirectory(Harness& h) {
  h.fake.PutResource(MakeResource("plan_1", v1::RESOURCE_KIND_PROJECT, "P1"));
  v1::Resource file = MakeResource("plan_1", v1::RESOURCE_KIND_FILE, "KEY1");
  file.set_parent_kind(v1::RESOURCE_KIND_PROJECT);
  file.set_parent_id("P1");
  h.fake.PutResource(file);
  h.fake.PutResource(MakeResource("plan_1", v1::RESOURCE_KIND_FILE, "KEY2"));
}

std::vector<v1::UsageCount> SentCounts(Harness& h) {
  std::vector<v1::UsageCount> out;
  for (const v1::ReportUsageRequest& r : h.fake.usage_requests()) {
    for (const v1::UsageCount& c : r.counts()) out.push_back(c);
  }
  return out;
}

TEST(UsageCountsTest, AllowedRequestsAreCountedPerKeyWithTheirFacts) {
  Harness h;
  AddDirectory(h);
  const std::string secret = AddToken(
      h, GrantSpec()
             .Id("tok_c")
             .Scopes({"file_content:read", "files:read", "webhooks:read"})
             .AllResources(false)
             .Resources({{v1::RESOURCE_KIND_PROJECT, "P1"}}));
  h.StartSynced();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(h.Bearer(secret).allowed());
  // Denied (KEY2 is not under P1; scope missing): not usage.
  ASSERT_FALSE(h.Bearer(secret, "/v1/files/KEY2").allowed());
  ASSERT_FALSE(h.Bearer(secret, "/v1/files/KEY1/variables/local").allowed());
  ASSERT_TRUE(h.usage->Flush().ok());
  ASSERT_EQ(h.fake.usage_requests().size(), 1u) << "one call, records+counts";
  const std::vector<v1::UsageCount> counts = SentCounts(h);
  ASSERT_EQ(counts.size(), 1u);
  const v1::UsageCount& c = counts[0];
  EXPECT_EQ(c.token_id(), "tok_c");
  EXPECT_EQ(c.endpoint(), "getFile");
  EXPECT_EQ(c.count(), 3);
  EXPECT_THAT(c.satisfying_scopes(),
              ElementsAre("file_content:read", "files:read"));
  EXPECT_EQ(c.resource_need(), v1::USAGE_RESOURCE_NEED_LISTED);
  ASSERT_EQ(c.resources_size(), 1);
  EXPECT_EQ(c.resources(0).resource().id(), "KEY1");
  ASSERT_EQ(c.resources(0).ancestors_size(), 1);
  EXPECT_EQ(c.resources(0).ancestors(0).id(), "P1");
  EXPECT_EQ(h.CounterValue("pat_sidecar_usage_counts_reported_total"), 1u);
}

TEST(UsageCountsTest, KeysOverTheBoundAreDroppedAndCounted) {
  Harness h(WithKeyBound(2));
  AddDirectory(h);
  const std::string secret =
      AddToken(h, GrantSpec().Id("tok_d").Scopes({"files:read"}));
  h.StartSynced();
  // Three keys (getFile KEY1, getFile KEY2, getFileMeta KEY1), twice each.
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(h.Bearer(secret, "/v1/files/KEY1").allowed());
    ASSERT_TRUE(h.Bearer(secret, "/v1/files/KEY2").allowed());
    ASSERT_TRUE(h.Bearer(secret, "/v1/files/KEY1/meta").allowed());
  }
  EXPECT_EQ(h.CounterValue("pat_sidecar_usage_count_keys_dropped_total"), 2u);
  ASSERT_TRUE(h.usage->Flush().ok());
  std::map<std::string, int64_t> sent;
  for (const v1::UsageCount& c : SentCounts(h)) {
    sent[absl::StrCat(c.endpoint(), " ", c.resources(0).resource().id())] =
        c.count();
  }
  EXPECT_EQ(sent.size(), 2u);
  for (const auto& [key, n] : sent) EXPECT_EQ(n, 2) << key;
  // The next interval has room again.
  ASSERT_TRUE(h.Bearer(secret, "/v1/files/KEY1/meta").allowed());
  ASSERT_TRUE(h.usage->Flush().ok());
  EXPECT_EQ(h.CounterValue("pat_sidecar_usage_count_keys_dropped_total"), 2u);
  EXPECT_EQ(SentCounts(h).size(), 3u);
}

}  // namespace
}  // namespace pat::sidecar
