#include "kv/block_manager.h"

#include "core/check.h"

namespace sarathi::kv {

int32_t num_blocks_for_memory(int64_t kv_cache_bytes, int64_t bytes_per_block) {
  if (kv_cache_bytes <= 0 || bytes_per_block <= 0) return 0;
  const int64_t n = kv_cache_bytes / bytes_per_block;
  return n > INT32_MAX ? INT32_MAX : static_cast<int32_t>(n);
}

BlockManager::BlockManager(BlockManagerOptions options)
    : pool_(options.num_blocks, options.block_size) {}

int32_t BlockManager::num_blocks_held(int64_t seq) const {
  auto it = tables_.find(seq);
  return it == tables_.end() ? 0 : static_cast<int32_t>(it->second.size());
}

bool BlockManager::ensure(int64_t seq, int64_t num_tokens) {
  if (blocks_for(num_tokens) <= num_blocks_held(seq)) return true;
  std::vector<int32_t>& t = tables_[seq];
  if (pool_.ensure(t, num_tokens)) return true;
  if (t.empty()) tables_.erase(seq);  // keep the map to holders only
  return false;
}

void BlockManager::free(int64_t seq) {
  auto it = tables_.find(seq);
  if (it == tables_.end()) return;
  pool_.release(it->second);
  tables_.erase(it);
}

std::span<const int32_t> BlockManager::table(int64_t seq) const {
  auto it = tables_.find(seq);
  if (it == tables_.end()) return {};
  return it->second;
}

void BlockManager::check_invariants() const {
  pool_.check_invariants();
  std::vector<uint8_t> owned(static_cast<size_t>(num_blocks()), 0);
  int32_t num_owned = 0;
  for (const auto& [seq, t] : tables_) {
    SARATHI_CHECK(!t.empty(), "sequence {} has an empty table entry", seq);
    for (int32_t id : t) {
      SARATHI_CHECK(id >= 0 && id < num_blocks(), "seq {} holds block id {}", seq, id);
      SARATHI_CHECK(!owned[static_cast<size_t>(id)], "block {} owned twice (seq {})", id, seq);
      SARATHI_CHECK(pool_.in_use(id), "seq {} holds block {} that the pool thinks is free", seq,
                    id);
      owned[static_cast<size_t>(id)] = 1;
      ++num_owned;
    }
  }
  SARATHI_CHECK(num_owned == num_used(), "tables hold {} blocks, pool has {} in use", num_owned,
                num_used());
}

}  // namespace sarathi::kv
