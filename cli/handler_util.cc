#include "cli/handler_util.h"

#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "cli/flags.h"
#include "cli/patctl_args.h"
#include "cli/patctl_ux.h"

namespace pat::patctl {

void WarnDeprecatedScopes() {
  for (const std::string& warning :
       DeprecatedScopeWarnings(SplitList(absl::GetFlag(FLAGS_scopes)))) {
    std::cerr << "patctl: " << warning << "\n";
  }
}

bool ResourcesConflict(const Session& s) {
  return absl::GetFlag(FLAGS_all_resources) && s.Given("links");
}

void AddAll(const std::vector<std::string>& items,
            google::protobuf::RepeatedPtrField<std::string>* out) {
  for (const std::string& item : items) out->Add(std::string(item));
}

}  // namespace pat::patctl
