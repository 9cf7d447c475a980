// kv/block_hash.h: the content hash of a full KV block for prefix caching: a chain, each block's
// hash mixing its parent's (the block before it, or a salt naming the model and KV type for the
// first block) with its tokens, so equal hashes mean equal whole prefixes (up to collisions,
// which BlockPool::lookup rules out by comparing the parent and the tokens). Depends on nothing.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace sarathi::kv {

/// The hash of a block holding `tokens` after the block hashed `parent`.
inline uint64_t hash_block(uint64_t parent, std::span<const int32_t> tokens) {
  // splitmix64's finaliser over a multiply-xor chain: every bit of every token reaches every
  // bit of the result.
  auto mix = [](uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  uint64_t h = mix(parent + 0x9e3779b97f4a7c15ULL);
  for (int32_t t : tokens) h = mix(h ^ (static_cast<uint64_t>(static_cast<uint32_t>(t)) + 0x632be59bd9b4e019ULL));
  return mix(h ^ tokens.size());
}

/// Appends to `hashes` the hash of every full block of `tokens` it does not cover yet (block i
/// covers tokens [i * block_size, (i + 1) * block_size)); the first block's parent is `salt`.
inline void extend_block_hashes(std::vector<uint64_t>& hashes, std::span<const int32_t> tokens,
                                int32_t block_size, uint64_t salt) {
  const size_t bs = static_cast<size_t>(block_size);
  for (size_t i = hashes.size(); (i + 1) * bs <= tokens.size(); ++i)
    hashes.push_back(hash_block(i == 0 ? salt : hashes[i - 1], tokens.subspan(i * bs, bs)));
}

}  // namespace sarathi::kv
