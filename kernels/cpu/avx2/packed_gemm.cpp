// AVX2 matmul over interleaved q8_0 / q4_0 weights (kernels/packed.h), for machines without
// AVX-512: the same layout, packed activations and arithmetic as the VNNI kernel, so outputs are
// bit-equal to packed_gemm_ref. A 64-byte line (four quants of 16 rows) is two ymm halves of
// 8 rows; vpmaddubsw + vpmaddwd against a broadcast group of four activation quants gives each
// row's 4-element sum in its own int32 lane. q4_0's nibbles u (0..15) go straight into
// vpmaddubsw, a row's sixteen products of a block are added in int16 (|sum| <= 30480 with
// q8_0 activations in -127..127) before one vpmaddwd widens them, and the block correction
// adds -8 * sum(x); q8_0's stored u = w + 128 would saturate, so the kernel recovers w = u ^ 0x80 and
// multiplies |w| by x carrying w's sign (pair sums within +-32512), which gives sum(w * x)
// directly, the exact value the oracle forms as corr + sum(u * x).

#include <cstdint>
#include <cstring>

#include "core/dtype.h"
#include "kernels/cpu/avx2/packed_tile.h"
#include "kernels/cpu/avx2/type_ops.h"
#include "kernels/cpu/intrin.h"
#include "kernels/packed.h"

namespace sarathi::kernels::avx2 {
namespace {

using core::BlockQ8_0;
using core::DType;
using core::kQK8_0;

// Tokens per tile: 2 x C int32 and 2 x C f32 accumulators plus the line's weight vectors fit
// the 16 ymm registers up to C = 2.
constexpr int kTileToks = 2;

using XRow8 = XRow<int32_t>;  // tail: corr[nb]

template <bool kQ8, int C>
void tile(const PackedGemmArgs& a, int64_t g0, int64_t t0, int64_t nb) {
  constexpr size_t kQBytes = kQ8 ? 512 : 256;
  constexpr size_t kPairBytes = 64 + 2 * kQBytes;
  const uint8_t* wq = a.w + static_cast<size_t>(g0) * a.group_bytes;
  __m256 acc[C][2];
  XRow8 x[C];
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c) {
    x[c] = x_row<int32_t, kQK8_0>(a, t0 + c, nb);
    acc[c][0] = _mm256_setzero_ps();
    acc[c][1] = _mm256_setzero_ps();
  }
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = wq + static_cast<size_t>(b / 2) * kPairBytes;
    const uint8_t* q = blk + 64 + static_cast<size_t>(b % 2) * kQBytes;
    __m256i ia[C][2];
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      // q4_0: start from the block's correction (-8 * sum x) in every row lane.
      const __m256i init = kQ8 ? _mm256_setzero_si256() : _mm256_set1_epi32(x[c].tail[b]);
      ia[c][0] = init;
      ia[c][1] = init;
    }
    if constexpr (kQ8) {
      const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        const __m256i w0 = _mm256_xor_si256(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 64 * j)), flip);
        const __m256i w1 = _mm256_xor_si256(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 64 * j + 32)), flip);
        const __m256i aw0 = _mm256_abs_epi8(w0);
        const __m256i aw1 = _mm256_abs_epi8(w1);
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c) {
          const __m256i xv = _mm256_set1_epi32(load_i32(x[c].q + b * kQK8_0 + 4 * j));
          ia[c][0] = dot4(ia[c][0], aw0, _mm256_sign_epi8(xv, w0));
          ia[c][1] = dot4(ia[c][1], aw1, _mm256_sign_epi8(xv, w1));
        }
      }
    } else {
      // A row's sixteen products of the block are summed in int16 lanes (at most
      // 16 * 15 * 127 = 30480) and widened once.
      const __m256i lo4 = _mm256_set1_epi8(0x0f);
      __m256i d16[C][2];
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) d16[c][0] = d16[c][1] = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 64 * j));
        const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 64 * j + 32));
        const __m256i lo0 = _mm256_and_si256(v0, lo4);
        const __m256i lo1 = _mm256_and_si256(v1, lo4);
        const __m256i hi0 = _mm256_and_si256(_mm256_srli_epi16(v0, 4), lo4);
        const __m256i hi1 = _mm256_and_si256(_mm256_srli_epi16(v1, 4), lo4);
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c) {
          const __m256i xl = _mm256_set1_epi32(load_i32(x[c].q + b * kQK8_0 + 4 * j));
          const __m256i xh = _mm256_set1_epi32(load_i32(x[c].q + b * kQK8_0 + 16 + 4 * j));
          d16[c][0] = _mm256_add_epi16(d16[c][0], dot16(lo0, xl, hi0, xh));
          d16[c][1] = _mm256_add_epi16(d16[c][1], dot16(lo1, xl, hi1, xh));
        }
      }
      const __m256i ones = _mm256_set1_epi16(1);
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) {
        ia[c][0] = _mm256_add_epi32(ia[c][0], _mm256_madd_epi16(d16[c][0], ones));
        ia[c][1] = _mm256_add_epi32(ia[c][1], _mm256_madd_epi16(d16[c][1], ones));
      }
    }
    const uint8_t* dw = blk + static_cast<size_t>(b % 2) * 32;
    const __m256 dw0 = load_f16x8(dw);
    const __m256 dw1 = load_f16x8(dw + 16);
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      const __m256 dx = _mm256_set1_ps(x[c].d[b]);
      acc[c][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ia[c][0]), _mm256_mul_ps(dw0, dx), acc[c][0]);
      acc[c][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ia[c][1]), _mm256_mul_ps(dw1, dx), acc[c][1]);
    }
  }
  store_tile<C>(a, g0, t0, acc);
}

template <bool kQ8>
void run(const PackedGemmArgs& a) {
  const int64_t nb = a.k / kQK8_0;
  for (int64_t g = a.group_begin; g < a.group_end; ++g) {
    int64_t t = a.tok_begin;
    for (; t + kTileToks <= a.tok_end; t += kTileToks) tile<kQ8, kTileToks>(a, g, t, nb);
    if (t < a.tok_end) tile<kQ8, 1>(a, g, t, nb);
  }
}

}  // namespace

void pack_x_packed_q8_0(const float* src, void* dst, int64_t k) {
  cpu::pack_x_q8<from_float_q8_0>(src, dst, k, 128);
}
void pack_x_packed_q4_0(const float* src, void* dst, int64_t k) {
  cpu::pack_x_q8<from_float_q8_0>(src, dst, k, 8);
}
void packed_gemm_q8_0(const PackedGemmArgs& args) { run<true>(args); }
void packed_gemm_q4_0(const PackedGemmArgs& args) { run<false>(args); }

}  // namespace sarathi::kernels::avx2
