#include "sidecar/front_fuzz_entry.h"

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "boost/asio/buffer.hpp"
#include "boost/beast/http.hpp"
#include "sidecar/credentials.h"
#include "sidecar/front_text.h"
#include "sidecar/header_rewrite.h"
#include "sidecar/request_head.h"
#include "sidecar/response_shaping.h"
#include "sidecar/wire_head.h"

namespace pat::sidecar {
namespace {

namespace http = boost::beast::http;

// Aborts (the fuzzer's crash) when an invariant fails, naming its line.
void Require(bool invariant, int line = __builtin_LINE()) {
  if (invariant) return;
  std::fprintf(stderr, "front_fuzz_entry.cc:%d: invariant violated\n", line);
  std::abort();
}

template <typename Message>
std::string Serialize(const Message& m) {
  std::ostringstream out;
  out << m.base();
  return std::move(out).str();
}

// The body after a valid head, parsed like the front does (bounded).
void ParseBody(http::request_parser<http::empty_body>& head,
               absl::string_view rest) {
  http::request_parser<http::buffer_body> parser(std::move(head));
  char buf[4096];
  boost::system::error_code ec;
  while (!parser.is_done() && !rest.empty()) {
    parser.get().body().data = buf;
    parser.get().body().size = sizeof(buf);
    const std::size_t used =
        parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
    rest.remove_prefix(used);
    if (ec == http::error::need_buffer) ec = {};
    if (ec || used == 0) break;
  }
}

void ResponseSide(absl::string_view bytes) {
  http::response_parser<http::empty_body> rp;
  rp.eager(false);
  boost::system::error_code ec;
  rp.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  if (!rp.is_header_done()) return;
  http::response<http::empty_body> out;
  RewriteResponseHeaders(rp.get(), out);
  Require(!internal::ContainsSecretShaped(Serialize(out)));
  // The client's head, written straight to bytes and through a Beast
  // message for the serializer, is the same head.
  for (const bool keep : {false, true}) {
    for (const unsigned version : {10u, 11u}) {
      const BodyFraming framing =
          keep ? BodyFraming::Length(bytes.size()) : BodyFraming::Chunked();
      std::string wire;
      WireHeadWriter w(wire);
      WriteClientResponseHead(rp.get(), version, framing, "rid", keep, w);
      w.End();
      http::response<http::empty_body> m;
      MessageSink sink(m);
      WriteClientResponseHead(rp.get(), version, framing, "rid", keep, sink);
      Require(wire == Serialize(m));
      Require(m.keep_alive() == keep);
      Require(!internal::ContainsSecretShaped(wire));
    }
  }
}

void RequestSide(absl::string_view bytes) {
  internal::RequestHeadScanner scanner;
  if (scanner.Scan(bytes) !=
      internal::RequestHeadScanner::Result::kComplete) {
    return;
  }
  const absl::string_view head =
      bytes.substr(scanner.head_begin(), scanner.head_end() - scanner.head_begin());
  http::request_parser<http::empty_body> hp;
  hp.eager(false);
  boost::system::error_code ec;
  const std::size_t used = hp.put(boost::asio::buffer(head.data(), head.size()), ec);
  if (ec || !hp.is_header_done() || used != head.size()) return;
  const auto& req = hp.get();
  const std::string request_id = RequestIdFor(req);
  Require(!internal::ContainsSecretShaped(request_id));
  if (std::optional<HeadRefusal> r = CheckRequestHead(req)) {
    const LocalResponse res = RenderRefusal(
        Refusal{r->reason, std::string(r->detail)}, policy::ErrorStyle::kAB,
        request_id, req.version(), false);
    Require(!internal::ContainsSecretShaped(Serialize(res) + res.body()));
    return;
  }
  static const std::vector<std::string> known =
      KnownCredentialHeaders({"x-api-key"});
  const CollectedCredentials credentials = CollectCredentials(req, known);
  if (credentials.stray_secret) return;  // 401 token_ambiguous
  http::request<http::empty_body> up;
  up.method_string(req.method_string());
  up.target(req.target());
  RewriteRequestHeaders(req, RewritePolicy{known, {}},
                        UpstreamIdentity{"tok", "plan", request_id,
                                         "127.0.0.1", "upstream:80"},
                        up);
  const std::string upstream_head = Serialize(up);
  Require(!internal::ContainsSecretShaped(upstream_head));
  // The head as the proxy writes it (no second `fields`) is the same bytes
  // as the one the serializer of a streamed body writes.
  const RewritePolicy policy{known, {}};
  const UpstreamIdentity identity{"tok", "plan", request_id, "127.0.0.1",
                                  "upstream:80"};
  const BodyFraming framing = BodyFraming::Length(head.size());
  std::string wire;
  WireHeadWriter w(wire);
  WriteUpstreamRequestHead(req, policy, identity, framing, w);
  w.End();
  http::request<http::empty_body> m;
  MessageSink sink(m);
  WriteUpstreamRequestHead(req, policy, identity, framing, sink);
  Require(wire == Serialize(m));
  Require(!internal::ContainsSecretShaped(wire));
  ParseBody(hp, bytes.substr(scanner.head_end()));
}

}  // namespace

int FuzzHttpFront(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  RequestSide(bytes);
  ResponseSide(bytes);
  return 0;
}

}  // namespace pat::sidecar
