#include "sidecar/access_log.h"

#include <unistd.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sidecar/front_text.h"

namespace pat::sidecar {
namespace {

std::string Field(absl::string_view s) {
  if (!internal::ContainsSecretShaped(s)) return internal::JsonQuote(s);
  return internal::JsonQuote(internal::RedactSecrets(s));
}

}  // namespace

std::string LoggablePath(absl::string_view target) {
  if (target == "*") return "*";
  if (!absl::StartsWith(target, "/")) return "-";
  absl::string_view path = target.substr(0, target.find_first_of("?#"));
  constexpr std::size_t kMaxLoggedPath = 2048;
  if (path.size() > kMaxLoggedPath) path = path.substr(0, kMaxLoggedPath);
  return internal::RedactSecrets(path);
}

std::string AccessLogLine(const RequestLog& log, int64_t latency_us) {
  return absl::StrCat(
      "{\"time\":",
      internal::JsonQuote(absl::FormatTime(
          "%Y-%m-%dT%H:%M:%E6SZ", log.start_wall, absl::UTCTimeZone())),
      ",\"request_id\":", Field(log.request_id),
      ",\"method\":", Field(log.method), ",\"path\":", Field(log.path),
      ",\"status\":", log.status, ",\"reason\":", Field(log.reason),
      ",\"token_id\":", Field(log.token_id), ",\"latency_us\":", latency_us,
      "}");
}

void WriteLogLine(absl::string_view line) {
  std::string out(line);
  out += '\n';
  // One write(2) per line so concurrent lines never interleave.
  const ssize_t ignored = ::write(STDERR_FILENO, out.data(), out.size());
  (void)ignored;
}

void LogEvent(absl::string_view msg, absl::string_view detail) {
  WriteLogLine(absl::StrCat("{\"msg\":", Field(msg), ",\"detail\":",
                            Field(detail), "}"));
}

}  // namespace pat::sidecar
