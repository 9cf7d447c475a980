// AVX2 matmul over interleaved q8_0 / q4_0 weights (kernels/packed.h), for machines without
// AVX-512: the same layout, packed activations and arithmetic as the VNNI kernel, so outputs are
// bit-equal to packed_gemm_ref. A 64-byte line (four quants of 16 rows) is two ymm halves of
// 8 rows; vpmaddubsw + vpmaddwd against a broadcast group of four activation quants gives each
// row's 4-element sum in its own int32 lane. q4_0's nibbles u (0..15) go straight into
// vpmaddubsw (pair sums stay far below int16 saturation) and the block correction adds
// -8 * sum(x); q8_0's stored u = w + 128 would saturate, so the kernel recovers w = u ^ 0x80 and
// multiplies |w| by x carrying w's sign (pair sums within +-32512), which gives sum(w * x)
// directly, the exact value the oracle forms as corr + sum(u * x).

#include "kernels/cpu/intrin.h"

#include <cstdint>
#include <cstring>

#include "core/dtype.h"
#include "kernels/cpu/avx2/type_ops.h"
#include "kernels/packed.h"

namespace sarathi::kernels::avx2 {
namespace {

using core::BlockQ8_0;
using core::DType;
using core::kQK8_0;

// Tokens per tile: 2 x C int32 and 2 x C f32 accumulators plus the line's weight vectors fit
// the 16 ymm registers up to C = 2.
constexpr int kTileToks = 2;

SARATHI_INLINE int32_t load_i32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

struct XRow {
  const int8_t* q;
  const float* d;
  const int32_t* corr;
};

SARATHI_INLINE XRow x_row(const PackedGemmArgs& a, int64_t t, int64_t nb) {
  const uint8_t* r = a.x + static_cast<size_t>(t) * a.x_row_bytes;
  return {reinterpret_cast<const int8_t*>(r), reinterpret_cast<const float*>(r + nb * kQK8_0),
          reinterpret_cast<const int32_t*>(r + nb * (kQK8_0 + 4))};
}

// sum over each lane's four (u8 a, s8 b) products, added to acc.
SARATHI_INLINE __m256i dot4(__m256i acc, __m256i a, __m256i b) {
  const __m256i pairs = _mm256_maddubs_epi16(a, b);
  return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

template <bool kQ8, int C>
void tile(const PackedGemmArgs& a, int64_t g0, int64_t t0, int64_t nb) {
  constexpr size_t kQBytes = kQ8 ? 512 : 256;
  constexpr size_t kPairBytes = 64 + 2 * kQBytes;
  const uint8_t* wq = a.w + static_cast<size_t>(g0) * a.group_bytes;
  __m256 acc[C][2];
  XRow x[C];
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c) {
    x[c] = x_row(a, t0 + c, nb);
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
      const __m256i init = kQ8 ? _mm256_setzero_si256() : _mm256_set1_epi32(x[c].corr[b]);
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
      const __m256i lo4 = _mm256_set1_epi8(0x0f);
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
          ia[c][0] = dot4(dot4(ia[c][0], lo0, xl), hi0, xh);
          ia[c][1] = dot4(dot4(ia[c][1], lo1, xl), hi1, xh);
        }
      }
    }
    const uint16_t* dw = reinterpret_cast<const uint16_t*>(blk + static_cast<size_t>(b % 2) * 32);
    const __m256 dw0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(dw)));
    const __m256 dw1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(dw + 8)));
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      const __m256 dx = _mm256_set1_ps(x[c].d[b]);
      acc[c][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ia[c][0]), _mm256_mul_ps(dw0, dx), acc[c][0]);
      acc[c][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ia[c][1]), _mm256_mul_ps(dw1, dx), acc[c][1]);
    }
  }
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

template <bool kQ8>
void run(const PackedGemmArgs& a) {
  const int64_t nb = a.k / kQK8_0;
  for (int64_t g = a.group_begin; g < a.group_end; ++g) {
    int64_t t = a.tok_begin;
    for (; t + kTileToks <= a.tok_end; t += kTileToks) tile<kQ8, kTileToks>(a, g, t, nb);
    if (t < a.tok_end) tile<kQ8, 1>(a, g, t, nb);
  }
}

template <DType kType>
void pack_x(const float* src, void* dst, int64_t k) {
  const int64_t nb = k / kQK8_0;
  auto* out = static_cast<uint8_t*>(dst);
  auto* d = reinterpret_cast<float*>(out + nb * kQK8_0);
  auto* corr = reinterpret_cast<int32_t*>(out + nb * (kQK8_0 + 4));
  const int32_t c = kType == DType::kQ8_0 ? 128 : 8;
  for (int64_t b = 0; b < nb; ++b) {
    BlockQ8_0 blk;
    from_float_q8_0(src + b * kQK8_0, &blk, kQK8_0);
    std::memcpy(out + b * kQK8_0, blk.qs, kQK8_0);
    d[b] = _cvtsh_ss(blk.d);
    // sum of the 32 quants: widen to 16 bits, add pairs, then reduce.
    const __m256i q16a = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.qs)));
    const __m256i q16b = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.qs + 16)));
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i s = _mm256_add_epi32(_mm256_madd_epi16(q16a, ones), _mm256_madd_epi16(q16b, ones));
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    corr[b] = -c * _mm_cvtsi128_si32(h);
  }
  const size_t used = static_cast<size_t>(nb) * (kQK8_0 + 8);
  std::memset(out + used, 0, packed_x_bytes(k) - used);
}

}  // namespace

void pack_x_packed_q8_0(const float* src, void* dst, int64_t k) {
  pack_x<DType::kQ8_0>(src, dst, k);
}
void pack_x_packed_q4_0(const float* src, void* dst, int64_t k) {
  pack_x<DType::kQ4_0>(src, dst, k);
}
void packed_gemm_q8_0(const PackedGemmArgs& args) { run<true>(args); }
void packed_gemm_q4_0(const PackedGemmArgs& args) { run<false>(args); }

}  // namespace sarathi::kernels::avx2
