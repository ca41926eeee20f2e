#ifndef PAT_SIDECAR_BODY_RELAY_H_
#define PAT_SIDECAR_BODY_RELAY_H_

#include <algorithm>
#include <chrono>
#include <cstddef>

#include "boost/asio/as_tuple.hpp"
#include "boost/asio/awaitable.hpp"
#include "boost/asio/use_awaitable.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http/buffer_body.hpp"
#include "boost/beast/http/message.hpp"
#include "boost/beast/http/parser.hpp"
#include "boost/beast/http/read.hpp"
#include "boost/beast/http/serializer.hpp"
#include "boost/beast/http/write.hpp"
#include "sidecar/buffer_pool.h"
#include "sidecar/deadline_stream.h"

// Streaming a message body from one connection to another (both directions
// of the upstream exchange).
namespace pat::sidecar {

inline constexpr auto kAsTuple =
    boost::asio::as_tuple(boost::asio::use_awaitable);

enum class RelayStatus { kOk, kReadError, kWriteError };
struct RelayOutcome {
  RelayStatus status = RelayStatus::kOk;
  boost::system::error_code ec;
};

// Streams a message body from `in` (parsed by `p`, whose header is done) to
// `out` (serialized by `sr` from `msg`, whose header is already written),
// through `buf`. Pieces are forwarded as soon as they arrive; the parser
// re-frames, so the output framing never depends on the input's (reads may
// split anywhere, chunk framing included). Every read ends by
// min(`read_deadline`, now + `io`); every write by now + `io`.
// `on_input_done()` runs once the input message is complete, before its last
// piece is written (so the input connection can be reused early).
template <bool isRequest, typename OnInputDone>
boost::asio::awaitable<RelayOutcome> RelayBody(
    DeadlineStream& in, PooledFlatBuffer& in_buffer,
    boost::beast::http::parser<isRequest, boost::beast::http::buffer_body>& p,
    DeadlineStream& out,
    boost::beast::http::message<isRequest, boost::beast::http::buffer_body>&
        msg,
    boost::beast::http::serializer<isRequest, boost::beast::http::buffer_body>&
        sr,
    char* buf, std::size_t size,
    std::chrono::steady_clock::time_point read_deadline,
    std::chrono::nanoseconds io, OnInputDone on_input_done) {
  namespace http = boost::beast::http;
  while (!p.is_done()) {
    p.get().body().data = buf;
    p.get().body().size = size;
    in.expires_at(std::min(read_deadline, std::chrono::steady_clock::now() +
                                              std::chrono::duration_cast<
                                                  std::chrono::steady_clock::
                                                      duration>(io)));
    auto [rec, rn] = co_await http::async_read_some(in, in_buffer, p, kAsTuple);
    if (rec == http::error::need_buffer) rec = {};
    if (rec) co_return RelayOutcome{RelayStatus::kReadError, rec};
    if (p.is_done()) on_input_done();
    const std::size_t got = size - p.get().body().size;
    // Never hand the serializer an empty piece: in chunked framing an empty
    // chunk is the last-chunk marker.
    if (got == 0 && !p.is_done()) continue;
    msg.body().data = got > 0 ? buf : nullptr;
    msg.body().size = got;
    msg.body().more = !p.is_done();
    out.expires_after(io);
    auto [wec, wn] = co_await http::async_write(out, sr, kAsTuple);
    if (wec == http::error::need_buffer) wec = {};
    if (wec) co_return RelayOutcome{RelayStatus::kWriteError, wec};
  }
  if (!sr.is_done()) {
    // E.g. the last-chunk of a chunked body whose final read carried no data.
    msg.body().data = nullptr;
    msg.body().size = 0;
    msg.body().more = false;
    out.expires_after(io);
    auto [wec, wn] = co_await http::async_write(out, sr, kAsTuple);
    if (wec == http::error::need_buffer) wec = {};
    if (wec) co_return RelayOutcome{RelayStatus::kWriteError, wec};
  }
  co_return RelayOutcome{};
}

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_BODY_RELAY_H_
