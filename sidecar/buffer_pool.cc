#include "sidecar/buffer_pool.h"

#include <cstddef>
#include <new>

namespace pat::sidecar::buffer_pool {
namespace {

constexpr std::size_t kClasses = std::size(kPooledBlockSizes);
static_assert(std::size(kMaxFreeBlocks) == kClasses);

// An intrusive singly linked free list: a free block's first bytes hold the
// pointer to the next one.
struct FreeBlock {
  FreeBlock* next;
};

// Set when the calling thread's lists are gone (thread exit): later frees
// on that thread go straight to operator delete.
thread_local bool lists_destroyed = false;

struct ThreadLists {
  FreeBlock* head[kClasses] = {};
  std::size_t count[kClasses] = {};

  ~ThreadLists() {
    lists_destroyed = true;
    for (std::size_t c = 0; c < kClasses; ++c) {
      while (head[c] != nullptr) {
        FreeBlock* b = head[c];
        head[c] = b->next;
        ::operator delete(static_cast<void*>(b));
      }
    }
  }
};

ThreadLists& Lists() {
  thread_local ThreadLists lists;
  return lists;
}

int ClassOf(std::size_t bytes) {
  for (std::size_t c = 0; c < kClasses; ++c) {
    if (kPooledBlockSizes[c] == bytes) return static_cast<int>(c);
  }
  return -1;
}

}  // namespace

void* Allocate(std::size_t bytes) {
  const int c = ClassOf(bytes);
  if (c >= 0 && !lists_destroyed) {
    ThreadLists& lists = Lists();
    if (FreeBlock* b = lists.head[c]; b != nullptr) {
      lists.head[c] = b->next;
      --lists.count[c];
      return b;
    }
  }
  return ::operator new(bytes);
}

void Deallocate(void* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
  const int c = ClassOf(bytes);
  if (c >= 0 && !lists_destroyed) {
    ThreadLists& lists = Lists();
    if (lists.count[c] < kMaxFreeBlocks[c]) {
      auto* b = static_cast<FreeBlock*>(p);
      b->next = lists.head[c];
      lists.head[c] = b;
      ++lists.count[c];
      return;
    }
  }
  ::operator delete(p);
}

std::size_t FreeBlocksForTesting(std::size_t bytes) {
  const int c = ClassOf(bytes);
  return c < 0 ? 0 : Lists().count[c];
}

}  // namespace pat::sidecar::buffer_pool
