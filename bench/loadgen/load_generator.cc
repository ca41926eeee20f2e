#include "bench/loadgen/load_generator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/loadgen/connection.h"
#include "bench/loadgen/schedule.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/steady_timer.hpp"

namespace pat::bench::loadgen {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;

// Latency vectors are reserved for the expected number of samples, within
// these bounds.
constexpr size_t kMinReservedSamples = 1 << 12;
constexpr size_t kMaxReservedSamples = size_t{1} << 26;         // 512 MiB
constexpr size_t kClosedLoopReservedSamples = size_t{1} << 20;  // 8 MiB

// One generator thread: its io_context, connections and statistics.
class Worker {
 public:
  Worker(WorkerContext context, std::vector<int> connection_indexes,
         Clock::duration watchdog_period)
      : context_(context), watchdog_(io_), watchdog_period_(watchdog_period) {
    context_.io = &io_;
    context_.stats = &stats_;
    for (int i : connection_indexes) {
      connections_.push_back(std::make_unique<Connection>(&context_, i));
    }
  }

  void Reserve(size_t samples) { stats_.latencies_ns.reserve(samples); }

  // Sets the run's timeline; call before Run().
  void SetTimes(Clock::time_point t0, Clock::time_point measure_start,
                Clock::time_point end) {
    context_.t0 = t0;
    context_.measure_start = measure_start;
    context_.end = end;
  }

  // Runs the connections to completion on the calling thread.
  void Run() {
    for (auto& c : connections_) c->Start();
    ArmWatchdog();
    io_.run();
  }

  const RunStats& stats() const { return stats_; }

 private:
  void ArmWatchdog() {
    if (context_.active == 0) return;
    watchdog_.expires_after(watchdog_period_);
    watchdog_.async_wait([this](const error_code& ec) {
      if (ec) return;
      const Clock::time_point now = Clock::now();
      for (auto& c : connections_) c->CheckTimeout(now);
      ArmWatchdog();
    });
  }

  asio::io_context io_{1};
  RunStats stats_;
  WorkerContext context_;
  asio::steady_timer watchdog_;
  Clock::duration watchdog_period_;
  // Destroyed before io_ (declared after it): sockets close first.
  std::vector<std::unique_ptr<Connection>> connections_;
};

Clock::duration ToClock(absl::Duration d) {
  return std::chrono::duration_cast<Clock::duration>(
      absl::ToChronoNanoseconds(d));
}

}  // namespace

absl::Status ParseTarget(absl::string_view target, LoadConfig* config) {
  absl::string_view host;
  absl::string_view port;
  if (!target.empty() && target.front() == '[') {
    const size_t close = target.find(']');
    if (close == absl::string_view::npos || close + 1 >= target.size() ||
        target[close + 1] != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("--target \"", target, "\": expected [v6addr]:port"));
    }
    host = target.substr(1, close - 1);
    port = target.substr(close + 2);
  } else {
    const size_t colon = target.rfind(':');
    if (colon == absl::string_view::npos || target.find(':') != colon) {
      return absl::InvalidArgumentError(
          absl::StrCat("--target \"", target, "\": expected host:port"));
    }
    host = target.substr(0, colon);
    port = target.substr(colon + 1);
  }
  int port_number = 0;
  if (host.empty() || !absl::SimpleAtoi(port, &port_number) ||
      port_number < 1 || port_number > 65535 ||
      port.find_first_not_of("0123456789") != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--target \"", target, "\": expected host:port with port 1-65535"));
  }
  config->host = std::string(host);
  config->port = std::string(port);
  return absl::OkStatus();
}

std::string HostHeader(const LoadConfig& config) {
  if (config.host.find(':') != std::string::npos) {
    return absl::StrCat("[", config.host, "]:", config.port);
  }
  return absl::StrCat(config.host, ":", config.port);
}

absl::Status ValidateConfig(const LoadConfig& config) {
  if (config.host.empty() || config.port.empty()) {
    return absl::InvalidArgumentError("--target is required (host:port)");
  }
  if (config.connections < 1) {
    return absl::InvalidArgumentError("--connections must be at least 1");
  }
  if (config.threads < 1 || config.threads > config.connections) {
    return absl::InvalidArgumentError(
        "--threads must be between 1 and --connections");
  }
  if (!std::isfinite(config.rate) || config.rate < 0) {
    return absl::InvalidArgumentError(
        "--rate must be > 0 (open loop, requests/s) or 0 (closed loop)");
  }
  if (config.duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--duration must be positive");
  }
  if (config.warmup < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--warmup must not be negative");
  }
  if (config.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--timeout must be positive");
  }
  return absl::OkStatus();
}

absl::StatusOr<RunStats> RunLoad(const LoadConfig& config,
                                 const std::vector<RequestTemplate>& requests) {
  if (absl::Status s = ValidateConfig(config); !s.ok()) return s;
  if (requests.empty()) {
    return absl::InvalidArgumentError("no requests to send");
  }

  std::vector<tcp::endpoint> endpoints;
  {
    asio::io_context io;
    tcp::resolver resolver(io);
    error_code ec;
    auto results = resolver.resolve(config.host, config.port,
                                    tcp::resolver::numeric_service, ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat("cannot resolve ", config.host,
                                                 ":", config.port, ": ",
                                                 ec.message()));
    }
    for (const auto& r : results) endpoints.push_back(r.endpoint());
    if (endpoints.empty()) {
      return absl::UnavailableError(
          absl::StrCat(config.host, ":", config.port, ": no addresses"));
    }
  }

  std::optional<Schedule> schedule;
  if (!config.closed_loop()) schedule.emplace(config.rate, config.connections);

  const Clock::duration timeout = ToClock(config.timeout);
  const Clock::duration watchdog_period = std::clamp<Clock::duration>(
      timeout / 8, std::chrono::milliseconds(1), std::chrono::milliseconds(50));

  WorkerContext shared;
  shared.requests = &requests;
  shared.endpoints = &endpoints;
  shared.schedule = schedule ? &*schedule : nullptr;
  shared.connections = config.connections;
  shared.timeout = timeout;

  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < config.threads; ++t) {
    std::vector<int> indexes;
    for (int i = t; i < config.connections; i += config.threads) {
      indexes.push_back(i);
    }
    size_t expected = kClosedLoopReservedSamples;
    if (!config.closed_loop()) {
      const double share = config.rate *
                           absl::ToDoubleSeconds(config.duration) *
                           indexes.size() / config.connections;
      expected = static_cast<size_t>(
          std::clamp(share * 1.1 + 64, static_cast<double>(kMinReservedSamples),
                     static_cast<double>(kMaxReservedSamples)));
    }
    // Timestamps are filled in below, just before the threads start.
    workers.push_back(
        std::make_unique<Worker>(shared, std::move(indexes), watchdog_period));
    workers.back()->Reserve(expected);
  }

  const Clock::time_point t0 = Clock::now();
  const Clock::time_point measure_start = t0 + ToClock(config.warmup);
  const Clock::time_point end = measure_start + ToClock(config.duration);
  std::vector<std::thread> threads;
  for (auto& w : workers) {
    w->SetTimes(t0, measure_start, end);
    threads.emplace_back([&w] { w->Run(); });
  }
  for (auto& t : threads) t.join();

  RunStats merged;
  size_t samples = 0;
  for (const auto& w : workers) samples += w->stats().latencies_ns.size();
  merged.latencies_ns.reserve(samples);
  for (const auto& w : workers) merged.MergeFrom(w->stats());
  return merged;
}

}  // namespace pat::bench::loadgen
