// AVX-512 VNNI matmul over interleaved q4_K, q5_K and q6_K weights (kernels/packed.h). As for
// q4_0, one 64-byte load holds the nibbles of two k-groups of 16 weight rows (q5_K adds their
// fifth bits and q6_K their high bits from a second plane), and vpdpbusd with a broadcast group
// of four q8_K activation quants
// advances 16 outputs. Sub-block dots are scaled in int32 (vpmulld); q4_K's mins meet the
// activations' sub-block sums through vpdpwssd, q6_K's offset of 32 is a per-group correction
// that seeds the dot. The f32 work is one or two FMAs per 256-element super-block for 16
// outputs. Tiles of G groups x C tokens keep the weight vectors in registers while they meet C
// tokens.

#include <cstring>

#include "core/dtype.h"
#include "kernels/cpu/avx512/gemm.h"
#include "kernels/cpu/avx512/packed_tile.h"
#include "kernels/cpu/avx512/type_ops.h"
#include "kernels/cpu/intrin.h"
#include "kernels/packed.h"

namespace sarathi::kernels::avx512 {
namespace {

using core::BlockQ8_K;
using core::kQK_K;

// Few tokens: one group at a time (one sequential weight stream per thread) or, with
// stream_pairs, two, tiles of up to 4 tokens; more tokens: two groups x 3 tokens (26 vector
// registers). kStreamMaxTokens is packed_tile.h's.

// The weight types of the kernels below: q4_K and q5_K share `tile` (q5_K's quants are q4_K's
// nibbles plus a fifth bit), q6_K has `tile6`.
enum class KQuant { kQ4, kQ5, kQ6 };

using XRowK4 = XRow<int16_t>;  // tail: sums of each 32 quants [ns * 8]
using XRowK6 = XRow<int32_t>;  // tail: -32 * sums of each 16 quants [ns * 16]

// acc += float(isum) * (d * dx) for one super-block: the last step of both types.
template <class X, int G, int C>
SARATHI_INLINE void add_super_block(const uint8_t* const (&sb)[G], const X (&x)[C], int64_t s,
                                    const __m512i (&is)[G][C], __m512 (&acc)[G][C]) {
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g) {
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb[g])));
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      const __m512 sc = _mm512_mul_ps(dw, _mm512_set1_ps(x[c].d[s]));
      acc[g][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is[g][c]), sc, acc[g][c]);
    }
  }
}

// q4_K (Q = kQ4) or q5_K (kQ5): quants 0..15 or 0..31, the same scales, mins and arithmetic.
template <KQuant Q, int G, int C>
void tile(const PackedGemmArgs& a, int64_t g0, int64_t t0, int64_t ns) {
  static_assert(Q != KQuant::kQ6);
  constexpr bool kFive = Q == KQuant::kQ5;
  constexpr size_t kSuperBytes = kFive ? kQ5KSuperBytes : kQ4KSuperBytes;
  __m512 acc[G][C];
  const uint8_t* wg[G];
  XRowK4 x[C];
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g) {
    wg[g] = a.w + static_cast<size_t>(g0 + g) * a.group_bytes;
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) acc[g][c] = _mm512_setzero_ps();
  }
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) x[c] = x_row<int16_t, kQK_K>(a, t0 + c, ns);

  // Independent int32 chains while few outputs share a tile (exact sums, so the split does
  // not change the result).
  constexpr int K = G * C == 1 ? 4 : (G * C == 2 ? 2 : 1);
  const __m512i lo4 = _mm512_set1_epi8(0x0f);
  const __m512i bit4 = _mm512_set1_epi8(0x10);
  const bool pf = prefetching(a);
  for (int64_t s = 0; s < ns; ++s) {
    const uint8_t* sb[G];
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) sb[g] = wg[g] + static_cast<size_t>(s) * kSuperBytes;
    if (pf)
      for (int g = 0; g < G; ++g) prefetch_ahead(sb[g], kSuperBytes);
    // Mins: msum = sum_j m_j * xsum_j, two sub-blocks per vpdpwssd.
    {
      __m512i ms[G][C];
#pragma GCC unroll 8
      for (int g = 0; g < G; ++g)
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) ms[g][c] = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int p = 0; p < 4; ++p) {
        __m512i mp[G];
#pragma GCC unroll 8
        for (int g = 0; g < G; ++g)
          mp[g] = _mm512_cvtepu8_epi16(
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb[g] + kQ4KMinsOff + 32 * p)));
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) {
          const __m512i xs = _mm512_set1_epi32(load_i32(x[c].tail + s * 8 + 2 * p));
#pragma GCC unroll 8
          for (int g = 0; g < G; ++g) ms[g][c] = _mm512_dpwssd_epi32(ms[g][c], mp[g], xs);
        }
      }
#pragma GCC unroll 8
      for (int g = 0; g < G; ++g) {
        const __m512 dm =
            _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb[g] + 32)));
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) {
          const __m512 t = _mm512_mul_ps(dm, _mm512_set1_ps(x[c].d[s]));
          acc[g][c] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(ms[g][c]), t, acc[g][c]);
        }
      }
    }
    // Quants: isum = sum_j sc_j * dot_j.
    __m512i is[G][C];
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g)
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) is[g][c] = _mm512_setzero_si512();
    for (int j = 0; j < 8; ++j) {
      __m512i dot[G][C][K];
#pragma GCC unroll 8
      for (int g = 0; g < G; ++g)
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c)
#pragma GCC unroll 4
          for (int i = 0; i < K; ++i) dot[g][c][i] = _mm512_setzero_si512();
      const int8_t* xj[C];
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) xj[c] = x[c].q + s * kQK_K + 32 * j;
      const uint8_t* qj[G];
      __m512i hv[G];  // q5_K: the sub-block's plane of fifth bits
#pragma GCC unroll 8
      for (int g = 0; g < G; ++g) {
        qj[g] = sb[g] + (kFive ? q5k_nibbles_off(j) : kQ4KQuantsOff + static_cast<size_t>(j) * 256);
        if constexpr (kFive) hv[g] = _mm512_loadu_si512(sb[g] + q5k_high_off(j));
      }
#pragma GCC unroll 4
      for (int jj = 0; jj < 4; ++jj) {
        __m512i lo[G], hi[G];
#pragma GCC unroll 8
        for (int g = 0; g < G; ++g) {
          const __m512i v = _mm512_loadu_si512(qj[g] + 64 * jj);
          lo[g] = _mm512_and_si512(v, lo4);
          hi[g] = _mm512_and_si512(_mm512_srli_epi16(v, 4), lo4);
          if constexpr (kFive) {
            // Fifth bits of k-groups jj and jj + 4 (plane bits jj, jj + 4) moved to bit 4 by
            // 16-bit shifts; no bit of the neighbour byte lands on a bit 4. Ternary logic 0xf8
            // is a | (b & c): nibble | (shifted plane & 0x10).
            lo[g] = _mm512_ternarylogic_epi32(lo[g], _mm512_slli_epi16(hv[g], 4 - jj), bit4, 0xf8);
            hi[g] = _mm512_ternarylogic_epi32(hi[g], _mm512_srli_epi16(hv[g], jj), bit4, 0xf8);
          }
        }
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) {
          const __m512i xl = _mm512_set1_epi32(load_i32(xj[c] + 4 * jj));
          const __m512i xh = _mm512_set1_epi32(load_i32(xj[c] + 16 + 4 * jj));
#pragma GCC unroll 8
          for (int g = 0; g < G; ++g) {
            dot[g][c][(2 * jj) % K] = _mm512_dpbusd_epi32(dot[g][c][(2 * jj) % K], lo[g], xl);
            dot[g][c][(2 * jj + 1) % K] =
                _mm512_dpbusd_epi32(dot[g][c][(2 * jj + 1) % K], hi[g], xh);
          }
        }
      }
#pragma GCC unroll 8
      for (int g = 0; g < G; ++g) {
        const __m512i sc = _mm512_cvtepu8_epi32(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(sb[g] + kQ4KScalesOff + 16 * j)));
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) {
#pragma GCC unroll 4
          for (int i = 1; i < K; ++i) dot[g][c][0] = _mm512_add_epi32(dot[g][c][0], dot[g][c][i]);
          is[g][c] = _mm512_add_epi32(is[g][c], _mm512_mullo_epi32(dot[g][c][0], sc));
        }
      }
    }
    add_super_block(sb, x, s, is, acc);
  }
  store_tile<G, C>(a, g0, t0, acc);
}

// ---------------------------------------------------------------- q6_K

template <int G, int C>
void tile6(const PackedGemmArgs& a, int64_t g0, int64_t t0, int64_t ns) {
  __m512 acc[G][C];
  const uint8_t* wg[G];
  XRowK6 x[C];
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g) {
    wg[g] = a.w + static_cast<size_t>(g0 + g) * a.group_bytes;
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) acc[g][c] = _mm512_setzero_ps();
  }
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) x[c] = x_row<int32_t, kQK_K>(a, t0 + c, ns);
  const __m512i lo4 = _mm512_set1_epi8(0x0f);
  const __m512i lo2 = _mm512_set1_epi8(0x03);
  const bool pf = prefetching(a);
  for (int64_t s = 0; s < ns; ++s) {
    const uint8_t* sb[G];
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) sb[g] = wg[g] + static_cast<size_t>(s) * kQ6KSuperBytes;
    if (pf)
      for (int g = 0; g < G; ++g) prefetch_ahead(sb[g], kQ6KSuperBytes);
    __m512i is[G][C];
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g)
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) is[g][c] = _mm512_setzero_si512();
    for (int j = 0; j < 8; ++j) {
      // dot_a: k-groups 0..3 (16-element group 2j), dot_b: 4..7 (group 2j + 1), each seeded
      // with -32 * the activations' sum over its group.
      // Few outputs: each dot also in two chains (jj even / odd), summed exactly below.
      constexpr int K = G * C <= 2 ? 2 : 1;
      __m512i da[G][C][K], db[G][C][K];
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        const __m512i ca = _mm512_set1_epi32(x[c].tail[s * 16 + 2 * j]);
        const __m512i cb = _mm512_set1_epi32(x[c].tail[s * 16 + 2 * j + 1]);
#pragma GCC unroll 8
        for (int g = 0; g < G; ++g) {
          da[g][c][0] = ca;
          db[g][c][0] = cb;
#pragma GCC unroll 2
          for (int i = 1; i < K; ++i) da[g][c][i] = db[g][c][i] = _mm512_setzero_si512();
        }
      }
      __m512i ha[G], hb[G];
#pragma GCC unroll 8
      for (int g = 0; g < G; ++g) {
        const uint8_t* h = sb[g] + q6k_high_off(j);
        ha[g] = _mm512_loadu_si512(h);
        hb[g] = _mm512_loadu_si512(h + 64);
      }
      const int8_t* xj[C];
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) xj[c] = x[c].q + s * kQK_K + 32 * j;
#pragma GCC unroll 4
      for (int jj = 0; jj < 4; ++jj) {
        __m512i ua[G], ub[G];
#pragma GCC unroll 8
        for (int g = 0; g < G; ++g) {
          const __m512i v = _mm512_loadu_si512(sb[g] + q6k_nibbles_off(j) + 64 * jj);
          // Bits 2jj..2jj+1 of each high-plane byte, moved to bits 4..5 (16-bit shifts: the
          // masks drop what crosses a byte).
          const __m512i hia = _mm512_and_si512(_mm512_srli_epi16(ha[g], 2 * jj), lo2);
          const __m512i hib = _mm512_and_si512(_mm512_srli_epi16(hb[g], 2 * jj), lo2);
          ua[g] = _mm512_or_si512(_mm512_and_si512(v, lo4), _mm512_slli_epi16(hia, 4));
          ub[g] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(v, 4), lo4),
                                  _mm512_slli_epi16(hib, 4));
        }
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) {
          const __m512i xl = _mm512_set1_epi32(load_i32(xj[c] + 4 * jj));
          const __m512i xh = _mm512_set1_epi32(load_i32(xj[c] + 16 + 4 * jj));
#pragma GCC unroll 8
          for (int g = 0; g < G; ++g) {
            da[g][c][jj % K] = _mm512_dpbusd_epi32(da[g][c][jj % K], ua[g], xl);
            db[g][c][jj % K] = _mm512_dpbusd_epi32(db[g][c][jj % K], ub[g], xh);
          }
        }
      }
#pragma GCC unroll 8
      for (int g = 0; g < G; ++g) {
        const uint8_t* sc = sb[g] + kQ6KScalesOff + static_cast<size_t>(j) * 32;
        const __m512i sa =
            _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc)));
        const __m512i sbv =
            _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc + 16)));
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) {
#pragma GCC unroll 2
          for (int i = 1; i < K; ++i) {
            da[g][c][0] = _mm512_add_epi32(da[g][c][0], da[g][c][i]);
            db[g][c][0] = _mm512_add_epi32(db[g][c][0], db[g][c][i]);
          }
          is[g][c] = _mm512_add_epi32(is[g][c], _mm512_mullo_epi32(da[g][c][0], sa));
          is[g][c] = _mm512_add_epi32(is[g][c], _mm512_mullo_epi32(db[g][c][0], sbv));
        }
      }
    }
    add_super_block(sb, x, s, is, acc);
  }
  store_tile<G, C>(a, g0, t0, acc);
}

// The token tail of a row of tiles: a tile of exactly `rem` (< CT) tokens.
template <KQuant Q, int G, int C>
void tail_tile(const PackedGemmArgs& a, int64_t g0, int64_t t, int64_t rem, int64_t ns) {
  if constexpr (C > 0) {
    if (rem == C) {
      if constexpr (Q == KQuant::kQ6) {
        tile6<G, C>(a, g0, t, ns);
      } else {
        tile<Q, G, C>(a, g0, t, ns);
      }
      return;
    }
    tail_tile<Q, G, C - 1>(a, g0, t, rem, ns);
  }
}

template <KQuant Q, int G, int CT>
void group_tiles(const PackedGemmArgs& a, int64_t g0, int64_t ns) {
  int64_t t = a.tok_begin;
  for (; t + CT <= a.tok_end; t += CT) tail_tile<Q, G, CT>(a, g0, t, CT, ns);
  tail_tile<Q, G, CT - 1>(a, g0, t, a.tok_end - t, ns);
}

// q4_K and q5_K: few tokens stream one group at a time (or two); more take two groups x 3
// tokens.
template <KQuant Q>
void packed_gemm_q45_k(const PackedGemmArgs& a) {
  const int64_t ns = a.k / kQK_K;
  int64_t g = a.group_begin;
  if (paired_groups(a)) {
    for (; g + 2 <= a.group_end; g += 2) group_tiles<Q, 2, 3>(a, g, ns);
  }
  for (; g < a.group_end; ++g) group_tiles<Q, 1, 4>(a, g, ns);
}

}  // namespace

void pack_x_packed_q4_k(const float* src, void* dst, int64_t k) {
  cpu::pack_x_q8_k<from_float_q8_k, core::DType::kQ4_K>(src, dst, k);
}

void packed_gemm_q4_k(const PackedGemmArgs& a) { packed_gemm_q45_k<KQuant::kQ4>(a); }

void pack_x_packed_q5_k(const float* src, void* dst, int64_t k) {
  // q4_K's activation layout (q8_K quants, scales, int16 sums of 32).
  cpu::pack_x_q8_k<from_float_q8_k, core::DType::kQ4_K>(src, dst, k);
}

void packed_gemm_q5_k(const PackedGemmArgs& a) { packed_gemm_q45_k<KQuant::kQ5>(a); }

void pack_x_packed_q6_k(const float* src, void* dst, int64_t k) {
  cpu::pack_x_q8_k<from_float_q8_k, core::DType::kQ6_K>(src, dst, k);
}

void packed_gemm_q6_k(const PackedGemmArgs& a) {
  const int64_t ns = a.k / kQK_K;
  int64_t g = a.group_begin;
  if (paired_groups(a)) {
    for (; g + 2 <= a.group_end; g += 2) group_tiles<KQuant::kQ6, 2, 2>(a, g, ns);
  }
  for (; g < a.group_end; ++g) group_tiles<KQuant::kQ6, 1, 4>(a, g, ns);
}

}  // namespace sarathi::kernels::avx512
