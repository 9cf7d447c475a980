// AVX2 element-wise ops: GeLU (GGML's tanh approximation) times up, with vec_math.h's tanh.

#include "kernels/cpu/avx2/type_ops.h"
#include "kernels/cpu/avx2/vec_math.h"

namespace sarathi::kernels::avx2 {

void gelu_mul(const float* gate, const float* up, float* out, int64_t n) {
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
  const __m256 k = _mm256_set1_ps(0.79788456080286535587989211986876f);  // sqrt(2 / pi)
  const __m256 c = _mm256_set1_ps(0.044715f);
  auto gelu = [&](__m256 x) {
    const __m256 inner = _mm256_mul_ps(_mm256_mul_ps(k, x), _mm256_fmadd_ps(_mm256_mul_ps(c, x), x, one));
    return _mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_add_ps(one, tanh_ps(inner)));
  };
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_mul_ps(gelu(_mm256_loadu_ps(gate + i)), _mm256_loadu_ps(up + i)));
  if (i < n) {  // the tail through a zero-padded vector
    alignas(32) float g[8] = {}, u[8] = {};
    for (int64_t j = i; j < n; ++j) {
      g[j - i] = gate[j];
      u[j - i] = up[j];
    }
    _mm256_store_ps(g, _mm256_mul_ps(gelu(_mm256_load_ps(g)), _mm256_load_ps(u)));
    for (int64_t j = i; j < n; ++j) out[j] = g[j - i];
  }
}

}  // namespace sarathi::kernels::avx2
