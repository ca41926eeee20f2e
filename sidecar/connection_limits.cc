#include "sidecar/connection_limits.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "sidecar/http_limits.h"

namespace pat::sidecar {
namespace {

uint64_t MemoryAvailableBytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  uint64_t bytes = pages > 0 && page_size > 0
                       ? static_cast<uint64_t>(pages) *
                             static_cast<uint64_t>(page_size)
                       : uint64_t{1} << 30;
  std::ifstream cgroup("/sys/fs/cgroup/memory.max");
  std::string line;
  uint64_t limit = 0;
  if (std::getline(cgroup, line) &&
      absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &limit) &&
      limit > 0) {
    bytes = std::min(bytes, limit);
  }
  return bytes;
}

}  // namespace

int DefaultMaxConnections() {
  uint64_t by_fds = static_cast<uint64_t>(kMaxDefaultConnections);
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 &&
      nofile.rlim_cur != RLIM_INFINITY) {
    const uint64_t fds = nofile.rlim_cur;
    by_fds = fds > kReservedDescriptors ? (fds - kReservedDescriptors) / 2 : 0;
  }
  const uint64_t by_memory =
      MemoryAvailableBytes() / 4 / kConnectionMemoryEstimate;
  const uint64_t n = std::min(by_fds, by_memory);
  return static_cast<int>(std::clamp<uint64_t>(
      n, kMinDefaultConnections, kMaxDefaultConnections));
}

}  // namespace pat::sidecar
