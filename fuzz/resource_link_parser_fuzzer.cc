// libFuzzer target; the logic lives in fuzz/common_fuzz_entry.cc so that the
// corpus in fuzz/corpus/resource_link_parser/ also runs in
// tests/unit/fuzz_corpus_test.cc.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "fuzz/common_fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pat::fuzz::FuzzResourceLinkParser(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
