// AVX2 + FMA matmul over interleaved bf16 weights (kernels/packed.h), for CPUs without
// AVX512-BF16 (AVX2-only parts, and AVX-512 parts before Cooper Lake). One 64-byte line of a
// packed block holds one element pair of 16 weight rows, as two 8-row halves; a bf16 value is
// the top half of its f32, so a half widens into the pair's first elements (shift left by 16)
// and second elements (the top 16 bits kept), each multiplied against the activation's element
// by one FMA. Activations are widened to f32 once per block and broadcast from L1. Every output
// has one f32 accumulator that meets the elements in the same order (block by block, pair by
// pair, first element then second) whatever the tile around it, so a token's bits do not
// depend on its batch.

#include "kernels/cpu/intrin.h"

#include "kernels/cpu/avx2/packed_tile.h"
#include "kernels/cpu/avx2/type_ops.h"
#include "kernels/packed.h"

namespace sarathi::kernels::avx2 {
namespace {

// One group x 4 tokens: 8 accumulators, 4 weight vectors, the mask and the broadcasts fit the
// 16 ymm registers.
constexpr int kTileToks = 4;
constexpr int kPairs = kPackBlock / 2;  // element pairs per block
constexpr size_t kXBlockBytes = kPackBlock * 2;

template <int C>
void tile(const PackedGemmArgs& a, int64_t g, int64_t t0, int64_t nkb) {
  __m256 acc[C][2];
  const uint8_t* w = a.w + static_cast<size_t>(g) * a.group_bytes;
  const uint8_t* x[C];
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c) {
    acc[c][0] = acc[c][1] = _mm256_setzero_ps();
    x[c] = a.x + static_cast<size_t>(t0 + c) * a.x_row_bytes;
  }
  const __m256i top16 = _mm256_set1_epi32(static_cast<int32_t>(0xffff0000u));
  alignas(32) float xf[C][kPackBlock];
  for (int64_t b = 0; b < nkb; ++b) {
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c)
#pragma GCC unroll 4
      for (int i = 0; i < kPackBlock; i += 8) {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[c] + 2 * i));
        _mm256_store_ps(xf[c] + i,
                        _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)));
      }
#pragma GCC unroll 16
    for (int j = 0; j < kPairs; ++j) {
      const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 64 * j));
      const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 64 * j + 32));
      const __m256 w0a = _mm256_castsi256_ps(_mm256_slli_epi32(v0, 16));
      const __m256 w0b = _mm256_castsi256_ps(_mm256_and_si256(v0, top16));
      const __m256 w1a = _mm256_castsi256_ps(_mm256_slli_epi32(v1, 16));
      const __m256 w1b = _mm256_castsi256_ps(_mm256_and_si256(v1, top16));
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) {
        const __m256 xa = _mm256_broadcast_ss(xf[c] + 2 * j);
        const __m256 xb = _mm256_broadcast_ss(xf[c] + 2 * j + 1);
        acc[c][0] = _mm256_fmadd_ps(w0a, xa, acc[c][0]);
        acc[c][1] = _mm256_fmadd_ps(w1a, xa, acc[c][1]);
        acc[c][0] = _mm256_fmadd_ps(w0b, xb, acc[c][0]);
        acc[c][1] = _mm256_fmadd_ps(w1b, xb, acc[c][1]);
      }
    }
    w += kPackedBf16BlockBytes;
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) x[c] += kXBlockBytes;
  }
  store_tile<C>(a, g, t0, acc);
}

template <int C>
void tail_tile(const PackedGemmArgs& a, int64_t g, int64_t t, int64_t rem, int64_t nkb) {
  if constexpr (C > 0) {
    if (rem == C) {
      tile<C>(a, g, t, nkb);
      return;
    }
    tail_tile<C - 1>(a, g, t, rem, nkb);
  }
}

}  // namespace

void pack_x_packed_bf16(const float* src, void* dst, int64_t k) {
  cpu::pack_x_bf16<from_float_bf16>(src, dst, k);
}

void packed_gemm_bf16(const PackedGemmArgs& a) {
  if (a.tok_end <= a.tok_begin) return;
  const int64_t nkb = (a.k + kPackBlock - 1) / kPackBlock;
  for (int64_t g = a.group_begin; g < a.group_end; ++g) {
    int64_t t = a.tok_begin;
    for (; t + kTileToks <= a.tok_end; t += kTileToks) tile<kTileToks>(a, g, t, nkb);
    tail_tile<kTileToks - 1>(a, g, t, a.tok_end - t, nkb);
  }
}

}  // namespace sarathi::kernels::avx2
