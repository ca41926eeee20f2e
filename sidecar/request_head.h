#ifndef PAT_SIDECAR_REQUEST_HEAD_H_
#define PAT_SIDECAR_REQUEST_HEAD_H_

#include <cstddef>
#include <optional>

#include "absl/strings/string_view.h"
#include "boost/beast/http/empty_body.hpp"
#include "boost/beast/http/message.hpp"
#include "common/policy/reason.h"

// Pipeline step 1 of the sidecar's HTTP front: framing and head checks, on
// raw bytes (RequestHeadScanner) and on the parsed head (CheckRequestHead).
namespace pat::sidecar {

using RequestHead = boost::beast::http::request<boost::beast::http::empty_body>;

namespace internal {

// Incremental scanner of a request's header block, run on raw bytes before
// the HTTP parser sees them. It enforces what the parser does not: the
// header byte and field-count limits, CRLF-only line endings and no obs-fold
// (a field line starting with SP or HTAB). Up to kMaxLeadingEmptyLines empty
// lines before the request line are skipped.
class RequestHeadScanner {
 public:
  enum class Result { kNeedMore, kComplete, kBad, kTooLarge };

  // `data` is everything received so far for this request (it only grows
  // between calls, starting at the same byte). On kComplete the request
  // line starts at head_begin() and the header block (including the final
  // empty line) ends at head_end().
  Result Scan(absl::string_view data);

  std::size_t head_begin() const { return head_begin_; }
  std::size_t head_end() const { return head_end_; }
  int field_count() const { return fields_; }

 private:
  std::size_t line_start_ = 0;   // first byte of the line being scanned
  std::size_t search_from_ = 0;  // where to resume looking for '\n'
  std::size_t head_begin_ = 0;
  std::size_t head_end_ = 0;
  int leading_empty_lines_ = 0;
  int fields_ = 0;
  bool saw_request_line_ = false;
};

}  // namespace internal

// Why a parsed head is refused before any credential is looked at.
struct HeadRefusal {
  policy::Reason reason;
  absl::string_view detail;  // static text
};

// Checks a parsed request head, in this order:
//  * framing (kRequestInvalid): HTTP/1.0 or 1.1; at most one Content-Length,
//    digits only; Transfer-Encoding exactly "chunked" (HTTP/1.1 only), never
//    with Content-Length; exactly one Host on HTTP/1.1; no Upgrade, no
//    CONNECT;
//  * method (kRequestInvalid): one Beast knows (http::verb), never an
//    extension token (it would be forwarded and logged as sent);
//  * Expect (kExpectationFailed): absent, or exactly one "100-continue";
//  * secrets (kTokenInPath / kTokenInQuery): no secret-shaped value in the
//    request-target's path / query.
// The connection is closed after any of these refusals.
std::optional<HeadRefusal> CheckRequestHead(const RequestHead& req);

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_REQUEST_HEAD_H_
