#include "bench/authority/authority_bench.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "bench/authority/latency.h"
#include "bench/authority/secrets_file.h"
#include "gtest/gtest.h"

namespace pat::bench {
namespace {

TEST(LatencyTest, EmptyIsZero) {
  std::vector<int64_t> none;
  LatencySummary s = SummarizeLatencies(none);
  EXPECT_EQ(s.samples, 0);
  EXPECT_EQ(s.p50, 0);
  EXPECT_EQ(s.max, 0);
}

TEST(LatencyTest, NearestRankPercentilesInMicroseconds) {
  std::vector<int64_t> nanos;
  for (int i = 1000; i >= 1; --i) nanos.push_back(i * 1000);  // 1..1000 us
  LatencySummary s = SummarizeLatencies(nanos);
  EXPECT_EQ(s.samples, 1000);
  EXPECT_DOUBLE_EQ(s.p50, 500);
  EXPECT_DOUBLE_EQ(s.p90, 900);
  EXPECT_DOUBLE_EQ(s.p99, 990);
  EXPECT_DOUBLE_EQ(s.p999, 999);
  EXPECT_DOUBLE_EQ(s.max, 1000);
  EXPECT_DOUBLE_EQ(s.mean, 500.5);
}

TEST(LatencyTest, SingleSample) {
  std::vector<int64_t> nanos = {1234};
  LatencySummary s = SummarizeLatencies(nanos);
  EXPECT_DOUBLE_EQ(s.p50, 1.2);
  EXPECT_DOUBLE_EQ(s.p999, 1.2);
  EXPECT_DOUBLE_EQ(s.max, 1.2);
}

TEST(ErrorCountsTest, MergeAndTotal) {
  ErrorCounts a = {{"NOT_FOUND", 2}};
  ErrorCounts b = {{"NOT_FOUND", 1}, {"UNAVAILABLE", 4}};
  MergeErrorCounts(a, b);
  EXPECT_EQ(b["NOT_FOUND"], 3);
  EXPECT_EQ(TotalErrors(b), 7);
}

std::string TempPath(const char* name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name + "." +
         std::to_string(::getpid());
}

TEST(SecretsFileTest, RoundTripWithMode0600) {
  const std::string path = TempPath("pat_bench_secrets");
  std::vector<TokenSecret> tokens = {{"tok_a", "pat_rest_x"},
                                     {"tok_b", "pat_rest_y"}};
  ASSERT_TRUE(WriteSecretsFile(path, tokens).ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  absl::StatusOr<std::vector<TokenSecret>> read = ReadSecretsFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[1].token_id, "tok_b");
  EXPECT_EQ((*read)[1].secret, "pat_rest_y");
  ::unlink(path.c_str());
}

TEST(SecretsFileTest, MalformedLineNamesTheLineButNotItsText) {
  const std::string path = TempPath("pat_bench_bad");
  {
    std::ofstream out(path);
    out << "# comment\n\ntok_a\tpat_rest_x\npat_rest_leaked\n";
  }
  absl::StatusOr<std::vector<TokenSecret>> read = ReadSecretsFile(path);
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.status().message().find(":4:"), absl::string_view::npos);
  EXPECT_EQ(read.status().message().find("leaked"), absl::string_view::npos);
  ::unlink(path.c_str());
}

TEST(CreateRequestTest, AllResourcesOrLinks) {
  TokenSpec spec;
  spec.scopes = {"file_content:read"};
  spec.all_resources = false;
  spec.links = {"https://www.figma.com/design/K"};
  v1::CreateTokenRequest r = MakeCreateRequest(spec, "p1", "n", "rid");
  EXPECT_FALSE(r.all_resources());
  ASSERT_EQ(r.resource_links_size(), 1);
  EXPECT_EQ(r.request_id(), "rid");
  EXPECT_EQ(r.expires_in_days(), 90);
  spec.all_resources = true;
  r = MakeCreateRequest(spec, "p1", "n", "rid");
  EXPECT_TRUE(r.all_resources());
  EXPECT_EQ(r.resource_links_size(), 0);
}

TEST(ParseTest, RpcAndOrderNamesRoundTrip) {
  for (absl::string_view name :
       {"validate", "create", "refresh", "revoke", "get"}) {
    absl::StatusOr<Rpc> rpc = ParseRpc(name);
    ASSERT_TRUE(rpc.ok());
    EXPECT_EQ(RpcName(*rpc), name);
  }
  EXPECT_FALSE(ParseRpc("list").ok());
  EXPECT_EQ(*ParseOrder("random"), Order::kRandom);
  EXPECT_FALSE(ParseOrder("zigzag").ok());
}

}  // namespace
}  // namespace pat::bench
