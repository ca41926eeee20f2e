#include "common/version.h"

#include "absl/strings/str_cat.h"
#include "pat_build_info.h"  // generated: PAT_BUILD_VERSION, PAT_BUILD_COMMIT

namespace pat {

absl::string_view Version() { return PAT_BUILD_VERSION; }
absl::string_view GitCommit() { return PAT_BUILD_COMMIT; }

std::string VersionLine(absl::string_view program) {
  return absl::StrCat(program, " ", Version(), " (commit ", GitCommit(), ")");
}

}  // namespace pat
