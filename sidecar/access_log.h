#ifndef PAT_SIDECAR_ACCESS_LOG_H_
#define PAT_SIDECAR_ACCESS_LOG_H_

#include <chrono>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

// The sidecar's per-request access log record and its JSON line.
namespace pat::sidecar {

struct RequestLog {
  absl::Time start_wall;
  std::chrono::steady_clock::time_point start;
  std::string request_id;
  std::string method;
  std::string path;  // LoggablePath
  int status = 0;
  absl::string_view reason;  // a static reason code
  std::string token_id;

  RequestLog()
      : start_wall(absl::Now()), start(std::chrono::steady_clock::now()) {}
};

// The path for the access log: no query string, no fragment, at most 2 KiB,
// secret-shaped substrings redacted; targets that are not origin-form (which
// may carry user info) are logged as "-".
std::string LoggablePath(absl::string_view target);

// {"time":...,"request_id":...,"method":...,"path":...,"status":N,
//  "reason":...,"token_id":...,"latency_us":N}; every string field has
// secret-shaped substrings redacted.
std::string AccessLogLine(const RequestLog& log, int64_t latency_us);

// Writes `line` plus a newline to stderr in one write(2).
void WriteLogLine(absl::string_view line);
// {"msg":...,"detail":...} on stderr.
void LogEvent(absl::string_view msg, absl::string_view detail);

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_ACCESS_LOG_H_
