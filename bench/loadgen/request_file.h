#ifndef PAT_BENCH_LOADGEN_REQUEST_FILE_H_
#define PAT_BENCH_LOADGEN_REQUEST_FILE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

// The request file of pat-loadgen: one request per line,
//
//   METHOD<TAB>PATH[<TAB>Header-Name: value]...
//
// Blank lines (only spaces/tabs) and lines whose first character is '#' are
// ignored; a trailing '\r' (CRLF files) is dropped. METHOD is an HTTP token
// (e.g. GET), PATH a request-target without spaces or control characters
// ("/..." or "*"), each header "Name: value" with a token name; the value is
// trimmed of surrounding spaces and may be empty. Requests carry no body.
//
// Every request is serialized once, here, into the exact HTTP/1.1 bytes the
// generator writes (no per-request formatting later):
//
//   METHOD PATH HTTP/1.1\r\n
//   Host: <host>\r\n                  unless the line sets Host
//   <the line's headers, in order>\r\n
//   Connection: keep-alive\r\n        unless the line sets Connection
//   Content-Length: 0\r\n             for POST/PUT/PATCH, unless the line sets
//                                     Content-Length or Transfer-Encoding
//   \r\n
namespace pat::bench::loadgen {

struct RequestTemplate {
  int line = 0;  // 1-based line number in the file
  std::string method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;  // as written
  bool head = false;  // HEAD: the response has no body whatever it says
  std::string raw;    // the serialized request (see above)
};

// Parses `contents` (named `filename` in errors, which read
// "FILE:LINE: what is wrong"). `host_header` is the default Host value.
// At least one request is required.
absl::StatusOr<std::vector<RequestTemplate>> ParseRequestFile(
    absl::string_view contents, absl::string_view filename,
    absl::string_view host_header);

// Reads the file at `path` and parses it as above. A file that cannot be
// read is NOT_FOUND naming the path; parse errors are INVALID_ARGUMENT.
absl::StatusOr<std::vector<RequestTemplate>> LoadRequestFile(
    const std::string& path, absl::string_view host_header);

}  // namespace pat::bench::loadgen

#endif  // PAT_BENCH_LOADGEN_REQUEST_FILE_H_
