#ifndef PAT_TESTS_SUPPORT_STATUS_MATCHERS_H_
#define PAT_TESTS_SUPPORT_STATUS_MATCHERS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "grpcpp/support/status.h"

namespace pat::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}
inline absl::Status GetStatus(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

// StatusIs(code) / StatusIs(code, message_matcher) for absl::Status,
// absl::StatusOr<T> and grpc::Status.
MATCHER_P2(StatusIs, code, message_matcher,
           "status code is " + absl::StatusCodeToString(code) +
               " and message " +
               ::testing::DescribeMatcher<std::string>(message_matcher)) {
  absl::Status s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(s.message()),
                                       result_listener);
}

MATCHER_P(StatusCodeIs, code,
          "status code is " + absl::StatusCodeToString(code)) {
  absl::Status s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code;
}

MATCHER(IsOk, "is OK") {
  absl::Status s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.ok();
}

}  // namespace pat::testing

#endif  // PAT_TESTS_SUPPORT_STATUS_MATCHERS_H_
