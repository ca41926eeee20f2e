#ifndef PAT_TESTS_SUPPORT_WAIT_FOR_H_
#define PAT_TESTS_SUPPORT_WAIT_FOR_H_

#include <functional>

#include "absl/time/time.h"

namespace pat::testing {

// Polls `condition` (every millisecond) until it holds or `timeout` passes;
// whether it held. The way tests wait for a condition (never a sleep).
bool WaitFor(const std::function<bool()>& condition,
             absl::Duration timeout = absl::Seconds(10));

}  // namespace pat::testing

#endif  // PAT_TESTS_SUPPORT_WAIT_FOR_H_
