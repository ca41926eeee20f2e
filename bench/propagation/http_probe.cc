#include "bench/propagation/http_probe.h"

#include <chrono>
#include <cstddef>
#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/asio/error.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/http.hpp"

namespace pat::bench {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// Proxy answers (the sample upstream's echo, error bodies) are small.
constexpr size_t kMaxBodyBytes = 1 << 20;

}  // namespace

HttpProbe::HttpProbe(std::string address, absl::Duration timeout)
    : address_(std::move(address)), timeout_(timeout), stream_(ioc_) {
  const size_t colon = address_.rfind(':');
  if (colon != std::string::npos) {
    host_ = address_.substr(0, colon);
    port_ = address_.substr(colon + 1);
  }
}

void HttpProbe::Close() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
  buffer_.clear();
  connected_ = false;
}

absl::Status HttpProbe::Connect() {
  if (host_.empty() || port_.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("sidecar: expected host:port, got \"", address_, "\""));
  }
  beast::error_code ec;
  tcp::resolver resolver(ioc_);
  const tcp::resolver::results_type endpoints =
      resolver.resolve(host_, port_, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("sidecar: cannot resolve ", address_, ": ", ec.message()));
  }
  ec = net::error::would_block;
  stream_.expires_after(absl::ToChronoMilliseconds(timeout_));
  stream_.async_connect(
      endpoints, [&ec](beast::error_code e, const tcp::endpoint&) { ec = e; });
  ioc_.restart();
  ioc_.run();
  if (ec) {
    Close();
    return absl::UnavailableError(absl::StrCat("sidecar: cannot connect to ",
                                               address_, ": ", ec.message()));
  }
  stream_.socket().set_option(tcp::no_delay(true), ec);
  connected_ = true;
  return absl::OkStatus();
}

absl::StatusOr<HttpProbe::Response> HttpProbe::RoundTrip(
    absl::string_view target, absl::string_view bearer) {
  http::request<http::empty_body> request(
      http::verb::get, beast::string_view(target.data(), target.size()), 11);
  request.set(http::field::host, address_);
  request.set(http::field::authorization, absl::StrCat("Bearer ", bearer));
  request.set(http::field::user_agent, "pat-bench-propagation");
  request.keep_alive(true);

  beast::error_code ec = RunToCompletion(
      [&](auto done) { http::async_write(stream_, request, std::move(done)); });
  if (ec) {
    Close();
    return absl::UnavailableError(
        absl::StrCat("sidecar: write failed: ", ec.message()));
  }

  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBodyBytes);
  ec = RunToCompletion([&](auto done) {
    http::async_read(stream_, buffer_, parser, std::move(done));
  });
  if (ec) {
    Close();
    return absl::UnavailableError(
        absl::StrCat("sidecar: read failed: ", ec.message()));
  }
  http::response<http::string_body> response = parser.release();
  if (!response.keep_alive()) Close();
  return Response{static_cast<int>(response.result_int()),
                  std::move(response.body())};
}

absl::StatusOr<HttpProbe::Response> HttpProbe::Get(absl::string_view target,
                                                   absl::string_view bearer) {
  const bool reused = connected_;
  if (!connected_) {
    absl::Status connected = Connect();
    if (!connected.ok()) return connected;
  }
  absl::StatusOr<Response> response = RoundTrip(target, bearer);
  if (response.ok() || !reused) return response;
  // The server may have closed an idle keep-alive connection: one retry on a
  // fresh connection (GET is idempotent).
  absl::Status connected = Connect();
  if (!connected.ok()) return connected;
  return RoundTrip(target, bearer);
}

}  // namespace pat::bench
