// kv/block_manager.h: the KV block manager: a BlockPool plus one block table per sequence, the
// bookkeeping the scheduler reserves and frees through, and the prefix cache's sharing: a new
// sequence can start with the cached blocks of its longest cached prefix (reference-counted,
// never written again), and a sequence's full blocks are registered as they are scheduled.
// Pure bookkeeping; depends on core/ only.
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
  // Parent hash of every sequence's first block: names whatever else decides a block's KV
  // (model, KV type), so two caches' contents never alias.
  uint64_t cache_salt = 0;
};

/// The cached part of a sequence's prefix (match_prefix).
struct PrefixMatch {
  int32_t num_blocks = 0;  // leading blocks whose content is cached
  int32_t num_held = 0;    // of those, blocks some sequence holds now (not evictable)
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
  /// Blocks of seq that no other sequence holds (what free(seq) returns to the pool).
  int32_t num_exclusive_blocks(int64_t seq) const;

  /// Grows seq's table so it covers num_tokens tokens. Returns false and changes nothing when
  /// the pool lacks the blocks.
  bool ensure(int64_t seq, int64_t num_tokens);

  /// Returns all of seq's blocks to the pool. A sequence holding none is a no-op.
  void free(int64_t seq);

  /// seq's block ids in token order (empty when it holds none). Valid until the next
  /// ensure/free of that sequence.
  std::span<const int32_t> table(int64_t seq) const;

  // ---- prefix caching. `hashes` are a sequence's block hashes (kv::extend_block_hashes with
  // options.cache_salt over `tokens`, its token ids): hashes[i] covers tokens of block i.

  /// How many of the first max_blocks blocks of the sequence are cached, in order.
  PrefixMatch match_prefix(std::span<const uint64_t> hashes, std::span<const int32_t> tokens,
                           int32_t max_blocks) const;
  /// Makes seq's table its first num_blocks cached blocks (shared, one more reference each):
  /// seq must hold only such a prefix so far (fewer or as many blocks), and match_prefix must
  /// have found them.
  void share_prefix(int64_t seq, std::span<const uint64_t> hashes,
                    std::span<const int32_t> tokens, int32_t num_blocks);
  /// Registers seq's blocks [0, num_full_blocks) that are not registered yet under their
  /// hashes (a block whose content another block already caches stays unregistered). The
  /// blocks must hold (or be about to hold, in the step being planned) exactly those tokens.
  void cache_full_blocks(int64_t seq, std::span<const uint64_t> hashes,
                         std::span<const int32_t> tokens, int32_t num_full_blocks);
  /// Whether seq may write block index `i` of its table: only its own, unshared, unregistered
  /// blocks are written (cached KV is never overwritten).
  bool writable(int64_t seq, int32_t i) const;
  /// Forgets every cached content (POST /reset_prefix_cache). Returns blocks unregistered.
  int32_t reset_prefix_cache();
  /// Cached blocks (held or evictable), and those evicted to make room so far.
  int32_t num_cached_blocks() const { return pool_.num_cached(); }
  int64_t num_evictions() const { return pool_.num_evictions(); }
  /// Changes whenever the cached contents, or which cached blocks are held, change (match
  /// results stay valid while it does not).
  uint64_t cache_epoch() const { return pool_.cache_epoch(); }

  /// Aborts (SARATHI_CHECK) unless free + used == total and every block's reference count is
  /// the number of tables holding it (no table holds a block twice). O(num_blocks); the
  /// scheduler runs it after every step in debug builds.
  void check_invariants() const;

 private:
  struct Table {
    std::vector<int32_t> blocks;
    int32_t num_registered = 0;  // leading blocks already offered to the cache
  };
  uint64_t parent_hash(std::span<const uint64_t> hashes, int32_t i) const {
    return i == 0 ? salt_ : hashes[static_cast<size_t>(i) - 1];
  }
  std::span<const int32_t> block_tokens(std::span<const int32_t> tokens, int32_t i) const;

  BlockPool pool_;
  uint64_t salt_;
  std::unordered_map<int64_t, Table> tables_;  // only sequences holding blocks
};

}  // namespace sarathi::kv
