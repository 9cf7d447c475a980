// kv/block_manager.h: the KV block manager: a BlockPool plus one block table per sequence, the
// bookkeeping the scheduler reserves and frees through. Pure bookkeeping; depends on core/ only.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "kv/block_pool.h"

namespace sarathi::kv {

struct BlockManagerOptions {
  int32_t num_blocks = 0;   // blocks in the pool (> 0)
  int32_t block_size = 16;  // tokens per block (> 0)
};

/// Number of whole blocks of `bytes_per_block` that fit in `kv_cache_bytes` (for
/// --kv-cache-memory; the model layer knows bytes_per_block). 0 when none fits.
int32_t num_blocks_for_memory(int64_t kv_cache_bytes, int64_t bytes_per_block);

/// Owns the pool and the per-sequence block tables. Sequences are named by an int64 id (the
/// scheduler's SeqId). A table only grows (ensure) until the sequence is freed as a whole
/// (finish, abort, recompute preemption). Running out of blocks returns false, never an error.
class BlockManager {
 public:
  /// A manager over a fresh pool of options.num_blocks blocks.
  explicit BlockManager(BlockManagerOptions options);

  /// Blocks in the pool.
  int32_t num_blocks() const { return pool_.num_blocks(); }
  /// Tokens per block.
  int32_t block_size() const { return pool_.block_size(); }
  /// Blocks nobody holds.
  int32_t num_free() const { return pool_.num_free(); }
  /// Blocks held by some sequence.
  int32_t num_used() const { return pool_.num_used(); }
  /// Blocks needed to hold num_tokens tokens.
  int32_t blocks_for(int64_t num_tokens) const { return pool_.blocks_for(num_tokens); }
  /// Sequences that hold at least one block.
  int32_t num_seqs() const { return static_cast<int32_t>(tables_.size()); }

  /// Blocks sequence `seq` holds (0 for an unknown sequence).
  int32_t num_blocks_held(int64_t seq) const;

  /// Grows seq's table so it covers num_tokens tokens. Returns false and changes nothing when
  /// the pool lacks the blocks.
  bool ensure(int64_t seq, int64_t num_tokens);

  /// Returns all of seq's blocks to the pool. A sequence holding none is a no-op.
  void free(int64_t seq);

  /// seq's block ids in token order (empty when it holds none). Valid until the next
  /// ensure/free of that sequence.
  std::span<const int32_t> table(int64_t seq) const;

  /// Aborts (SARATHI_CHECK) unless free + used == total and every used block belongs to
  /// exactly one table. O(num_blocks); the scheduler runs it after every step in debug builds.
  void check_invariants() const;

 private:
  BlockPool pool_;
  std::unordered_map<int64_t, std::vector<int32_t>> tables_;  // only sequences holding blocks
};

}  // namespace sarathi::kv
