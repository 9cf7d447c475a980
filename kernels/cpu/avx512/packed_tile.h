// kernels/cpu/avx512/packed_tile.h: pieces shared by the VNNI kernels over interleaved weights
// (packed_gemm.cpp: q8_0 / q4_0, packed_kquants.cpp: q4_K / q6_K): activation-row views, the
// broadcast load of four quants, and the store of a tile of G groups x C tokens. Compiled with
// the AVX-512 flags only.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/cpu/common.h"
#include "kernels/cpu/intrin.h"
#include "kernels/kernels.h"
#include "kernels/packed.h"

namespace sarathi::kernels::avx512 {

using cpu::x_row;
using cpu::XRow;

/// With PackedGemmArgs::stream_pairs, a call of at most this many tokens streams two groups at
/// once and prefetches (more tokens always take two groups per tile, without prefetching).
inline constexpr int64_t kStreamMaxTokens = 4;
/// How far ahead of its loads a streaming tile prefetches (bytes; 2 to 4 KB measured alike).
inline constexpr size_t kPrefetchAhead = 4096;

/// Whether this call prefetches: few tokens, on a CPU that reads faster so.
inline bool prefetching(const PackedGemmArgs& a) {
  return a.stream_pairs && a.tok_end - a.tok_begin <= kStreamMaxTokens;
}
/// Whether this call takes two groups per tile.
inline bool paired_groups(const PackedGemmArgs& a) {
  return a.stream_pairs || a.tok_end - a.tok_begin > kStreamMaxTokens;
}

/// Prefetches into L1, one cache line at a time, the `bytes` bytes kPrefetchAhead past p.
SARATHI_INLINE void prefetch_ahead(const uint8_t* p, size_t bytes) {
  for (size_t off = 0; off < bytes; off += 64)
    _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchAhead + off), _MM_HINT_T0);
}

/// acc[g][c] -> y for G groups from g0 and C tokens from t0 (rows past a.rows not written).
template <int G, int C>
SARATHI_INLINE void store_tile(const PackedGemmArgs& a, int64_t g0, int64_t t0,
                               const __m512 (&acc)[G][C]) {
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g) {
    const int64_t r0 = (g0 + g) * kPackRows;
    const int64_t valid = a.rows - r0;
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      float* y = a.y + (t0 + c) * a.ldy + r0;
      if (valid >= kPackRows) {
        _mm512_storeu_ps(y, acc[g][c]);
      } else {
        _mm512_mask_storeu_ps(y, static_cast<__mmask16>((1u << valid) - 1u), acc[g][c]);
      }
    }
  }
}

}  // namespace sarathi::kernels::avx512
