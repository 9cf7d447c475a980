#include "kv/block_manager.h"

#include <algorithm>

#include "core/check.h"

namespace sarathi::kv {

int32_t num_blocks_for_memory(int64_t kv_cache_bytes, int64_t bytes_per_block) {
  if (kv_cache_bytes <= 0 || bytes_per_block <= 0) return 0;
  const int64_t n = kv_cache_bytes / bytes_per_block;
  return n > INT32_MAX ? INT32_MAX : static_cast<int32_t>(n);
}

BlockManager::BlockManager(BlockManagerOptions options)
    : pool_(options.num_blocks, options.block_size), salt_(options.cache_salt) {}

int32_t BlockManager::num_blocks_held(int64_t seq) const {
  auto it = tables_.find(seq);
  return it == tables_.end() ? 0 : static_cast<int32_t>(it->second.blocks.size());
}

int32_t BlockManager::num_exclusive_blocks(int64_t seq) const {
  auto it = tables_.find(seq);
  if (it == tables_.end()) return 0;
  int32_t n = 0;
  for (int32_t id : it->second.blocks) n += pool_.ref_count(id) == 1 ? 1 : 0;
  return n;
}

bool BlockManager::ensure(int64_t seq, int64_t num_tokens) {
  if (blocks_for(num_tokens) <= num_blocks_held(seq)) return true;
  Table& t = tables_[seq];
  if (pool_.ensure(t.blocks, num_tokens)) return true;
  if (t.blocks.empty()) tables_.erase(seq);  // keep the map to holders only
  return false;
}

void BlockManager::free(int64_t seq) {
  auto it = tables_.find(seq);
  if (it == tables_.end()) return;
  pool_.release(it->second.blocks);
  tables_.erase(it);
}

std::span<const int32_t> BlockManager::table(int64_t seq) const {
  auto it = tables_.find(seq);
  if (it == tables_.end()) return {};
  return it->second.blocks;
}

std::span<const int32_t> BlockManager::block_tokens(std::span<const int32_t> tokens,
                                                     int32_t i) const {
  const auto bs = static_cast<size_t>(block_size());
  return tokens.subspan(static_cast<size_t>(i) * bs, bs);
}

PrefixMatch BlockManager::match_prefix(std::span<const uint64_t> hashes,
                                       std::span<const int32_t> tokens, int32_t max_blocks) const {
  PrefixMatch m;
  const auto n = static_cast<int32_t>(
      std::min<size_t>({hashes.size(), tokens.size() / static_cast<size_t>(block_size()),
                        static_cast<size_t>(std::max(max_blocks, 0))}));
  for (int32_t i = 0; i < n; ++i) {
    const int32_t id =
        pool_.lookup(hashes[static_cast<size_t>(i)], parent_hash(hashes, i), block_tokens(tokens, i));
    if (id == BlockPool::kNoBlock) break;
    ++m.num_blocks;
    m.num_held += pool_.in_use(id) ? 1 : 0;
  }
  return m;
}

void BlockManager::share_prefix(int64_t seq, std::span<const uint64_t> hashes,
                                std::span<const int32_t> tokens, int32_t num_blocks) {
  const int32_t held = num_blocks_held(seq);
  if (num_blocks <= held) return;
  Table& t = tables_[seq];
  SARATHI_CHECK(t.num_registered == held, "sharing a prefix into seq {} that holds its own blocks",
                seq);
  for (int32_t i = held; i < num_blocks; ++i) {
    const int32_t id =
        pool_.lookup(hashes[static_cast<size_t>(i)], parent_hash(hashes, i), block_tokens(tokens, i));
    SARATHI_CHECK(id != BlockPool::kNoBlock, "seq {}: block {} of its prefix is not cached", seq,
                  i);
    pool_.acquire(id);
    t.blocks.push_back(id);
  }
  t.num_registered = num_blocks;
}

void BlockManager::cache_full_blocks(int64_t seq, std::span<const uint64_t> hashes,
                                     std::span<const int32_t> tokens, int32_t num_full_blocks) {
  auto it = tables_.find(seq);
  if (it == tables_.end()) return;
  Table& t = it->second;
  const auto n = std::min<int32_t>(num_full_blocks, static_cast<int32_t>(t.blocks.size()));
  SARATHI_CHECK(static_cast<size_t>(n) <= hashes.size() &&
                    static_cast<size_t>(n) * static_cast<size_t>(block_size()) <= tokens.size(),
                "seq {}: caching {} blocks with {} hashes and {} tokens", seq, n, hashes.size(),
                tokens.size());
  for (int32_t i = t.num_registered; i < n; ++i)
    pool_.register_block(t.blocks[static_cast<size_t>(i)], hashes[static_cast<size_t>(i)],
                         parent_hash(hashes, i), block_tokens(tokens, i));
  t.num_registered = std::max(t.num_registered, n);
}

bool BlockManager::writable(int64_t seq, int32_t i) const {
  auto it = tables_.find(seq);
  if (it == tables_.end() || i < 0 || static_cast<size_t>(i) >= it->second.blocks.size())
    return false;
  const int32_t id = it->second.blocks[static_cast<size_t>(i)];
  return pool_.ref_count(id) == 1 && !pool_.is_cached(id);
}

int32_t BlockManager::reset_prefix_cache() { return pool_.clear_cache(); }

void BlockManager::check_invariants() const {
  pool_.check_invariants();
  std::vector<int32_t> refs(static_cast<size_t>(num_blocks()), 0);
  std::vector<int32_t> stamp(static_cast<size_t>(num_blocks()), 0);  // table number + 1
  int32_t table_no = 0;
  for (const auto& [seq, t] : tables_) {
    ++table_no;
    SARATHI_CHECK(!t.blocks.empty(), "sequence {} has an empty table entry", seq);
    for (int32_t id : t.blocks) {
      SARATHI_CHECK(id >= 0 && id < num_blocks(), "seq {} holds block id {}", seq, id);
      const auto k = static_cast<size_t>(id);
      SARATHI_CHECK(stamp[k] != table_no, "seq {} holds block {} twice", seq, id);
      stamp[k] = table_no;
      ++refs[k];
    }
  }
  int32_t num_held = 0;
  for (int32_t id = 0; id < num_blocks(); ++id) {
    SARATHI_CHECK(refs[static_cast<size_t>(id)] == pool_.ref_count(id),
                  "block {}: {} tables hold it, reference count {}", id,
                  refs[static_cast<size_t>(id)], pool_.ref_count(id));
    num_held += refs[static_cast<size_t>(id)] > 0 ? 1 : 0;
  }
  SARATHI_CHECK(num_held == num_used(), "tables hold {} blocks, pool has {} in use", num_held,
                num_used());
}

}  // namespace sarathi::kv
