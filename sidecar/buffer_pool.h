#ifndef PAT_SIDECAR_BUFFER_POOL_H_
#define PAT_SIDECAR_BUFFER_POOL_H_

// Per-thread free lists for the proxy's per-connection buffers (the client
// head buffer, the upstream head buffer and the relay buffer), so a
// keep-alive connection can give its buffers back whenever it goes idle and
// take them again for its next request without a trip through malloc.
//
// Contract:
//  - Blocks of exactly kPooledBlockSizes bytes are served from, and returned
//    to, the calling thread's free list; any other size goes to operator
//    new/delete. A block may be freed on another thread than the one that
//    allocated it (it joins that thread's list).
//  - Each thread keeps at most kMaxFreeBlocks blocks of each size; the rest
//    are freed. Retained memory is therefore bounded per thread
//    (2 KiB x 512 + 16 KiB x 256 = 5 MiB) whatever the connection count, and
//    an idle connection holds no buffer at all.
//  - Not a general allocator: no alignment beyond alignof(std::max_align_t).

#include <cstddef>
#include <memory>
#include <new>

#include "boost/beast/core/flat_buffer.hpp"

namespace pat::sidecar {

namespace buffer_pool {

inline constexpr std::size_t kPooledBlockSizes[] = {2 * 1024, 16 * 1024};
inline constexpr std::size_t kMaxFreeBlocks[] = {512, 256};

// Returns a block of `bytes` bytes (never null; throws std::bad_alloc).
void* Allocate(std::size_t bytes);
// Gives back a block from Allocate(bytes).
void Deallocate(void* p, std::size_t bytes) noexcept;

// Blocks currently held by the calling thread's free lists (tests).
std::size_t FreeBlocksForTesting(std::size_t bytes);

}  // namespace buffer_pool

// A std::allocator replacement for beast::basic_flat_buffer that draws the
// pooled sizes from buffer_pool.
template <typename T>
struct PooledAllocator {
  using value_type = T;
  PooledAllocator() = default;
  template <typename U>
  PooledAllocator(const PooledAllocator<U>&) noexcept {}  // NOLINT

  T* allocate(std::size_t n) {
    return static_cast<T*>(buffer_pool::Allocate(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    buffer_pool::Deallocate(p, n * sizeof(T));
  }
  template <typename U>
  bool operator==(const PooledAllocator<U>&) const noexcept {
    return true;
  }
  template <typename U>
  bool operator!=(const PooledAllocator<U>&) const noexcept {
    return false;
  }
};

// The proxy's dynamic buffers: whole-block reservations come from the pool.
using PooledFlatBuffer = boost::beast::basic_flat_buffer<PooledAllocator<char>>;

// An owned block of `kBytes` from the pool (the relay buffer); empty until
// get() is first called.
template <std::size_t kBytes>
class PooledBlock {
 public:
  PooledBlock() = default;
  ~PooledBlock() { reset(); }
  PooledBlock(const PooledBlock&) = delete;
  PooledBlock& operator=(const PooledBlock&) = delete;

  char* get() {
    if (p_ == nullptr) p_ = static_cast<char*>(buffer_pool::Allocate(kBytes));
    return p_;
  }
  void reset() noexcept {
    if (p_ != nullptr) buffer_pool::Deallocate(p_, kBytes);
    p_ = nullptr;
  }

 private:
  char* p_ = nullptr;
};

}  // namespace pat::sidecar

#endif  // PAT_SIDECAR_BUFFER_POOL_H_
