// AVX2 matmul over interleaved q4_K weights (kernels/packed.h): the VNNI kernel's arithmetic on
// 8-row halves of each 64-byte line. Nibbles (0..15) go through vpmaddubsw + vpmaddwd against a
// broadcast group of four q8_K quants, each sub-block's dot is scaled in int32 (vpmulld), the
// mins meet the activations' sums of 32 through vpmaddwd, and the f32 work per 256-element
// super-block is the oracle's two FMAs, so outputs are bit-equal to packed_gemm_ref.

#include "kernels/cpu/intrin.h"

#include <cstdint>
#include <cstring>

#include "core/dtype.h"
#include "kernels/cpu/avx2/type_ops.h"
#include "kernels/packed.h"

namespace sarathi::kernels::avx2 {
namespace {

using core::BlockQ8_K;
using core::kQK_K;

constexpr int kTileToks = 2;

SARATHI_INLINE int32_t load_i32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

struct XRow {
  const int8_t* q;
  const float* d;
  const int16_t* sums;  // of each 32 quants
};

SARATHI_INLINE XRow x_row(const PackedGemmArgs& a, int64_t t, int64_t ns) {
  const uint8_t* r = a.x + static_cast<size_t>(t) * a.x_row_bytes;
  return {reinterpret_cast<const int8_t*>(r), reinterpret_cast<const float*>(r + ns * kQK_K),
          reinterpret_cast<const int16_t*>(r + ns * (kQK_K + 4))};
}

SARATHI_INLINE __m256i dot4(__m256i acc, __m256i u, __m256i x) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, x), _mm256_set1_epi16(1)));
}

SARATHI_INLINE __m256 half_f16(const uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

template <int C>
void tile(const PackedGemmArgs& a, int64_t g0, int64_t t0, int64_t ns) {
  const uint8_t* wg = a.w + static_cast<size_t>(g0) * a.group_bytes;
  __m256 acc[C][2];
  XRow x[C];
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c) {
    x[c] = x_row(a, t0 + c, ns);
    acc[c][0] = acc[c][1] = _mm256_setzero_ps();
  }
  const __m256i lo4 = _mm256_set1_epi8(0x0f);
  for (int64_t s = 0; s < ns; ++s) {
    const uint8_t* sb = wg + static_cast<size_t>(s) * kQ4KSuperBytes;
    // Mins: msum = sum_j m_j * xsum_j, two sub-blocks per vpmaddwd.
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      __m256i ms[C];
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) ms[c] = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int p = 0; p < 4; ++p) {
        const __m256i mp = _mm256_cvtepu8_epi16(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(sb + kQ4KMinsOff + 32 * p + 16 * h)));
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c) {
          const __m256i xs = _mm256_set1_epi32(load_i32(x[c].sums + s * 8 + 2 * p));
          ms[c] = _mm256_add_epi32(ms[c], _mm256_madd_epi16(mp, xs));
        }
      }
      const __m256 dm = half_f16(sb + 32 + 16 * h);
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) {
        const __m256 t = _mm256_mul_ps(dm, _mm256_set1_ps(x[c].d[s]));
        acc[c][h] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(ms[c]), t, acc[c][h]);
      }
    }
    // Quants: isum = sum_j sc_j * dot_j.
    __m256i is[C][2];
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) is[c][0] = is[c][1] = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {
      const uint8_t* q = sb + kQ4KQuantsOff + static_cast<size_t>(j) * 256;
      __m256i dot[C][2];
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) dot[c][0] = dot[c][1] = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int jj = 0; jj < 4; ++jj) {
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 64 * jj + 32 * h));
          const __m256i lo = _mm256_and_si256(v, lo4);
          const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), lo4);
#pragma GCC unroll 4
          for (int c = 0; c < C; ++c) {
            const int8_t* xj = x[c].q + s * kQK_K + 32 * j;
            dot[c][h] = dot4(dot4(dot[c][h], lo, _mm256_set1_epi32(load_i32(xj + 4 * jj))), hi,
                             _mm256_set1_epi32(load_i32(xj + 16 + 4 * jj)));
          }
        }
      }
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        const __m256i sc = _mm256_cvtepu8_epi32(
            _mm_loadl_epi64(reinterpret_cast<const __m128i*>(sb + kQ4KScalesOff + 16 * j + 8 * h)));
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c) is[c][h] = _mm256_add_epi32(is[c][h], _mm256_mullo_epi32(dot[c][h], sc));
      }
    }
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m256 dw = half_f16(sb + 16 * h);
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) {
        const __m256 sc = _mm256_mul_ps(dw, _mm256_set1_ps(x[c].d[s]));
        acc[c][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[c][h]), sc, acc[c][h]);
      }
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

}  // namespace

void pack_x_packed_q4_k(const float* src, void* dst, int64_t k) {
  const int64_t ns = k / kQK_K;
  auto* out = static_cast<uint8_t*>(dst);
  auto* d = reinterpret_cast<float*>(out + ns * kQK_K);
  auto* sums = reinterpret_cast<int16_t*>(out + ns * (kQK_K + 4));
  for (int64_t s = 0; s < ns; ++s) {
    BlockQ8_K blk;
    from_float_q8_k(src + s * kQK_K, &blk, kQK_K);
    std::memcpy(out + s * kQK_K, blk.qs, kQK_K);
    d[s] = blk.d;
    // Sums of 32: adjacent pairs of the 16-element sums (at most 32 * 127, so int16 holds them).
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.bsums));
    const __m256i pair = _mm256_madd_epi16(b, _mm256_set1_epi16(1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(sums + s * 8),
                     _mm_packs_epi32(_mm256_castsi256_si128(pair), _mm256_extracti128_si256(pair, 1)));
  }
  const size_t used = static_cast<size_t>(ns) * (kQK_K + 4 + 16);
  std::memset(out + used, 0, packed_x_bytes(core::DType::kQ4_K, k) - used);
}

void packed_gemm_q4_k(const PackedGemmArgs& a) {
  const int64_t ns = a.k / kQK_K;
  for (int64_t g = a.group_begin; g < a.group_end; ++g) {
    int64_t t = a.tok_begin;
    for (; t + kTileToks <= a.tok_end; t += kTileToks) tile<kTileToks>(a, g, t, ns);
    if (t < a.tok_end) tile<1>(a, g, t, ns);
  }
}

}  // namespace sarathi::kernels::avx2
