// Issue #8 item 1, as a class: whatever point the upstream's response is
// split at between two writes (a delay between them, so the proxy's first
// read ends there), the client gets the same response. Shapes: chunked with
// chunk extensions and trailers, many small chunks, Content-Length,
// close-delimited (HTTP/1.0 and Connection: close), HEAD, 204, 304, and 1xx
// interim responses before the final one.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sidecar/metrics.h"
#include "sidecar/proxy_server.h"
#include "sidecar/upstream_pool.h"
#include "tests/sidecar/front_test_util.h"

namespace pat::sidecar {
namespace {

using front_test::Response;
using front_test::S;
using front_test::ScriptedUpstream;
using front_test::TestClient;
namespace http = boost::beast::http;

struct Shape {
  std::string name;
  std::string method;
  std::string response;
  bool close_after;
  unsigned status;
  std::string body;
};

std::vector<Shape> Shapes() {
  return {
      {"chunked_extensions_trailers", "GET",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n"
       "Content-Type: text/plain\r\n\r\n"
       "5;ext=1\r\nhello\r\n6;a=\"b c\";d\r\n world\r\n0\r\nX-Sum: 11\r\n\r\n",
       false, 200, "hello world"},
      {"chunked_small_chunks", "GET",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
       "1\r\na\r\n2\r\nbc\r\nA\r\n0123456789\r\n0\r\n\r\n",
       false, 200, "abc0123456789"},
      {"content_length", "GET",
       "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n"
       "\r\nhello world",
       false, 200, "hello world"},
      {"http10_close_delimited", "GET",
       "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello world", true,
       200, "hello world"},
      {"connection_close_delimited", "GET",
       "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello world", true, 200,
       "hello world"},
      {"head", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", false,
       200, ""},
      {"no_content_204", "GET", "HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n",
       false, 204, ""},
      {"not_modified_304", "GET",
       "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", false, 304, ""},
      {"interim_1xx", "GET",
       "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"
       "Link: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
       "hello",
       false, 200, "hello"},
  };
}

class AllowAll : public Authorizer {
 public:
  void Authorize(const RequestView&, AuthorizeCallback done) override {
    AuthzResult r;
    r.reason = policy::Reason::kAllowed;
    r.http_status = 200;
    r.token_id = "tok";
    r.plan_id = "plan";
    std::move(done)(std::move(r));
  }
  bool WantsBody(absl::string_view, absl::string_view) const override {
    return false;
  }
  bool Ready() const override { return true; }
};

TEST(FrontUpstreamSplitTest, EverySplitPointOfEveryShapeIsRelayedIntact) {
  ScriptedUpstream upstream;
  auto pool = UpstreamPool::Create(
      absl::StrCat("http://127.0.0.1:", upstream.port()), 8);
  ASSERT_TRUE(pool.ok());
  MetricsRegistry metrics;
  AllowAll authorizer;
  ProxyServerConfig config;
  config.listen = "127.0.0.1:0";
  config.workers = 2;
  config.access_log = false;
  auto proxy = ProxyServer::Create(config, authorizer, **pool, metrics);
  ASSERT_TRUE(proxy.ok()) << proxy.status();

  for (const Shape& shape : Shapes()) {
    const std::string& bytes = shape.response;
    for (size_t split = 0; split < bytes.size(); ++split) {
      ScriptedUpstream::Script script;
      script.close_after = shape.close_after;
      script.parts = split == 0 ? std::vector<std::string>{bytes}
                                : std::vector<std::string>{
                                      bytes.substr(0, split),
                                      bytes.substr(split)};
      upstream.SetScript(script);
      TestClient client((*proxy)->port());
      ASSERT_FALSE(client.Send(absl::StrCat(
          shape.method,
          " /split HTTP/1.1\r\nHost: api.example\r\n"
          "Authorization: Bearer x\r\n\r\n")));
      std::optional<Response> r = client.Read(shape.method == "HEAD");
      ASSERT_TRUE(r.has_value()) << shape.name << " split at " << split;
      EXPECT_EQ(r->result_int(), shape.status)
          << shape.name << " split at " << split << ": " << r->body();
      EXPECT_EQ(r->body(), shape.body) << shape.name << " split at " << split;
      if (shape.method == "HEAD") {
        EXPECT_EQ(S((*r)[http::field::content_length]), "11") << split;
      }
      if (::testing::Test::HasFailure()) return;  // one report per class
    }
  }
  EXPECT_EQ(metrics.RenderPrometheus().find(
                "pat_sidecar_upstream_errors_total 0\n") == std::string::npos,
            false);
}

}  // namespace
}  // namespace pat::sidecar
