#include "bench/loadgen/request_file.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pat::bench::loadgen {
namespace {

using ::testing::HasSubstr;

TEST(RequestFileTest, ParsesRequestsSkippingBlankLinesAndComments) {
  const std::string file =
      "# a comment\n"
      "\n"
      "GET\t/v1/files/abc\tAuthorization: Bearer tok_1\tX-Trace:  7 \r\n"
      "   \t \n"
      "HEAD\t/\n"
      "#GET\t/ignored\n"
      "DELETE\t/v1/x?y=1";
  auto requests = ParseRequestFile(file, "reqs.tsv", "example.test:8080");
  ASSERT_TRUE(requests.ok()) << requests.status();
  ASSERT_EQ(requests->size(), 3u);

  const RequestTemplate& get = (*requests)[0];
  EXPECT_EQ(get.line, 3);
  EXPECT_EQ(get.method, "GET");
  EXPECT_EQ(get.path, "/v1/files/abc");
  ASSERT_EQ(get.headers.size(), 2u);
  EXPECT_EQ(get.headers[0].first, "Authorization");
  EXPECT_EQ(get.headers[0].second, "Bearer tok_1");
  EXPECT_EQ(get.headers[1].second, "7");
  EXPECT_FALSE(get.head);
  EXPECT_EQ(get.raw,
            "GET /v1/files/abc HTTP/1.1\r\n"
            "Host: example.test:8080\r\n"
            "Authorization: Bearer tok_1\r\n"
            "X-Trace: 7\r\n"
            "Connection: keep-alive\r\n"
            "\r\n");

  EXPECT_EQ((*requests)[1].line, 5);
  EXPECT_TRUE((*requests)[1].head);
  EXPECT_EQ((*requests)[1].raw,
            "HEAD / HTTP/1.1\r\nHost: example.test:8080\r\n"
            "Connection: keep-alive\r\n\r\n");
  EXPECT_EQ((*requests)[2].line, 7);
  EXPECT_EQ((*requests)[2].path, "/v1/x?y=1");
}

TEST(RequestFileTest, BodyMethodsGetContentLengthZero) {
  auto requests =
      ParseRequestFile("POST\t/a\nPUT\t/b\tContent-Length: 0\n", "f", "h:1");
  ASSERT_TRUE(requests.ok()) << requests.status();
  EXPECT_EQ((*requests)[0].raw,
            "POST /a HTTP/1.1\r\nHost: h:1\r\nConnection: keep-alive\r\n"
            "Content-Length: 0\r\n\r\n");
  EXPECT_EQ((*requests)[1].raw,
            "PUT /b HTTP/1.1\r\nHost: h:1\r\nContent-Length: 0\r\n"
            "Connection: keep-alive\r\n\r\n");
}

TEST(RequestFileTest, HostAndConnectionFromTheFileReplaceTheDefaults) {
  auto requests = ParseRequestFile(
      "GET\t/\thost: api.test\tConnection: close\tX-Empty:\n", "f", "h:1");
  ASSERT_TRUE(requests.ok()) << requests.status();
  EXPECT_EQ((*requests)[0].raw,
            "GET / HTTP/1.1\r\nhost: api.test\r\nConnection: close\r\n"
            "X-Empty: \r\n\r\n");
}

struct BadLine {
  const char* contents;
  const char* message;
};

class RequestFileErrorTest : public ::testing::TestWithParam<BadLine> {};

TEST_P(RequestFileErrorTest, NamesFileAndLine) {
  auto requests = ParseRequestFile(GetParam().contents, "reqs.tsv", "h:1");
  ASSERT_FALSE(requests.ok());
  EXPECT_EQ(requests.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(requests.status().message(), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Errors, RequestFileErrorTest,
    ::testing::Values(
        BadLine{"GET\t/\n# c\nGET /no-tab\n", "reqs.tsv:3: expected METHOD"},
        BadLine{"\nG(T\t/\n", "reqs.tsv:2: invalid method \"G(T\""},
        BadLine{"GET\tno-slash\n", "reqs.tsv:1: invalid path \"no-slash\""},
        BadLine{"GET\t\n", "reqs.tsv:1: invalid path \"\""},
        BadLine{"GET\t/a b\n", "reqs.tsv:1: invalid path"},
        BadLine{"GET\t/\n\nGET\t/\tNoColon\n",
                "reqs.tsv:3: header field 1 \"NoColon\" is not"},
        BadLine{"GET\t/\tBad Name: v\n",
                "reqs.tsv:1: invalid header name \"Bad Name\""},
        BadLine{"GET\t/\tX-A: 1\t\n", "reqs.tsv:1: header field 2 \"\""},
        BadLine{"GET\t/\tX-A: a\x01z\n",
                "reqs.tsv:1: header \"X-A\" has "
                "control characters"},
        BadLine{"# only\n\n", "reqs.tsv: no requests"}));

TEST(RequestFileTest, MissingFileIsNotFound) {
  auto requests = LoadRequestFile("/nonexistent/pat-loadgen.tsv", "h:1");
  ASSERT_FALSE(requests.ok());
  EXPECT_EQ(requests.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(requests.status().message(),
              HasSubstr("/nonexistent/pat-loadgen.tsv"));
}

}  // namespace
}  // namespace pat::bench::loadgen
