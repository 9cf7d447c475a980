#include "kv/block_manager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "kv/block_pool.h"

namespace sarathi::kv {
namespace {

TEST(BlockPool, EnsureGrowsAndReleaseReturns) {
  BlockPool pool(4, 16);
  std::vector<int32_t> t;
  EXPECT_EQ(pool.blocks_for(0), 0);
  EXPECT_EQ(pool.blocks_for(16), 1);
  EXPECT_EQ(pool.blocks_for(17), 2);
  ASSERT_TRUE(pool.ensure(t, 17));
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(pool.num_free(), 2);
  EXPECT_FALSE(pool.ensure(t, 65));  // needs 5 blocks: unchanged
  EXPECT_EQ(t.size(), 2u);
  ASSERT_TRUE(pool.ensure(t, 64));
  EXPECT_EQ(pool.num_free(), 0);
  pool.check_invariants();
  pool.release(t);
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(pool.num_free(), 4);
  pool.check_invariants();
}

TEST(BlockManager, TablesPerSequence) {
  BlockManager m(BlockManagerOptions{.num_blocks = 8, .block_size = 4});
  ASSERT_TRUE(m.ensure(1, 5));
  ASSERT_TRUE(m.ensure(2, 4));
  EXPECT_EQ(m.num_blocks_held(1), 2);
  EXPECT_EQ(m.num_blocks_held(2), 1);
  EXPECT_EQ(m.num_blocks_held(3), 0);
  EXPECT_EQ(m.num_seqs(), 2);
  EXPECT_TRUE(m.ensure(1, 8));  // still 2 blocks
  EXPECT_EQ(m.num_blocks_held(1), 2);
  EXPECT_FALSE(m.ensure(3, 33));  // 9 blocks > 8: nothing changes, no empty entry
  EXPECT_EQ(m.num_seqs(), 2);
  EXPECT_EQ(m.num_free(), 5);
  const auto t1 = m.table(1);
  const auto t2 = m.table(2);
  EXPECT_EQ(t1.size(), 2u);
  EXPECT_TRUE(std::find(t1.begin(), t1.end(), t2[0]) == t1.end());
  m.check_invariants();
  m.free(1);
  m.free(1);  // no-op
  EXPECT_EQ(m.num_free(), 7);
  EXPECT_TRUE(m.table(1).empty());
  m.check_invariants();
}

TEST(BlockManager, MemorySizing) {
  EXPECT_EQ(num_blocks_for_memory(1000, 100), 10);
  EXPECT_EQ(num_blocks_for_memory(999, 100), 9);
  EXPECT_EQ(num_blocks_for_memory(50, 100), 0);
  EXPECT_EQ(num_blocks_for_memory(100, 0), 0);
}

// Random ensure/free traffic: the pool never hands out more than it has, never loses a block,
// and every table covers what was ensured.
TEST(BlockManager, RandomTrafficKeepsInvariants) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937 rng(seed);
    BlockManager m(BlockManagerOptions{.num_blocks = 32, .block_size = 4});
    std::vector<int64_t> tokens(10, 0);
    for (int op = 0; op < 2000; ++op) {
      const size_t seq = rng() % tokens.size();
      if (rng() % 4 == 0) {
        m.free(static_cast<int64_t>(seq));
        tokens[seq] = 0;
      } else {
        const int64_t want = tokens[seq] + static_cast<int64_t>(rng() % 9);
        const int32_t before = m.num_free();
        if (m.ensure(static_cast<int64_t>(seq), want)) {
          tokens[seq] = want;
        } else {
          ASSERT_EQ(m.num_free(), before);
          ASSERT_GT(m.blocks_for(want) - m.num_blocks_held(static_cast<int64_t>(seq)), before);
        }
      }
      ASSERT_GE(m.num_blocks_held(static_cast<int64_t>(seq)), m.blocks_for(tokens[seq]));
      m.check_invariants();
    }
    for (size_t s = 0; s < tokens.size(); ++s) m.free(static_cast<int64_t>(s));
    ASSERT_EQ(m.num_free(), m.num_blocks());
  }
}

TEST(BlockPoolDeathTest, DoubleFreeIsCaught) {
  BlockPool pool(2, 4);
  std::vector<int32_t> t;
  ASSERT_TRUE(pool.ensure(t, 4));
  std::vector<int32_t> copy = t;
  pool.release(t);
  EXPECT_DEATH(pool.release(copy), "not in use");
}

}  // namespace
}  // namespace sarathi::kv
