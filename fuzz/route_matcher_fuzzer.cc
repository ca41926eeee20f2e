// libFuzzer target; the logic lives in common/policy/fuzz_entry.cc so that the
// corpus in fuzz/corpus/route_matcher/ also runs in
// tests/unit/fuzz_corpus_test.cc.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "common/policy/fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pat::policy::FuzzRouteMatcher(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
