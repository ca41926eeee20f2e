// buffer_pool.h: pooled sizes are reused on the thread that frees them, the
// free lists are bounded, and other sizes never enter a list.

#include "sidecar/buffer_pool.h"

#include <cstddef>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace pat::sidecar {
namespace {

constexpr std::size_t kSmall = buffer_pool::kPooledBlockSizes[0];
constexpr std::size_t kLarge = buffer_pool::kPooledBlockSizes[1];

TEST(BufferPoolTest, FreedBlockIsReusedBySameThread) {
  std::thread([] {
    void* a = buffer_pool::Allocate(kLarge);
    buffer_pool::Deallocate(a, kLarge);
    EXPECT_EQ(buffer_pool::FreeBlocksForTesting(kLarge), 1u);
    void* b = buffer_pool::Allocate(kLarge);
    EXPECT_EQ(a, b);
    EXPECT_EQ(buffer_pool::FreeBlocksForTesting(kLarge), 0u);
    buffer_pool::Deallocate(b, kLarge);
  }).join();
}

TEST(BufferPoolTest, FreeListsAreBounded) {
  std::thread([] {
    const std::size_t limit = buffer_pool::kMaxFreeBlocks[0];
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < limit + 10; ++i) {
      blocks.push_back(buffer_pool::Allocate(kSmall));
    }
    for (void* p : blocks) buffer_pool::Deallocate(p, kSmall);
    EXPECT_EQ(buffer_pool::FreeBlocksForTesting(kSmall), limit);
  }).join();
}

TEST(BufferPoolTest, OtherSizesBypassThePool) {
  std::thread([] {
    void* p = buffer_pool::Allocate(kLarge + 1);
    buffer_pool::Deallocate(p, kLarge + 1);
    EXPECT_EQ(buffer_pool::FreeBlocksForTesting(kLarge), 0u);
    EXPECT_EQ(buffer_pool::FreeBlocksForTesting(kLarge + 1), 0u);
  }).join();
}

TEST(BufferPoolTest, FlatBufferReservationsComeFromThePool) {
  std::thread([] {
    {
      PooledFlatBuffer buffer;
      buffer.reserve(kLarge);
      buffer.commit(boost::asio::buffer_copy(buffer.prepare(5),
                                             boost::asio::buffer("hello", 5)));
      EXPECT_EQ(buffer.size(), 5u);
      buffer.consume(5);
      buffer.shrink_to_fit();  // an idle connection gives its buffer back
      EXPECT_EQ(buffer_pool::FreeBlocksForTesting(kLarge), 1u);
      buffer.reserve(kLarge);  // the next request takes it again
      EXPECT_EQ(buffer_pool::FreeBlocksForTesting(kLarge), 0u);
    }
    EXPECT_EQ(buffer_pool::FreeBlocksForTesting(kLarge), 1u);
  }).join();
}

}  // namespace
}  // namespace pat::sidecar
