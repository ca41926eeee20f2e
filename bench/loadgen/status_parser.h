#ifndef PAT_BENCH_LOADGEN_STATUS_PARSER_H_
#define PAT_BENCH_LOADGEN_STATUS_PARSER_H_

#include <cstddef>
#include <cstdint>

#include "boost/beast/http/basic_parser.hpp"

// An HTTP/1.1 response parser that keeps only the status code: header
// fields and body bytes (Content-Length, chunked or until EOF) are parsed
// for framing by Beast and then dropped, so parsing a response allocates
// nothing. Use one per response (construct, optionally skip(true) for a
// response to HEAD, then http::async_read into it). Not thread-safe.
namespace pat::bench::loadgen {

class StatusParser : public boost::beast::http::basic_parser<false> {
 public:
  StatusParser() {
    body_limit(boost::none);
    header_limit(kHeaderLimit);
  }

  // Larger response headers fail the read (Beast's default is 8 KiB).
  static constexpr std::uint32_t kHeaderLimit = 64 * 1024;

  // The status code; valid once the header has been parsed.
  int status() const { return status_; }

 private:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;

  void on_request_impl(boost::beast::http::verb, string_view, string_view, int,
                       error_code&) override {}
  void on_response_impl(int code, string_view, int, error_code&) override {
    status_ = code;
  }
  void on_field_impl(boost::beast::http::field, string_view, string_view,
                     error_code&) override {}
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&,
                         error_code&) override {}
  std::size_t on_body_impl(string_view body, error_code&) override {
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body,
                                 error_code&) override {
    return body.size();
  }
  void on_finish_impl(error_code&) override {}

  int status_ = 0;
};

}  // namespace pat::bench::loadgen

#endif  // PAT_BENCH_LOADGEN_STATUS_PARSER_H_
