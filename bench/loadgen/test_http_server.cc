#include "bench/loadgen/test_http_server.h"

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"

namespace pat::bench::loadgen::test_support {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct TestHttpServer::State {
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  int port = 0;
  std::thread thread;
  // Sessions of /hang requests, kept alive until shutdown (server thread).
  std::vector<std::shared_ptr<void>> hung;

  mutable absl::Mutex mu;
  uint64_t requests ABSL_GUARDED_BY(mu) = 0;
  uint64_t connections ABSL_GUARDED_BY(mu) = 0;
  std::map<std::string, uint64_t> headers ABSL_GUARDED_BY(mu);
  std::map<std::string, uint64_t> paths ABSL_GUARDED_BY(mu);
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(TestHttpServer::State* state, tcp::socket socket)
      : state_(state), socket_(std::move(socket)), timer_(state->io) {}

  void Read() {
    request_ = {};
    http::async_read(
        socket_, buffer_, request_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) {
          if (!ec) self->Handle();
        });
  }

 private:
  void Handle() {
    const std::string target(request_.target());
    {
      absl::MutexLock lock(&state_->mu);
      ++state_->requests;
      ++state_->paths[target];
      for (const auto& field : request_) {
        ++state_->headers[absl::StrCat(
            absl::AsciiStrToLower(std::string(field.name_string())), ": ",
            std::string(field.value()))];
      }
    }
    response_ = {};
    response_.version(11);
    response_.result(http::status::ok);
    response_.set(http::field::content_type, "text/plain");
    response_.body() = "ok";
    response_.keep_alive(request_.keep_alive());

    int number = 0;
    if (absl::StartsWith(target, "/status/") &&
        absl::SimpleAtoi(target.substr(8), &number) && number > 100 &&
        number <= 999) {
      response_.result(static_cast<unsigned>(number));
    } else if (target == "/close") {
      response_.keep_alive(false);
    } else if (target == "/chunked") {
      response_.chunked(true);
      response_.body() = std::string(1000, 'x');
    } else if (target == "/hang") {
      state_->hung.push_back(shared_from_this());
      return;
    } else if (absl::StartsWith(target, "/delay/") &&
               absl::SimpleAtoi(target.substr(7), &number)) {
      timer_.expires_after(std::chrono::milliseconds(number));
      timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (!ec) self->Write();
      });
      return;
    }
    Write();
  }

  void Write() {
    const unsigned status = response_.result_int();
    if (status == 204 || status == 304) response_.body().clear();
    response_.prepare_payload();
    // HEAD: the Content-Length of the body that would have been sent, and
    // no body.
    if (request_.method() == http::verb::head) response_.body().clear();
    http::async_write(
        socket_, response_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) {
          if (ec) return;
          if (!self->response_.keep_alive()) {
            beast::error_code ignored;
            self->socket_.shutdown(tcp::socket::shutdown_send, ignored);
            return;
          }
          self->Read();
        });
  }

  TestHttpServer::State* state_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

void Accept(TestHttpServer::State* state) {
  state->acceptor.async_accept(
      [state](beast::error_code ec, tcp::socket socket) {
        if (ec) return;
        {
          absl::MutexLock lock(&state->mu);
          ++state->connections;
        }
        std::make_shared<Session>(state, std::move(socket))->Read();
        Accept(state);
      });
}

}  // namespace

TestHttpServer::TestHttpServer() : state_(std::make_unique<State>()) {
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  state_->acceptor.open(endpoint.protocol());
  state_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  state_->acceptor.bind(endpoint);
  state_->acceptor.listen();
  state_->port = state_->acceptor.local_endpoint().port();
  Accept(state_.get());
  state_->thread = std::thread([this] { state_->io.run(); });
}

TestHttpServer::~TestHttpServer() {
  asio::post(state_->io, [state = state_.get()] {
    beast::error_code ignored;
    state->acceptor.close(ignored);
    state->hung.clear();
    state->io.stop();
  });
  state_->thread.join();
}

int TestHttpServer::port() const { return state_->port; }

uint64_t TestHttpServer::requests() const {
  absl::MutexLock lock(&state_->mu);
  return state_->requests;
}

uint64_t TestHttpServer::connections() const {
  absl::MutexLock lock(&state_->mu);
  return state_->connections;
}

uint64_t TestHttpServer::HeaderCount(const std::string& name_and_value) const {
  absl::MutexLock lock(&state_->mu);
  auto it = state_->headers.find(name_and_value);
  return it == state_->headers.end() ? 0 : it->second;
}

std::map<std::string, uint64_t> TestHttpServer::Paths() const {
  absl::MutexLock lock(&state_->mu);
  return state_->paths;
}

}  // namespace pat::bench::loadgen::test_support
