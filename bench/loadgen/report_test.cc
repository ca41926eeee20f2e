#include "bench/loadgen/report.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pat::bench::loadgen {
namespace {

using ::testing::HasSubstr;

RunStats SomeStats() {
  RunStats stats;
  stats.requests_sent = 1000;
  stats.responses = 995;
  stats.errors.timeout = 5;
  stats.status[200] = 900;
  stats.status[401] = 95;
  for (int i = 1; i <= 995; ++i) stats.latencies_ns.push_back(i * 1000);
  return stats;
}

LoadConfig SomeConfig() {
  LoadConfig config;
  config.host = "127.0.0.1";
  config.port = "9000";
  config.rate = 500;
  config.duration = absl::Seconds(2);
  config.warmup = absl::Milliseconds(500);
  return config;
}

TEST(ReportTest, JsonHasTheDocumentedFields) {
  const RunReport report =
      MakeReport("smoke", "127.0.0.1:9000", SomeConfig(), SomeStats());
  const nlohmann::ordered_json j = ReportToJson(report);
  EXPECT_EQ(j["label"], "smoke");
  EXPECT_EQ(j["target"], "127.0.0.1:9000");
  EXPECT_EQ(j["connections"], 16);
  EXPECT_EQ(j["threads"], 1);
  EXPECT_EQ(j["rate_requested"], 500.0);
  EXPECT_EQ(j["duration_s"], 2.0);
  EXPECT_EQ(j["warmup_s"], 0.5);
  EXPECT_EQ(j["requests_sent"], 1000);
  EXPECT_EQ(j["responses"], 995);
  EXPECT_EQ(j["errors"]["timeout"], 5);
  EXPECT_EQ(j["errors"]["connect"], 0);
  EXPECT_EQ(j["errors"].size(), 4u);
  EXPECT_EQ(j["status"], nlohmann::ordered_json({{"200", 900}, {"401", 95}}));
  EXPECT_EQ(j["achieved_rps"], 497.5);
  EXPECT_EQ(j["latency_us"]["min"], 1.0);
  EXPECT_EQ(j["latency_us"]["p50"], 498.0);
  EXPECT_EQ(j["latency_us"]["max"], 995.0);
  ASSERT_EQ(j["percentile_curve"].size(), 60u);
  EXPECT_EQ(j["percentile_curve"][5], nlohmann::ordered_json({50.0, 498.0}));
  EXPECT_EQ(j["closed_loop"], false);
  EXPECT_FALSE(RunFailed(report));
  EXPECT_THAT(ReportSummary(report), HasSubstr("995 responses (200: 900, "
                                               "401: 95)"));
}

TEST(ReportTest, JsonTextParsesBackToTheSameJson) {
  const RunReport report =
      MakeReport("a \"label\"", "h:1", SomeConfig(), SomeStats());
  const std::string text = ReportJsonText(report);
  EXPECT_EQ(nlohmann::ordered_json::parse(text), ReportToJson(report));
  EXPECT_THAT(text, HasSubstr("\n  \"status\": {\"200\":900,\"401\":95},\n"));
  EXPECT_THAT(text, HasSubstr("\n    [50.0,498.0],\n"));
}

TEST(ReportTest, NoResponsesHasNullLatenciesAndFails) {
  RunStats stats;
  stats.requests_sent = 10;
  stats.errors.connect = 10;
  const RunReport report = MakeReport("", "h:1", SomeConfig(), stats);
  const nlohmann::ordered_json j = ReportToJson(report);
  EXPECT_TRUE(j["latency_us"]["p99"].is_null());
  EXPECT_TRUE(j["percentile_curve"].empty());
  EXPECT_TRUE(RunFailed(report));
  EXPECT_THAT(ReportSummary(report), HasSubstr("FAILED"));
}

TEST(ReportTest, FailsAboveOnePercentErrors) {
  RunStats stats = SomeStats();  // 5 errors in 1000: fine
  stats.errors.read = 5;         // 10 in 1000: still 1%
  EXPECT_FALSE(RunFailed(MakeReport("", "h:1", SomeConfig(), stats)));
  stats.errors.write = 1;  // 11 in 1000
  EXPECT_TRUE(RunFailed(MakeReport("", "h:1", SomeConfig(), stats)));
}

}  // namespace
}  // namespace pat::bench::loadgen
