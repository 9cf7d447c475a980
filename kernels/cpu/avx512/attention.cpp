// AVX-512 attention for one query token and the query heads sharing one KV head: K and V rows
// are converted to f32 in L1-sized tiles and reused by every head of the group; scores for 16 positions
// come out of one transposing sum; exp is a vectorised Cephes polynomial. Each output depends
// only on its own query and the cache, with a fixed order of operations (batch invariance).

#include "kernels/cpu/intrin.h"

#include <cstddef>

#include "kernels/cpu/common.h"
#include "kernels/cpu/avx512/attention.h"
#include "kernels/cpu/avx512/vec_math.h"

namespace sarathi::kernels::avx512 {
namespace {

int64_t round_up16(int64_t n) { return (n + 15) / 16 * 16; }

__mmask16 mask16(int64_t count) {
  return count >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << count) - 1u);
}

// The row at element offset `off` of the cache, converted to f32 (head_dim floats; the caller
// pads).
void convert_row(const AttnGroupArgs& a, const void* base, size_t off, float* dst) {
  for (int64_t c = 0; c < a.head_dim; c += 16) {
    const __mmask16 m = mask16(a.head_dim - c);
    __m512 v;
    if (a.f16) {
      v = _mm512_cvtph_ps(
          _mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(base) + off + c));
    } else {
      v = _mm512_maskz_loadu_ps(m, static_cast<const float*>(base) + off + c);
    }
    _mm512_storeu_ps(dst + c, v);
  }
}

// Element offset of position pos's row for the group's KV head (head-major blocks: a head's
// rows of one block are contiguous).
size_t row_offset(const AttnGroupArgs& a, int32_t pos) {
  const int32_t block = a.block_table[pos / a.block_size];
  return ((static_cast<size_t>(block) * static_cast<size_t>(a.num_kv_heads) +
           static_cast<size_t>(a.kv_head)) *
              static_cast<size_t>(a.block_size) +
          static_cast<size_t>(pos % a.block_size)) *
         static_cast<size_t>(a.head_dim);
}

// Lane i of the result = the sum of the 16 lanes of v[i].
inline __attribute__((always_inline)) __m512 transpose_sum16(const __m512 (&v)[16]) {
  __m512 t[8];
  for (int i = 0; i < 8; ++i)
    t[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]),
                         _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
  __m512 u[4];
  for (int i = 0; i < 4; ++i) {
    const __m512d a = _mm512_castps_pd(t[2 * i]);
    const __m512d b = _mm512_castps_pd(t[2 * i + 1]);
    u[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
                         _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
  }
  const __m512 w0 = _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                  _mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512 w1 = _mm512_add_ps(_mm512_shuffle_f32x4(u[2], u[3], _MM_SHUFFLE(2, 0, 2, 0)),
                                  _mm512_shuffle_f32x4(u[2], u[3], _MM_SHUFFLE(3, 1, 3, 1)));
  return _mm512_add_ps(_mm512_shuffle_f32x4(w0, w1, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(w0, w1, _MM_SHUFFLE(3, 1, 3, 1)));
}

__m512 round_f16(__m512 x) {
  return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// Scores of one query head against np (<= 16) converted rows (nc16 = 16 * NC floats apart):
// per row an FMA chain over the head's 16-float pieces in order, then one transposing sum. NC is
// a template argument so the query and the 16 partial sums stay in registers.
template <int NC>
__m512 scores16_fixed(const float* qh, const float* rows, int64_t np) {
  __m512 q[NC];
#pragma GCC unroll 8
  for (int c = 0; c < NC; ++c) q[c] = _mm512_loadu_ps(qh + 16 * c);
  __m512 part[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) {
    part[i] = _mm512_setzero_ps();
    if (i < np) {
#pragma GCC unroll 8
      for (int c = 0; c < NC; ++c)
        part[i] = _mm512_fmadd_ps(q[c], _mm512_loadu_ps(rows + (i * NC + c) * 16), part[i]);
    }
  }
  return transpose_sum16(part);
}

__m512 scores16(const float* qh, const float* rows, int64_t nc16, int64_t np) {
  switch (nc16 / 16) {
    case 4: return scores16_fixed<4>(qh, rows, np);
    case 8: return scores16_fixed<8>(qh, rows, np);
    case 2: return scores16_fixed<2>(qh, rows, np);
    case 6: return scores16_fixed<6>(qh, rows, np);
    case 3: return scores16_fixed<3>(qh, rows, np);
    case 5: return scores16_fixed<5>(qh, rows, np);
    case 1: return scores16_fixed<1>(qh, rows, np);
    default: break;
  }
  __m512 part[16];
  for (int64_t i = 0; i < 16; ++i) {
    part[i] = _mm512_setzero_ps();
    if (i >= np) continue;
    const float* kr = rows + i * nc16;
    for (int64_t c = 0; c < nc16; c += 16)
      part[i] = _mm512_fmadd_ps(_mm512_loadu_ps(qh + c), _mm512_loadu_ps(kr + c), part[i]);
  }
  return transpose_sum16(part);
}

// Tiles of kTile positions whose K (then V) rows are converted into L1-sized buffers and used
// by every head of the group, for every query of the call, at once. (Converting the whole context
// once and letting every head stream it from L2 made a decode cost ~10x more per query-key
// pair; running a chunk's queries through this path instead of such a whole-context pass made
// the attention of a 512-token prefill 26% faster.)
constexpr int64_t kTile = 64;

// Rows [p0, p0 + n) of one KV head into dst (nc16 floats apart), walking the block table
// instead of dividing per row.
void load_rows(const AttnGroupArgs& a, const void* base, int32_t p0, int64_t n, float* dst,
               int64_t nc16) {
  int32_t pos = p0;
  for (int64_t i = 0; i < n;) {
    const int32_t in_block = a.block_size - pos % a.block_size;
    const int64_t run = in_block < n - i ? in_block : n - i;
    // A head's rows of one block are contiguous.
    const size_t off = row_offset(a, pos);
    const size_t stride = static_cast<size_t>(a.head_dim);
    if (nc16 == a.head_dim) {
      // No padding: the run converts as one flat array.
      const int64_t n_el = run * nc16;
      float* out = dst + i * nc16;
      if (a.f16) {
        const uint16_t* src = static_cast<const uint16_t*>(base) + off;
        for (int64_t e = 0; e < n_el; e += 16)
          _mm512_storeu_ps(out + e, _mm512_cvtph_ps(_mm256_loadu_si256(
                                        reinterpret_cast<const __m256i*>(src + e))));
      } else {
        const float* src = static_cast<const float*>(base) + off;
        for (int64_t e = 0; e < n_el; e += 16) _mm512_storeu_ps(out + e, _mm512_loadu_ps(src + e));
      }
    } else {
      for (int64_t r = 0; r < run; ++r)
        convert_row(a, base, off + static_cast<size_t>(r) * stride, dst + (i + r) * nc16);
    }
    pos += static_cast<int32_t>(run);
    i += run;
  }
}

// Prefetches the cache lines of rows [p0, p0 + n) (the next tile) while this one is computed:
// a task's rows are scattered over blocks and strided by the other KV heads, which the hardware
// prefetchers follow poorly.
void prefetch_rows(const AttnGroupArgs& a, const void* base, int32_t p0, int64_t n) {
  const size_t elem = a.f16 ? 2 : 4;
  const size_t row_bytes = static_cast<size_t>(a.head_dim) * elem;
  int32_t pos = p0;
  for (int64_t i = 0; i < n;) {
    const int32_t in_block = a.block_size - pos % a.block_size;
    const int64_t run = in_block < n - i ? in_block : n - i;
    // The run's rows are contiguous.
    const char* row = static_cast<const char*>(base) + row_offset(a, pos) * elem;
    for (size_t b = 0; b < static_cast<size_t>(run) * row_bytes; b += 64)
      _mm_prefetch(row + b, _MM_HINT_T0);
    pos += static_cast<int32_t>(run);
    i += run;
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
    for (int j = 0; j < 4; ++j) acc[h][j] = _mm512_loadu_ps(out + (h0 + h) * a.head_dim + c0 + 16 * j);
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
    for (int j = 0; j < 4; ++j) _mm512_storeu_ps(out + (h0 + h) * a.head_dim + c0 + 16 * j, acc[h][j]);
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
  float* kt = a.scratch;          // [kTile, nc16]: K, then V rows of one tile
  float* sc = kt + kTile * nc16;  // [nq * group, len16]
  float* qb = sc + heads * len16; // [nq * group, nc16]
  float* mx = qb + heads * nc16;  // [nq * group, 16] running maxima
  auto len_of = [&](int32_t i) { return static_cast<int64_t>(a.kv_len) + i; };
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
    load_rows(a, a.k, static_cast<int32_t>(t0), nt, kt, nc16);
    if (t0 + kTile < max_len) {
      prefetch_rows(a, a.k, static_cast<int32_t>(t0 + kTile),
                    max_len - t0 - kTile < kTile ? max_len - t0 - kTile : kTile);
    } else {
      prefetch_rows(a, a.v, 0, max_len < kTile ? max_len : kTile);
    }
    for (int32_t i = 0; i < nq; ++i) {
      const int64_t len = len_of(i);
      if (len <= t0) continue;
      const int64_t end = t0 + nt < len ? t0 + nt : len;
      for (int32_t h = 0; h < a.group; ++h) {
        const int64_t qh = static_cast<int64_t>(i) * a.group + h;
        const float* q = qb + qh * nc16;
        float* sh = sc + qh * len16;
        __m512 vmax = _mm512_loadu_ps(mx + 16 * qh);
        for (int64_t p0 = t0; p0 < end; p0 += 16) {
          const int64_t np = len - p0 < 16 ? len - p0 : 16;
          const __m512 sv = _mm512_mul_ps(scores16(q, kt + (p0 - t0) * nc16, nc16, np), scale);
          _mm512_storeu_ps(sh + p0, sv);
          vmax = _mm512_mask_max_ps(vmax, mask16(np), vmax, sv);
        }
        _mm512_storeu_ps(mx + 16 * qh, vmax);
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
        _mm512_mask_storeu_ps(a.out + i * a.q_stride + h * d + c, mask16(d - c), _mm512_setzero_ps());
  for (int64_t t0 = 0; t0 < max_len; t0 += kTile) {
    const int64_t nt_all = max_len - t0 < kTile ? max_len - t0 : kTile;
    load_rows(a, a.v, static_cast<int32_t>(t0), nt_all, kt, nc16);
    if (t0 + kTile < max_len)
      prefetch_rows(a, a.v, static_cast<int32_t>(t0 + kTile),
                    max_len - t0 - kTile < kTile ? max_len - t0 - kTile : kTile);
    for (int32_t i = 0; i < nq; ++i) {
      const int64_t len = len_of(i);
      if (len <= t0) continue;
      const int64_t nt = t0 + nt_all < len ? nt_all : len - t0;
      float* out = a.out + i * a.q_stride;
      const float* sq = sc + static_cast<int64_t>(i) * a.group * len16;
      for (int32_t h0 = 0; h0 < a.group; h0 += 4) {
        const int hn = a.group - h0 < 4 ? a.group - h0 : 4;
        for (int64_t c0 = 0; c0 < nc16; c0 += 64) {
          if (nc16 - c0 >= 64 && d - c0 >= 64) {
            switch (hn) {
              case 4: pv_tile<4>(a, out, sq, len16, t0, nt, kt, nc16, h0, c0); break;
              case 3: pv_tile<3>(a, out, sq, len16, t0, nt, kt, nc16, h0, c0); break;
              case 2: pv_tile<2>(a, out, sq, len16, t0, nt, kt, nc16, h0, c0); break;
              default: pv_tile<1>(a, out, sq, len16, t0, nt, kt, nc16, h0, c0); break;
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
