// kernels/cpu/avx2/packed_tile.h: pieces shared by the AVX2 kernels over interleaved weights
// (packed_gemm.cpp: q8_0 / q4_0, packed_kquants.cpp: q4_K / q5_K / q6_K): activation-row views,
// the four-product dot of vpmaddubsw + vpmaddwd into int32, the same left in int16 lanes for
// callers that widen later, and the store of 16 outputs held as two 8-row halves. Compiled with
// the AVX2 flags only.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/cpu/common.h"
#include "kernels/cpu/intrin.h"
#include "kernels/kernels.h"
#include "kernels/packed.h"

namespace sarathi::kernels::avx2 {

using cpu::x_row;
using cpu::XRow;

/// acc + each int32 lane's sum of four (u8 u, s8 x) products (the pairs stay within int16 for
/// the callers' operands).
SARATHI_INLINE __m256i dot4(__m256i acc, __m256i u, __m256i x) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, x), _mm256_set1_epi16(1)));
}

/// int16 lanes of the two vpmaddubsw products of u0, u1 (quants, unsigned) and x0, x1 (broadcast
/// groups of four activations), added: each lane a sum of four products.
SARATHI_INLINE __m256i dot16(__m256i u0, __m256i x0, __m256i u1, __m256i x1) {
  return _mm256_add_epi16(_mm256_maddubs_epi16(u0, x0), _mm256_maddubs_epi16(u1, x1));
}

/// Eight f16 values at p, widened.
SARATHI_INLINE __m256 load_f16x8(const uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

/// acc[c] (rows 0..7, 8..15 of group g0) -> y for C tokens from t0 (rows past a.rows not written).
template <int C>
SARATHI_INLINE void store_tile(const PackedGemmArgs& a, int64_t g0, int64_t t0,
                               const __m256 (&acc)[C][2]) {
  const int64_t r0 = g0 * kPackRows;
  const int64_t valid = a.rows - r0;
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c) {
    float* y = a.y + (t0 + c) * a.ldy + r0;
    if (valid >= kPackRows) {
      _mm256_storeu_ps(y, acc[c][0]);
      _mm256_storeu_ps(y + 8, acc[c][1]);
    } else {
      alignas(32) float buf[kPackRows];
      _mm256_store_ps(buf, acc[c][0]);
      _mm256_store_ps(buf + 8, acc[c][1]);
      std::memcpy(y, buf, static_cast<size_t>(valid) * sizeof(float));
    }
  }
}

}  // namespace sarathi::kernels::avx2
