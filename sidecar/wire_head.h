#ifndef PAT_SIDECAR_WIRE_HEAD_H_
#define PAT_SIDECAR_WIRE_HEAD_H_

#include <string>

#include "absl/strings/string_view.h"
#include "boost/beast/http/fields.hpp"
#include "boost/beast/http/message.hpp"
#include "sidecar/header_rewrite.h"

// Pipeline step 5 of the sidecar's HTTP front, for messages whose body is
// whole in memory (no body, a buffered request body, a response the
// upstream finished within the first read, a response of the sidecar's
// own): the head flattened into one contiguous string, so head and body go
// out in one gather write (one sendmsg) without Beast's serializer walking
// its buffer sequence for every field. Streamed bodies keep the serializer.
//
// The bytes are exactly what beast::http::serializer writes for the same
// header: the start line (a response with no reason phrase gets Beast's
// obsolete_reason), every field in order as stored ("Name: value\r\n"),
// then the blank line. Fields are not validated again: they come from
// Beast's parser or from setters the caller controls.
//
// WireHeadWriter is the same writer as a HeadSink: the header rewrite
// (header_rewrite.h) writes a forwarded head through it straight from the
// parsed one, with no second `fields` in between.
namespace pat::sidecar {

// Appends a head's bytes to `out` as its start line and fields arrive; End()
// writes the blank line.
class WireHeadWriter final : public HeadSink {
 public:
  explicit WireHeadWriter(std::string& out) : out_(out) {}
  void RequestLine(absl::string_view method, absl::string_view target,
                   unsigned version) override;
  void StatusLine(unsigned version, unsigned status,
                  absl::string_view reason) override;
  void Field(boost::beast::http::field name, absl::string_view name_string,
             absl::string_view value) override;
  void End();

 private:
  std::string& out_;
};

// Appends the head of `h` to `out`.
void AppendWireHead(const boost::beast::http::request_header<>& h,
                    std::string& out);
void AppendWireHead(const boost::beast::http::response_header<>& h,
                    std::string& out);

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_WIRE_HEAD_H_
