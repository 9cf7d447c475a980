// AVX-512 attention for one query token and the query heads sharing one KV head: K and V rows
// are converted to f32 once and reused by every head of the group; scores for 16 positions
// come out of one transposing sum; exp is a vectorised Cephes polynomial. Each output depends
// only on its own query and the cache, with a fixed order of operations (batch invariance).

// GCC 12.2's AVX-512 headers self-initialise _mm512_undefined_*() values, which -Wuninitialized
// reports wherever such an intrinsic is inlined (GCC bug 105593, fixed in 12.3).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <cstddef>

#include "kernels/cpu/avx512/attention.h"
#include "kernels/cpu/avx512/vec_math.h"

namespace sarathi::kernels::avx512 {
namespace {

int64_t round_up16(int64_t n) { return (n + 15) / 16 * 16; }

__mmask16 mask16(int64_t count) {
  return count >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << count) - 1u);
}

// Row `pos` of one KV head, converted to f32 and zero-padded to nc16 floats.
void load_row(const AttnGroupArgs& a, const void* base, int32_t pos, float* dst) {
  const int32_t block = a.block_table[pos / a.block_size];
  const size_t off = ((static_cast<size_t>(block) * static_cast<size_t>(a.block_size) +
                       static_cast<size_t>(pos % a.block_size)) *
                          static_cast<size_t>(a.num_kv_heads) +
                      static_cast<size_t>(a.kv_head)) *
                     static_cast<size_t>(a.head_dim);
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

// Lane i of the result = the sum of the 16 lanes of v[i].
__m512 transpose_sum16(const __m512 (&v)[16]) {
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

// One query token over positions [0, kv_len) of the converted rows kf / vf (nc16 floats
// each); sc ([group, len16]) and qb ([group, nc16]) are scratch.
void attend_query(const AttnGroupArgs& a, int32_t kv_len, const float* query, float* out,
                  const float* kf, const float* vf, float* sc, float* qb, int64_t len16) {
  const int64_t d = a.head_dim;
  const int64_t nc16 = round_up16(d);
  for (int32_t h = 0; h < a.group; ++h) {
    for (int64_t c = 0; c < nc16; c += 16) {
      __m512 q = _mm512_maskz_loadu_ps(mask16(d - c), query + h * d + c);
      if (a.f16) q = round_f16(q);
      _mm512_storeu_ps(qb + h * nc16 + c, q);
    }
  }
  const __m512 scale = _mm512_set1_ps(a.scale);
  for (int32_t h = 0; h < a.group; ++h) {
    const float* qh = qb + h * nc16;
    float* sh = sc + h * len16;
    // Scores, 16 positions at a time.
    __m512 vmax = _mm512_set1_ps(-__builtin_inff());
    for (int64_t p0 = 0; p0 < kv_len; p0 += 16) {
      const int64_t np = kv_len - p0 < 16 ? kv_len - p0 : 16;
      __m512 part[16];
      for (int64_t i = 0; i < 16; ++i) {
        part[i] = _mm512_setzero_ps();
        if (i >= np) continue;
        const float* kr = kf + (p0 + i) * nc16;
        for (int64_t c = 0; c < nc16; c += 16)
          part[i] = _mm512_fmadd_ps(_mm512_loadu_ps(qh + c), _mm512_loadu_ps(kr + c), part[i]);
      }
      const __m512 s = _mm512_mul_ps(transpose_sum16(part), scale);
      const __mmask16 m = mask16(np);
      _mm512_storeu_ps(sh + p0, s);
      vmax = _mm512_mask_max_ps(vmax, m, vmax, s);
    }
    const float max_score = _mm512_reduce_max_ps(vmax);
    // Softmax: exp in f32, the sum in double (as GGML).
    const __m512 vm = _mm512_set1_ps(max_score);
    __m512d sum0 = _mm512_setzero_pd(), sum1 = _mm512_setzero_pd();
    for (int64_t p0 = 0; p0 < kv_len; p0 += 16) {
      const __mmask16 m = mask16(kv_len - p0);
      const __m512 e = _mm512_maskz_mov_ps(m, exp_ps(_mm512_sub_ps(_mm512_loadu_ps(sh + p0), vm)));
      _mm512_storeu_ps(sh + p0, e);
      sum0 = _mm512_add_pd(sum0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
      sum1 = _mm512_add_pd(sum1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
    }
    const double sum = _mm512_reduce_add_pd(_mm512_add_pd(sum0, sum1));
    const __m512 inv = _mm512_set1_ps(static_cast<float>(1.0 / sum));
    for (int64_t p0 = 0; p0 < kv_len; p0 += 16) {
      __m512 w = _mm512_mul_ps(_mm512_loadu_ps(sh + p0), inv);
      if (a.f16) w = round_f16(w);
      _mm512_storeu_ps(sh + p0, w);
    }
    // out = P · V, 64 dims per pass in registers.
    for (int64_t c0 = 0; c0 < nc16; c0 += 64) {
      __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                       _mm512_setzero_ps()};
      const int64_t nvec = (nc16 - c0) / 16 < 4 ? (nc16 - c0) / 16 : 4;
      for (int32_t p = 0; p < kv_len; ++p) {
        const __m512 w = _mm512_set1_ps(sh[p]);
        const float* vr = vf + p * nc16 + c0;
        for (int64_t j = 0; j < nvec; ++j)
          acc[j] = _mm512_fmadd_ps(w, _mm512_loadu_ps(vr + 16 * j), acc[j]);
      }
      for (int64_t j = 0; j < nvec; ++j)
        _mm512_mask_storeu_ps(out + h * d + c0 + 16 * j, mask16(d - c0 - 16 * j), acc[j]);
    }
  }
}

}  // namespace

void attend_group(const AttnGroupArgs& a) {
  // Rows are converted once for all num_q queries (a prefill chunk's queries share them).
  const int32_t total = a.kv_len + a.num_q - 1;
  const int64_t nc16 = round_up16(a.head_dim);
  const int64_t len16 = round_up16(total);
  float* kf = a.scratch;             // [len16, nc16]
  float* vf = kf + len16 * nc16;     // [len16, nc16]
  float* sc = vf + len16 * nc16;     // [group, len16]
  float* qb = sc + a.group * len16;  // [group, nc16]
  for (int32_t p = 0; p < total; ++p) {
    load_row(a, a.k, p, kf + p * nc16);
    load_row(a, a.v, p, vf + p * nc16);
  }
  for (int32_t i = 0; i < a.num_q; ++i)
    attend_query(a, a.kv_len + i, a.q + i * a.q_stride, a.out + i * a.q_stride, kf, vf, sc, qb,
                 len16);
}

}  // namespace sarathi::kernels::avx512
