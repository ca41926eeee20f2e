// libFuzzer target for the sidecar's HTTP front end: raw client bytes through
// the real parsing, head checks and header rewrite (with a fake upstream).
// The logic lives in sidecar/front_fuzz_entry.cc so that the corpus in
// fuzz/corpus/http_front/ also runs in tests/unit/fuzz_corpus_test.cc.
#include <cstddef>
#include <cstdint>

#include "sidecar/front_fuzz_entry.h"

// FuzzHttpFront is found whether front_fuzz_entry.h declares it at namespace
// scope or in pat:: / pat::sidecar::.
namespace pat::sidecar {}
using namespace pat;           // NOLINT(build/namespaces)
using namespace pat::sidecar;  // NOLINT(build/namespaces)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return FuzzHttpFront(data, size);
}
