#include "kv/block_manager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "kv/block_hash.h"
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

// ---- prefix caching

// Tokens 0..n-1 offset by `base`, so prompts with different bases share nothing.
std::vector<int32_t> iota_tokens(int32_t n, int32_t base = 0) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) t[static_cast<size_t>(i)] = base + i;
  return t;
}

std::vector<uint64_t> hashes_of(const std::vector<int32_t>& tokens, int32_t bs, uint64_t salt) {
  std::vector<uint64_t> h;
  extend_block_hashes(h, tokens, bs, salt);
  return h;
}

TEST(BlockHash, ChainCoversWholePrefix) {
  const auto a = iota_tokens(12);
  auto b = a;
  b[1] = 99;  // differs in block 0 only
  const auto ha = hashes_of(a, 4, 7), hb = hashes_of(b, 4, 7);
  ASSERT_EQ(ha.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_NE(ha[i], hb[i]) << i;  // the chain carries block 0
  EXPECT_NE(hashes_of(a, 4, 8)[0], ha[0]);                      // the salt names the model
  EXPECT_EQ(hashes_of(iota_tokens(11), 4, 7).size(), 2u);       // only full blocks
  std::vector<uint64_t> inc;
  extend_block_hashes(inc, std::span<const int32_t>(a).first(5), 4, 7);
  extend_block_hashes(inc, a, 4, 7);
  EXPECT_EQ(inc, ha);  // extending is the same as hashing at once
}

TEST(BlockManagerPrefix, SharesCachedBlocksAndKeepsThemAfterFree) {
  BlockManager m(BlockManagerOptions{.num_blocks = 8, .block_size = 4, .cache_salt = 3});
  const auto p = iota_tokens(10);
  const auto h = hashes_of(p, 4, 3);
  ASSERT_TRUE(m.ensure(1, 10));
  m.cache_full_blocks(1, h, p, 2);  // blocks 0 and 1 are full
  EXPECT_EQ(m.num_cached_blocks(), 2);
  EXPECT_FALSE(m.writable(1, 0));
  EXPECT_FALSE(m.writable(1, 1));
  EXPECT_TRUE(m.writable(1, 2));  // the partial tail stays private

  PrefixMatch match = m.match_prefix(h, p, 2);
  EXPECT_EQ(match.num_blocks, 2);
  EXPECT_EQ(match.num_held, 2);
  m.share_prefix(2, h, p, 2);
  EXPECT_EQ(m.table(2)[0], m.table(1)[0]);
  EXPECT_EQ(m.table(2)[1], m.table(1)[1]);
  EXPECT_EQ(m.num_used(), 3);              // shared blocks count once
  EXPECT_EQ(m.num_exclusive_blocks(1), 1);  // only its tail
  EXPECT_EQ(m.num_exclusive_blocks(2), 0);
  ASSERT_TRUE(m.ensure(2, 12));
  EXPECT_TRUE(m.writable(2, 2));
  m.check_invariants();

  m.free(1);
  m.free(2);
  EXPECT_EQ(m.num_free(), 8);  // cached blocks are free to evict...
  m.check_invariants();
  match = m.match_prefix(h, p, 2);  // ...but still found
  EXPECT_EQ(match.num_blocks, 2);
  EXPECT_EQ(match.num_held, 0);
  m.share_prefix(3, h, p, 2);
  EXPECT_EQ(m.num_used(), 2);
  m.check_invariants();
}

TEST(BlockManagerPrefix, MatchStopsAtFirstMissAndAtMaxBlocks) {
  BlockManager m(BlockManagerOptions{.num_blocks = 8, .block_size = 4});
  const auto p = iota_tokens(16);
  const auto h = hashes_of(p, 4, 0);
  ASSERT_TRUE(m.ensure(1, 16));
  m.cache_full_blocks(1, h, p, 4);
  EXPECT_EQ(m.match_prefix(h, p, 4).num_blocks, 4);
  EXPECT_EQ(m.match_prefix(h, p, 3).num_blocks, 3);
  EXPECT_EQ(m.match_prefix(h, p, 0).num_blocks, 0);
  auto q = p;
  q[9] = -5;  // block 2 differs: blocks 2 and 3 miss (block 3's hash chains block 2's)
  EXPECT_EQ(m.match_prefix(hashes_of(q, 4, 0), q, 4).num_blocks, 2);
  auto r = p;
  r[0] = -1;
  EXPECT_EQ(m.match_prefix(hashes_of(r, 4, 0), r, 4).num_blocks, 0);
}

// A forged hash (as a 64-bit collision would give) with other tokens must not match.
TEST(BlockPoolPrefix, LookupComparesTokensAndParent) {
  BlockPool pool(2, 4);
  std::vector<int32_t> t;
  ASSERT_TRUE(pool.ensure(t, 4));
  const auto toks = iota_tokens(4);
  ASSERT_TRUE(pool.register_block(t[0], 42, 7, toks));
  EXPECT_EQ(pool.lookup(42, 7, toks), t[0]);
  EXPECT_EQ(pool.lookup(42, 8, toks), BlockPool::kNoBlock);
  EXPECT_EQ(pool.lookup(42, 7, iota_tokens(4, 1)), BlockPool::kNoBlock);
  EXPECT_EQ(pool.lookup(43, 7, toks), BlockPool::kNoBlock);
  // The same content again is not registered twice, nor is a block registered twice.
  std::vector<int32_t> u;
  ASSERT_TRUE(pool.ensure(u, 4));
  EXPECT_FALSE(pool.register_block(u[0], 42, 7, toks));
  EXPECT_FALSE(pool.register_block(t[0], 44, 7, toks));
  EXPECT_FALSE(pool.is_cached(u[0]));
  pool.check_invariants();
}

// Allocation takes never-cached blocks first, then evicts cached ones least recently released
// first; a sequence's tail is released (so evicted) before its head.
TEST(BlockPoolPrefix, EvictsLeastRecentlyReleasedFirst) {
  BlockPool pool(4, 1);
  std::vector<int32_t> a, b;
  ASSERT_TRUE(pool.ensure(a, 2));
  ASSERT_TRUE(pool.ensure(b, 2));
  uint64_t h = 1;
  for (std::vector<int32_t>* t : {&a, &b})
    for (int32_t id : *t) ASSERT_TRUE(pool.register_block(id, h++, 0, iota_tokens(1, id)));
  const std::vector<int32_t> a0 = a, b0 = b;
  pool.release(a);  // eviction order: a[1], a[0]
  pool.release(b);  // then b[1], b[0]
  EXPECT_EQ(pool.num_evictable(), 4);
  EXPECT_EQ(pool.num_free(), 4);
  pool.acquire(a0[1]);  // taken back: leaves the order
  EXPECT_EQ(pool.num_evictable(), 3);
  std::vector<int32_t> c;
  ASSERT_TRUE(pool.ensure(c, 1));
  EXPECT_EQ(c[0], a0[0]);
  EXPECT_FALSE(pool.is_cached(a0[0]));
  ASSERT_TRUE(pool.ensure(c, 3));
  EXPECT_EQ(c[1], b0[1]);
  EXPECT_EQ(c[2], b0[0]);
  EXPECT_EQ(pool.num_evictions(), 3);
  EXPECT_TRUE(pool.is_cached(a0[1]));
  EXPECT_FALSE(pool.ensure(c, 4));  // a0[1] is held: nothing left
  pool.check_invariants();
}

TEST(BlockManagerPrefix, ResetForgetsContentButNotHolders) {
  BlockManager m(BlockManagerOptions{.num_blocks = 6, .block_size = 2});
  const auto p = iota_tokens(8);
  const auto h = hashes_of(p, 2, 0);
  ASSERT_TRUE(m.ensure(1, 8));
  m.cache_full_blocks(1, h, p, 4);
  ASSERT_TRUE(m.ensure(2, 4));
  m.cache_full_blocks(2, hashes_of(iota_tokens(4, 50), 2, 0), iota_tokens(4, 50), 2);
  m.free(2);  // two evictable blocks
  const uint64_t epoch = m.cache_epoch();
  EXPECT_EQ(m.reset_prefix_cache(), 6);
  EXPECT_NE(m.cache_epoch(), epoch);
  EXPECT_EQ(m.num_cached_blocks(), 0);
  EXPECT_EQ(m.match_prefix(h, p, 4).num_blocks, 0);
  EXPECT_EQ(m.num_blocks_held(1), 4);
  EXPECT_EQ(m.num_free(), 2);
  m.check_invariants();
  m.free(1);
  EXPECT_EQ(m.num_free(), 6);
  m.check_invariants();
}

TEST(BlockManagerPrefixDeathTest, SharingAnUncachedPrefixIsCaught) {
  BlockManager m(BlockManagerOptions{.num_blocks = 4, .block_size = 2});
  const auto p = iota_tokens(4);
  EXPECT_DEATH(m.share_prefix(1, hashes_of(p, 2, 0), p, 1), "not cached");
}

// Random traffic of sequences drawn from a few shared prompts: sharing, registering, freeing
// and evicting under a tiny pool. A model of each sequence's tokens checks that every block a
// table shares holds the tokens the sequence expects there (cached content is never rebound),
// and the invariants hold throughout.
TEST(BlockManagerPrefix, RandomSharingKeepsContentAndInvariants) {
  constexpr int32_t bs = 2;
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937 rng(seed);
    BlockManager m(BlockManagerOptions{.num_blocks = 12, .block_size = bs, .cache_salt = seed});
    std::vector<std::vector<int32_t>> prompts;
    for (int32_t k = 0; k < 3; ++k) {
      auto p = iota_tokens(8, 100 * k);
      if (k == 2) std::copy_n(prompts[0].begin(), 4, p.begin());  // shares 2 blocks with 0
      prompts.push_back(p);
    }
    struct Seq {
      std::vector<int32_t> tokens;
      int64_t num_kv = 0;  // tokens covered by its table
    };
    std::vector<Seq> seqs(6);
    // What each block holds (the oracle): set when a sequence fills it, cleared when the pool
    // hands it out afresh.
    std::vector<std::vector<int32_t>> content(12);
    for (int op = 0; op < 3000; ++op) {
      const size_t i = rng() % seqs.size();
      Seq& s = seqs[i];
      const auto id = static_cast<int64_t>(i);
      if (s.num_kv == 0) {  // start: take a prompt and its cached prefix
        s.tokens = prompts[rng() % prompts.size()];
        const auto h = hashes_of(s.tokens, bs, seed);
        const PrefixMatch pm = m.match_prefix(h, s.tokens, 3);
        m.share_prefix(id, h, s.tokens, pm.num_blocks);
        const auto t = m.table(id);
        for (int32_t b = 0; b < pm.num_blocks; ++b) {
          const std::vector<int32_t> mine(s.tokens.begin() + b * bs,
                                          s.tokens.begin() + (b + 1) * bs);
          ASSERT_EQ(content[static_cast<size_t>(t[static_cast<size_t>(b)])], mine)
              << "shared block " << t[static_cast<size_t>(b)] << " holds other tokens";
        }
        s.num_kv = pm.num_blocks * bs;
        if (s.num_kv == 0) {
          if (!m.ensure(id, 1)) continue;
          content[static_cast<size_t>(m.table(id)[0])].clear();  // fresh block
        }
        s.num_kv = std::max<int64_t>(s.num_kv, 1);
      } else if (rng() % 5 == 0) {
        m.free(id);
        s.num_kv = 0;
      } else {  // compute a few more tokens, then register the full blocks
        const int64_t want = std::min<int64_t>(s.num_kv + 1 + rng() % 3,
                                               static_cast<int64_t>(s.tokens.size()));
        const auto before = static_cast<size_t>(m.num_blocks_held(id));
        if (!m.ensure(id, want)) continue;
        const auto t = m.table(id);
        for (size_t b = before; b < t.size(); ++b) content[static_cast<size_t>(t[b])].clear();
        for (int64_t b = s.num_kv / bs; b < (want + bs - 1) / bs; ++b)
          ASSERT_TRUE(m.writable(id, static_cast<int32_t>(b))) << "writes cached block " << b;
        s.num_kv = want;
        const auto full = static_cast<int32_t>(want / bs);
        m.cache_full_blocks(id, hashes_of(s.tokens, bs, seed), s.tokens, full);
        for (int32_t b = 0; b < full; ++b) {
          auto& c = content[static_cast<size_t>(t[static_cast<size_t>(b)])];
          const std::vector<int32_t> mine(s.tokens.begin() + b * bs, s.tokens.begin() + (b + 1) * bs);
          if (c.empty()) c = mine;
          ASSERT_EQ(c, mine) << "block " << t[static_cast<size_t>(b)] << " holds other tokens";
        }
        if (want == static_cast<int64_t>(s.tokens.size())) {
          m.free(id);
          s.num_kv = 0;
        }
      }
      m.check_invariants();
    }
    for (size_t j = 0; j < seqs.size(); ++j) m.free(static_cast<int64_t>(j));
    ASSERT_EQ(m.num_free(), m.num_blocks());
    ASSERT_EQ(m.num_used(), 0);
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
