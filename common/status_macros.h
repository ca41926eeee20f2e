#ifndef PAT_COMMON_STATUS_MACROS_H_
#define PAT_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define PAT_RETURN_IF_ERROR(expr)                  \
  do {                                             \
    ::absl::Status pat_status_ = (expr);           \
    if (!pat_status_.ok()) return pat_status_;     \
  } while (0)

#define PAT_STATUS_CONCAT_INNER_(a, b) a##b
#define PAT_STATUS_CONCAT_(a, b) PAT_STATUS_CONCAT_INNER_(a, b)

// `lhs = *expr` when `expr` (an absl::StatusOr) is OK; otherwise returns its
// status from the enclosing function.
#define PAT_ASSIGN_OR_RETURN(lhs, expr)                                     \
  PAT_ASSIGN_OR_RETURN_IMPL_(PAT_STATUS_CONCAT_(pat_statusor_, __LINE__), \
                             lhs, expr)
#define PAT_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return std::move(tmp).status();   \
  lhs = std::move(tmp).value()

#endif  // PAT_COMMON_STATUS_MACROS_H_
