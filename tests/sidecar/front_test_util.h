// Test helpers for the sidecar's HTTP front: a raw client that writes exact
// bytes and reads one response with a timeout, a scripted raw-socket
// upstream whose responses are written in parts with delays between them,
// and an authorizer whose decisions the test controls.
#ifndef PAT_TESTS_SIDECAR_FRONT_TEST_UTIL_H_
#define PAT_TESTS_SIDECAR_FRONT_TEST_UTIL_H_

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "common/policy/catalog.h"
#include "common/policy/reason.h"
#include "sidecar/authorizer.h"

namespace pat::sidecar::front_test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Response = http::response<http::string_body>;

inline std::string S(beast::string_view s) { return {s.data(), s.size()}; }

inline bool WaitFor(const std::function<bool()>& cond,
                    absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!cond()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

class TestClient {
 public:
  explicit TestClient(int port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                  static_cast<unsigned short>(port)));
  }
  error_code Send(absl::string_view bytes) {
    bool done = false;
    error_code result;
    asio::async_write(socket_, asio::buffer(bytes.data(), bytes.size()),
                      [&](error_code ec, size_t) {
                        result = ec;
                        done = true;
                      });
    if (!Run(done, std::chrono::seconds(20))) return asio::error::timed_out;
    return result;
  }
  std::optional<Response> Read(bool head = false,
                               std::chrono::seconds timeout =
                                   std::chrono::seconds(20)) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (head) parser.skip(true);
    bool done = false;
    error_code result;
    http::async_read(socket_, buffer_, parser, [&](error_code ec, size_t) {
      result = ec;
      done = true;
    });
    if (!Run(done, timeout) || result) return std::nullopt;
    return parser.release();
  }
  // True when the server closed the connection (EOF or reset), waiting up
  // to `timeout`.
  bool ClosedByPeer(int timeout_ms = 20000) {
    if (buffer_.size() > 0) return false;
    pollfd p{socket_.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char c;
    const ssize_t n =
        ::recv(socket_.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }
  int fd() { return socket_.native_handle(); }

 private:
  bool Run(bool& done, std::chrono::seconds timeout) {
    ioc_.restart();
    ioc_.run_for(timeout);
    if (!done) {
      error_code ec;
      socket_.cancel(ec);
      ioc_.restart();
      ioc_.run();
      return false;
    }
    return true;
  }
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

// An upstream on 127.0.0.1 that answers each request head (requests must
// have no body, or a Content-Length body) with the scripted parts, sleeping
// `gap` between parts, then closes if asked to. Records the request heads.
class ScriptedUpstream {
 public:
  struct Script {
    std::vector<std::string> parts;
    bool close_after = false;
  };

  explicit ScriptedUpstream(absl::Duration gap = absl::Milliseconds(2))
      : gap_(gap) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(listen_fd_, 64);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~ScriptedUpstream() {
    stop_.store(true);
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    accept_thread_.join();
    std::vector<std::thread> threads;
    {
      absl::MutexLock lock(&mu_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
      threads.swap(threads_);
    }
    for (std::thread& t : threads) t.join();
  }

  int port() const { return port_; }
  void SetScript(Script script) {
    absl::MutexLock lock(&mu_);
    script_ = std::move(script);
  }
  std::vector<std::string> heads() const {
    absl::MutexLock lock(&mu_);
    return heads_;
  }
  std::string last_head() const {
    absl::MutexLock lock(&mu_);
    return heads_.empty() ? "" : heads_.back();
  }
  std::string last_body() const {
    absl::MutexLock lock(&mu_);
    return last_body_;
  }

 private:
  void AcceptLoop() {
    while (!stop_.load()) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) {
        if (stop_.load()) return;
        continue;
      }
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      absl::MutexLock lock(&mu_);
      open_fds_.push_back(fd);
      threads_.emplace_back([this, fd] { Serve(fd); });
    }
  }
  // Reads one request (head and a Content-Length body); false on EOF.
  bool ReadRequest(int fd, std::string& pending) {
    std::size_t end;
    char buf[4096];
    while ((end = pending.find("\r\n\r\n")) == std::string::npos) {
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return false;
      pending.append(buf, static_cast<size_t>(n));
    }
    std::string head = pending.substr(0, end + 4);
    std::size_t length = 0;
    const std::size_t cl = absl::AsciiStrToLower(head).find("content-length:");
    if (cl != std::string::npos) length = std::stoul(head.substr(cl + 15));
    while (pending.size() < end + 4 + length) {
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return false;
      pending.append(buf, static_cast<size_t>(n));
    }
    absl::MutexLock lock(&mu_);
    heads_.push_back(head);
    last_body_ = pending.substr(end + 4, length);
    pending.erase(0, end + 4 + length);
    return true;
  }
  void Serve(int fd) {
    std::string pending;
    while (ReadRequest(fd, pending)) {
      Script script;
      {
        absl::MutexLock lock(&mu_);
        script = script_;
      }
      bool first = true;
      for (const std::string& part : script.parts) {
        if (!first) absl::SleepFor(gap_);  // the behaviour under test
        first = false;
        ::send(fd, part.data(), part.size(), MSG_NOSIGNAL);
      }
      if (script.close_after) break;
    }
    ::shutdown(fd, SHUT_RDWR);
    absl::MutexLock lock(&mu_);
    std::erase(open_fds_, fd);
    ::close(fd);
  }

  const absl::Duration gap_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
  mutable absl::Mutex mu_;
  Script script_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> heads_ ABSL_GUARDED_BY(mu_);
  std::string last_body_ ABSL_GUARDED_BY(mu_);
  std::vector<int> open_fds_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

// An authorizer the test drives: allows every request (token "tok", plan
// "plan"), except that decisions for targets starting with `hold_prefix`
// are parked until Release() completes them from another thread. Records
// each request's credentials and body.
class ControlledAuthorizer : public Authorizer {
 public:
  struct Seen {
    std::string target;
    std::vector<std::pair<std::string, std::string>> credentials;
    std::string body;
    bool has_body = false;
  };

  void Authorize(const RequestView& request, AuthorizeCallback done) override {
    Seen seen{std::string(request.target), {}, std::string(request.body),
              request.has_body};
    for (const auto& [name, value] : request.credentials) {
      seen.credentials.emplace_back(std::string(name), std::string(value));
    }
    AuthzResult r;
    if (request.credentials.size() > 1) {
      r.reason = policy::Reason::kTokenAmbiguous;
    } else if (request.credentials.empty()) {
      r.reason = policy::Reason::kTokenMissing;
    } else {
      r.reason = policy::Reason::kAllowed;
      r.token_id = "tok";
      r.plan_id = "plan";
      r.endpoint = endpoint_;
    }
    r.http_status = policy::ReasonHttpStatus(r.reason);
    {
      absl::MutexLock lock(&mu_);
      seen_.push_back(std::move(seen));
      if (!hold_prefix_.empty() &&
          absl::StartsWith(request.target, hold_prefix_)) {
        held_.emplace_back(std::move(done), std::move(r));
        return;
      }
    }
    std::move(done)(std::move(r));
  }
  bool WantsBody(absl::string_view, absl::string_view target) const override {
    return absl::StartsWith(target, "/body");
  }
  bool Ready() const override { return true; }

  void set_hold_prefix(std::string prefix) {
    absl::MutexLock lock(&mu_);
    hold_prefix_ = std::move(prefix);
  }
  void set_endpoint(const policy::Endpoint* e) { endpoint_ = e; }
  size_t held() const {
    absl::MutexLock lock(&mu_);
    return held_.size();
  }
  // Completes every parked decision from a new thread (joined here).
  void Release() {
    std::vector<std::pair<AuthorizeCallback, AuthzResult>> held;
    {
      absl::MutexLock lock(&mu_);
      held.swap(held_);
    }
    std::thread([&held] {
      for (auto& [done, r] : held) std::move(done)(std::move(r));
    }).join();
  }
  std::vector<Seen> seen() const {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

 private:
  mutable absl::Mutex mu_;
  std::string hold_prefix_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<AuthorizeCallback, AuthzResult>> held_
      ABSL_GUARDED_BY(mu_);
  std::vector<Seen> seen_ ABSL_GUARDED_BY(mu_);
  const policy::Endpoint* endpoint_ = nullptr;
};

}  // namespace pat::sidecar::front_test

#endif  // PAT_TESTS_SIDECAR_FRONT_TEST_UTIL_H_
