#ifndef PAT_BENCH_PROPAGATION_HTTP_PROBE_H_
#define PAT_BENCH_PROPAGATION_HTTP_PROBE_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "boost/asio/error.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/core/tcp_stream.hpp"

namespace pat::bench {

// A minimal HTTP/1.1 client for one keep-alive connection to the sidecar's
// proxy port: GET requests with a bearer token, TCP_NODELAY, a timeout per
// request. It reconnects when the server closed the connection (answered
// without keep-alive, or a reused connection turned out to be closed).
//
// Thread-compatible: one thread uses an instance at a time.
class HttpProbe {
 public:
  struct Response {
    int status = 0;
    std::string body;
  };

  // `address` is host:port. Nothing is connected before the first Get().
  HttpProbe(std::string address, absl::Duration timeout);

  // GET `target` with `Authorization: Bearer <bearer>`. UNAVAILABLE when the
  // connection fails or times out (the connection is then closed, and the
  // next call reconnects).
  absl::StatusOr<Response> Get(absl::string_view target,
                               absl::string_view bearer);

 private:
  // Starts one operation (`start(handler)`, the handler taking an error code
  // and a byte count) under the stream's timeout and runs the private
  // io_context until it completes; returns its error.
  template <typename Start>
  boost::beast::error_code RunToCompletion(Start start) {
    boost::beast::error_code ec = boost::asio::error::would_block;
    stream_.expires_after(absl::ToChronoMilliseconds(timeout_));
    start([&ec](boost::beast::error_code e, std::size_t) { ec = e; });
    ioc_.restart();
    ioc_.run();
    return ec;
  }

  absl::Status Connect();
  absl::StatusOr<Response> RoundTrip(absl::string_view target,
                                     absl::string_view bearer);
  void Close();

  const std::string address_;
  std::string host_;
  std::string port_;
  const absl::Duration timeout_;
  boost::asio::io_context ioc_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  bool connected_ = false;
};

}  // namespace pat::bench

#endif  // PAT_BENCH_PROPAGATION_HTTP_PROBE_H_
