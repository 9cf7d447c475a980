// AVX2 matmul over interleaved q4_K and q6_K weights (kernels/packed.h): the VNNI kernel's
// arithmetic on 8-row halves of each 64-byte line. Quants (q4_K's nibbles 0..15, q6_K's
// u = q + 32 in 0..63, so pair sums stay far from int16 saturation) go through vpmaddubsw +
// vpmaddwd against a broadcast group of four q8_K quants; sub-block dots are scaled in int32
// (vpmulld); q4_K's mins meet the activations' sums of 32 through vpmaddwd, q6_K's offset is the
// per-16 correction that seeds each dot; the f32 work per 256-element super-block is the
// oracle's FMAs, so outputs are bit-equal to packed_gemm_ref.

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

// One packed activation row; tail: q4_K's int16 sums of each 32 quants, q6_K's int32
// -32 * sums of each 16.
template <class Tail>
struct XRow {
  const int8_t* q;
  const float* d;
  const Tail* tail;
};

template <class Tail>
SARATHI_INLINE XRow<Tail> x_row(const PackedGemmArgs& a, int64_t t, int64_t ns) {
  const uint8_t* r = a.x + static_cast<size_t>(t) * a.x_row_bytes;
  return {reinterpret_cast<const int8_t*>(r), reinterpret_cast<const float*>(r + ns * kQK_K),
          reinterpret_cast<const Tail*>(r + ns * (kQK_K + 4))};
}

SARATHI_INLINE __m256i dot4(__m256i acc, __m256i u, __m256i x) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, x), _mm256_set1_epi16(1)));
}

SARATHI_INLINE __m256 half_f16(const uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// acc[c][h] += float(is[c][h]) * (d * dx) for one super-block (sb: its f16 d[16]).
template <class X, int C>
SARATHI_INLINE void add_super_block(const uint8_t* sb, const X (&x)[C], int64_t s,
                                    const __m256i (&is)[C][2], __m256 (&acc)[C][2]) {
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

template <int C>
void store(const PackedGemmArgs& a, int64_t g0, int64_t t0, const __m256 (&acc)[C][2]) {
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

template <int C>
void tile(const PackedGemmArgs& a, int64_t g0, int64_t t0, int64_t ns) {
  const uint8_t* wg = a.w + static_cast<size_t>(g0) * a.group_bytes;
  __m256 acc[C][2];
  XRow<int16_t> x[C];
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c) {
    x[c] = x_row<int16_t>(a, t0 + c, ns);
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
    add_super_block(sb, x, s, is, acc);
  }
  store<C>(a, g0, t0, acc);
}

template <int C>
void tile6(const PackedGemmArgs& a, int64_t g0, int64_t t0, int64_t ns) {
  const uint8_t* wg = a.w + static_cast<size_t>(g0) * a.group_bytes;
  __m256 acc[C][2];
  XRow<int32_t> x[C];
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c) {
    x[c] = x_row<int32_t>(a, t0 + c, ns);
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
        // da: k-groups 0..3 (16-element group 2j), db: 4..7 (group 2j + 1), each seeded with
        // -32 * the activations' sum over its group.
        __m256i da[C], db[C];
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c) {
          da[c] = _mm256_set1_epi32(x[c].tail[s * 16 + 2 * j]);
          db[c] = _mm256_set1_epi32(x[c].tail[s * 16 + 2 * j + 1]);
        }
        const __m256i ha = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(high + 32 * h));
        const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(high + 64 + 32 * h));
#pragma GCC unroll 4
        for (int jj = 0; jj < 4; ++jj) {
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(nib + 64 * jj + 32 * h));
          // Bits 2jj..2jj+1 of each high-plane byte moved to bits 4..5 (16-bit shifts: the
          // masks drop what crosses a byte).
          const __m256i hia = _mm256_and_si256(_mm256_srli_epi16(ha, 2 * jj), lo2);
          const __m256i hib = _mm256_and_si256(_mm256_srli_epi16(hb, 2 * jj), lo2);
          const __m256i ua = _mm256_or_si256(_mm256_and_si256(v, lo4), _mm256_slli_epi16(hia, 4));
          const __m256i ub = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), lo4),
                                             _mm256_slli_epi16(hib, 4));
#pragma GCC unroll 4
          for (int c = 0; c < C; ++c) {
            const int8_t* xj = x[c].q + s * kQK_K + 32 * j;
            da[c] = dot4(da[c], ua, _mm256_set1_epi32(load_i32(xj + 4 * jj)));
            db[c] = dot4(db[c], ub, _mm256_set1_epi32(load_i32(xj + 16 + 4 * jj)));
          }
        }
        const __m256i sa = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sc + 8 * h)));
        const __m256i sbv = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sc + 16 + 8 * h)));
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c) {
          is[c][h] = _mm256_add_epi32(is[c][h], _mm256_mullo_epi32(da[c], sa));
          is[c][h] = _mm256_add_epi32(is[c][h], _mm256_mullo_epi32(db[c], sbv));
        }
      }
    }
    add_super_block(sb, x, s, is, acc);
  }
  store<C>(a, g0, t0, acc);
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

void pack_x_packed_q6_k(const float* src, void* dst, int64_t k) {
  const int64_t ns = k / kQK_K;
  auto* out = static_cast<uint8_t*>(dst);
  auto* d = reinterpret_cast<float*>(out + ns * kQK_K);
  auto* corr = reinterpret_cast<int32_t*>(out + ns * (kQK_K + 4));
  for (int64_t s = 0; s < ns; ++s) {
    BlockQ8_K blk;
    from_float_q8_k(src + s * kQK_K, &blk, kQK_K);
    std::memcpy(out + s * kQK_K, blk.qs, kQK_K);
    d[s] = blk.d;
    for (int h = 0; h < 2; ++h) {
      const __m256i sums = _mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.bsums + 8 * h)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(corr + s * 16 + 8 * h),
                          _mm256_mullo_epi32(sums, _mm256_set1_epi32(-32)));
    }
  }
  const size_t used = static_cast<size_t>(ns) * (kQK_K + 4 + 64);
  std::memset(out + used, 0, packed_x_bytes(core::DType::kQ6_K, k) - used);
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
