#ifndef PAT_COMMON_VERSION_H_
#define PAT_COMMON_VERSION_H_

#include <string>

#include "absl/strings/string_view.h"

// The build's version and source commit, fixed at configure time
// (common/CMakeLists.txt: PAT_VERSION, and PAT_GIT_COMMIT from
// `git describe --always --dirty`, "unknown" outside a git checkout; both can
// be overridden with -DPAT_VERSION=... / -DPAT_GIT_COMMIT=...).
namespace pat {

absl::string_view Version();
absl::string_view GitCommit();

// "<program> <version> (commit <commit>)", e.g.
// "pat-authority 0.1.0 (commit 1a2b3c4d5e6f)".
std::string VersionLine(absl::string_view program);

}  // namespace pat

#endif  // PAT_COMMON_VERSION_H_
