// kv/block_pool.h: the pool of fixed-size KV blocks: reference counts (a block may be shared by
// several sequences' tables), the free list, and the prefix cache's content index: a full block
// can be registered under the hash of its content (kv/block_hash.h); when its last holder
// releases it, it stays cached (evictable, least recently released first) until its space is
// needed. Pure bookkeeping (no tensors); running out of blocks is a normal outcome (false), not
// an error. Depends on core/ only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace sarathi::kv {

class BlockPool {
 public:
  static constexpr int32_t kNoBlock = -1;

  /// A pool of num_blocks blocks of block_size tokens.
  BlockPool(int32_t num_blocks, int32_t block_size);

  /// Blocks in the pool.
  int32_t num_blocks() const { return num_blocks_; }
  /// Tokens per block.
  int32_t block_size() const { return block_size_; }
  /// Blocks nobody holds: never-cached free ones plus cached ones no table references
  /// (allocating takes the former first, then evicts the latter, oldest release first).
  int32_t num_free() const { return static_cast<int32_t>(free_.size()) + num_evictable_; }
  /// Blocks some table holds.
  int32_t num_used() const { return num_blocks_ - num_free(); }
  /// Cached blocks no table references (part of num_free()).
  int32_t num_evictable() const { return num_evictable_; }
  /// Blocks registered in the content index (held or evictable).
  int32_t num_cached() const { return static_cast<int32_t>(index_.size()); }

  /// Blocks needed to hold num_tokens tokens.
  int32_t blocks_for(int64_t num_tokens) const {
    return static_cast<int32_t>((num_tokens + block_size_ - 1) / block_size_);
  }

  /// Grows `table` so it covers num_tokens tokens with newly allocated blocks (reference count
  /// 1). Returns false (and changes nothing) when there are not enough free blocks.
  bool ensure(std::vector<int32_t>& table, int64_t num_tokens);

  /// Drops one reference to each of table's blocks (last block first, so a sequence's tail is
  /// evicted before its head) and clears the table. A block no longer referenced returns to the
  /// free list, or, when cached, to the tail of the eviction order.
  void release(std::vector<int32_t>& table);

  /// Adds a reference to block_id (it must be held or evictable); an evictable block leaves the
  /// eviction order.
  void acquire(int32_t block_id);

  /// The cached block whose content is `hash` with parent `parent_hash` and these tokens
  /// (block_size of them), or kNoBlock. Hash, parent and tokens are all compared, so a 64-bit
  /// collision cannot hand out the wrong KV.
  int32_t lookup(uint64_t hash, uint64_t parent_hash, std::span<const int32_t> tokens) const;

  /// Registers held block block_id (full, computed or being computed in the step now planned)
  /// under its content. Returns false, and registers nothing, when that content is already
  /// cached in another block or block_id is cached already.
  bool register_block(int32_t block_id, uint64_t hash, uint64_t parent_hash,
                      std::span<const int32_t> tokens);

  /// Forgets every cached content: evictable blocks become plain free blocks, held ones are
  /// unregistered (their holders keep them). Returns how many blocks were unregistered.
  int32_t clear_cache();

  /// Whether block_id is held by at least one table.
  bool in_use(int32_t block_id) const { return ref_[idx(block_id)] > 0; }
  /// Tables holding block_id.
  int32_t ref_count(int32_t block_id) const { return ref_[idx(block_id)]; }
  /// Whether block_id is registered in the content index.
  bool is_cached(int32_t block_id) const { return cached_[idx(block_id)] != 0; }
  /// Bumped whenever the set of cached contents changes (register, evict, clear) or a cached
  /// block moves between held and evictable, so a caller can reuse a lookup result (which
  /// blocks match, and which of them are held) while it is unchanged.
  uint64_t cache_epoch() const { return epoch_; }
  /// Cached blocks evicted so far to make room.
  int64_t num_evictions() const { return num_evictions_; }

  /// Aborts (SARATHI_CHECK) unless the free list, the eviction order, the reference counts and
  /// the content index agree: every block is exactly one of free, evictable (cached, unheld) or
  /// held; the index maps each cached content to its block. O(num_blocks).
  void check_invariants() const;

 private:
  static size_t idx(int32_t id) { return static_cast<size_t>(id); }
  int32_t allocate();  // a block with reference count 1; there must be a free one
  void lru_push_back(int32_t id);
  void lru_unlink(int32_t id);
  void uncache(int32_t id);

  int32_t num_blocks_;
  int32_t block_size_;
  std::vector<int32_t> free_;     // stack of free, uncached block ids
  std::vector<int32_t> ref_;      // [num_blocks] tables holding each block
  std::vector<uint8_t> cached_;   // [num_blocks] registered in index_
  std::vector<uint64_t> hash_;    // [num_blocks] content hash of cached blocks
  std::vector<uint64_t> parent_;  // [num_blocks] the previous block's hash (chain check)
  std::vector<int32_t> tokens_;   // [num_blocks * block_size] tokens of cached blocks
  std::unordered_map<uint64_t, int32_t> index_;  // content hash -> block
  // Eviction order of cached, unheld blocks: an intrusive doubly linked list, head oldest.
  std::vector<int32_t> prev_, next_;
  int32_t head_ = kNoBlock, tail_ = kNoBlock;
  int32_t num_evictable_ = 0;
  uint64_t epoch_ = 0;
  int64_t num_evictions_ = 0;
};

}  // namespace sarathi::kv
