// End-to-end runs of the generator against TestHttpServer on 127.0.0.1.
// Assertions are on counts (with generous bounds where they depend on the
// clock), never on how fast anything ran.
#include "bench/loadgen/load_generator.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "bench/loadgen/request_file.h"
#include "bench/loadgen/test_http_server.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "gtest/gtest.h"

namespace pat::bench::loadgen {
namespace {

using test_support::TestHttpServer;

LoadConfig ConfigFor(int port) {
  LoadConfig config;
  EXPECT_TRUE(ParseTarget(absl::StrCat("127.0.0.1:", port), &config).ok());
  config.connections = 4;
  config.rate = 200;
  config.duration = absl::Seconds(1);
  config.warmup = absl::ZeroDuration();
  config.timeout = absl::Seconds(2);
  return config;
}

std::vector<RequestTemplate> Requests(const LoadConfig& config,
                                      const std::string& file) {
  auto requests = ParseRequestFile(file, "test.tsv", HostHeader(config));
  EXPECT_TRUE(requests.ok()) << requests.status();
  return requests.ok() ? *requests : std::vector<RequestTemplate>{};
}

uint64_t StatusTotal(const RunStats& stats) {
  uint64_t total = 0;
  for (uint64_t n : stats.status) total += n;
  return total;
}

TEST(LoadGeneratorTest, OpenLoopCountsStatusesAndSendsTheFilesHeaders) {
  TestHttpServer server;
  const LoadConfig config = ConfigFor(server.port());
  const auto requests =
      Requests(config,
               "GET\t/ok\tX-Loadgen: a\tAuthorization: Bearer t1\n"
               "GET\t/status/401\tX-Loadgen: b\n"
               "HEAD\t/ok\n");

  auto stats = RunLoad(config, requests);
  ASSERT_TRUE(stats.ok()) << stats.status();

  EXPECT_GE(stats->requests_sent, 150u);
  EXPECT_LE(stats->requests_sent, 250u);
  EXPECT_EQ(stats->errors.total(), 0u);
  EXPECT_EQ(stats->unsent, 0u);
  EXPECT_EQ(stats->responses, stats->requests_sent);
  EXPECT_EQ(stats->latencies_ns.size(), stats->responses);
  EXPECT_EQ(StatusTotal(*stats), stats->responses);
  // Lines rotate with the global request number: each gets a third.
  const uint64_t third = stats->responses / 3;
  EXPECT_GE(stats->status[401], third - 1);
  EXPECT_LE(stats->status[401], third + 1);
  EXPECT_EQ(stats->status[200], stats->responses - stats->status[401]);

  EXPECT_EQ(server.requests(), stats->requests_sent);
  EXPECT_EQ(server.connections(), 4u);  // keep-alive: one per connection
  EXPECT_EQ(server.Paths()["/ok"], stats->status[200]);  // GET and HEAD
  EXPECT_GE(server.HeaderCount("x-loadgen: a"), third - 1);
  EXPECT_EQ(server.HeaderCount("authorization: Bearer t1"),
            server.HeaderCount("x-loadgen: a"));
  EXPECT_EQ(server.HeaderCount("x-loadgen: b"), stats->status[401]);
  EXPECT_EQ(server.HeaderCount(absl::StrCat("host: 127.0.0.1:", server.port())),
            stats->requests_sent);
  EXPECT_EQ(server.HeaderCount("connection: keep-alive"), stats->requests_sent);
  for (int64_t ns : stats->latencies_ns) EXPECT_GT(ns, 0);
}

TEST(LoadGeneratorTest, WarmupIsNotRecorded) {
  TestHttpServer server;
  LoadConfig config = ConfigFor(server.port());
  config.warmup = absl::Milliseconds(500);
  config.duration = absl::Milliseconds(500);
  auto stats = RunLoad(config, Requests(config, "GET\t/\n"));
  ASSERT_TRUE(stats.ok()) << stats.status();
  // 100 due in the window, 100 during the warm-up.
  EXPECT_GE(stats->requests_sent, 70u);
  EXPECT_LE(stats->requests_sent, 130u);
  EXPECT_EQ(stats->responses, stats->requests_sent);
  EXPECT_GE(server.requests(), stats->requests_sent + 70);
}

TEST(LoadGeneratorTest, TwoThreadsShareTheConnections) {
  TestHttpServer server;
  LoadConfig config = ConfigFor(server.port());
  config.threads = 2;
  config.rate = 400;
  config.duration = absl::Milliseconds(500);
  auto stats = RunLoad(config, Requests(config, "GET\t/\nGET\t/status/204\n"));
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GE(stats->requests_sent, 150u);
  EXPECT_LE(stats->requests_sent, 250u);
  EXPECT_EQ(stats->responses, stats->requests_sent);
  EXPECT_EQ(stats->status[200] + stats->status[204], stats->responses);
  EXPECT_GT(stats->status[204], 0u);
  EXPECT_EQ(server.connections(), 4u);
}

TEST(LoadGeneratorTest, ClosedLoopSendsAsSoonAsAnswered) {
  TestHttpServer server;
  LoadConfig config = ConfigFor(server.port());
  config.rate = 0;
  config.connections = 2;
  config.duration = absl::Milliseconds(300);
  auto stats = RunLoad(config, Requests(config, "GET\t/\nGET\t/chunked\n"));
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GT(stats->responses, 50u);
  EXPECT_EQ(stats->errors.total(), 0u);
  EXPECT_EQ(stats->responses, stats->requests_sent);
  EXPECT_EQ(stats->status[200], stats->responses);
  EXPECT_EQ(server.connections(), 2u);
}

TEST(LoadGeneratorTest, ReconnectsWhenTheServerCloses) {
  TestHttpServer server;
  LoadConfig config = ConfigFor(server.port());
  config.connections = 2;
  config.rate = 100;
  config.duration = absl::Milliseconds(500);
  auto stats = RunLoad(config, Requests(config, "GET\t/close\n"));
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GE(stats->requests_sent, 35u);
  EXPECT_LE(stats->requests_sent, 65u);
  EXPECT_EQ(stats->errors.total(), 0u);
  EXPECT_EQ(stats->responses, stats->requests_sent);
  EXPECT_EQ(server.connections(), stats->requests_sent);
}

TEST(LoadGeneratorTest, SlowAnswersCountFromTheIntendedTime) {
  TestHttpServer server;
  LoadConfig config = ConfigFor(server.port());
  config.connections = 1;
  config.rate = 50;  // due every 20 ms; each answer takes >= 100 ms
  config.duration = absl::Milliseconds(500);
  auto stats = RunLoad(config, Requests(config, "GET\t/delay/100\n"));
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_GE(stats->responses, 1u);
  EXPECT_LE(stats->requests_sent, 6u);
  EXPECT_EQ(stats->responses, stats->requests_sent);
  // 25 slots were due in the window; those not reached are reported.
  EXPECT_EQ(stats->requests_sent + stats->unsent, 25u);
  // Request k cannot start before k*100 ms although due at k*20 ms, so the
  // slowest latency is at least 80*(n-1) + 100 ms for n requests.
  const int64_t slowest =
      *std::max_element(stats->latencies_ns.begin(), stats->latencies_ns.end());
  EXPECT_GE(slowest, absl::ToInt64Nanoseconds(absl::Milliseconds(
                         80 * (stats->responses - 1) + 100)));
}

TEST(LoadGeneratorTest, TimeoutsAreCountedWithoutLatency) {
  TestHttpServer server;
  LoadConfig config = ConfigFor(server.port());
  config.connections = 2;
  config.rate = 20;
  config.duration = absl::Milliseconds(500);
  config.timeout = absl::Milliseconds(100);
  auto stats = RunLoad(config, Requests(config, "GET\t/hang\n"));
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GE(stats->requests_sent, 5u);
  EXPECT_LE(stats->requests_sent, 15u);
  EXPECT_EQ(stats->responses, 0u);
  EXPECT_EQ(stats->errors.timeout, stats->requests_sent);
  EXPECT_TRUE(stats->latencies_ns.empty());
}

TEST(LoadGeneratorTest, ConnectErrorsConsumeTheirSlots) {
  int port = 0;
  {
    // A port nothing listens on: bind one, then release it.
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor acceptor(
        io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = acceptor.local_endpoint().port();
  }
  LoadConfig config = ConfigFor(port);
  config.duration = absl::Milliseconds(500);
  auto stats = RunLoad(config, Requests(config, "GET\t/\n"));
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GE(stats->requests_sent, 70u);
  EXPECT_LE(stats->requests_sent, 130u);
  EXPECT_EQ(stats->responses, 0u);
  EXPECT_EQ(stats->errors.connect, stats->requests_sent);
}

TEST(LoadGeneratorTest, ValidatesTheConfig) {
  LoadConfig config;
  EXPECT_FALSE(ValidateConfig(config).ok());  // no target
  ASSERT_TRUE(ParseTarget("localhost:80", &config).ok());
  EXPECT_EQ(config.host, "localhost");
  EXPECT_EQ(config.port, "80");
  EXPECT_TRUE(ValidateConfig(config).ok());
  ASSERT_TRUE(ParseTarget("[::1]:8080", &config).ok());
  EXPECT_EQ(config.host, "::1");
  EXPECT_EQ(HostHeader(config), "[::1]:8080");
  for (const char* bad : {"", "host", "host:", ":80", "h:0", "h:65536", "h:+80",
                          "::1:80", "[::1]80"}) {
    LoadConfig c;
    EXPECT_FALSE(ParseTarget(bad, &c).ok()) << bad;
  }
  LoadConfig c = config;
  c.threads = 17;
  EXPECT_FALSE(ValidateConfig(c).ok());
  c = config;
  c.rate = -1;
  EXPECT_FALSE(ValidateConfig(c).ok());
  c = config;
  c.duration = absl::ZeroDuration();
  EXPECT_FALSE(ValidateConfig(c).ok());
  c = config;
  c.timeout = absl::ZeroDuration();
  EXPECT_FALSE(ValidateConfig(c).ok());
}

}  // namespace
}  // namespace pat::bench::loadgen
