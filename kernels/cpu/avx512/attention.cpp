// AVX-512 attention for the queries of one sequence and the query heads sharing one KV head,
// over 64-position tiles: a chunk's queries share K (stored transposed per block) and V converted
// to f32 in L1-sized buffers; one query (a decode) reads them straight from the cache where the
// shapes allow. Scores for 16 positions are one vector of FMA chains over the head dimensions,
// each K vector serving up to 8 heads; exp is a vectorised Cephes polynomial. Each output depends
// only on its own query and the cache, with a fixed order of operations (batch invariance).

#include "kernels/cpu/avx512/attention.h"

#include <algorithm>
#include <cstddef>

#include "kernels/cpu/avx512/vec_math.h"
#include "kernels/cpu/common.h"
#include "kernels/cpu/intrin.h"

namespace sarathi::kernels::avx512 {
namespace {

int64_t round_up16(int64_t n) { return (n + 15) / 16 * 16; }

__mmask16 mask16(int64_t count) {
  return count >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << count) - 1u);
}

__m512 round_f16(__m512 x) {
  return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// Tiles of kTile positions whose K (then V) rows are converted into L1-sized buffers and used
// by every head of the group, for every query of the call, at once. (Converting the whole context
// once and letting every head stream it from L2 made a decode cost ~10x more per query-key
// pair; running a chunk's queries through this path instead of such a whole-context pass made
// the attention of a 512-token prefill 26% faster.)
constexpr int64_t kTile = 64;

// The `m` lanes of the cache (K or V, f16 or f32) at element offset off, as f32 (others zero).
__m512 maskz_load16(const AttnGroupArgs& a, const void* base, size_t off, __mmask16 m) {
  return a.f16 ? _mm512_cvtph_ps(
                     _mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(base) + off))
               : _mm512_maskz_loadu_ps(m, static_cast<const float*>(base) + off);
}

// K of positions [p0, p0 + n) as f32 into kt: [head_dim][kTile], lanes from n up to the next
// multiple of 16 zero. The cache stores K transposed per block, so a block's positions of one
// head dimension are contiguous and convert as one masked vector.
void load_k_tile(const AttnGroupArgs& a, int32_t p0, int64_t n, float* kt) {
  if (a.q8) return cpu::load_k_tile_q8(a, p0, n, kt, kTile, 16);
  const int64_t d = a.head_dim;
  const auto bs = static_cast<size_t>(a.block_size);
  cpu::for_each_block_run(a, p0, n, [&](int32_t pos, int64_t i, int64_t run) {
    const size_t off = cpu::kv_region(a, pos) + static_cast<size_t>(pos % a.block_size);
    if (run == 16 && a.f16) {
      // The common case (16-position blocks): whole vectors, no masks (masked stores are slow
      // on Zen 4).
      const uint16_t* k = static_cast<const uint16_t*>(a.k) + off;
      for (int64_t j = 0; j < d; ++j)
        _mm512_storeu_ps(kt + j * kTile + i,
                         _mm512_cvtph_ps(_mm256_loadu_si256(
                             reinterpret_cast<const __m256i*>(k + static_cast<size_t>(j) * bs))));
      return;
    }
    for (int64_t j = 0; j < d; ++j) {
      for (int64_t c = 0; c < run; c += 16) {
        const __mmask16 m = mask16(run - c);
        _mm512_mask_storeu_ps(
            kt + j * kTile + i + c, m,
            maskz_load16(a, a.k, off + static_cast<size_t>(j) * bs + static_cast<size_t>(c), m));
      }
    }
  });
  if (n % 16 != 0) {
    const auto pad = static_cast<__mmask16>(~mask16(n % 16));
    for (int64_t j = 0; j < d; ++j)
      _mm512_mask_storeu_ps(kt + j * kTile + n / 16 * 16, pad, _mm512_setzero_ps());
  }
}

// V rows [p0, p0 + n) of the group's KV head into dst (nc16 floats apart, zero-padded).
void load_v_rows(const AttnGroupArgs& a, int32_t p0, int64_t n, float* dst, int64_t nc16) {
  if (a.q8) return cpu::load_v_rows_q8(a, p0, n, dst, nc16);
  const int64_t d = a.head_dim;
  cpu::for_each_block_run(a, p0, n, [&](int32_t pos, int64_t i, int64_t run) {
    // A head's rows of one block are contiguous.
    const size_t off = cpu::v_row(a, pos);
    if (nc16 == d) {
      // No padding: the run converts as one flat array.
      const int64_t n_el = run * nc16;
      float* out = dst + i * nc16;
      if (a.f16) {
        const uint16_t* src = static_cast<const uint16_t*>(a.v) + off;
        for (int64_t e = 0; e < n_el; e += 16)
          _mm512_storeu_ps(
              out + e,
              _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + e))));
      } else {
        const float* src = static_cast<const float*>(a.v) + off;
        for (int64_t e = 0; e < n_el; e += 16) _mm512_storeu_ps(out + e, _mm512_loadu_ps(src + e));
      }
      return;
    }
    for (int64_t r = 0; r < run; ++r)
      for (int64_t c = 0; c < nc16; c += 16)
        _mm512_storeu_ps(dst + (i + r) * nc16 + c,
                         maskz_load16(a, a.v, off + static_cast<size_t>(r * d + c), mask16(d - c)));
  });
}

SARATHI_INLINE __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
SARATHI_INLINE __m512 load16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// Where the K vectors of a tile come from: the converted tile (f32, kTile apart) or, when every
// 16 positions from a multiple of 16 lie in one block, the cache itself (T = the cache type;
// block_size apart), converted as they are loaded.
template <class T>
struct KSource {
  const AttnGroupArgs* a;
  const T* tile;  // the converted tile's column 0 (position t0), or null: read the cache
  int64_t t0;
  const T* at(int64_t p) const {
    if (tile != nullptr) return tile + (p - t0);
    return static_cast<const T*>(a->k) + cpu::kv_region(*a, static_cast<int32_t>(p)) +
           p % a->block_size;
  }
  int64_t stride() const { return tile != nullptr ? kTile : a->block_size; }
};

// Scores of HN query heads (rows of q, qstride floats apart) against PV 16-position vectors of
// K (k[v], dimension j at k[v] + j * kstride): per (head, position) one FMA chain over the head
// dimensions in order. Each K vector is loaded once for the HN heads; HN * PV independent chains
// hide the FMA latency.
template <int HN, int PV, class T>
SARATHI_INLINE void scores_block(const float* q, int64_t qstride, const T* const (&k)[PV],
                                 int64_t kstride, int64_t d, __m512 (&acc)[HN][PV]) {
#pragma GCC unroll 8
  for (int h = 0; h < HN; ++h)
#pragma GCC unroll 4
    for (int v = 0; v < PV; ++v) acc[h][v] = _mm512_setzero_ps();
  for (int64_t j = 0; j < d; ++j) {
    __m512 kv[PV];
#pragma GCC unroll 4
    for (int v = 0; v < PV; ++v) kv[v] = load16(k[v] + j * kstride);
#pragma GCC unroll 8
    for (int h = 0; h < HN; ++h) {
      const __m512 qj = _mm512_set1_ps(q[h * qstride + j]);
#pragma GCC unroll 4
      for (int v = 0; v < PV; ++v) acc[h][v] = _mm512_fmadd_ps(kv[v], qj, acc[h][v]);
    }
  }
}

// Scaled scores of HN heads of one query (length len) for positions [p0, p0 + 16 * PV), stored
// to sc rows (len16 apart) and folded into the running maxima.
template <int HN, int PV, class T>
void scores_into(const float* q, int64_t nc16, const KSource<T>& ks, int64_t d, int64_t p0,
                 int64_t len, float* sc, int64_t len16, float* mx, __m512 scale) {
  const T* k[PV];
#pragma GCC unroll 4
  for (int v = 0; v < PV; ++v) k[v] = ks.at(p0 + 16 * v);
  __m512 acc[HN][PV];
  scores_block<HN, PV, T>(q, nc16, k, ks.stride(), d, acc);
#pragma GCC unroll 8
  for (int h = 0; h < HN; ++h) {
    __m512 vmax = _mm512_loadu_ps(mx + 16 * h);
#pragma GCC unroll 4
    for (int v = 0; v < PV; ++v) {
      const int64_t p = p0 + 16 * v;
      const __m512 sv = _mm512_mul_ps(acc[h][v], scale);
      _mm512_storeu_ps(sc + h * len16 + p, sv);
      vmax = _mm512_mask_max_ps(vmax, mask16(len - p), vmax, sv);
    }
    _mm512_storeu_ps(mx + 16 * h, vmax);
  }
}

// The scores of HN heads over the tile's positions [t0, end): blocks of kPV vectors, then single
// vectors.
template <int HN, class T>
void scores_heads(const float* q, int64_t nc16, const KSource<T>& ks, int64_t d, int64_t end,
                  int64_t len, float* sc, int64_t len16, float* mx, __m512 scale) {
  constexpr int kPV = 8 / HN > 4 ? 4 : 8 / HN;
  int64_t p0 = ks.t0;
  for (; p0 + 16 * kPV <= (end + 15) / 16 * 16; p0 += 16 * kPV)
    scores_into<HN, kPV, T>(q, nc16, ks, d, p0, len, sc, len16, mx, scale);
  if constexpr (kPV > 1) {
    for (; p0 < end; p0 += 16) scores_into<HN, 1, T>(q, nc16, ks, d, p0, len, sc, len16, mx, scale);
  }
}

// The scores of all heads of query i over the tile: heads in blocks of 8, 4, 2, 1.
template <class T>
void scores_query(const AttnGroupArgs& a, const float* qb, int64_t nc16, const KSource<T>& ks,
                  int32_t i, int64_t end, int64_t len, float* sc, int64_t len16, float* mx,
                  __m512 scale) {
  const int64_t d = a.head_dim;
  for (int32_t h0 = 0; h0 < a.group;) {
    const int64_t qh = static_cast<int64_t>(i) * a.group + h0;
    const float* q = qb + qh * nc16;
    float* sh = sc + qh * len16;
    float* m = mx + 16 * qh;
    const int32_t left = a.group - h0;
    if (left >= 8) {
      scores_heads<8, T>(q, nc16, ks, d, end, len, sh, len16, m, scale);
      h0 += 8;
    } else if (left >= 4) {
      scores_heads<4, T>(q, nc16, ks, d, end, len, sh, len16, m, scale);
      h0 += 4;
    } else if (left >= 2) {
      scores_heads<2, T>(q, nc16, ks, d, end, len, sh, len16, m, scale);
      h0 += 2;
    } else {
      scores_heads<1, T>(q, nc16, ks, d, end, len, sh, len16, m, scale);
      h0 += 1;
    }
  }
}

// P · V for HN heads and output dimensions [c0, c0 + 16 * NV): `count` V rows from position p
// at rows (head_dim elements apart; T = uint16_t converts f16 as loaded), each V vector used by
// the HN heads (HN * NV independent chains). Per (head, lane) the FMAs run over positions in
// order, as in pv_tile.
template <int HN, int NV, class T>
void pv_rows(float* out, int64_t d, const float* sq, int64_t len16, int64_t p, int64_t count,
             const T* rows, int64_t c0) {
  __m512 acc[HN][NV];
#pragma GCC unroll 8
  for (int h = 0; h < HN; ++h)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[h][j] = _mm512_loadu_ps(out + h * d + c0 + 16 * j);
  for (int64_t r = 0; r < count; ++r) {
    __m512 v[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) v[j] = load16(rows + r * d + c0 + 16 * j);
#pragma GCC unroll 8
    for (int h = 0; h < HN; ++h) {
      const __m512 w = _mm512_set1_ps(sq[h * len16 + p + r]);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[h][j] = _mm512_fmadd_ps(w, v[j], acc[h][j]);
    }
  }
#pragma GCC unroll 8
  for (int h = 0; h < HN; ++h)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) _mm512_storeu_ps(out + h * d + c0 + 16 * j, acc[h][j]);
}

// P · V of one query over positions [t0, t0 + nt) in 32-float pieces of the head: V rows from
// vbuf (the converted tile, head_dim floats apart) or, if null, straight from the cache, block
// run by block run; heads in blocks of 8, 4, 2, 1.
template <class T>
void pv_query(const AttnGroupArgs& a, float* out, const float* sq, int64_t len16, int64_t t0,
              int64_t nt, const T* vbuf) {
  const int64_t d = a.head_dim;
  for (int32_t h0 = 0; h0 < a.group;) {
    const int32_t left = a.group - h0;
    const int hn = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
    float* oh = out + h0 * d;
    const float* sh = sq + h0 * len16;
    // 32 floats of the head per pass for 4 or 8 heads; 64 for 1 or 2 (four chains per head).
    const int64_t piece = hn <= 2 && d % 64 == 0 ? 64 : 32;
    for (int64_t c0 = 0; c0 < d; c0 += piece) {
      for (int64_t p = t0; p < t0 + nt;) {
        // The converted tile is one run; the cache, one run per block.
        int64_t run = t0 + nt - p;
        const T* rows = vbuf + (p - t0) * d;
        if (vbuf == nullptr) {
          run = std::min<int64_t>(run, a.block_size - p % a.block_size);
          rows = static_cast<const T*>(a.v) + cpu::v_row(a, static_cast<int32_t>(p));
        }
        if (hn == 8) {
          pv_rows<8, 2, T>(oh, d, sh, len16, p, run, rows, c0);
        } else if (hn == 4) {
          pv_rows<4, 2, T>(oh, d, sh, len16, p, run, rows, c0);
        } else if (piece == 64) {
          if (hn == 2) {
            pv_rows<2, 4, T>(oh, d, sh, len16, p, run, rows, c0);
          } else {
            pv_rows<1, 4, T>(oh, d, sh, len16, p, run, rows, c0);
          }
        } else if (hn == 2) {
          pv_rows<2, 2, T>(oh, d, sh, len16, p, run, rows, c0);
        } else {
          pv_rows<1, 2, T>(oh, d, sh, len16, p, run, rows, c0);
        }
        p += run;
      }
    }
    h0 += hn;
  }
}

// P · V over one tile for HN heads and 64 output dims: each V vector is loaded once for the HN
// heads, whose 4 x HN accumulators are independent chains (an FMA's latency no longer bounds a
// position). Per (head, lane) the FMAs run over positions in order.
template <int HN>
void pv_tile(const AttnGroupArgs& a, float* out, const float* sc, int64_t len16, int64_t t0,
             int64_t nt, const float* vt, int64_t nc16, int32_t h0, int64_t c0) {
  __m512 acc[HN][4];
  for (int h = 0; h < HN; ++h)
    for (int j = 0; j < 4; ++j)
      acc[h][j] = _mm512_loadu_ps(out + (h0 + h) * a.head_dim + c0 + 16 * j);
  for (int64_t p = 0; p < nt; ++p) {
    const float* vr = vt + p * nc16 + c0;
    const __m512 v0 = _mm512_loadu_ps(vr), v1 = _mm512_loadu_ps(vr + 16);
    const __m512 v2 = _mm512_loadu_ps(vr + 32), v3 = _mm512_loadu_ps(vr + 48);
    for (int h = 0; h < HN; ++h) {
      const __m512 w = _mm512_set1_ps(sc[(h0 + h) * len16 + t0 + p]);
      acc[h][0] = _mm512_fmadd_ps(w, v0, acc[h][0]);
      acc[h][1] = _mm512_fmadd_ps(w, v1, acc[h][1]);
      acc[h][2] = _mm512_fmadd_ps(w, v2, acc[h][2]);
      acc[h][3] = _mm512_fmadd_ps(w, v3, acc[h][3]);
    }
  }
  for (int h = 0; h < HN; ++h)
    for (int j = 0; j < 4; ++j)
      _mm512_storeu_ps(out + (h0 + h) * a.head_dim + c0 + 16 * j, acc[h][j]);
}

// nq consecutive queries of one sequence (query i sees kv_len + i positions) over the same
// K/V tiles: each tile is converted once for all of them, and each query goes through exactly
// the operations it would go through alone (nq = 1), so its bits do not depend on nq.
void attend_queries(const AttnGroupArgs& a, int32_t nq) {
  const int32_t max_len = a.kv_len + nq - 1;
  const int64_t d = a.head_dim;
  const int64_t nc16 = round_up16(d);
  const int64_t len16 = round_up16(max_len);
  const int64_t heads = static_cast<int64_t>(nq) * a.group;  // (query, head) pairs
  float* kt = a.scratch;           // K of one tile ([d, kTile]), then its V rows ([kTile, nc16])
  float* sc = kt + kTile * nc16;   // [nq * group, len16]
  float* qb = sc + heads * len16;  // [nq * group, nc16]
  float* mx = qb + heads * nc16;   // [nq * group, 16] running maxima
  auto len_of = [&](int32_t i) { return static_cast<int64_t>(a.kv_len) + i; };
  // With 16-position vectors inside blocks and whole 32-float pieces of a head, one query (a
  // decode) reads K and V from the cache as it uses them: the conversion buffers' stores cost
  // about a third of a decode's attention on Zen 4. Several queries share converted tiles (Zen
  // 4, 512-token prefill: 152-156 ms vs 165-171 ms reading the cache per query). Both give the
  // same bits.
  const bool fast_shape = a.block_size % 16 == 0 && d % 32 == 0;
  const bool direct = fast_shape && nq == 1 && !a.q8;  // a q8_0 cache goes through the tiles
  for (int32_t i = 0; i < nq; ++i) {
    for (int32_t h = 0; h < a.group; ++h) {
      const int64_t qh = static_cast<int64_t>(i) * a.group + h;
      for (int64_t c = 0; c < nc16; c += 16) {
        __m512 q = _mm512_maskz_loadu_ps(mask16(d - c), a.q + i * a.q_stride + h * d + c);
        if (a.f16) q = round_f16(q);
        _mm512_storeu_ps(qb + qh * nc16 + c, q);
      }
      _mm512_storeu_ps(mx + 16 * qh, _mm512_set1_ps(-__builtin_inff()));
    }
  }
  const __m512 scale = _mm512_set1_ps(a.scale);
  for (int64_t t0 = 0; t0 < max_len; t0 += kTile) {
    const int64_t nt = max_len - t0 < kTile ? max_len - t0 : kTile;
    if (!direct) load_k_tile(a, static_cast<int32_t>(t0), nt, kt);
    if (t0 + kTile < max_len) {
      cpu::prefetch_regions(a, a.k, static_cast<int32_t>(t0 + kTile),
                            max_len - t0 - kTile < kTile ? max_len - t0 - kTile : kTile);
    } else {
      cpu::prefetch_regions(a, a.v, 0, max_len < kTile ? max_len : kTile);
    }
    for (int32_t i = 0; i < nq; ++i) {
      const int64_t len = len_of(i);
      if (len <= t0) continue;
      const int64_t end = t0 + nt < len ? t0 + nt : len;
      if (!direct) {
        scores_query<float>(a, qb, nc16, {&a, kt, t0}, i, end, len, sc, len16, mx, scale);
      } else if (a.f16) {
        scores_query<uint16_t>(a, qb, nc16, {&a, nullptr, t0}, i, end, len, sc, len16, mx, scale);
      } else {
        scores_query<float>(a, qb, nc16, {&a, nullptr, t0}, i, end, len, sc, len16, mx, scale);
      }
    }
  }
  for (int64_t qh = 0; qh < heads; ++qh) {
    const int64_t len = len_of(static_cast<int32_t>(qh / a.group));
    float* sh = sc + qh * len16;
    const __m512 vm = _mm512_set1_ps(_mm512_reduce_max_ps(_mm512_loadu_ps(mx + 16 * qh)));
    __m512d sum0 = _mm512_setzero_pd(), sum1 = _mm512_setzero_pd();
    for (int64_t p0 = 0; p0 < len; p0 += 16) {
      const __mmask16 m = mask16(len - p0);
      const __m512 e = _mm512_maskz_mov_ps(m, exp_ps(_mm512_sub_ps(_mm512_loadu_ps(sh + p0), vm)));
      _mm512_storeu_ps(sh + p0, e);
      sum0 = _mm512_add_pd(sum0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
      sum1 = _mm512_add_pd(sum1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
    }
    const double sum = _mm512_reduce_add_pd(_mm512_add_pd(sum0, sum1));
    const __m512 inv = _mm512_set1_ps(static_cast<float>(1.0 / sum));
    for (int64_t p0 = 0; p0 < len; p0 += 16) {
      __m512 w = _mm512_mul_ps(_mm512_loadu_ps(sh + p0), inv);
      if (a.f16) w = round_f16(w);
      _mm512_storeu_ps(sh + p0, w);
    }
  }
  // out = P · V: each (query, head)'s accumulators run over positions in order, tile after
  // tile; they live in `out` between tiles.
  for (int32_t i = 0; i < nq; ++i)
    for (int32_t h = 0; h < a.group; ++h)
      for (int64_t c = 0; c < d; c += 16)
        _mm512_mask_storeu_ps(a.out + i * a.q_stride + h * d + c, mask16(d - c),
                              _mm512_setzero_ps());
  for (int64_t t0 = 0; t0 < max_len; t0 += kTile) {
    const int64_t nt_all = max_len - t0 < kTile ? max_len - t0 : kTile;
    if (!direct) load_v_rows(a, static_cast<int32_t>(t0), nt_all, kt, nc16);
    if (t0 + kTile < max_len)
      cpu::prefetch_regions(a, a.v, static_cast<int32_t>(t0 + kTile),
                            max_len - t0 - kTile < kTile ? max_len - t0 - kTile : kTile);
    for (int32_t i = 0; i < nq; ++i) {
      const int64_t len = len_of(i);
      if (len <= t0) continue;
      const int64_t nt = t0 + nt_all < len ? nt_all : len - t0;
      float* out = a.out + i * a.q_stride;
      const float* sq = sc + static_cast<int64_t>(i) * a.group * len16;
      if (direct) {
        if (a.f16) {
          pv_query<uint16_t>(a, out, sq, len16, t0, nt, nullptr);
        } else {
          pv_query<float>(a, out, sq, len16, t0, nt, nullptr);
        }
        continue;
      }
      if (fast_shape) {
        pv_query<float>(a, out, sq, len16, t0, nt, kt);
        continue;
      }
      for (int32_t h0 = 0; h0 < a.group; h0 += 4) {
        const int hn = a.group - h0 < 4 ? a.group - h0 : 4;
        for (int64_t c0 = 0; c0 < nc16; c0 += 64) {
          if (nc16 - c0 >= 64 && d - c0 >= 64) {
            switch (hn) {
              case 4:
                pv_tile<4>(a, out, sq, len16, t0, nt, kt, nc16, h0, c0);
                break;
              case 3:
                pv_tile<3>(a, out, sq, len16, t0, nt, kt, nc16, h0, c0);
                break;
              case 2:
                pv_tile<2>(a, out, sq, len16, t0, nt, kt, nc16, h0, c0);
                break;
              default:
                pv_tile<1>(a, out, sq, len16, t0, nt, kt, nc16, h0, c0);
                break;
            }
            continue;
          }
          for (int32_t h = h0; h < h0 + hn; ++h) {
            const float* sh = sq + h * len16 + t0;
            float* oh = out + h * d;
            const int64_t nvec = (nc16 - c0) / 16 < 4 ? (nc16 - c0) / 16 : 4;
            __m512 acc[4];
            for (int64_t j = 0; j < 4; ++j)
              acc[j] = j < nvec ? _mm512_maskz_loadu_ps(mask16(d - c0 - 16 * j), oh + c0 + 16 * j)
                                : _mm512_setzero_ps();
            for (int64_t p = 0; p < nt; ++p) {
              const __m512 w = _mm512_set1_ps(sh[p]);
              const float* vr = kt + p * nc16 + c0;
              for (int64_t j = 0; j < nvec; ++j)
                acc[j] = _mm512_fmadd_ps(w, _mm512_loadu_ps(vr + 16 * j), acc[j]);
            }
            for (int64_t j = 0; j < nvec; ++j)
              _mm512_mask_storeu_ps(oh + c0 + 16 * j, mask16(d - c0 - 16 * j), acc[j]);
          }
        }
      }
    }
  }
}

}  // namespace

void attend_group(const AttnGroupArgs& a) { cpu::attend_in_parts(a, attend_queries); }

}  // namespace sarathi::kernels::avx512
