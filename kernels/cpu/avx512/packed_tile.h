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
