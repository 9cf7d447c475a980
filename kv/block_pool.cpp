#include "kv/block_pool.h"

#include <algorithm>

#include "core/check.h"

namespace sarathi::kv {

BlockPool::BlockPool(int32_t num_blocks, int32_t block_size)
    : num_blocks_(num_blocks), block_size_(block_size) {
  SARATHI_CHECK(num_blocks > 0 && block_size > 0, "pool of {} blocks of {}", num_blocks,
                block_size);
  const auto n = static_cast<size_t>(num_blocks);
  free_.reserve(n);
  for (int32_t i = num_blocks - 1; i >= 0; --i) free_.push_back(i);
  ref_.assign(n, 0);
  cached_.assign(n, 0);
  hash_.assign(n, 0);
  parent_.assign(n, 0);
  prev_.assign(n, kNoBlock);
  next_.assign(n, kNoBlock);
}

int32_t BlockPool::allocate() {
  int32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    SARATHI_CHECK(head_ != kNoBlock, "allocating from an empty pool");
    id = head_;  // evict the least recently released cached block
    lru_unlink(id);
    uncache(id);
    ++num_evictions_;
  }
  SARATHI_DCHECK(ref_[idx(id)] == 0, "block {} handed out twice", id);
  ref_[idx(id)] = 1;
  return id;
}

bool BlockPool::ensure(std::vector<int32_t>& table, int64_t num_tokens) {
  const int32_t need = blocks_for(num_tokens) - static_cast<int32_t>(table.size());
  if (need <= 0) return true;
  if (need > num_free()) return false;
  for (int32_t i = 0; i < need; ++i) table.push_back(allocate());
  return true;
}

void BlockPool::release(std::vector<int32_t>& table) {
  for (auto it = table.rbegin(); it != table.rend(); ++it) {
    const int32_t id = *it;
    SARATHI_CHECK(id >= 0 && id < num_blocks_ && ref_[idx(id)] > 0,
                  "freeing block {} that is not in use", id);
    if (--ref_[idx(id)] > 0) continue;
    if (cached_[idx(id)]) {
      lru_push_back(id);
      ++epoch_;  // a cached block went from held to evictable
    } else {
      free_.push_back(id);
    }
  }
  table.clear();
}

void BlockPool::acquire(int32_t id) {
  SARATHI_CHECK(id >= 0 && id < num_blocks_, "acquiring block id {}", id);
  if (ref_[idx(id)] == 0) {
    SARATHI_CHECK(cached_[idx(id)], "acquiring free block {} that holds no cached content", id);
    lru_unlink(id);
    ++epoch_;
  }
  ++ref_[idx(id)];
}

int32_t BlockPool::lookup(uint64_t hash, uint64_t parent_hash,
                          std::span<const int32_t> tokens) const {
  auto it = index_.find(hash);
  if (it == index_.end()) return kNoBlock;
  const int32_t id = it->second;
  if (parent_[idx(id)] != parent_hash || tokens.size() != static_cast<size_t>(block_size_))
    return kNoBlock;
  const int32_t* mine = tokens_.data() + idx(id) * static_cast<size_t>(block_size_);
  return std::equal(tokens.begin(), tokens.end(), mine) ? id : kNoBlock;
}

bool BlockPool::register_block(int32_t id, uint64_t hash, uint64_t parent_hash,
                               std::span<const int32_t> tokens) {
  SARATHI_CHECK(id >= 0 && id < num_blocks_ && ref_[idx(id)] > 0,
                "registering block {} that nobody holds", id);
  SARATHI_CHECK(tokens.size() == static_cast<size_t>(block_size_),
                "registering block {} with {} tokens (blocks hold {})", id, tokens.size(),
                block_size_);
  if (cached_[idx(id)] || index_.contains(hash)) return false;
  if (tokens_.empty()) tokens_.resize(idx(num_blocks_) * static_cast<size_t>(block_size_));
  index_.emplace(hash, id);
  cached_[idx(id)] = 1;
  hash_[idx(id)] = hash;
  parent_[idx(id)] = parent_hash;
  std::copy(tokens.begin(), tokens.end(),
            tokens_.begin() + static_cast<std::ptrdiff_t>(idx(id) * idx(block_size_)));
  ++epoch_;
  return true;
}

int32_t BlockPool::clear_cache() {
  const auto n = static_cast<int32_t>(index_.size());
  while (head_ != kNoBlock) {
    const int32_t id = head_;
    lru_unlink(id);
    uncache(id);
    free_.push_back(id);
  }
  for (int32_t id = 0; id < num_blocks_; ++id)
    if (cached_[idx(id)]) uncache(id);
  ++epoch_;
  return n;
}

void BlockPool::uncache(int32_t id) {
  index_.erase(hash_[idx(id)]);
  cached_[idx(id)] = 0;
  ++epoch_;
}

void BlockPool::lru_push_back(int32_t id) {
  prev_[idx(id)] = tail_;
  next_[idx(id)] = kNoBlock;
  if (tail_ != kNoBlock) {
    next_[idx(tail_)] = id;
  } else {
    head_ = id;
  }
  tail_ = id;
  ++num_evictable_;
}

void BlockPool::lru_unlink(int32_t id) {
  const int32_t p = prev_[idx(id)], n = next_[idx(id)];
  if (p != kNoBlock) {
    next_[idx(p)] = n;
  } else {
    head_ = n;
  }
  if (n != kNoBlock) {
    prev_[idx(n)] = p;
  } else {
    tail_ = p;
  }
  prev_[idx(id)] = next_[idx(id)] = kNoBlock;
  --num_evictable_;
}

void BlockPool::check_invariants() const {
  // 0 = unseen, 1 = free, 2 = evictable
  std::vector<uint8_t> where(idx(num_blocks_), 0);
  for (int32_t id : free_) {
    SARATHI_CHECK(id >= 0 && id < num_blocks_, "free block id {} out of range", id);
    SARATHI_CHECK(where[idx(id)] == 0, "block {} is on the free list twice", id);
    SARATHI_CHECK(ref_[idx(id)] == 0, "block {} is both free and in use", id);
    SARATHI_CHECK(!cached_[idx(id)], "free block {} is still cached", id);
    where[idx(id)] = 1;
  }
  int32_t num_lru = 0;
  for (int32_t id = head_, prev = kNoBlock; id != kNoBlock; prev = id, id = next_[idx(id)]) {
    SARATHI_CHECK(id >= 0 && id < num_blocks_, "evictable block id {} out of range", id);
    SARATHI_CHECK(where[idx(id)] == 0, "block {} is evictable and free, or listed twice", id);
    SARATHI_CHECK(prev_[idx(id)] == prev, "eviction list broken at block {}", id);
    SARATHI_CHECK(ref_[idx(id)] == 0 && cached_[idx(id)], "evictable block {}: ref {} cached {}",
                  id, ref_[idx(id)], cached_[idx(id)]);
    where[idx(id)] = 2;
    ++num_lru;
  }
  SARATHI_CHECK(num_lru == num_evictable_, "{} evictable listed, {} counted", num_lru,
                num_evictable_);
  int32_t used = 0;
  for (int32_t id = 0; id < num_blocks_; ++id) {
    SARATHI_CHECK(ref_[idx(id)] >= 0, "block {} has reference count {}", id, ref_[idx(id)]);
    if (ref_[idx(id)] > 0) ++used;
    SARATHI_CHECK(ref_[idx(id)] > 0 || where[idx(id)] != 0, "block {} is lost", id);
    if (cached_[idx(id)]) {
      auto it = index_.find(hash_[idx(id)]);
      SARATHI_CHECK(it != index_.end() && it->second == id, "cached block {} not indexed", id);
    }
  }
  for (const auto& [h, id] : index_)
    SARATHI_CHECK(cached_[idx(id)] && hash_[idx(id)] == h, "index entry for block {} is stale", id);
  SARATHI_CHECK(used + num_free() == num_blocks_, "free {} + used {} != total {}", num_free(), used,
                num_blocks_);
}

}  // namespace sarathi::kv
