#include "server/webhooks/http_sender.h"

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"

namespace pat::webhooks {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr size_t kMaxResponseBytes = 64 * 1024;

// One exchange; keeps itself alive through its handlers.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(asio::io_context& io, HttpRequest request, absl::Duration deadline,
           std::function<void(SendResult)> done)
      : resolver_(io),
        stream_(io),
        request_(std::move(request)),
        deadline_(deadline),
        done_(std::move(done)) {}

  void Start() {
    stream_.expires_after(absl::ToChronoMilliseconds(deadline_));
    // The resolver has no timer of its own: the stream's expiry closes the
    // socket, and a timer below cancels a slow resolve.
    timer_ = std::make_unique<asio::steady_timer>(stream_.get_executor());
    timer_->expires_after(absl::ToChronoMilliseconds(deadline_));
    timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->resolver_.cancel();
    });
    resolver_.async_resolve(
        request_.target.host, request_.target.port,
        [self = shared_from_this()](beast::error_code ec,
                                    tcp::resolver::results_type results) {
          if (ec) return self->Finish(false, Describe("resolve", ec));
          self->stream_.async_connect(
              results, [self](beast::error_code ec, const tcp::endpoint&) {
                if (ec) return self->Finish(false, Describe("connect", ec));
                self->Write();
              });
        });
  }

 private:
  static std::string Describe(absl::string_view step, beast::error_code ec) {
    if (ec == beast::error::timeout || ec == asio::error::operation_aborted) {
      return "timeout";
    }
    return absl::StrCat(step, ": ", ec.message());
  }

  void Write() {
    req_.method(http::verb::post);
    req_.target(request_.target.target);
    req_.version(11);
    req_.set(http::field::host, request_.target.host);
    req_.set(http::field::user_agent, "pat-authority-webhooks");
    req_.set(http::field::content_type, "application/json");
    req_.set(http::field::connection, "close");
    for (const auto& [name, value] : request_.headers) req_.set(name, value);
    req_.body() = request_.body;
    req_.prepare_payload();
    http::async_write(
        stream_, req_,
        [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return self->Finish(false, Describe("write", ec));
          self->Read();
        });
  }

  void Read() {
    parser_.body_limit(kMaxResponseBytes);
    parser_.header_limit(kMaxResponseBytes);
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->Finish(false, Describe("read", ec));
                       const unsigned status = self->parser_.get().result_int();
                       if (status >= 200 && status < 300)
                         return self->Finish(true, "");
                       self->Finish(false, absl::StrCat("http ", status));
                     });
  }

  void Finish(bool ok, std::string error) {
    if (finished_) return;
    finished_ = true;
    timer_->cancel();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    done_(SendResult{ok, std::move(error)});
  }

  tcp::resolver resolver_;
  beast::tcp_stream stream_;
  std::unique_ptr<asio::steady_timer> timer_;
  HttpRequest request_;
  absl::Duration deadline_;
  std::function<void(SendResult)> done_;
  http::request<http::string_body> req_;
  beast::flat_buffer buffer_{kMaxResponseBytes};
  http::response_parser<http::string_body> parser_;
  bool finished_ = false;
};

}  // namespace

HttpSender::HttpSender()
    : work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}

HttpSender::~HttpSender() {
  work_.reset();
  io_.stop();
  thread_.join();
}

void HttpSender::Post(HttpRequest request, absl::Duration deadline,
                      std::function<void(SendResult)> done) {
  asio::post(io_, [this, request = std::move(request), deadline,
                   done = std::move(done)]() mutable {
    std::make_shared<Exchange>(io_, std::move(request), deadline,
                               std::move(done))
        ->Start();
  });
}

}  // namespace pat::webhooks
