// AVX512-BF16 matmul over interleaved bf16 weights (kernels/packed.h), for AVX-512 machines
// without the tile unit (Zen 4, Cooper Lake, Ice Lake with BF16 ...). One 64-byte line of a
// packed block holds one pair of elements of 16 weight rows, so one vdpbf16ps with the pair of an
// activation broadcast advances 16 outputs by two elements: no horizontal sums and no scaling
// pass. Every output has one f32 accumulator that meets the pairs in the same order (block by
// block, pair 0..15) whatever the tile around it, so a token's bits do not depend on its batch.
// Tiles of G groups x C tokens keep the weight vectors in registers while they meet C tokens.

#include "kernels/cpu/avx512/gemm.h"
#include "kernels/cpu/avx512/packed_tile.h"
#include "kernels/cpu/avx512/type_ops.h"
#include "kernels/cpu/intrin.h"
#include "kernels/packed.h"

namespace sarathi::kernels::avx512 {
namespace {

// Up to kStreamMaxTokens (packed_tile.h) tokens, one group at a time: each thread reads one
// sequential stream of weights (bf16 ignores stream_pairs: not measured).
constexpr int kTileToks = 8;
constexpr int kPairs = kPackBlock / 2;  // pairs of elements per block
constexpr size_t kXBlockBytes = kPackBlock * 2;

template <int G, int C>
void tile(const PackedGemmArgs& a, int64_t g0, int64_t t0, int64_t nkb) {
  __m512 acc[G][C];
  const uint8_t* w[G];
  const uint8_t* x[C];
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g) {
    w[g] = a.w + static_cast<size_t>(g0 + g) * a.group_bytes;
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) acc[g][c] = _mm512_setzero_ps();
  }
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) x[c] = a.x + static_cast<size_t>(t0 + c) * a.x_row_bytes;
  for (int64_t b = 0; b < nkb; ++b) {
#pragma GCC unroll 16
    for (int j = 0; j < kPairs; ++j) {
      __m512i wv[G];
#pragma GCC unroll 8
      for (int g = 0; g < G; ++g) wv[g] = _mm512_loadu_si512(w[g] + 64 * j);
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        const __m512i xv = _mm512_set1_epi32(load_i32(x[c] + 4 * j));
#pragma GCC unroll 8
        for (int g = 0; g < G; ++g)
          acc[g][c] = _mm512_dpbf16_ps(acc[g][c], (__m512bh)wv[g], (__m512bh)xv);
      }
    }
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) w[g] += kPackedBf16BlockBytes;
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) x[c] += kXBlockBytes;
  }
  store_tile<G, C>(a, g0, t0, acc);
}

template <int G, int C>
void tail_tile(const PackedGemmArgs& a, int64_t g0, int64_t t, int64_t rem, int64_t nkb) {
  if constexpr (C > 0) {
    if (rem == C) {
      tile<G, C>(a, g0, t, nkb);
      return;
    }
    tail_tile<G, C - 1>(a, g0, t, rem, nkb);
  }
}

template <int G>
void group_tiles(const PackedGemmArgs& a, int64_t g0, int64_t nkb) {
  int64_t t = a.tok_begin;
  for (; t + kTileToks <= a.tok_end; t += kTileToks) tile<G, kTileToks>(a, g0, t, nkb);
  tail_tile<G, kTileToks - 1>(a, g0, t, a.tok_end - t, nkb);
}

}  // namespace

void pack_x_packed_bf16(const float* src, void* dst, int64_t k) {
  cpu::pack_x_bf16<from_float_bf16>(src, dst, k);
}

void packed_gemm_bf16(const PackedGemmArgs& a) {
  if (a.tok_end <= a.tok_begin) return;
  const int64_t nkb = (a.k + kPackBlock - 1) / kPackBlock;
  int64_t g = a.group_begin;
  if (a.tok_end - a.tok_begin > kStreamMaxTokens) {
    for (; g + 2 <= a.group_end; g += 2) group_tiles<2>(a, g, nkb);
  }
  for (; g < a.group_end; ++g) group_tiles<1>(a, g, nkb);
}

}  // namespace sarathi::kernels::avx512
