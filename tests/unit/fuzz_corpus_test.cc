// Runs the checked-in fuzz corpora (fuzz/corpus/<target>/*) through the same
// entry functions as the libFuzzer targets, so every corpus file is a
// regression test in the normal suite (any compiler, no libFuzzer needed).
// An invariant violation aborts the test binary.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/policy/fuzz_entry.h"
#include "fuzz/common_fuzz_entry.h"
#include "gtest/gtest.h"
#ifdef PAT_HAVE_FRONT_FUZZ_ENTRY
#include <cstdint>

#include "sidecar/front_fuzz_entry.h"

// FuzzHttpFront is found whether it is declared at namespace scope or in
// pat:: / pat::sidecar:: (as in fuzz/http_front_fuzzer.cc).
namespace pat::sidecar {}
namespace pat_fuzz_corpus_test {
using namespace pat;           // NOLINT(build/namespaces)
using namespace pat::sidecar;  // NOLINT(build/namespaces)
inline void HttpFront(absl::string_view data) {
  FuzzHttpFront(reinterpret_cast<const uint8_t*>(data.data()), data.size());
}
}  // namespace pat_fuzz_corpus_test
#endif

namespace pat::policy {
namespace {

namespace fs = std::filesystem;

// fuzz/corpus under the repository root, from this file's path
// (…/tests/unit/fuzz_corpus_test.cc); PAT_FUZZ_CORPUS_DIR overrides it.
fs::path CorpusRoot() {
  if (const char* env = std::getenv("PAT_FUZZ_CORPUS_DIR")) return env;
  const std::string file = __FILE__;
  const size_t pos = file.rfind("/tests/unit/");
  const std::string root = pos == std::string::npos ? "." : file.substr(0, pos);
  return fs::path(root) / "fuzz" / "corpus";
}

std::vector<fs::path> CorpusFiles(absl::string_view target) {
  std::vector<fs::path> files;
  const fs::path dir = CorpusRoot() / std::string(target);
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  return files;
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

void RunCorpus(absl::string_view target, void (*entry)(absl::string_view)) {
  const std::vector<fs::path> files = CorpusFiles(target);
  ASSERT_GE(files.size(), 3u)
      << "corpus missing: " << CorpusRoot() / std::string(target);
  for (const fs::path& f : files) {
    SCOPED_TRACE(f.string());
    entry(ReadAll(f));
  }
}

TEST(FuzzCorpus, PathCanon) { RunCorpus("path_canon", FuzzPathCanonicalizer); }
TEST(FuzzCorpus, CatalogParser) {
  RunCorpus("catalog_parser", FuzzCatalogParser);
}
TEST(FuzzCorpus, RouteMatcher) { RunCorpus("route_matcher", FuzzRouteMatcher); }
TEST(FuzzCorpus, SecretParser) {
  RunCorpus("secret_parser", pat::fuzz::FuzzSecretParser);
}
TEST(FuzzCorpus, ResourceLinkParser) {
  RunCorpus("resource_link_parser", pat::fuzz::FuzzResourceLinkParser);
}
#ifdef PAT_HAVE_FRONT_FUZZ_ENTRY
TEST(FuzzCorpus, HttpFront) {
  RunCorpus("http_front", pat_fuzz_corpus_test::HttpFront);
}
#endif

// The corpus of a target whose entry function is built must not be missing
// or empty (a corpus that silently vanished would test nothing).
TEST(FuzzCorpus, EveryCorpusDirectoryHasSeeds) {
  for (absl::string_view target :
       {"path_canon", "catalog_parser", "route_matcher", "secret_parser",
        "resource_link_parser", "http_front"}) {
    EXPECT_GE(CorpusFiles(target).size(), 3u) << target;
  }
}

// The entry functions also hold on trivial inputs.
TEST(FuzzCorpus, EmptyAndTinyInputs) {
  for (absl::string_view in : {absl::string_view(), absl::string_view("/"),
                               absl::string_view("\0", 1)}) {
    FuzzPathCanonicalizer(in);
    FuzzCatalogParser(in);
    FuzzRouteMatcher(in);
    pat::fuzz::FuzzSecretParser(in);
    pat::fuzz::FuzzResourceLinkParser(in);
#ifdef PAT_HAVE_FRONT_FUZZ_ENTRY
    pat_fuzz_corpus_test::HttpFront(in);
#endif
  }
}

}  // namespace
}  // namespace pat::policy
