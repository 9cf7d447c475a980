// kv/block_pool.h: the free list of fixed-size KV blocks and per-sequence block tables.
// Pure bookkeeping (no tensors); running out of blocks is a normal outcome (false), not an
// error. Depends on core/ only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sarathi::kv {

class BlockPool {
 public:
  /// A pool of num_blocks blocks of block_size tokens.
  BlockPool(int32_t num_blocks, int32_t block_size);

  /// Blocks in the pool.
  int32_t num_blocks() const { return num_blocks_; }
  /// Tokens per block.
  int32_t block_size() const { return block_size_; }
  /// Blocks not handed out.
  int32_t num_free() const { return static_cast<int32_t>(free_.size()); }
  /// Blocks handed out.
  int32_t num_used() const { return num_blocks_ - num_free(); }

  /// Blocks needed to hold num_tokens tokens.
  int32_t blocks_for(int64_t num_tokens) const {
    return static_cast<int32_t>((num_tokens + block_size_ - 1) / block_size_);
  }

  /// Grows `table` so it covers num_tokens tokens. Returns false (and changes nothing) when
  /// there are not enough free blocks.
  bool ensure(std::vector<int32_t>& table, int64_t num_tokens);

  /// Returns all of a table's blocks to the pool and clears it.
  void release(std::vector<int32_t>& table);

  /// Whether block `block_id` is currently handed out.
  bool in_use(int32_t block_id) const { return in_use_[static_cast<size_t>(block_id)] != 0; }

  /// Aborts (SARATHI_CHECK) unless the free list and the in-use flags agree: every block is
  /// either free exactly once or in use, and free + used == total. O(num_blocks).
  void check_invariants() const;

 private:
  int32_t num_blocks_;
  int32_t block_size_;
  std::vector<int32_t> free_;    // stack of free block ids
  std::vector<uint8_t> in_use_;  // [num_blocks] guards against double frees
};

}  // namespace sarathi::kv
