// wire_head.h against Beast's own serializer: for every kind of head the
// proxy writes whole (upstream requests, relayed responses, its own
// responses), the flattened bytes equal what beast::http::write produces.

#include "sidecar/wire_head.h"

#include <string>

#include "boost/beast/core/buffers_range.hpp"
#include "boost/beast/http/buffer_body.hpp"
#include "boost/beast/http/empty_body.hpp"
#include "boost/beast/http/message.hpp"
#include "boost/beast/http/serializer.hpp"
#include "boost/beast/http/string_body.hpp"
#include "boost/beast/http/write.hpp"
#include "gtest/gtest.h"

namespace pat::sidecar {
namespace {

namespace http = boost::beast::http;

template <bool kRequest, typename Body>
std::string BeastHead(http::message<kRequest, Body>& m) {
  http::serializer<kRequest, Body> sr(m);
  sr.split(true);
  boost::system::error_code ec;
  std::string out;
  while (!sr.is_header_done()) {
    sr.next(ec, [&](boost::system::error_code&, const auto& buffers) {
      std::size_t n = 0;
      for (const auto b : boost::beast::buffers_range_ref(buffers)) {
        out.append(static_cast<const char*>(b.data()), b.size());
        n += b.size();
      }
      sr.consume(n);
    });
    EXPECT_FALSE(ec);
  }
  return out;
}

template <typename Header>
std::string Flat(const Header& h) {
  std::string out;
  AppendWireHead(h, out);
  return out;
}

TEST(WireHeadTest, RequestEqualsBeast) {
  http::request<http::buffer_body> req;
  req.method_string("GET");
  req.target("/v1/files/abc?depth=1&ids=a,b");
  req.version(11);
  req.set(http::field::host, "api.example.test");
  req.set("X-Pat-Token-Id", "tok_1");
  req.insert("X-Custom", "one");
  req.insert("x-custom", "two");  // repeated, case kept
  req.set(http::field::user_agent, "npm/10.8.2 node/v20");
  req.content_length(12);
  req.body().data = nullptr;
  req.body().size = 0;
  req.body().more = false;
  EXPECT_EQ(Flat(req), BeastHead(req));
  EXPECT_TRUE(
      Flat(req).starts_with("GET /v1/files/abc?depth=1&ids=a,b HTTP/1.1\r\n"));
  EXPECT_TRUE(Flat(req).ends_with("Content-Length: 12\r\n\r\n"));
}

TEST(WireHeadTest, ExtensionMethodAndNoFields) {
  http::request<http::empty_body> req;
  req.method_string("PURGE");
  req.target("/");
  req.version(10);
  EXPECT_EQ(Flat(req), "PURGE / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(Flat(req), BeastHead(req));
}

TEST(WireHeadTest, ResponsesEqualBeast) {
  for (unsigned status : {200u, 204u, 304u, 401u, 403u, 429u, 502u, 299u}) {
    for (unsigned version : {10u, 11u}) {
      http::response<http::string_body> res;
      res.version(version);
      res.result(status);
      res.set(http::field::content_type, "application/json");
      res.set("X-Request-Id", "req-1");
      if (status != 204 && status != 304) res.body() = "{}";
      res.prepare_payload();
      res.keep_alive(version == 11);
      EXPECT_EQ(Flat(res), BeastHead(res)) << status << " " << version;
    }
  }
}

TEST(WireHeadTest, ReasonPhraseKeptOrFilledIn) {
  http::response<http::empty_body> res;
  res.version(11);
  res.result(200);
  res.reason("Fine");
  EXPECT_EQ(Flat(res), "HTTP/1.1 200 Fine\r\n\r\n");
  res.reason("");
  EXPECT_EQ(Flat(res), "HTTP/1.1 200 OK\r\n\r\n");
  res.result(299);  // no standard reason: Beast's placeholder, as Beast
  EXPECT_EQ(Flat(res), BeastHead(res));
}

}  // namespace
}  // namespace pat::sidecar
