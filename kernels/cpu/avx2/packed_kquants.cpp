// AVX2 matmul over interleaved q4_K, q5_K and q6_K weights (kernels/packed.h) on 8-row halves
// of each 64-byte line. Quants (q4_K's nibbles 0..15, q5_K's 0..31, q6_K's u = q + 32 in 0..63)
// go through vpmaddubsw against a broadcast group of four q8_K quants; the int16 products of a
// scale's group are added in int16 (their bounds, at the largest quants and activations of
// -128, stay below 32768) and meet the group's scale in the vpmaddwd that widens them, so a
// sub-block costs one widening multiply instead of one per four products plus a vpmulld.
// q4_K's mins meet the activations' sums of 32 through vpmaddwd; q6_K's offset is the per-16
// correction times its scale. The f32 work per 256-element super-block is the oracle's FMAs,
// so outputs are bit-equal to packed_gemm_ref.

#include <cstdint>
#include <cstring>

#include "core/dtype.h"
#include "kernels/cpu/avx2/packed_tile.h"
#include "kernels/cpu/avx2/type_ops.h"
#include "kernels/cpu/intrin.h"
#include "kernels/packed.h"

namespace sarathi::kernels::avx2 {
namespace {

using core::BlockQ8_K;
using core::kQK_K;

constexpr int kTileToks = 2;

// Eight u8 (or, with Signed, s8) sub-block scales, one per row of an 8-row half, as int16
// pairs (sc_r, sc_r) in the two lanes of row r: the vpmaddwd that widens a row's int16 dot
// sums multiplies it by its scale.
template <bool Signed = false>
SARATHI_INLINE __m256i scales16(const uint8_t* p) {
  const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  const __m256i s = Signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
  return _mm256_blend_epi16(s, _mm256_slli_epi32(s, 16), 0xaa);
}

// acc[c][h] += float(is[c][h]) * (d * dx) for one super-block (sb: its f16 d[16]).
template <class X, int C>
SARATHI_INLINE void add_super_block(const uint8_t* sb, const X (&x)[C], int64_t s,
                                    const __m256i (&is)[C][2], __m256 (&acc)[C][2]) {
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    const __m256 dw = load_f16x8(sb + 16 * h);
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      const __m256 sc = _mm256_mul_ps(dw, _mm256_set1_ps(x[c].d[s]));
      acc[c][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[c][h]), sc, acc[c][h]);
    }
  }
}

template <int C>
void tile(const PackedGemmArgs& a, int64_t g0, int64_t t0, int64_t ns) {
  const uint8_t* wg = a.w + static_cast<size_t>(g0) * a.group_bytes;
  __m256 acc[C][2];
  XRow<int16_t> x[C];
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c) {
    x[c] = x_row<int16_t, kQK_K>(a, t0 + c, ns);
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
          const __m256i xs = _mm256_set1_epi32(load_i32(x[c].tail + s * 8 + 2 * p));
          ms[c] = _mm256_add_epi32(ms[c], _mm256_madd_epi16(mp, xs));
        }
      }
      const __m256 dm = load_f16x8(sb + 32 + 16 * h);
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) {
        const __m256 t = _mm256_mul_ps(dm, _mm256_set1_ps(x[c].d[s]));
        acc[c][h] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(ms[c]), t, acc[c][h]);
      }
    }
    // Quants: isum = sum_j sc_j * dot_j. A row's dot of sub-block j is summed in int16 lanes
    // (each a sum of sixteen products, |q x| <= 15 * 128: at most 30720) and meets its scale
    // in the vpmaddwd that widens it (the integers of the oracle, exactly).
    __m256i is[C][2];
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) is[c][0] = is[c][1] = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {
      const uint8_t* q = sb + kQ4KQuantsOff + static_cast<size_t>(j) * 256;
      __m256i d16[C][2];
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) d16[c][0] = d16[c][1] = _mm256_setzero_si256();
      // Each broadcast group of activations serves both 8-row halves.
#pragma GCC unroll 1
      for (int jj = 0; jj < 4; ++jj) {
        __m256i xa[C], xb[C];
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c) {
          const int8_t* xj = x[c].q + s * kQK_K + 32 * j + 4 * jj;
          xa[c] = _mm256_set1_epi32(load_i32(xj));
          xb[c] = _mm256_set1_epi32(load_i32(xj + 16));
        }
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
          const __m256i v =
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 64 * jj + 32 * h));
          const __m256i lo = _mm256_and_si256(v, lo4);
          const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), lo4);
#pragma GCC unroll 4
          for (int c = 0; c < C; ++c)
            d16[c][h] = _mm256_add_epi16(d16[c][h], dot16(lo, xa[c], hi, xb[c]));
        }
      }
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        const __m256i sc = scales16(sb + kQ4KScalesOff + 16 * j + 8 * h);
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c)
          is[c][h] = _mm256_add_epi32(is[c][h], _mm256_madd_epi16(d16[c][h], sc));
      }
    }
    add_super_block(sb, x, s, is, acc);
  }
  store_tile<C>(a, g0, t0, acc);
}

// q5_K: tile's arithmetic over 5-bit quants (nibble plus the plane's fifth bit).
template <int C>
void tile5(const PackedGemmArgs& a, int64_t g0, int64_t t0, int64_t ns) {
  const uint8_t* wg = a.w + static_cast<size_t>(g0) * a.group_bytes;
  __m256 acc[C][2];
  XRow<int16_t> x[C];
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c) {
    x[c] = x_row<int16_t, kQK_K>(a, t0 + c, ns);
    acc[c][0] = acc[c][1] = _mm256_setzero_ps();
  }
  const __m256i lo4 = _mm256_set1_epi8(0x0f);
  for (int64_t s = 0; s < ns; ++s) {
    const uint8_t* sb = wg + static_cast<size_t>(s) * kQ5KSuperBytes;
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
          const __m256i xs = _mm256_set1_epi32(load_i32(x[c].tail + s * 8 + 2 * p));
          ms[c] = _mm256_add_epi32(ms[c], _mm256_madd_epi16(mp, xs));
        }
      }
      const __m256 dm = load_f16x8(sb + 32 + 16 * h);
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) {
        const __m256 t = _mm256_mul_ps(dm, _mm256_set1_ps(x[c].d[s]));
        acc[c][h] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(ms[c]), t, acc[c][h]);
      }
    }
    // Quants: isum = sum_j sc_j * dot_j, as in tile; with 5-bit quants an int16 lane holds the
    // eight products of two k-groups (at most 8 * 31 * 128 = 31744), so each half of a
    // sub-block meets its scale in a vpmaddwd of its own.
    __m256i is[C][2];
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) is[c][0] = is[c][1] = _mm256_setzero_si256();
    const __m256i bit4 = _mm256_set1_epi8(0x10);
    for (int j = 0; j < 8; ++j) {
      const uint8_t* q = sb + q5k_nibbles_off(j);
      const uint8_t* high = sb + q5k_high_off(j);
      const __m256i hv[2] = {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(high)),
                             _mm256_loadu_si256(reinterpret_cast<const __m256i*>(high + 32))};
#pragma GCC unroll 2
      for (int half = 0; half < 2; ++half) {
        __m256i d16[C][2];
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c) d16[c][0] = d16[c][1] = _mm256_setzero_si256();
#pragma GCC unroll 2
        for (int jj = 2 * half; jj < 2 * half + 2; ++jj) {
          // Each broadcast group of activations serves both 8-row halves.
          __m256i xa[C], xb[C];
#pragma GCC unroll 4
          for (int c = 0; c < C; ++c) {
            const int8_t* xj = x[c].q + s * kQK_K + 32 * j + 4 * jj;
            xa[c] = _mm256_set1_epi32(load_i32(xj));
            xb[c] = _mm256_set1_epi32(load_i32(xj + 16));
          }
#pragma GCC unroll 2
          for (int h = 0; h < 2; ++h) {
            const __m256i v =
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 64 * jj + 32 * h));
            // Fifth bits of k-groups jj and jj + 4 (bits jj, jj + 4 of each plane byte) moved
            // to bit 4 by 16-bit shifts; no bit of the neighbour byte lands on a bit 4.
            const __m256i lo = _mm256_or_si256(
                _mm256_and_si256(v, lo4), _mm256_and_si256(_mm256_slli_epi16(hv[h], 4 - jj), bit4));
            const __m256i hi =
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), lo4),
                                _mm256_and_si256(_mm256_srli_epi16(hv[h], jj), bit4));
#pragma GCC unroll 4
            for (int c = 0; c < C; ++c)
              d16[c][h] = _mm256_add_epi16(d16[c][h], dot16(lo, xa[c], hi, xb[c]));
          }
        }
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
          const __m256i sc = scales16(sb + kQ4KScalesOff + 16 * j + 8 * h);
#pragma GCC unroll 4
          for (int c = 0; c < C; ++c)
            is[c][h] = _mm256_add_epi32(is[c][h], _mm256_madd_epi16(d16[c][h], sc));
        }
      }
    }
    add_super_block(sb, x, s, is, acc);
  }
  store_tile<C>(a, g0, t0, acc);
}

template <int C>
void tile6(const PackedGemmArgs& a, int64_t g0, int64_t t0, int64_t ns) {
  const uint8_t* wg = a.w + static_cast<size_t>(g0) * a.group_bytes;
  __m256 acc[C][2];
  XRow<int32_t> x[C];
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c) {
    x[c] = x_row<int32_t, kQK_K>(a, t0 + c, ns);
    acc[c][0] = acc[c][1] = _mm256_setzero_ps();
  }
  const __m256i lo4 = _mm256_set1_epi8(0x0f);
  const __m256i lo2 = _mm256_set1_epi8(0x03);
  for (int64_t s = 0; s < ns; ++s) {
    const uint8_t* sb = wg + static_cast<size_t>(s) * kQ6KSuperBytes;
    __m256i is[C][2];
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) is[c][0] = is[c][1] = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {
      const uint8_t* high = sb + q6k_high_off(j);
      const uint8_t* nib = sb + q6k_nibbles_off(j);
      const uint8_t* sc = sb + kQ6KScalesOff + static_cast<size_t>(j) * 32;
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        // k-groups 0..3 are 16-element group 2j (scale sa), 4..7 group 2j + 1 (scale sb). Each
        // group's four products of two k-groups fit an int16 lane (u <= 63: at most 32256)
        // and meets its scale in a vpmaddwd; the seeds -32 * the activations' sums of 16
        // meet theirs in int32.
        const __m256i sa =
            _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sc + 8 * h)));
        const __m256i sbv = _mm256_cvtepi8_epi32(
            _mm_loadl_epi64(reinterpret_cast<const __m128i*>(sc + 16 + 8 * h)));
        const __m256i sa16 = scales16<true>(sc + 8 * h);
        const __m256i sb16 = scales16<true>(sc + 16 + 8 * h);
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c) {
          is[c][h] = _mm256_add_epi32(
              is[c][h], _mm256_mullo_epi32(_mm256_set1_epi32(x[c].tail[s * 16 + 2 * j]), sa));
          is[c][h] = _mm256_add_epi32(
              is[c][h], _mm256_mullo_epi32(_mm256_set1_epi32(x[c].tail[s * 16 + 2 * j + 1]), sbv));
        }
        const __m256i ha = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(high + 32 * h));
        const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(high + 64 + 32 * h));
#pragma GCC unroll 2
        for (int half = 0; half < 2; ++half) {
          __m256i da[C], db[C];
#pragma GCC unroll 4
          for (int c = 0; c < C; ++c) da[c] = db[c] = _mm256_setzero_si256();
#pragma GCC unroll 2
          for (int jj = 2 * half; jj < 2 * half + 2; ++jj) {
            const __m256i v =
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(nib + 64 * jj + 32 * h));
            // Bits 2jj..2jj+1 of each high-plane byte moved to bits 4..5 (16-bit shifts: the
            // masks drop what crosses a byte).
            const __m256i hia = _mm256_and_si256(_mm256_srli_epi16(ha, 2 * jj), lo2);
            const __m256i hib = _mm256_and_si256(_mm256_srli_epi16(hb, 2 * jj), lo2);
            const __m256i ua = _mm256_or_si256(_mm256_and_si256(v, lo4), _mm256_slli_epi16(hia, 4));
            const __m256i ub = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), lo4),
                                               _mm256_slli_epi16(hib, 4));
#pragma GCC unroll 4
            for (int c = 0; c < C; ++c) {
              const int8_t* xj = x[c].q + s * kQK_K + 32 * j + 4 * jj;
              da[c] = _mm256_add_epi16(
                  da[c], _mm256_maddubs_epi16(ua, _mm256_set1_epi32(load_i32(xj))));
              db[c] = _mm256_add_epi16(
                  db[c], _mm256_maddubs_epi16(ub, _mm256_set1_epi32(load_i32(xj + 16))));
            }
          }
#pragma GCC unroll 4
          for (int c = 0; c < C; ++c) {
            is[c][h] = _mm256_add_epi32(is[c][h], _mm256_madd_epi16(da[c], sa16));
            is[c][h] = _mm256_add_epi32(is[c][h], _mm256_madd_epi16(db[c], sb16));
          }
        }
      }
    }
    add_super_block(sb, x, s, is, acc);
  }
  store_tile<C>(a, g0, t0, acc);
}

}  // namespace

void pack_x_packed_q4_k(const float* src, void* dst, int64_t k) {
  cpu::pack_x_q8_k<from_float_q8_k, core::DType::kQ4_K>(src, dst, k);
}

void packed_gemm_q4_k(const PackedGemmArgs& a) {
  const int64_t ns = a.k / kQK_K;
  for (int64_t g = a.group_begin; g < a.group_end; ++g) {
    int64_t t = a.tok_begin;
    for (; t + kTileToks <= a.tok_end; t += kTileToks) tile<kTileToks>(a, g, t, ns);
    if (t < a.tok_end) tile<1>(a, g, t, ns);
  }
}

void pack_x_packed_q5_k(const float* src, void* dst, int64_t k) {
  // q4_K's activation layout (q8_K quants, scales, int16 sums of 32).
  cpu::pack_x_q8_k<from_float_q8_k, core::DType::kQ4_K>(src, dst, k);
}

void packed_gemm_q5_k(const PackedGemmArgs& a) {
  const int64_t ns = a.k / kQK_K;
  for (int64_t g = a.group_begin; g < a.group_end; ++g) {
    int64_t t = a.tok_begin;
    for (; t + kTileToks <= a.tok_end; t += kTileToks) tile5<kTileToks>(a, g, t, ns);
    if (t < a.tok_end) tile5<1>(a, g, t, ns);
  }
}

void pack_x_packed_q6_k(const float* src, void* dst, int64_t k) {
  cpu::pack_x_q8_k<from_float_q8_k, core::DType::kQ6_K>(src, dst, k);
}

void packed_gemm_q6_k(const PackedGemmArgs& a) {
  const int64_t ns = a.k / kQK_K;
  for (int64_t g = a.group_begin; g < a.group_end; ++g) {
    int64_t t = a.tok_begin;
    for (; t + kTileToks <= a.tok_end; t += kTileToks) tile6<kTileToks>(a, g, t, ns);
    if (t < a.tok_end) tile6<1>(a, g, t, ns);
  }
}

}  // namespace sarathi::kernels::avx2
