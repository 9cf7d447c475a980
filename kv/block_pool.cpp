#include "kv/block_pool.h"

#include "core/check.h"

namespace sarathi::kv {

BlockPool::BlockPool(int32_t num_blocks, int32_t block_size)
    : num_blocks_(num_blocks), block_size_(block_size) {
  SARATHI_CHECK(num_blocks > 0 && block_size > 0, "pool of {} blocks of {}", num_blocks,
                block_size);
  free_.reserve(static_cast<size_t>(num_blocks));
  for (int32_t i = num_blocks - 1; i >= 0; --i) free_.push_back(i);
  in_use_.assign(static_cast<size_t>(num_blocks), 0);
}

bool BlockPool::ensure(std::vector<int32_t>& table, int64_t num_tokens) {
  const int32_t need = blocks_for(num_tokens) - static_cast<int32_t>(table.size());
  if (need <= 0) return true;
  if (need > num_free()) return false;
  for (int32_t i = 0; i < need; ++i) {
    const int32_t id = free_.back();
    free_.pop_back();
    SARATHI_DCHECK(!in_use_[static_cast<size_t>(id)], "block {} handed out twice", id);
    in_use_[static_cast<size_t>(id)] = 1;
    table.push_back(id);
  }
  return true;
}

void BlockPool::release(std::vector<int32_t>& table) {
  for (int32_t id : table) {
    SARATHI_CHECK(id >= 0 && id < num_blocks_ && in_use_[static_cast<size_t>(id)],
                  "freeing block {} that is not in use", id);
    in_use_[static_cast<size_t>(id)] = 0;
    free_.push_back(id);
  }
  table.clear();
}

void BlockPool::check_invariants() const {
  SARATHI_CHECK(static_cast<int32_t>(free_.size()) <= num_blocks_, "{} free of {} blocks",
                free_.size(), num_blocks_);
  std::vector<uint8_t> seen(static_cast<size_t>(num_blocks_), 0);
  for (int32_t id : free_) {
    SARATHI_CHECK(id >= 0 && id < num_blocks_, "free block id {} out of range", id);
    SARATHI_CHECK(!seen[static_cast<size_t>(id)], "block {} is on the free list twice", id);
    SARATHI_CHECK(!in_use(id), "block {} is both free and in use", id);
    seen[static_cast<size_t>(id)] = 1;
  }
  int32_t used = 0;
  for (uint8_t u : in_use_) used += u ? 1 : 0;
  SARATHI_CHECK(used + num_free() == num_blocks_, "free {} + used {} != total {}", num_free(), used,
                num_blocks_);
}

}  // namespace sarathi::kv
