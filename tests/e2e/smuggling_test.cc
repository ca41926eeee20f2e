// Request smuggling and header limits through a real sidecar (threats #26,
// #29, #30), as raw bytes: ambiguous framing is 400 with the connection
// closed, and a second request pipelined behind it (or hidden in a body)
// never reaches the upstream unauthenticated; header limits are 431.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_support.h"

namespace pat::testing {
namespace {

// A request with no credential, to be smuggled.
const std::string kSmuggled =
    "GET /v1/files/FILEA1 HTTP/1.1\r\nHost: api.test\r\n\r\n";

class SmugglingTest : public SharedE2eTest {
 protected:
  void SetUp() override {
    SharedE2eTest::SetUp();
    if (HasFatalFailure()) return;
    token_ = env().Create(AllGrantableRestScopes());
    ASSERT_FALSE(HasFailure());
  }
  std::string Auth() const { return "Authorization: Bearer " + token_.secret; }

  // Sends `head` + `rest` (a smuggled request after it) and expects a 400,
  // the connection closed, and nothing at the upstream.
  void ExpectRejectedAndClosed(const std::string& bytes) {
    const int64_t before = env().sidecar().upstream_count();
    RawConnection c(env().port());
    ASSERT_TRUE(c.connected());
    // The server may close before reading everything; a failed write is fine.
    c.Send(bytes);
    const HttpResponse r = c.ReadResponse();
    ASSERT_EQ(r.status, 400) << r.Describe();
    const nlohmann::json body = r.Json();
    EXPECT_EQ(body.value("status", 0), 400) << r.body;
    EXPECT_FALSE(body.value("reason", "").empty()) << r.body;
    EXPECT_FALSE(r.keep_alive) << r.Describe();
    EXPECT_TRUE(c.ClosedByPeer());
    EXPECT_EQ(env().sidecar().upstream_count(), before)
        << "bytes after an ambiguous request reached the upstream";
  }

  IssuedToken token_;
};

TEST_F(SmugglingTest, ContentLengthAndTransferEncoding) {
  ExpectRejectedAndClosed(absl::StrCat(
      RawRequest("PUT", "/v1/dev_resources",
                 {Auth(), "Content-Length: 5", "Transfer-Encoding: chunked"},
                 "0\r\n\r\n"),
      kSmuggled));
  ExpectRejectedAndClosed(absl::StrCat(
      RawRequest("PUT", "/v1/dev_resources",
                 {Auth(), "Transfer-Encoding: chunked", "Content-Length: 60"},
                 "0\r\n\r\n"),
      kSmuggled));
}

TEST_F(SmugglingTest, TwoContentLengths) {
  ExpectRejectedAndClosed(absl::StrCat(
      RawRequest("PUT", "/v1/dev_resources",
                 {Auth(), "Content-Length: 2", "Content-Length: 2"}, "{}"),
      kSmuggled));
  ExpectRejectedAndClosed(absl::StrCat(
      RawRequest("PUT", "/v1/dev_resources",
                 {Auth(), "Content-Length: 2", "Content-Length: 50"}, "{}"),
      kSmuggled));
  ExpectRejectedAndClosed(
      absl::StrCat(RawRequest("PUT", "/v1/dev_resources",
                              {Auth(), "Content-Length: 2, 2"}, "{}"),
                   kSmuggled));
}

TEST_F(SmugglingTest, ObfuscatedFraming) {
  const std::vector<std::vector<std::string>> headers = {
      {"Transfer-Encoding: chunked, identity"},
      {"Transfer-Encoding: identity, chunked"},
      {"Transfer-Encoding: chunked", "Transfer-Encoding: chunked"},
      {"Transfer-Encoding: xchunked"},
      {"Transfer-Encoding : chunked"},
      {"Content-Length : 5"},
      {"Content-Length: +5"},
      {"Content-Length: 5 5"},
      {"Transfer-Encoding:\r\n chunked"},  // obs-fold
  };
  for (const std::vector<std::string>& h : headers) {
    SCOPED_TRACE(h.front());
    std::vector<std::string> lines = {Auth()};
    lines.insert(lines.end(), h.begin(), h.end());
    ExpectRejectedAndClosed(absl::StrCat(
        RawRequest("PUT", "/v1/dev_resources", lines, "0\r\n\r\n"),
        kSmuggled));
  }
}

TEST_F(SmugglingTest, MalformedChunkedBody) {
  // The head is fine and allowed; the body's framing is not.
  for (const std::string& body :
       {std::string("zz\r\nhello\r\n0\r\n\r\n"),
        std::string("5\r\nhelloXX0\r\n\r\n"),
        std::string("fffffffffffffffffff\r\nx\r\n0\r\n\r\n")}) {
    SCOPED_TRACE(body.substr(0, 8));
    ExpectRejectedAndClosed(
        absl::StrCat(RawRequest("PUT", "/v1/dev_resources",
                                {Auth(), "Transfer-Encoding: chunked"}, body),
                     kSmuggled));
  }
}

TEST_F(SmugglingTest, PipelinedRequestWithoutTokenIsNotForwarded) {
  const int64_t before = env().sidecar().upstream_count();
  RawConnection c(env().port());
  ASSERT_TRUE(c.Send(absl::StrCat(
      RawRequest("GET", "/v1/files/FILEA1", {Auth()}), kSmuggled)));
  const nlohmann::json echo = ExpectForwarded(c.ReadResponse());
  EXPECT_EQ(echo.value("target", ""), "/v1/files/FILEA1");
  ExpectDenied(c.ReadResponse(), 401, "token_missing");
  EXPECT_EQ(env().sidecar().upstream_count(), before + 1);
}

TEST_F(SmugglingTest, RequestInsideABodyStaysABody) {
  const int64_t before = env().sidecar().upstream_count();
  // Content-Length covers the embedded request: it is body bytes.
  {
    RawConnection c(env().port());
    ASSERT_TRUE(c.Send(
        RawRequest("PUT", "/v1/dev_resources",
                   {Auth(), absl::StrCat("Content-Length: ", kSmuggled.size())},
                   kSmuggled)));
    const nlohmann::json echo = ExpectForwarded(c.ReadResponse());
    EXPECT_EQ(echo.value("body_length", -1),
              static_cast<int>(kSmuggled.size()));
    EXPECT_EQ(env().sidecar().upstream_count(), before + 1);
  }
  // Chunked, with the embedded request after the last chunk: it is parsed
  // as the next request on the connection, which has no token.
  {
    RawConnection c(env().port());
    ASSERT_TRUE(
        c.Send(absl::StrCat(RawRequest("PUT", "/v1/dev_resources",
                                       {Auth(), "Transfer-Encoding: chunked"},
                                       "2\r\n{}\r\n0\r\n\r\n"),
                            kSmuggled)));
    const nlohmann::json echo = ExpectForwarded(c.ReadResponse());
    EXPECT_EQ(echo.value("body_length", -1), 2);
    ExpectDenied(c.ReadResponse(), 401, "token_missing");
    EXPECT_EQ(env().sidecar().upstream_count(), before + 2);
  }
  // Content-Length shorter than what follows: the rest is the next request.
  {
    RawConnection c(env().port());
    ASSERT_TRUE(
        c.Send(absl::StrCat(RawRequest("PUT", "/v1/dev_resources",
                                       {Auth(), "Content-Length: 2"}, "{}"),
                            kSmuggled)));
    ExpectForwarded(c.ReadResponse());
    ExpectDenied(c.ReadResponse(), 401, "token_missing");
    EXPECT_EQ(env().sidecar().upstream_count(), before + 3);
  }
}

TEST_F(SmugglingTest, TooManyHeaders) {
  // 100 fields (Host, Authorization and 98 more) is the limit.
  std::vector<std::string> lines = {Auth()};
  for (int i = 0; i < 98; ++i)
    lines.push_back(absl::StrCat("X-Fill-", i, ": v"));
  {
    RawConnection c(env().port());
    ASSERT_TRUE(c.Send(RawRequest("GET", "/v1/files/FILEA1", lines)));
    ExpectForwarded(c.ReadResponse());
  }
  lines.push_back("X-Fill-98: v");  // 101 fields
  const int64_t before = env().sidecar().upstream_count();
  RawConnection c(env().port());
  c.Send(RawRequest("GET", "/v1/files/FILEA1", lines));
  const HttpResponse r = c.ReadResponse();
  ExpectDenied(r, 431, "headers_too_large");
  EXPECT_EQ(env().sidecar().upstream_count(), before);
}

TEST_F(SmugglingTest, HeaderBlockTooLarge) {
  // One big header: 59 KiB passes, 61 KiB is 431.
  for (const auto& [kib, allowed] :
       std::vector<std::pair<int, bool>>{{59, true}, {61, false}}) {
    SCOPED_TRACE(absl::StrCat(kib, " KiB"));
    const int64_t before = env().sidecar().upstream_count();
    RawConnection c(env().port());
    c.Send(RawRequest("GET", "/v1/files/FILEA1",
                      {Auth(), "X-Big: " + std::string(kib * 1024, 'b')}));
    const HttpResponse r = c.ReadResponse();
    if (allowed) {
      ExpectForwarded(r);
      EXPECT_EQ(env().sidecar().upstream_count(), before + 1);
    } else {
      ExpectDenied(r, 431, "headers_too_large");
      EXPECT_EQ(env().sidecar().upstream_count(), before);
    }
  }
  // Many small headers adding up to 61 KiB (under the count limit).
  std::vector<std::string> lines = {Auth()};
  for (int i = 0; i < 61; ++i) {
    lines.push_back(
        absl::StrFormat("X-Part-%02d: %s", i, std::string(1024, 'p')));
  }
  const int64_t before = env().sidecar().upstream_count();
  RawConnection c(env().port());
  c.Send(RawRequest("GET", "/v1/files/FILEA1", lines));
  ExpectDenied(c.ReadResponse(), 431, "headers_too_large");
  EXPECT_EQ(env().sidecar().upstream_count(), before);
}

TEST_F(SmugglingTest, DuplicateAuthorizationHeaders) {
  const IssuedToken other = env().Create({"files:read"});
  ASSERT_FALSE(HasFailure());
  const std::vector<std::vector<std::string>> cases = {
      {Auth(), Auth()},
      {Auth(), "Authorization: Bearer " + other.secret},
      {"authorization: Bearer " + token_.secret,
       "AUTHORIZATION: Bearer " + other.secret},
      {"Authorization: Bearer " + other.secret + ", Bearer " + token_.secret},
      {Auth(), "X-Figma-Token: " + token_.secret},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("case ", i));
    const int64_t before = env().sidecar().upstream_count();
    RawConnection c(env().port());
    ASSERT_TRUE(c.Send(RawRequest("GET", "/v1/files/FILEA1", cases[i])));
    ExpectDenied(c.ReadResponse(), 401, "token_ambiguous");
    EXPECT_EQ(env().sidecar().upstream_count(), before);
  }
}

}  // namespace
}  // namespace pat::testing
