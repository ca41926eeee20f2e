#ifndef PAT_BENCH_LOADGEN_CONNECTION_H_
#define PAT_BENCH_LOADGEN_CONNECTION_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "bench/loadgen/request_file.h"
#include "bench/loadgen/run_stats.h"
#include "bench/loadgen/schedule.h"
#include "bench/loadgen/status_parser.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core/flat_buffer.hpp"

// One generator connection: the per-request state machine of
// load_generator.h (wait for the slot, connect if needed, write, read,
// record, repeat). Internal to pat_loadgen_lib.
//
// Thread-safety: a Connection and the WorkerContext it points to belong to
// one io_context run by one thread; every member function must be called on
// that thread (handlers are), and the Connection must outlive the
// io_context's run().
namespace pat::bench::loadgen {

using Clock = std::chrono::steady_clock;

// What the connections of one worker thread share.
struct WorkerContext {
  boost::asio::io_context* io = nullptr;
  const std::vector<RequestTemplate>* requests = nullptr;
  const std::vector<boost::asio::ip::tcp::endpoint>* endpoints = nullptr;
  const Schedule* schedule = nullptr;  // nullptr: closed loop
  int connections = 1;                 // N, over all workers
  Clock::time_point t0;
  Clock::time_point measure_start;  // t0 + warmup
  Clock::time_point end;            // measure_start + duration
  Clock::duration timeout{};
  RunStats* stats = nullptr;
  int active = 0;  // connections that have not finished yet
};

class Connection {
 public:
  // `index` is the connection's global number i (0 <= i < N).
  Connection(WorkerContext* context, int index);

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts the request loop; the connection counts in context->active
  // until it finishes.
  void Start();

  // Called periodically by the worker: aborts the request in flight if it
  // has run for --timeout (it then fails as a timeout).
  void CheckTimeout(Clock::time_point now);

  bool finished() const { return finished_; }

 private:
  enum class Failure { kConnect, kWrite, kRead, kTimeout };

  void NextRequest();
  void Send();
  void Connect();
  void Write();
  void Read();
  void Complete();
  void Fail(Failure failure);
  void CloseSocket();
  void Finish();

  WorkerContext* const ctx_;
  const int index_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  boost::beast::flat_buffer buffer_;
  std::optional<StatusParser> parser_;

  int64_t k_ = 0;  // this connection's request number (slot) in the run
  const RequestTemplate* request_ = nullptr;
  Clock::time_point intended_;  // latency is measured from here
  Clock::time_point started_;   // the timeout is measured from here
  bool record_ = false;         // the current request is in the window
  bool in_flight_ = false;
  bool timed_out_ = false;
  bool finished_ = false;
};

}  // namespace pat::bench::loadgen

#endif  // PAT_BENCH_LOADGEN_CONNECTION_H_
