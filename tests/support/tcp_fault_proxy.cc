#include "tests/support/tcp_fault_proxy.h"

#include <array>
#include <cstdint>
#include <functional>
#include <future>
#include <random>
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
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/write.hpp"
#include "gtest/gtest.h"

namespace pat::testing {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr uint32_t kSslRequestCode = 80877103;
constexpr uint32_t kGssEncRequestCode = 80877104;
constexpr auto kCutFallback = std::chrono::seconds(5);

uint32_t Be32(const std::string& b, size_t at) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(b[at])) << 24) |
         (static_cast<uint32_t>(static_cast<unsigned char>(b[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<unsigned char>(b[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<unsigned char>(b[at + 3]));
}

// The statement text of a 'Q' or 'P' message body ("" for other types).
std::string StatementText(char type, absl::string_view body) {
  if (type == 'P') {
    const size_t name_end = body.find('\0');
    if (name_end == absl::string_view::npos) return "";
    body.remove_prefix(name_end + 1);
  } else if (type != 'Q') {
    return "";
  }
  const size_t end = body.find('\0');
  return std::string(body.substr(0, end));
}

bool IsCommit(absl::string_view text) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  while (!t.empty() && t.back() == ';') {
    t.remove_suffix(1);
    t = absl::StripAsciiWhitespace(t);
  }
  return absl::EqualsIgnoreCase(t, "COMMIT") ||
         absl::EqualsIgnoreCase(t, "END");
}

bool IsBegin(absl::string_view text) {
  absl::string_view t = absl::StripLeadingAsciiWhitespace(text);
  return absl::StartsWithIgnoreCase(t, "BEGIN") ||
         absl::StartsWithIgnoreCase(t, "START TRANSACTION");
}

}  // namespace

struct TcpFaultProxy::Impl : std::enable_shared_from_this<Impl> {
  // Fault settings, read by the proxy thread for every chunk.
  struct Settings {
    absl::Duration latency = absl::ZeroDuration();
    absl::Duration jitter = absl::ZeroDuration();
    bool stalled = false;
    bool refuse = false;
    int target_port = 0;
    int cuts_armed = 0;
    std::string cut_must_contain;
    int commits_cut = 0;
    int accepted = 0;
  };

  class Pair;

  Impl() : work(asio::make_work_guard(ioc)), acceptor(ioc) {}

  Settings Snapshot() {
    absl::MutexLock lock(&mu);
    return settings;
  }

  // Proxy thread: the delay of one chunk.
  std::chrono::microseconds NextDelay() {
    const Settings s = Snapshot();
    int64_t us = absl::ToInt64Microseconds(s.latency);
    const int64_t j = absl::ToInt64Microseconds(s.jitter);
    if (j > 0) us += std::uniform_int_distribution<int64_t>(-j, j)(rng);
    return std::chrono::microseconds(us < 0 ? 0 : us);
  }

  // Proxy thread: runs `fn` now, or when the stall ends.
  void WhenNotStalled(std::function<void()> fn) {
    if (Snapshot().stalled) {
      parked.push_back(std::move(fn));
      return;
    }
    fn();
  }

  // Proxy thread: whether a COMMIT in a transaction with `matched` text
  // should be cut (consumes one armed cut).
  bool TakeCut(bool matched) {
    absl::MutexLock lock(&mu);
    if (settings.cuts_armed <= 0) return false;
    if (!settings.cut_must_contain.empty() && !matched) return false;
    --settings.cuts_armed;
    ++settings.commits_cut;
    return true;
  }

  void Accept();

  template <typename Fn>
  void RunOnThread(Fn fn) {
    std::promise<void> done;
    asio::post(ioc, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }

  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  tcp::acceptor acceptor;
  int port = 0;
  std::thread thread;
  std::mt19937_64 rng{12345};                 // proxy thread only
  std::vector<std::weak_ptr<Pair>> pairs;     // proxy thread only
  std::vector<std::function<void()>> parked;  // proxy thread only
  absl::Mutex mu;
  Settings settings ABSL_GUARDED_BY(mu);
};

// One proxied connection: client <-> server.
class TcpFaultProxy::Impl::Pair : public std::enable_shared_from_this<Pair> {
 public:
  Pair(Impl& proxy, tcp::socket client)
      : proxy_(proxy),
        client_(std::move(client)),
        server_(proxy.ioc),
        up_timer_(proxy.ioc),
        down_timer_(proxy.ioc),
        cut_timer_(proxy.ioc) {}

  void Start(int target_port) {
    auto self = shared_from_this();
    const tcp::endpoint target(asio::ip::make_address("127.0.0.1"),
                               static_cast<unsigned short>(target_port));
    server_.async_connect(target, [self](error_code ec) {
      if (ec) {
        self->Close();
        return;
      }
      self->Pump(true);
      self->Pump(false);
    });
  }

  void Close() {
    closed_ = true;
    error_code ignored;
    client_.close(ignored);
    server_.close(ignored);
    up_timer_.cancel();
    down_timer_.cancel();
    cut_timer_.cancel();
  }

 private:
  using Buffer = std::array<char, 16 * 1024>;

  void Pump(bool up) {
    if (closed_) return;
    auto self = shared_from_this();
    tcp::socket& from = up ? client_ : server_;
    Buffer& buf = up ? up_buf_ : down_buf_;
    from.async_read_some(
        asio::buffer(buf), [self, up](error_code ec, size_t n) {
          if (ec || self->closed_) {
            self->Close();
            return;
          }
          if (!up && self->cut_pending_) {
            // The server answered the COMMIT: the client must never see it.
            self->Close();
            return;
          }
          std::string chunk((up ? self->up_buf_ : self->down_buf_).data(), n);
          if (up) self->Parse(chunk);
          self->Delay(up, std::move(chunk));
        });
  }

  void Delay(bool up, std::string chunk) {
    auto self = shared_from_this();
    const auto delay = proxy_.NextDelay();
    auto forward = [self, up, chunk = std::move(chunk)]() mutable {
      self->proxy_.WhenNotStalled(
          [self, up, chunk = std::move(chunk)]() mutable {
            self->Forward(up, std::move(chunk));
          });
    };
    if (delay.count() == 0) {
      forward();
      return;
    }
    asio::steady_timer& timer = up ? up_timer_ : down_timer_;
    timer.expires_after(delay);
    timer.async_wait(
        [self, forward = std::move(forward)](error_code ec) mutable {
          if (ec || self->closed_) return;
          forward();
        });
  }

  void Forward(bool up, std::string chunk) {
    if (closed_) return;
    auto self = shared_from_this();
    auto data = std::make_shared<std::string>(std::move(chunk));
    tcp::socket& to = up ? server_ : client_;
    asio::async_write(to, asio::buffer(*data),
                      [self, up, data](error_code ec, size_t) {
                        if (ec) {
                          self->Close();
                          return;
                        }
                        self->Pump(up);
                      });
  }

  // Frontend message parsing (client→server).
  void Parse(const std::string& chunk) {
    if (unparsable_) return;
    pending_ += chunk;
    for (;;) {
      if (!startup_done_) {
        if (pending_.size() < 8) return;
        const uint32_t len = Be32(pending_, 0);
        if (len < 8 || len > (1u << 20)) {
          unparsable_ = true;
          return;
        }
        if (pending_.size() < len) return;
        const uint32_t code = Be32(pending_, 4);
        pending_.erase(0, len);
        if (code != kSslRequestCode && code != kGssEncRequestCode) {
          startup_done_ = true;
        }
        continue;
      }
      if (pending_.size() < 5) return;
      const char type = pending_[0];
      const uint32_t len = Be32(pending_, 1);
      if (len < 4) {
        unparsable_ = true;
        return;
      }
      if (pending_.size() < 1 + static_cast<size_t>(len)) return;
      const std::string text =
          StatementText(type, absl::string_view(pending_).substr(5, len - 4));
      pending_.erase(0, 1 + static_cast<size_t>(len));
      OnStatement(text);
    }
  }

  void OnStatement(const std::string& text) {
    if (text.empty()) return;
    if (IsBegin(text)) {
      txn_matched_ = false;
      return;
    }
    if (IsCommit(text)) {
      if (proxy_.TakeCut(txn_matched_)) ArmCut();
      txn_matched_ = false;
      return;
    }
    std::string must_contain;
    {
      absl::MutexLock lock(&proxy_.mu);
      must_contain = proxy_.settings.cut_must_contain;
    }
    if (!must_contain.empty() && absl::StrContains(text, must_contain)) {
      txn_matched_ = true;
    }
  }

  void ArmCut() {
    cut_pending_ = true;
    auto self = shared_from_this();
    cut_timer_.expires_after(kCutFallback);
    cut_timer_.async_wait([self](error_code ec) {
      if (!ec) self->Close();
    });
  }

  Impl& proxy_;
  tcp::socket client_;
  tcp::socket server_;
  asio::steady_timer up_timer_;
  asio::steady_timer down_timer_;
  asio::steady_timer cut_timer_;
  Buffer up_buf_;
  Buffer down_buf_;
  bool closed_ = false;
  bool cut_pending_ = false;
  std::string pending_;
  bool startup_done_ = false;
  bool unparsable_ = false;
  bool txn_matched_ = false;
};

void TcpFaultProxy::Impl::Accept() {
  auto self = shared_from_this();
  acceptor.async_accept([self](error_code ec, tcp::socket socket) {
    if (ec) return;  // closed by the destructor
    const Settings s = [&] {
      absl::MutexLock lock(&self->mu);
      ++self->settings.accepted;
      return self->settings;
    }();
    if (s.refuse) {
      error_code ignored;
      socket.close(ignored);
    } else {
      auto pair = std::make_shared<Pair>(*self, std::move(socket));
      self->pairs.push_back(pair);
      pair->Start(s.target_port);
    }
    self->Accept();
  });
}

TcpFaultProxy::TcpFaultProxy(std::shared_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

std::unique_ptr<TcpFaultProxy> TcpFaultProxy::Start(int target_port) {
  auto impl = std::make_shared<Impl>();
  {
    absl::MutexLock lock(&impl->mu);
    impl->settings.target_port = target_port;
  }
  error_code ec;
  const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    ADD_FAILURE() << "TcpFaultProxy: cannot listen: " << ec.message();
    return nullptr;
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->Accept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->ioc.run(); });
  return std::unique_ptr<TcpFaultProxy>(new TcpFaultProxy(std::move(impl)));
}

TcpFaultProxy::~TcpFaultProxy() {
  Impl* s = impl_.get();
  s->RunOnThread([s] {
    error_code ignored;
    s->acceptor.close(ignored);
    for (auto& weak : s->pairs) {
      if (auto pair = weak.lock()) pair->Close();
    }
    s->pairs.clear();
    s->parked.clear();
  });
  s->work.reset();
  s->ioc.stop();
  if (s->thread.joinable()) s->thread.join();
}

int TcpFaultProxy::port() const { return impl_->port; }

std::string TcpFaultProxy::ProxiedUrl(const std::string& url) const {
  const size_t scheme = url.find("://");
  const size_t host = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t at = url.find('@', host);
  const size_t path = url.find_first_of("/?", host);
  const size_t start =
      (at != std::string::npos && (path == std::string::npos || at < path))
          ? at + 1
          : host;
  const std::string rest =
      path == std::string::npos ? std::string() : url.substr(path);
  return absl::StrCat(url.substr(0, start), "127.0.0.1:", impl_->port, rest);
}

void TcpFaultProxy::SetLatency(absl::Duration latency, absl::Duration jitter) {
  absl::MutexLock lock(&impl_->mu);
  impl_->settings.latency = latency;
  impl_->settings.jitter = jitter;
}

void TcpFaultProxy::Stall(bool stalled) {
  {
    absl::MutexLock lock(&impl_->mu);
    impl_->settings.stalled = stalled;
  }
  if (stalled) return;
  Impl* s = impl_.get();
  s->RunOnThread([s] {
    std::vector<std::function<void()>> parked = std::move(s->parked);
    s->parked.clear();
    for (auto& fn : parked) fn();
  });
}

void TcpFaultProxy::CutAll() {
  Impl* s = impl_.get();
  s->RunOnThread([s] {
    for (auto& weak : s->pairs) {
      if (auto pair = weak.lock()) pair->Close();
    }
    s->pairs.clear();
    s->parked.clear();
  });
}

void TcpFaultProxy::Refuse(bool refuse) {
  absl::MutexLock lock(&impl_->mu);
  impl_->settings.refuse = refuse;
}

void TcpFaultProxy::SetTarget(int target_port) {
  absl::MutexLock lock(&impl_->mu);
  impl_->settings.target_port = target_port;
}

void TcpFaultProxy::CutAfterCommit(int count, std::string must_contain) {
  absl::MutexLock lock(&impl_->mu);
  impl_->settings.cuts_armed = count;
  impl_->settings.cut_must_contain = std::move(must_contain);
}

int TcpFaultProxy::commits_cut() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->settings.commits_cut;
}

int TcpFaultProxy::accepted() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->settings.accepted;
}

}  // namespace pat::testing
