// DeadlineStream (sidecar/deadline_stream.h) on real loopback sockets: one
// deadline per stream enforced by one watchdog, timeouts reported as
// beast::error::timeout with the socket closed, the deadline movable either
// way while the watchdog is armed, and no timer armed per operation.

#include "sidecar/deadline_stream.h"

#include <array>
#include <chrono>
#include <optional>
#include <string>

#include "boost/asio/co_spawn.hpp"
#include "boost/asio/detached.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/read.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http/read.hpp"
#include "boost/beast/http/string_body.hpp"
#include "boost/beast/http/write.hpp"
#include "gtest/gtest.h"
#include "sidecar/body_relay.h"

namespace pat::sidecar {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

// A connected pair on loopback: `a` is a DeadlineStream, `b` a plain socket.
struct Pair {
  asio::io_context io{1};
  std::optional<DeadlineStream> a;
  tcp::socket b{io};

  Pair() {
    tcp::acceptor acceptor(
        io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket client(io);
    client.connect(acceptor.local_endpoint());
    b = acceptor.accept();
    a.emplace(std::move(client));
  }
};

TEST(DeadlineStreamTest, ReadPastTheDeadlineTimesOutAndClosesTheSocket) {
  Pair p;
  std::array<char, 16> buf{};
  std::optional<boost::system::error_code> got;
  p.a->expires_after(milliseconds(30));
  p.a->async_read_some(asio::buffer(buf), [&](boost::system::error_code ec,
                                              std::size_t) { got = ec; });
  p.io.run();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, beast::error::timeout);
  EXPECT_FALSE(p.a->socket().is_open());
  EXPECT_EQ(p.a->watchdog_arms(), 1u);
}

TEST(DeadlineStreamTest, WithoutADeadlineAReadWaitsForData) {
  Pair p;
  std::array<char, 16> buf{};
  std::optional<boost::system::error_code> got;
  std::size_t n = 0;
  p.a->expires_never();
  p.a->async_read_some(asio::buffer(buf),
                       [&](boost::system::error_code ec, std::size_t k) {
                         got = ec;
                         n = k;
                       });
  asio::steady_timer later(p.io, milliseconds(50));
  later.async_wait([&](boost::system::error_code) {
    asio::write(p.b, asio::buffer("hello", 5));
  });
  p.io.run();
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(*got);
  EXPECT_EQ(n, 5u);
  EXPECT_EQ(p.a->watchdog_arms(), 0u);
}

// The watchdog armed for a far deadline must still fire for a nearer one
// set afterwards (re-armed), and one armed for a near deadline that then
// moves later must not time the operation out early.
TEST(DeadlineStreamTest, DeadlineMovedEarlierIsEnforced) {
  Pair p;
  std::array<char, 16> buf{};
  p.a->expires_after(std::chrono::hours(1));
  std::optional<boost::system::error_code> first;
  p.a->async_read_some(asio::buffer(buf), [&](boost::system::error_code ec,
                                              std::size_t) { first = ec; });
  asio::write(p.b, asio::buffer("x", 1));
  while (!first.has_value() && p.io.run_one()) {
  }
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(*first);
  std::optional<boost::system::error_code> second;
  p.a->expires_after(milliseconds(20));
  p.a->async_read_some(asio::buffer(buf), [&](boost::system::error_code ec,
                                              std::size_t) { second = ec; });
  // Stop the test from hanging for an hour if the nearer deadline is lost.
  asio::steady_timer guard(p.io, std::chrono::seconds(20));
  guard.async_wait([&](boost::system::error_code ec) {
    if (!ec) p.a->close();
  });
  while (!second.has_value() && p.io.run_one()) {
  }
  guard.cancel();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(*second, beast::error::timeout);
  EXPECT_EQ(p.a->watchdog_arms(), 2u);
}

TEST(DeadlineStreamTest, DeadlineMovedLaterIsNotCutShort) {
  Pair p;
  std::array<char, 16> buf{};
  // The first read arms the watchdog for 20 ms and completes at once.
  p.a->expires_after(milliseconds(20));
  asio::write(p.b, asio::buffer("x", 1));
  std::optional<boost::system::error_code> first;
  p.a->async_read_some(asio::buffer(buf), [&](boost::system::error_code ec,
                                              std::size_t) { first = ec; });
  while (!first.has_value() && p.io.run_one()) {
  }
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(*first);
  // The second read's deadline is far: the watchdog fires at 20 ms, finds
  // the deadline later and re-arms; the data sent at 100 ms is read.
  p.a->expires_after(std::chrono::hours(1));
  std::optional<boost::system::error_code> second;
  p.a->async_read_some(asio::buffer(buf), [&](boost::system::error_code ec,
                                              std::size_t) { second = ec; });
  asio::steady_timer later(p.io, milliseconds(100));
  later.async_wait([&](boost::system::error_code) {
    asio::write(p.b, asio::buffer("y", 1));
  });
  while (!second.has_value() && p.io.run_one()) {
  }
  ASSERT_TRUE(second.has_value());
  EXPECT_FALSE(*second);
  EXPECT_TRUE(p.a->socket().is_open());
  EXPECT_EQ(p.a->watchdog_arms(), 2u);
}

TEST(DeadlineStreamTest, DeadlineAlreadyPastTimesTheNextOperationOut) {
  Pair p;
  std::array<char, 16> buf{};
  p.a->expires_at(DeadlineStream::Clock::now() - milliseconds(1));
  std::optional<boost::system::error_code> got;
  p.a->async_read_some(asio::buffer(buf), [&](boost::system::error_code ec,
                                              std::size_t) { got = ec; });
  p.io.run();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, beast::error::timeout);
}

// The steady state of a keep-alive connection: many HTTP exchanges through
// Beast's composed operations, each under a fresh deadline, arm the
// watchdog once (the per-operation timers of beast::tcp_stream are gone).
TEST(DeadlineStreamTest, ManyExchangesArmTheWatchdogOnce) {
  Pair p;
  constexpr int kExchanges = 2000;
  int served = 0;
  auto server = [&]() -> asio::awaitable<void> {
    beast::flat_buffer buffer;
    for (int i = 0; i < kExchanges; ++i) {
      http::request<http::string_body> req;
      p.a->expires_after(std::chrono::seconds(30));
      auto [ec, n] = co_await http::async_read(*p.a, buffer, req, kAsTuple);
      if (ec) co_return;
      http::response<http::string_body> res{http::status::ok, 11};
      res.body() = "ok";
      res.prepare_payload();
      p.a->expires_after(std::chrono::seconds(30));
      auto [wec, wn] = co_await http::async_write(*p.a, res, kAsTuple);
      if (wec) co_return;
      ++served;
    }
    p.a->close();  // stops the watchdog, so run() returns
  };
  auto client = [&]() -> asio::awaitable<void> {
    beast::flat_buffer buffer;
    for (int i = 0; i < kExchanges; ++i) {
      http::request<http::string_body> req{http::verb::get, "/", 11};
      req.set(http::field::host, "t");
      co_await http::async_write(p.b, req, asio::use_awaitable);
      http::response<http::string_body> res;
      co_await http::async_read(p.b, buffer, res, asio::use_awaitable);
      EXPECT_EQ(res.body(), "ok");
    }
  };
  asio::co_spawn(p.io, server(), asio::detached);
  asio::co_spawn(p.io, client(), asio::detached);
  p.io.run();
  EXPECT_EQ(served, kExchanges);
  EXPECT_EQ(p.a->watchdog_arms(), 1u);
}

// A pending read and write both end with timeout when the watchdog fires.
TEST(DeadlineStreamTest, EveryPendingOperationReportsTheTimeout) {
  Pair p;
  std::array<char, 16> buf{};
  // Fill the peer's receive window so the write stays pending.
  std::string big(64 << 20, 'x');
  std::optional<boost::system::error_code> read_ec, write_ec;
  p.a->expires_after(milliseconds(50));
  p.a->async_read_some(asio::buffer(buf), [&](boost::system::error_code ec,
                                              std::size_t) { read_ec = ec; });
  asio::async_write(
      *p.a, asio::buffer(big),
      [&](boost::system::error_code ec, std::size_t) { write_ec = ec; });
  p.io.run();
  ASSERT_TRUE(read_ec.has_value());
  ASSERT_TRUE(write_ec.has_value());
  EXPECT_EQ(*read_ec, beast::error::timeout);
  EXPECT_EQ(*write_ec, beast::error::timeout);
}

}  // namespace
}  // namespace pat::sidecar
