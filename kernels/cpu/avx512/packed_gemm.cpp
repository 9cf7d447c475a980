// AVX-512 VNNI matmul over interleaved q8_0 / q4_0 weights (kernels/packed.h). One 64-byte load
// holds four quants of 16 weight rows, so one vpdpbusd with a broadcast group of four activation
// quants advances 16 outputs by four elements; the f32 work is one convert and one FMA per block
// of 32 elements for 16 outputs. Tiles of G groups x C tokens keep the weight vectors in registers
// while they meet C tokens.

#include <cstring>

#include "core/dtype.h"
#include "kernels/cpu/avx512/gemm.h"
#include "kernels/cpu/avx512/packed_tile.h"
#include "kernels/cpu/avx512/type_ops.h"
#include "kernels/cpu/intrin.h"
#include "kernels/packed.h"

namespace sarathi::kernels::avx512 {
namespace {

using core::BlockQ8_0;
using core::DType;
using core::kQK8_0;

// Few tokens (kStreamMaxTokens, packed_tile.h): one group at a time, so each thread reads one
// sequential stream of weights (on Zen 4, a second concurrent stream per thread, even of 1/16
// the bytes, cost 15% of decode bandwidth; software prefetch only lost), or with stream_pairs
// (Intel, dispatch.cpp) two groups and software prefetch.
// 2 groups x 6 tokens: 12 f32 and 12 int32 accumulators. 1 thread, 512 x 11264 x 2048 on Zen 4:
// q8_0 337 GOP/s with 4 tokens per tile, 347-350 with 5 or 6; q4_0 345 -> 353.
constexpr int kTileToks = 6;

using XRow8 = XRow<int32_t>;  // tail: corr[nb]

template <bool kQ8, int G, int C>
void tile(const PackedGemmArgs& a, int64_t g0, int64_t t0, int64_t nb) {
  constexpr size_t kQBytes = kQ8 ? 512 : 256;
  constexpr size_t kPairBytes = 64 + 2 * kQBytes;
  __m512 acc[G][C];
  const uint8_t* wq[G];
  XRow8 x[C];
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g) {
    wq[g] = a.w + static_cast<size_t>(g0 + g) * a.group_bytes;
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) acc[g][c] = _mm512_setzero_ps();
  }
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) x[c] = x_row<int32_t, kQK8_0>(a, t0 + c, nb);

  // Independent int32 chains per output while few outputs share a tile (vpdpbusd latency
  // would bound a single chain); their exact sum is the same whatever the split.
  constexpr int K = G * C == 1 ? 4 : (G * C == 2 ? 2 : 1);
  const bool pf = prefetching(a);
  for (int64_t b = 0; b < nb; ++b) {
    if (pf && b % 2 == 0)
      for (int g = 0; g < G; ++g)
        prefetch_ahead(wq[g] + static_cast<size_t>(b / 2) * kPairBytes, kPairBytes);
    __m512i ia[G][C][K];
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      const __m512i corr = _mm512_set1_epi32(x[c].tail[b]);
#pragma GCC unroll 8
      for (int g = 0; g < G; ++g) {
        ia[g][c][0] = corr;
#pragma GCC unroll 4
        for (int i = 1; i < K; ++i) ia[g][c][i] = _mm512_setzero_si512();
      }
    }
    const size_t soff = static_cast<size_t>(b / 2) * kPairBytes + static_cast<size_t>(b % 2) * 32;
    const size_t qoff =
        static_cast<size_t>(b / 2) * kPairBytes + 64 + static_cast<size_t>(b % 2) * kQBytes;
    if constexpr (kQ8) {
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        __m512i w[G];
#pragma GCC unroll 8
        for (int g = 0; g < G; ++g) w[g] = _mm512_loadu_si512(wq[g] + qoff + 64 * j);
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) {
          const __m512i xv = _mm512_set1_epi32(load_i32(x[c].q + b * kQK8_0 + 4 * j));
#pragma GCC unroll 8
          for (int g = 0; g < G; ++g)
            ia[g][c][j % K] = _mm512_dpbusd_epi32(ia[g][c][j % K], w[g], xv);
        }
      }
    } else {
      const __m512i lo4 = _mm512_set1_epi8(0x0f);
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        __m512i lo[G], hi[G];
#pragma GCC unroll 8
        for (int g = 0; g < G; ++g) {
          const __m512i v = _mm512_loadu_si512(wq[g] + qoff + 64 * j);
          lo[g] = _mm512_and_si512(v, lo4);
          hi[g] = _mm512_and_si512(_mm512_srli_epi16(v, 4), lo4);
        }
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) {
          const __m512i xl = _mm512_set1_epi32(load_i32(x[c].q + b * kQK8_0 + 4 * j));
          const __m512i xh = _mm512_set1_epi32(load_i32(x[c].q + b * kQK8_0 + 16 + 4 * j));
#pragma GCC unroll 8
          for (int g = 0; g < G; ++g) {
            ia[g][c][(2 * j) % K] = _mm512_dpbusd_epi32(ia[g][c][(2 * j) % K], lo[g], xl);
            ia[g][c][(2 * j + 1) % K] = _mm512_dpbusd_epi32(ia[g][c][(2 * j + 1) % K], hi[g], xh);
          }
        }
      }
    }
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g)
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c)
#pragma GCC unroll 4
        for (int i = 1; i < K; ++i) ia[g][c][0] = _mm512_add_epi32(ia[g][c][0], ia[g][c][i]);
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) {
      const __m512 dw =
          _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wq[g] + soff)));
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        const __m512 s = _mm512_mul_ps(dw, _mm512_set1_ps(x[c].d[b]));
        acc[g][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[g][c][0]), s, acc[g][c]);
      }
    }
  }
  store_tile<G, C>(a, g0, t0, acc);
}

template <bool kQ8, int G, int C>
void tail_tile(const PackedGemmArgs& a, int64_t g0, int64_t t, int64_t rem, int64_t nb) {
  if constexpr (C > 0) {
    if (rem == C) {
      tile<kQ8, G, C>(a, g0, t, nb);
      return;
    }
    tail_tile<kQ8, G, C - 1>(a, g0, t, rem, nb);
  }
}

template <bool kQ8, int G>
void group_tiles(const PackedGemmArgs& a, int64_t g0, int64_t nb) {
  int64_t t = a.tok_begin;
  for (; t + kTileToks <= a.tok_end; t += kTileToks) tile<kQ8, G, kTileToks>(a, g0, t, nb);
  tail_tile<kQ8, G, kTileToks - 1>(a, g0, t, a.tok_end - t, nb);
}

template <bool kQ8>
void run(const PackedGemmArgs& a) {
  const int64_t nb = a.k / kQK8_0;
  int64_t g = a.group_begin;
  if (paired_groups(a)) {
    for (; g + 2 <= a.group_end; g += 2) group_tiles<kQ8, 2>(a, g, nb);
  }
  for (; g < a.group_end; ++g) group_tiles<kQ8, 1>(a, g, nb);
}

}  // namespace

void pack_x_packed_q8_0(const float* src, void* dst, int64_t k) {
  pack_x_q8_rows(src, dst, k, 128);
}
void pack_x_packed_q4_0(const float* src, void* dst, int64_t k) { pack_x_q8_rows(src, dst, k, 8); }
void packed_gemm_q8_0(const PackedGemmArgs& args) { run<true>(args); }
void packed_gemm_q4_0(const PackedGemmArgs& args) { run<false>(args); }

}  // namespace sarathi::kernels::avx512
