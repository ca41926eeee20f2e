#include "sidecar/request_head.h"

#include <optional>

#include "absl/strings/match.h"
#include "boost/beast/http/field.hpp"
#include "sidecar/front_text.h"
#include "sidecar/http_limits.h"

namespace pat::sidecar {
namespace {

namespace http = boost::beast::http;

absl::string_view AV(boost::beast::string_view s) {
  return {s.data(), s.size()};
}

constexpr HeadRefusal kMalformed{policy::Reason::kRequestInvalid, ""};
constexpr HeadRefusal kUpgrade{
    policy::Reason::kRequestInvalid,
    "protocol upgrades and CONNECT are not supported"};

std::optional<HeadRefusal> CheckFraming(const RequestHead& req) {
  const unsigned version = req.version();
  if (version != 10 && version != 11) return kMalformed;
  int content_length = 0;
  int transfer_encoding = 0;
  int host = 0;
  for (const auto& f : req) {
    switch (f.name()) {
      case http::field::content_length:
        ++content_length;
        if (!internal::AllDigits(AV(f.value()))) return kMalformed;
        break;
      case http::field::transfer_encoding:
        ++transfer_encoding;
        if (!absl::EqualsIgnoreCase(AV(f.value()), "chunked")) {
          return kMalformed;
        }
        break;
      case http::field::host:
        ++host;
        break;
      case http::field::upgrade:
        return kUpgrade;
      default:
        break;
    }
  }
  if (content_length > 1 || transfer_encoding > 1 || host > 1 ||
      (content_length > 0 && transfer_encoding > 0)) {
    return kMalformed;
  }
  if (transfer_encoding > 0 && version == 10) return kMalformed;
  if (version == 11 && host == 0) return kMalformed;
  if (req.method() == http::verb::connect) return kUpgrade;
  return std::nullopt;
}

std::optional<HeadRefusal> CheckExpect(const RequestHead& req) {
  auto range = req.equal_range(http::field::expect);
  if (range.first == range.second) return std::nullopt;
  if (std::next(range.first) != range.second ||
      !absl::EqualsIgnoreCase(AV(range.first->value()), "100-continue")) {
    return HeadRefusal{policy::Reason::kExpectationFailed, ""};
  }
  return std::nullopt;
}

// Only the methods Beast knows (RFC 9110 and the registered WebDAV/extension
// verbs) are forwarded: an extension method is an arbitrary token of up to
// the head limit, which could carry a secret-shaped value upstream and into
// the access log. No catalog row uses one.
std::optional<HeadRefusal> CheckMethod(const RequestHead& req) {
  if (req.method() != http::verb::unknown) return std::nullopt;
  return HeadRefusal{policy::Reason::kRequestInvalid, "unknown method"};
}

std::optional<HeadRefusal> CheckTargetSecrets(absl::string_view target) {
  const std::size_t at = internal::FindSecretShaped(target);
  if (at == absl::string_view::npos) return std::nullopt;
  const std::size_t query = target.find('?');
  if (query != absl::string_view::npos && at > query) {
    return HeadRefusal{policy::Reason::kTokenInQuery, ""};
  }
  return HeadRefusal{policy::Reason::kTokenInPath, ""};
}

}  // namespace

namespace internal {

RequestHeadScanner::Result RequestHeadScanner::Scan(absl::string_view data) {
  for (;;) {
    const std::size_t newline = data.find('\n', search_from_);
    if (newline == absl::string_view::npos) {
      search_from_ = data.size();
      if (data.size() - head_begin_ >= kMaxRequestHeaderBytes) {
        return Result::kTooLarge;
      }
      return Result::kNeedMore;
    }
    const std::size_t next = newline + 1;
    search_from_ = next;
    if (next - head_begin_ > kMaxRequestHeaderBytes) return Result::kTooLarge;
    // CRLF only: a bare LF is a framing ambiguity.
    if (newline == line_start_ || data[newline - 1] != '\r') {
      return Result::kBad;
    }
    const absl::string_view line =
        data.substr(line_start_, newline - 1 - line_start_);
    if (!saw_request_line_) {
      if (line.empty()) {
        if (++leading_empty_lines_ > kMaxLeadingEmptyLines) {
          return Result::kBad;
        }
        line_start_ = next;
        head_begin_ = next;
        continue;
      }
      saw_request_line_ = true;
    } else if (line.empty()) {
      head_end_ = next;
      return Result::kComplete;
    } else {
      // obs-fold (or whitespace before the first field).
      if (line[0] == ' ' || line[0] == '\t') return Result::kBad;
      if (++fields_ > kMaxRequestHeaderCount) return Result::kTooLarge;
    }
    line_start_ = next;
  }
}

}  // namespace internal

std::optional<HeadRefusal> CheckRequestHead(const RequestHead& req) {
  if (auto r = CheckFraming(req)) return r;
  if (auto r = CheckMethod(req)) return r;
  if (auto r = CheckExpect(req)) return r;
  return CheckTargetSecrets(AV(req.target()));
}

}  // namespace pat::sidecar
