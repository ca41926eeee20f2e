#ifndef PAT_SIDECAR_CONNECTION_LIMITS_H_
#define PAT_SIDECAR_CONNECTION_LIMITS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

// Bounds on what client connections may hold, shared by all event loops.
namespace pat::sidecar {

// A byte budget shared by all connections (lock-free). Holders charge what
// they buffer and give it back when done.
class MemoryBudget {
 public:
  explicit MemoryBudget(std::size_t limit) : limit_(limit) {}

  // Charges `bytes` if that stays within the limit.
  bool TryAcquire(std::size_t bytes) {
    std::size_t used = used_.load(std::memory_order_relaxed);
    do {
      if (bytes > limit_ - used) return false;
    } while (!used_.compare_exchange_weak(used, used + bytes,
                                          std::memory_order_relaxed));
    return true;
  }
  void Release(std::size_t bytes) {
    used_.fetch_sub(bytes, std::memory_order_relaxed);
  }
  std::size_t used() const { return used_.load(std::memory_order_relaxed); }
  std::size_t limit() const { return limit_; }

 private:
  const std::size_t limit_;
  std::atomic<std::size_t> used_{0};
};

// The --max_connections default (see http_limits.h): from RLIMIT_NOFILE and
// the memory available to the process (cgroup memory.max when set, else
// physical memory).
int DefaultMaxConnections();

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_CONNECTION_LIMITS_H_
