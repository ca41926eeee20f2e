#include "tests/support/webhook_receiver.h"

#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "boost/asio/ip/address.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "gtest/gtest.h"

namespace pat::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

void WebhookReceiver::Start() {
  io_ = std::make_unique<asio::io_context>();
  acceptor_ = std::make_unique<tcp::acceptor>(*io_);
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"),
                   static_cast<unsigned short>(port_));
  beast::error_code ec;
  acceptor_->open(ep.protocol(), ec);
  ASSERT_FALSE(ec) << ec.message();
  acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  acceptor_->bind(ep, ec);
  ASSERT_FALSE(ec) << ec.message();
  acceptor_->listen(64, ec);
  ASSERT_FALSE(ec) << ec.message();
  port_ = acceptor_->local_endpoint().port();
  Accept();
  thread_ = std::thread([this] { io_->run(); });
}

void WebhookReceiver::Stop() {
  if (io_ == nullptr) return;
  asio::post(*io_, [this] {
    beast::error_code ignored;
    acceptor_->close(ignored);
  });
  thread_.join();
  acceptor_.reset();
  io_.reset();
}

std::string WebhookReceiver::url(const std::string& path) const {
  return absl::StrCat("http://127.0.0.1:", port_, path);
}

void WebhookReceiver::FailNext(int count, int status) {
  absl::MutexLock lock(&mu_);
  fail_count_ = count;
  fail_status_ = status;
}

std::vector<WebhookReceiver::Request> WebhookReceiver::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

bool WebhookReceiver::WaitFor(
    const std::function<bool(const std::vector<Request>&)>& done,
    absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done(requests())) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return done(requests());
}

void WebhookReceiver::Accept() {
  acceptor_->async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) return;  // closed
    Serve(std::move(socket));
    Accept();
  });
}

// Synchronous on the I/O thread: requests are small and come from loopback.
void WebhookReceiver::Serve(tcp::socket socket) {
  beast::flat_buffer buffer;
  http::request<http::string_body> req;
  beast::error_code ec;
  http::read(socket, buffer, req, ec);
  if (ec) return;
  Request r;
  r.signature = std::string(req["X-Pat-Signature"]);
  r.event_type = std::string(req["X-Pat-Event-Type"]);
  r.idempotency_key = std::string(req["X-Pat-Idempotency-Key"]);
  r.attempt = std::string(req["X-Pat-Delivery-Attempt"]);
  r.body = req.body();
  int status = 200;
  {
    absl::MutexLock lock(&mu_);
    requests_.push_back(std::move(r));
    if (fail_count_ > 0) {
      --fail_count_;
      status = fail_status_;
    }
  }
  http::response<http::string_body> res(static_cast<http::status>(status), 11);
  res.set(http::field::connection, "close");
  res.body() = "ok";
  res.prepare_payload();
  http::write(socket, res, ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
}

}  // namespace pat::testing
