// AVX2 element-wise ops: GeLU (GGML's tanh approximation) times up, SiLU times up, both with
// vec_math.h's exp; RMSNorm with a double sum of squares, as kernels::rms_norm.

#include <cmath>

#include "kernels/cpu/avx2/type_ops.h"
#include "kernels/cpu/avx2/vec_math.h"

namespace sarathi::kernels::avx2 {

namespace {

// f(a, b) over n elements into out, the tail through zero-padded vectors (out may alias a).
template <class F>
SARATHI_INLINE void map2(const float* a, const float* b, float* out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, f(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  if (i < n) {
    alignas(32) float va[8] = {}, vb[8] = {};
    for (int64_t j = i; j < n; ++j) {
      va[j - i] = a[j];
      vb[j - i] = b[j];
    }
    _mm256_store_ps(va, f(_mm256_load_ps(va), _mm256_load_ps(vb)));
    for (int64_t j = i; j < n; ++j) out[j] = va[j - i];
  }
}

}  // namespace

void gelu_mul(const float* gate, const float* up, float* out, int64_t n) {
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
  const __m256 k = _mm256_set1_ps(0.79788456080286535587989211986876f);  // sqrt(2 / pi)
  const __m256 c = _mm256_set1_ps(0.044715f);
  map2(gate, up, out, n, [&](__m256 x, __m256 u) {
    const __m256 inner = _mm256_mul_ps(_mm256_mul_ps(k, x), _mm256_fmadd_ps(_mm256_mul_ps(c, x), x, one));
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_add_ps(one, tanh_ps(inner))), u);
  });
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  map2(gate, up, out, n, [&](__m256 g, __m256 u) {
    const __m256 silu =
        _mm256_div_ps(g, _mm256_add_ps(one, exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g))));
    return _mm256_mul_ps(silu, u);
  });
}

void rms_norm(const float* x, const float* w, float* y, int64_t num_rows, int64_t n, float eps) {
  for (int64_t r = 0; r < num_rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      const __m256 v = _mm256_loadu_ps(xr + i);
      const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
      const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
      s0 = _mm256_fmadd_pd(lo, lo, s0);
      s1 = _mm256_fmadd_pd(hi, hi, s1);
    }
    alignas(32) double part[4];
    _mm256_store_pd(part, _mm256_add_pd(s0, s1));
    double sum = (part[0] + part[1]) + (part[2] + part[3]);
    for (; i < n; ++i) sum += static_cast<double>(xr[i]) * xr[i];
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const __m256 scale = _mm256_set1_ps(1.0f / std::sqrt(mean + eps));
    map2(xr, w, yr, n,
         [&](__m256 v, __m256 wv) { return _mm256_mul_ps(_mm256_mul_ps(v, scale), wv); });
  }
}

}  // namespace sarathi::kernels::avx2
