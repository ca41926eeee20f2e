// wire_head.h against Beast's own serializer: for every kind of head the
// proxy writes whole (upstream requests, relayed responses, its own
// responses), the flattened bytes equal what beast::http::write produces.

#include "sidecar/wire_head.h"

#include <string>
#include <vector>

#include "boost/beast/core/buffers_range.hpp"
#include "boost/beast/http/buffer_body.hpp"
#include "boost/beast/http/empty_body.hpp"
#include "boost/beast/http/message.hpp"
#include "boost/beast/http/parser.hpp"
#include "boost/beast/http/serializer.hpp"
#include "boost/beast/http/string_body.hpp"
#include "boost/beast/http/write.hpp"
#include "gtest/gtest.h"
#include "sidecar/header_rewrite.h"

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

// The pass-through head: written from the parsed head straight to bytes
// (WireHeadWriter), or into a Beast message (MessageSink) for a streamed
// body's serializer; both equal Beast's serializer's bytes for the message.
template <bool kRequest>
http::message<kRequest, http::empty_body> Parsed(const std::string& head) {
  http::parser<kRequest, http::empty_body> p;
  p.eager(false);
  boost::system::error_code ec;
  p.put(boost::asio::buffer(head), ec);
  EXPECT_FALSE(ec) << head;
  EXPECT_TRUE(p.is_header_done());
  return p.release();
}

TEST(PassThroughHeadTest, RequestBytesEqualTheMessageAndBeast) {
  const std::vector<std::string> known = {"authorization", "x-figma-token"};
  const std::vector<std::string> heads = {
      "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET /v1/files/k?x=1 HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer "
      "x\r\nAccept: */*\r\nX-Custom: one\r\nx-custom: two\r\n"
      "Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nX-Forwarded-For: "
      "10.0.0.9\r\nX-Pat-Token-Id: forged\r\n\r\n",
      "POST /v1/x HTTP/1.0\r\nContent-Length: 4\r\nExpect: 100-continue\r\n"
      "\r\n",
      "PUT /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTE: "
      "trailers\r\nX-Forwarded-Host: evil\r\n\r\n",
  };
  const std::vector<BodyFraming> framings = {{},
                                             BodyFraming::Length(0),
                                             BodyFraming::Length(12345),
                                             BodyFraming::Chunked()};
  for (const std::string& head : heads) {
    const auto req = Parsed<true>(head);
    for (const BodyFraming& framing : framings) {
      const UpstreamIdentity identity{"tok_1", "plan_1", "rid-1", "127.0.0.2",
                                      "upstream:80"};
      std::string wire;
      WireHeadWriter w(wire);
      WriteUpstreamRequestHead(req, RewritePolicy{known, {}}, identity, framing,
                               w);
      w.End();
      http::request<http::buffer_body> m;
      MessageSink sink(m);
      WriteUpstreamRequestHead(req, RewritePolicy{known, {}}, identity, framing,
                               sink);
      m.body().more = false;
      EXPECT_EQ(wire, BeastHead(m)) << head;
      EXPECT_EQ(m.version(), 11u);
      EXPECT_EQ(m.chunked(), framing.kind == BodyFraming::Kind::kChunked);
      EXPECT_EQ(m.find(http::field::authorization), m.end());
      EXPECT_EQ(std::string(m["X-Pat-Token-Id"]), "tok_1");
      EXPECT_EQ(m.count(http::field::content_length),
                framing.kind == BodyFraming::Kind::kLength ? 1u : 0u);
      EXPECT_EQ(m.count(http::field::host), 1u);
    }
  }
}

TEST(PassThroughHeadTest, ResponseBytesEqualTheMessageAndBeast) {
  const std::vector<std::string> heads = {
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n"
      "\r\n",
      "HTTP/1.1 200 Fine\r\nTransfer-Encoding: chunked\r\nConnection: close, "
      "X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nX-Request-Id: "
      "up-1\r\n\r\n",
      "HTTP/1.0 304 \r\nContent-Length: 99\r\nETag: \"e\"\r\n\r\n",
      "HTTP/1.1 299 Odd\r\n\r\n",
  };
  const std::vector<BodyFraming> framings = {{},
                                             BodyFraming::Length(2),
                                             BodyFraming::Verbatim("99"),
                                             BodyFraming::Chunked()};
  for (const std::string& head : heads) {
    const auto up = Parsed<false>(head);
    for (const BodyFraming& framing : framings) {
      for (const unsigned version : {10u, 11u}) {
        for (const bool keep : {false, true}) {
          std::string wire;
          WireHeadWriter w(wire);
          WriteClientResponseHead(up, version, framing, "rid-2", keep, w);
          w.End();
          http::response<http::buffer_body> m;
          MessageSink sink(m);
          WriteClientResponseHead(up, version, framing, "rid-2", keep, sink);
          m.body().more = false;
          EXPECT_EQ(wire, BeastHead(m)) << head;
          EXPECT_EQ(m.version(), version);
          EXPECT_EQ(m.result_int(), up.result_int());
          EXPECT_EQ(m.keep_alive(), keep) << head << version;
          EXPECT_EQ(m.count("X-Request-Id"), 1u);
          EXPECT_EQ(m.count("X-Hop"), 0u);
          EXPECT_EQ(m.count(http::field::keep_alive), 0u);
          const bool upstream_id = up.count("X-Request-Id") > 0;
          EXPECT_EQ(std::string(m["X-Request-Id"]),
                    upstream_id ? "up-1" : "rid-2");
        }
      }
    }
  }
}

}  // namespace
}  // namespace pat::sidecar
