#include "bench/loadgen/connection.h"

#include <algorithm>

#include "boost/asio/connect.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/http/read.hpp"

namespace pat::bench::loadgen {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

// Closed loop only: pause after a failed connect so that a server that is
// down is not hammered in a tight loop.
constexpr auto kClosedLoopConnectBackoff = std::chrono::milliseconds(10);

}  // namespace

Connection::Connection(WorkerContext* context, int index)
    : ctx_(context),
      index_(index),
      socket_(*context->io),
      timer_(*context->io) {}

void Connection::Start() {
  ++ctx_->active;
  NextRequest();
}

void Connection::NextRequest() {
  const Clock::time_point now = Clock::now();
  if (ctx_->schedule == nullptr) {  // closed loop
    if (now >= ctx_->end) return Finish();
    intended_ = now;
    return Send();
  }
  const Schedule& schedule = *ctx_->schedule;
  const Clock::time_point due = ctx_->t0 + schedule.Offset(index_, k_);
  if (due >= ctx_->end) return Finish();
  if (now >= ctx_->end) {
    // Behind schedule when the window closed: count the slots of the window
    // this connection never got to.
    const int64_t last = schedule.FirstAtOrAfter(index_, ctx_->end - ctx_->t0);
    const int64_t first = std::max(
        k_, schedule.FirstAtOrAfter(index_, ctx_->measure_start - ctx_->t0));
    if (last > first) ctx_->stats->unsent += last - first;
    return Finish();
  }
  intended_ = due;
  if (due <= now) return Send();
  timer_.expires_at(due);
  timer_.async_wait([this](const error_code& ec) {
    if (ec) return Finish();
    Send();
  });
}

void Connection::Send() {
  const auto& requests = *ctx_->requests;
  const auto global =
      static_cast<uint64_t>(index_) +
      static_cast<uint64_t>(k_) * static_cast<uint64_t>(ctx_->connections);
  request_ = &requests[global % requests.size()];
  record_ = intended_ >= ctx_->measure_start;
  if (record_) ++ctx_->stats->requests_sent;
  started_ = Clock::now();
  in_flight_ = true;
  timed_out_ = false;
  if (!socket_.is_open()) return Connect();
  Write();
}

void Connection::Connect() {
  buffer_.clear();
  asio::async_connect(
      socket_, *ctx_->endpoints,
      [this](const error_code& ec, const asio::ip::tcp::endpoint&) {
        if (timed_out_) return Fail(Failure::kTimeout);
        if (ec) return Fail(Failure::kConnect);
        error_code ignored;
        socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
        Write();
      });
}

void Connection::Write() {
  asio::async_write(socket_, asio::buffer(request_->raw),
                    [this](const error_code& ec, std::size_t) {
                      if (timed_out_) return Fail(Failure::kTimeout);
                      if (ec) return Fail(Failure::kWrite);
                      Read();
                    });
}

void Connection::Read() {
  parser_.emplace();
  if (request_->head) parser_->skip(true);
  http::async_read(socket_, buffer_, *parser_,
                   [this](const error_code& ec, std::size_t) {
                     if (timed_out_) return Fail(Failure::kTimeout);
                     if (ec) return Fail(Failure::kRead);
                     Complete();
                   });
}

void Connection::Complete() {
  const Clock::time_point now = Clock::now();
  in_flight_ = false;
  if (record_) {
    RunStats& stats = *ctx_->stats;
    ++stats.responses;
    ++stats
          .status[static_cast<size_t>(parser_->status()) % stats.status.size()];
    stats.latencies_ns.push_back(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - intended_)
            .count());
  }
  if (!parser_->keep_alive()) CloseSocket();
  ++k_;
  NextRequest();
}

void Connection::Fail(Failure failure) {
  in_flight_ = false;
  if (record_) {
    ErrorCounts& errors = ctx_->stats->errors;
    switch (failure) {
      case Failure::kConnect:
        ++errors.connect;
        break;
      case Failure::kWrite:
        ++errors.write;
        break;
      case Failure::kRead:
        ++errors.read;
        break;
      case Failure::kTimeout:
        ++errors.timeout;
        break;
    }
  }
  CloseSocket();
  ++k_;
  if (ctx_->schedule == nullptr && failure == Failure::kConnect) {
    timer_.expires_after(kClosedLoopConnectBackoff);
    timer_.async_wait([this](const error_code& ec) {
      if (ec) return Finish();
      NextRequest();
    });
    return;
  }
  NextRequest();
}

void Connection::CheckTimeout(Clock::time_point now) {
  if (!in_flight_ || timed_out_ || now - started_ < ctx_->timeout) return;
  timed_out_ = true;
  // Aborts the pending connect/write/read; its handler sees timed_out_.
  error_code ignored;
  socket_.close(ignored);
}

void Connection::CloseSocket() {
  error_code ignored;
  socket_.close(ignored);
  buffer_.clear();
}

void Connection::Finish() {
  if (finished_) return;
  finished_ = true;
  CloseSocket();
  --ctx_->active;
}

}  // namespace pat::bench::loadgen
