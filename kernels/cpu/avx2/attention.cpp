// AVX2 attention (8 f32 lanes), the same algorithm as kernels/cpu/avx512/attention.cpp: K
// (stored transposed per block) and V converted to f32 in 64-position tiles that every head of
// the GQA group and every query of the call reuse; scores for 8 positions as one vector of FMA
// chains over the head dimensions; softmax with a Cephes exp and double sums; P . V with each V
// vector loaded once for two heads. Each query goes through the same operations whatever the
// number of queries in the call (batch invariance). A sliding window starts a query's softmax
// and P . V at its first visible position and leaves the others out of its maximum; a soft cap
// maps each scaled score s to c tanh(s / c). Without either, the operations are those of the
// kernel before they existed (the same bits).

#include <cstddef>
#include <cstring>

#include "kernels/cpu/avx2/type_ops.h"
#include "kernels/cpu/avx2/vec_math.h"
#include "kernels/cpu/common.h"
#include "kernels/cpu/intrin.h"

namespace sarathi::kernels::avx2 {
namespace {

constexpr int64_t kTile = 64;

int64_t round_up16(int64_t n) { return (n + 15) / 16 * 16; }

// c * tanh(s / c) per lane.
__m256 softcap_ps(__m256 s, float cap) {
  return _mm256_mul_ps(tanh_ps(_mm256_mul_ps(s, _mm256_set1_ps(1.0f / cap))), _mm256_set1_ps(cap));
}

__m256 round_f16(__m256 x) {
  return _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// One cache row (head_dim elements) as f32 into dst, zero-padded to nc floats.
void convert_row(const AttnGroupArgs& a, const void* base, size_t off, float* dst, int64_t nc) {
  const int64_t d = a.head_dim;
  int64_t c = 0;
  if (a.f16) {
    const uint16_t* src = static_cast<const uint16_t*>(base) + off;
    for (; c + 8 <= d; c += 8)
      _mm256_storeu_ps(dst + c,
                       _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + c))));
    if (c < d) {
      alignas(16) uint16_t tmp[8] = {};
      std::memcpy(tmp, src + c, static_cast<size_t>(d - c) * sizeof(uint16_t));
      _mm256_storeu_ps(dst + c,
                       _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(tmp))));
      c += 8;
    }
  } else {
    const float* src = static_cast<const float*>(base) + off;
    for (; c + 8 <= d; c += 8) _mm256_storeu_ps(dst + c, _mm256_loadu_ps(src + c));
    if (c < d) {
      alignas(32) float tmp[8] = {};
      std::memcpy(tmp, src + c, static_cast<size_t>(d - c) * sizeof(float));
      _mm256_storeu_ps(dst + c, _mm256_load_ps(tmp));
      c += 8;
    }
  }
  for (; c < nc; c += 8) _mm256_storeu_ps(dst + c, _mm256_setzero_ps());
}

// V rows [p0, p0 + n) of the group's KV head into dst, nc floats apart (a head's rows of one
// block are contiguous).
void load_v_rows(const AttnGroupArgs& a, int32_t p0, int64_t n, float* dst, int64_t nc) {
  if (a.q8) return cpu::load_v_rows_q8(a, p0, n, dst, nc);
  cpu::for_each_block_run(a, p0, n, [&](int32_t pos, int64_t i, int64_t run) {
    const size_t off = cpu::v_row(a, pos);
    for (int64_t r = 0; r < run; ++r)
      convert_row(a, a.v, off + static_cast<size_t>(r * a.head_dim), dst + (i + r) * nc, nc);
  });
}

// K of positions [p0, p0 + n) as f32 into kt: [head_dim][kTile], lanes from n up to the next
// multiple of 8 zero. The cache stores K transposed per block, so a block's positions of one
// head dimension are contiguous.
void load_k_tile(const AttnGroupArgs& a, int32_t p0, int64_t n, float* kt) {
  if (a.q8) return cpu::load_k_tile_q8(a, p0, n, kt, kTile, 8);
  const int64_t d = a.head_dim;
  const auto bs = static_cast<size_t>(a.block_size);
  cpu::for_each_block_run(a, p0, n, [&](int32_t pos, int64_t i, int64_t run) {
    const size_t off = cpu::kv_region(a, pos) + static_cast<size_t>(pos % a.block_size);
    for (int64_t j = 0; j < d; ++j) {
      const size_t src = off + static_cast<size_t>(j) * bs;
      float* dst = kt + j * kTile + i;
      int64_t c = 0;
      if (a.f16) {
        const uint16_t* k = static_cast<const uint16_t*>(a.k) + src;
        for (; c + 8 <= run; c += 8)
          _mm256_storeu_ps(
              dst + c, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + c))));
        for (; c < run; ++c) dst[c] = core::f16_to_f32(k[c]);
      } else {
        const float* k = static_cast<const float*>(a.k) + src;
        for (; c + 8 <= run; c += 8) _mm256_storeu_ps(dst + c, _mm256_loadu_ps(k + c));
        for (; c < run; ++c) dst[c] = k[c];
      }
    }
  });
  for (int64_t j = 0; j < d; ++j)
    for (int64_t c = n; c % 8 != 0; ++c) kt[j * kTile + c] = 0.0f;
}

// Scores of HN query heads (rows of q, qstride floats apart) against PV 8-position vectors of
// the K tile from kt: per (head, position) one FMA chain over the head dimensions in order.
template <int HN, int PV>
SARATHI_INLINE void scores_block(const float* q, int64_t qstride, const float* kt, int64_t d,
                                 __m256 (&acc)[HN][PV]) {
#pragma GCC unroll 4
  for (int h = 0; h < HN; ++h)
#pragma GCC unroll 4
    for (int v = 0; v < PV; ++v) acc[h][v] = _mm256_setzero_ps();
  for (int64_t j = 0; j < d; ++j) {
    __m256 kv[PV];
#pragma GCC unroll 4
    for (int v = 0; v < PV; ++v) kv[v] = _mm256_loadu_ps(kt + j * kTile + 8 * v);
#pragma GCC unroll 4
    for (int h = 0; h < HN; ++h) {
      const __m256 qj = _mm256_broadcast_ss(q + h * qstride + j);
#pragma GCC unroll 4
      for (int v = 0; v < PV; ++v) acc[h][v] = _mm256_fmadd_ps(kv[v], qj, acc[h][v]);
    }
  }
}

__m256i lane_mask(int64_t count) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), idx);
}

// Lanes of positions p..p+7 in [lo, len).
__m256 valid_lanes(int64_t p, int64_t lo, int64_t len) {
  return _mm256_castsi256_ps(_mm256_andnot_si256(lane_mask(lo - p), lane_mask(len - p)));
}

// Scaled (and soft-capped, cap > 0) scores of HN heads of one query (positions [lo, len)) for
// positions [p0, p0 + 8 * PV) of the tile starting at t0, stored to sc rows (len16 apart) and
// folded into the running maxima.
template <int HN, int PV>
void scores_into(const float* q, int64_t nc16, const float* kt, int64_t d, int64_t t0, int64_t p0,
                 int64_t lo, int64_t len, float* sc, int64_t len16, float* mx, __m256 scale,
                 float cap) {
  __m256 acc[HN][PV];
  scores_block<HN, PV>(q, nc16, kt + (p0 - t0), d, acc);
#pragma GCC unroll 4
  for (int h = 0; h < HN; ++h) {
    __m256 vmax = _mm256_loadu_ps(mx + 16 * h);
#pragma GCC unroll 4
    for (int v = 0; v < PV; ++v) {
      const int64_t p = p0 + 8 * v;
      __m256 sv = _mm256_mul_ps(acc[h][v], scale);
      if (cap > 0.0f) sv = softcap_ps(sv, cap);
      _mm256_storeu_ps(sc + h * len16 + p, sv);
      vmax = _mm256_blendv_ps(vmax, _mm256_max_ps(vmax, sv), valid_lanes(p, lo, len));
    }
    _mm256_storeu_ps(mx + 16 * h, vmax);
  }
}

// The scores of HN heads over the tile's positions [begin, end) (begin a multiple of 8 in the
// tile): blocks of kPV vectors, then single vectors.
template <int HN>
void scores_heads(const float* q, int64_t nc16, const float* kt, int64_t d, int64_t t0,
                  int64_t begin, int64_t end, int64_t lo, int64_t len, float* sc, int64_t len16,
                  float* mx, __m256 scale, float cap) {
  constexpr int kPV = 8 / HN > 4 ? 4 : 8 / HN;
  int64_t p0 = begin;
  for (; p0 + 8 * kPV <= (end + 7) / 8 * 8; p0 += 8 * kPV)
    scores_into<HN, kPV>(q, nc16, kt, d, t0, p0, lo, len, sc, len16, mx, scale, cap);
  if constexpr (kPV > 1) {
    for (; p0 < end; p0 += 8)
      scores_into<HN, 1>(q, nc16, kt, d, t0, p0, lo, len, sc, len16, mx, scale, cap);
  }
}

// P . V over the tile's positions [t0 + pb, t0 + nt) for HN heads and 32 output floats from c0
// (4 vectors per head), each V vector loaded once for the HN heads; per (head, lane) the FMAs
// run over positions in order.
template <int HN>
void pv_tile(float* acc_out, int64_t out_stride, const float* sc, int64_t len16, int64_t t0,
             int64_t pb, int64_t nt, const float* vt, int64_t nc, int64_t c0) {
  __m256 acc[HN][4];
  for (int h = 0; h < HN; ++h)
    for (int j = 0; j < 4; ++j) acc[h][j] = _mm256_loadu_ps(acc_out + h * out_stride + c0 + 8 * j);
  for (int64_t p = pb; p < nt; ++p) {
    const float* vr = vt + p * nc + c0;
    const __m256 v0 = _mm256_loadu_ps(vr), v1 = _mm256_loadu_ps(vr + 8);
    const __m256 v2 = _mm256_loadu_ps(vr + 16), v3 = _mm256_loadu_ps(vr + 24);
    for (int h = 0; h < HN; ++h) {
      const __m256 w = _mm256_broadcast_ss(sc + h * len16 + t0 + p);
      acc[h][0] = _mm256_fmadd_ps(w, v0, acc[h][0]);
      acc[h][1] = _mm256_fmadd_ps(w, v1, acc[h][1]);
      acc[h][2] = _mm256_fmadd_ps(w, v2, acc[h][2]);
      acc[h][3] = _mm256_fmadd_ps(w, v3, acc[h][3]);
    }
  }
  for (int h = 0; h < HN; ++h)
    for (int j = 0; j < 4; ++j) _mm256_storeu_ps(acc_out + h * out_stride + c0 + 8 * j, acc[h][j]);
}

void attend_queries(const AttnGroupArgs& a, int32_t nq) {
  const int32_t max_len = a.kv_len + nq - 1;
  const int64_t d = a.head_dim;
  const int64_t nc16 = round_up16(d);  // rows padded to 16 floats, as the scratch is sized
  const int64_t len16 = round_up16(max_len);
  const int64_t heads = static_cast<int64_t>(nq) * a.group;
  float* kt = a.scratch;           // K of one tile ([d, kTile]), then its V rows ([kTile, nc16])
  float* sc = kt + kTile * nc16;   // [heads, len16]
  float* qb = sc + heads * len16;  // [heads, nc16]: rounded queries, then P . V sums
  float* mx = qb + heads * nc16;   // [heads, 16]: 8 running maxima
  auto len_of = [&](int32_t i) { return static_cast<int64_t>(a.kv_len) + i; };
  // The first position query i sees (grows with i), and where its 8-lane vectors start.
  auto lo_of = [&](int32_t i) {
    return a.window > 0 && len_of(i) > a.window ? len_of(i) - a.window : int64_t{0};
  };
  const int64_t first_tile = lo_of(0) / kTile * kTile;  // earlier tiles serve no query
  const float cap = a.softcap;
  for (int64_t qh = 0; qh < heads; ++qh) {
    const int64_t i = qh / a.group, h = qh % a.group;
    const float* src = a.q + i * a.q_stride + h * d;
    float* dst = qb + qh * nc16;
    for (int64_t c = 0; c < nc16; c += 8) {
      alignas(32) float tmp[8] = {};
      const int64_t n = d - c < 8 ? (d - c > 0 ? d - c : 0) : 8;
      std::memcpy(tmp, src + c, static_cast<size_t>(n) * sizeof(float));
      __m256 q = _mm256_load_ps(tmp);
      if (a.f16) q = round_f16(q);
      _mm256_storeu_ps(dst + c, q);
    }
    _mm256_storeu_ps(mx + 16 * qh, _mm256_set1_ps(-__builtin_inff()));
  }
  const __m256 scale = _mm256_set1_ps(a.scale);
  for (int64_t t0 = first_tile; t0 < max_len; t0 += kTile) {
    const int64_t nt = max_len - t0 < kTile ? max_len - t0 : kTile;
    load_k_tile(a, static_cast<int32_t>(t0), nt, kt);
    for (int32_t i = 0; i < nq; ++i) {
      const int64_t len = len_of(i);
      const int64_t lo = lo_of(i);
      if (len <= t0 || t0 + nt <= lo) continue;
      const int64_t end = t0 + nt < len ? t0 + nt : len;
      const int64_t begin = lo / 8 * 8 > t0 ? lo / 8 * 8 : t0;
      for (int32_t h0 = 0; h0 < a.group;) {
        const int64_t qh = static_cast<int64_t>(i) * a.group + h0;
        const float* q = qb + qh * nc16;
        float* sh = sc + qh * len16;
        float* m = mx + 16 * qh;
        if (a.group - h0 >= 4) {
          scores_heads<4>(q, nc16, kt, d, t0, begin, end, lo, len, sh, len16, m, scale, cap);
          h0 += 4;
        } else if (a.group - h0 >= 2) {
          scores_heads<2>(q, nc16, kt, d, t0, begin, end, lo, len, sh, len16, m, scale, cap);
          h0 += 2;
        } else {
          scores_heads<1>(q, nc16, kt, d, t0, begin, end, lo, len, sh, len16, m, scale, cap);
          h0 += 1;
        }
      }
    }
  }
  for (int64_t qh = 0; qh < heads; ++qh) {
    const int64_t len = len_of(static_cast<int32_t>(qh / a.group));
    const int64_t lo = lo_of(static_cast<int32_t>(qh / a.group));
    float* sh = sc + qh * len16;
    alignas(32) float m8[8];
    _mm256_store_ps(m8, _mm256_loadu_ps(mx + 16 * qh));
    float m = m8[0];
    for (int i = 1; i < 8; ++i) m = m8[i] > m ? m8[i] : m;
    const __m256 vm = _mm256_set1_ps(m);
    __m256d sum0 = _mm256_setzero_pd(), sum1 = _mm256_setzero_pd();
    for (int64_t p0 = lo / 8 * 8; p0 < len; p0 += 8) {
      const __m256 valid = valid_lanes(p0, lo, len);
      const __m256 e = _mm256_and_ps(exp_ps(_mm256_sub_ps(_mm256_loadu_ps(sh + p0), vm)), valid);
      _mm256_storeu_ps(sh + p0, e);
      sum0 = _mm256_add_pd(sum0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
      sum1 = _mm256_add_pd(sum1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    alignas(32) double s4[4];
    _mm256_store_pd(s4, _mm256_add_pd(sum0, sum1));
    const double sum = (s4[0] + s4[1]) + (s4[2] + s4[3]);
    const __m256 inv = _mm256_set1_ps(static_cast<float>(1.0 / sum));
    for (int64_t p0 = lo / 8 * 8; p0 < len; p0 += 8) {
      __m256 w = _mm256_mul_ps(_mm256_loadu_ps(sh + p0), inv);
      if (a.f16) w = round_f16(w);
      _mm256_storeu_ps(sh + p0, w);
    }
  }
  // out = P . V, accumulated in the query buffer qb (nc16 floats per (query, head), no longer
  // needed) for whole 32-float pieces, then copied to out.
  for (int64_t qh = 0; qh < heads; ++qh)
    for (int64_t c = 0; c < nc16; c += 8) _mm256_storeu_ps(qb + qh * nc16 + c, _mm256_setzero_ps());
  for (int64_t t0 = first_tile; t0 < max_len; t0 += kTile) {
    const int64_t nt_all = max_len - t0 < kTile ? max_len - t0 : kTile;
    load_v_rows(a, static_cast<int32_t>(t0), nt_all, kt, nc16);
    for (int32_t i = 0; i < nq; ++i) {
      const int64_t len = len_of(i);
      const int64_t lo = lo_of(i);
      if (len <= t0 || t0 + nt_all <= lo) continue;
      const int64_t nt = t0 + nt_all < len ? nt_all : len - t0;
      const int64_t pb = lo > t0 ? lo - t0 : 0;  // the tile's first visible position
      const int64_t q0 = static_cast<int64_t>(i) * a.group;
      for (int64_t h0 = 0; h0 < a.group; h0 += 2) {
        const bool two = h0 + 1 < a.group;
        float* acc = qb + (q0 + h0) * nc16;
        const float* sq = sc + (q0 + h0) * len16;
        int64_t c0 = 0;
        for (; c0 + 32 <= nc16; c0 += 32) {
          if (two) {
            pv_tile<2>(acc, nc16, sq, len16, t0, pb, nt, kt, nc16, c0);
          } else {
            pv_tile<1>(acc, nc16, sq, len16, t0, pb, nt, kt, nc16, c0);
          }
        }
        for (int64_t h = h0; h < h0 + (two ? 2 : 1); ++h) {
          const float* sh = sc + (q0 + h) * len16 + t0;
          float* oh = qb + (q0 + h) * nc16;
          for (int64_t c = c0; c < nc16; c += 8) {
            __m256 v = _mm256_loadu_ps(oh + c);
            for (int64_t p = pb; p < nt; ++p)
              v = _mm256_fmadd_ps(_mm256_broadcast_ss(sh + p), _mm256_loadu_ps(kt + p * nc16 + c),
                                  v);
            _mm256_storeu_ps(oh + c, v);
          }
        }
      }
    }
  }
  for (int64_t qh = 0; qh < heads; ++qh) {
    const int64_t i = qh / a.group, h = qh % a.group;
    std::memcpy(a.out + i * a.q_stride + h * d, qb + qh * nc16,
                static_cast<size_t>(d) * sizeof(float));
  }
}

}  // namespace

void attend_group(const AttnGroupArgs& a) { cpu::attend_in_parts(a, attend_queries); }

}  // namespace sarathi::kernels::avx2
