#ifndef PAT_SIDECAR_DEADLINE_STREAM_H_
#define PAT_SIDECAR_DEADLINE_STREAM_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "boost/asio/associated_allocator.hpp"
#include "boost/asio/associated_cancellation_slot.hpp"
#include "boost/asio/associated_executor.hpp"
#include "boost/asio/async_result.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core/error.hpp"

// The proxy's TCP connections: the AsyncReadStream / AsyncWriteStream that
// Beast's HTTP operations take, with one deadline per stream instead of a
// timer per operation.
//
// beast::tcp_stream arms a timer for every read and write (a timer-queue
// insert, then a cancel that posts an aborted wait back through the loop):
// four to six of each per proxied request. Here expires_at / expires_after
// only store a time point. One watchdog wait per stream enforces it: it is
// armed no later than the deadline, and when it fires it either re-arms for
// a deadline that has moved later, or, with an operation pending past the
// deadline, closes the socket; that operation (and any other pending one)
// completes with beast::error::timeout, as tcp_stream's do. The watchdog is
// re-armed early only when a deadline moves before it (rare: a head or body
// split across reads), so a steady keep-alive connection touches the timer
// queue about once per timeout period, not per operation.
//
// Contract: at most one read and one write pending at a time (as on a
// socket); the deadline applies to every pending operation; one already past
// makes the next operation time out at once; expires_never() lifts it. Used
// on its executor only (not thread-safe), like the socket.
namespace pat::sidecar {

class DeadlineStream {
 public:
  using tcp = boost::asio::ip::tcp;
  using executor_type = tcp::socket::executor_type;
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  explicit DeadlineStream(tcp::socket socket)
      : impl_(std::make_shared<Impl>(std::move(socket))) {}
  explicit DeadlineStream(const executor_type& ex)
      : impl_(std::make_shared<Impl>(tcp::socket(ex))) {}
  ~DeadlineStream() { close(); }
  DeadlineStream(const DeadlineStream&) = delete;
  DeadlineStream& operator=(const DeadlineStream&) = delete;

  executor_type get_executor() noexcept { return impl_->socket.get_executor(); }
  tcp::socket& socket() { return impl_->socket; }

  void expires_at(TimePoint t) { impl_->deadline = t; }
  void expires_after(Clock::duration d) { impl_->deadline = Clock::now() + d; }
  void expires_never() { impl_->deadline = TimePoint::max(); }
  // How many times the watchdog was armed (tests: not once per operation).
  uint64_t watchdog_arms() const { return impl_->arms; }
  // Closes the socket (pending operations complete with operation_aborted)
  // and stops the watchdog.
  void close() {
    boost::system::error_code ec;
    impl_->socket.close(ec);
    impl_->Disarm();
  }

  template <typename Buffers, typename Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code,
                                                   std::size_t)>(
        [](auto handler, std::shared_ptr<Impl> impl, const Buffers& b) {
          impl->Begin();
          tcp::socket& s = impl->socket;
          s.async_read_some(b, Completion<decltype(handler)>(std::move(handler),
                                                             std::move(impl)));
        },
        token, impl_, buffers);
  }

  template <typename Buffers, typename Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code,
                                                   std::size_t)>(
        [](auto handler, std::shared_ptr<Impl> impl, const Buffers& b) {
          impl->Begin();
          tcp::socket& s = impl->socket;
          s.async_write_some(b, Completion<decltype(handler)>(
                                    std::move(handler), std::move(impl)));
        },
        token, impl_, buffers);
  }

  template <typename Token>
  auto async_connect(const tcp::endpoint& endpoint, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [](auto handler, std::shared_ptr<Impl> impl, const tcp::endpoint& ep) {
          impl->Begin();
          tcp::socket& s = impl->socket;
          s.async_connect(ep, Completion<decltype(handler)>(std::move(handler),
                                                            std::move(impl)));
        },
        token, impl_, endpoint);
  }

 private:
  struct Impl : std::enable_shared_from_this<Impl> {
    explicit Impl(tcp::socket s)
        : socket(std::move(s)), timer(socket.get_executor()) {}

    // An operation starts: the watchdog must wake by the deadline.
    void Begin() {
      ++pending;
      if (deadline < armed) Arm(deadline);
    }
    // An operation ended with `ec`: a close by the watchdog is a timeout.
    boost::system::error_code End(boost::system::error_code ec) {
      --pending;
      if (timed_out) {
        if (ec) ec = boost::beast::error::timeout;
        if (pending == 0) timed_out = false;
      }
      return ec;
    }
    void Arm(TimePoint at);
    void Disarm() {
      if (armed == TimePoint::max()) return;
      armed = TimePoint::max();
      ++generation;
      timer.cancel();
    }
    void OnWatchdog(const boost::system::error_code& ec, uint64_t generation);

    tcp::socket socket;
    boost::asio::steady_timer timer;
    TimePoint deadline = TimePoint::max();
    TimePoint armed = TimePoint::max();  // the pending wait's; max: none
    uint64_t generation = 0;             // of the pending wait
    uint64_t arms = 0;
    int pending = 0;         // operations in flight
    bool timed_out = false;  // the watchdog closed the socket
  };

  // The socket operation's handler: maps the error, then calls the caller's
  // handler, whose executor, allocator and cancellation slot it carries.
  template <typename Handler>
  class Completion {
   public:
    using executor_type =
        boost::asio::associated_executor_t<Handler,
                                           DeadlineStream::executor_type>;
    using allocator_type = boost::asio::associated_allocator_t<Handler>;
    using cancellation_slot_type =
        boost::asio::associated_cancellation_slot_t<Handler>;

    Completion(Handler h, std::shared_ptr<Impl> impl)
        : handler_(std::move(h)), impl_(std::move(impl)) {}

    executor_type get_executor() const noexcept {
      return boost::asio::get_associated_executor(handler_,
                                                  impl_->socket.get_executor());
    }
    allocator_type get_allocator() const noexcept {
      return boost::asio::get_associated_allocator(handler_);
    }
    cancellation_slot_type get_cancellation_slot() const noexcept {
      return boost::asio::get_associated_cancellation_slot(handler_);
    }

    void operator()(boost::system::error_code ec, std::size_t n) {
      ec = impl_->End(ec);
      impl_.reset();
      std::move(handler_)(ec, n);
    }
    void operator()(boost::system::error_code ec) {
      ec = impl_->End(ec);
      impl_.reset();
      std::move(handler_)(ec);
    }

   private:
    Handler handler_;
    std::shared_ptr<Impl> impl_;
  };

  std::shared_ptr<Impl> impl_;
};

inline void DeadlineStream::Impl::Arm(TimePoint at) {
  armed = at;
  ++arms;
  const uint64_t g = ++generation;
  // Replaces a pending wait (its handler then sees a stale generation).
  timer.expires_at(at);
  timer.async_wait(
      [self = shared_from_this(), g](const boost::system::error_code& ec) {
        self->OnWatchdog(ec, g);
      });
}

inline void DeadlineStream::Impl::OnWatchdog(
    const boost::system::error_code& ec, uint64_t g) {
  if (g != generation) return;  // replaced by a later Arm
  armed = TimePoint::max();
  if (ec || pending == 0 || deadline == TimePoint::max()) return;
  if (deadline <= Clock::now()) {
    timed_out = true;
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  Arm(deadline);
}

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_DEADLINE_STREAM_H_
