// The float element types (f32, f16, bf16) of the scalar oracle: exact conversions from
// core/fp16.h and double-accumulated dot products (GGML's generic ggml_vec_dot_{f32,f16,bf16}).
#include <cstring>

#include "core/check.h"
#include "core/fp16.h"
#include "kernels/ref/type_ops.h"

namespace sarathi::kernels::ref {

void to_float_f32(const void* src, float* dst, int64_t n) {
  SARATHI_DCHECK(n >= 0);
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void to_float_f16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = core::f16_to_f32(h[i]);
}

void to_float_bf16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = core::bf16_to_f32(h[i]);
}

void from_float_f32(const float* src, void* dst, int64_t n) {
  SARATHI_DCHECK(n >= 0);
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void from_float_f16(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) h[i] = core::f32_to_f16(src[i]);
}

void from_float_bf16(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) h[i] = core::f32_to_bf16(src[i]);
}

float vec_dot_f32(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const float*>(w);
  const auto* b = static_cast<const float*>(x);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return static_cast<float>(sum);
}

float vec_dot_f16(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const uint16_t*>(x);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    sum +=
        static_cast<double>(core::f16_to_f32(a[i])) * static_cast<double>(core::f16_to_f32(b[i]));
  }
  return static_cast<float>(sum);
}

float vec_dot_bf16(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const uint16_t*>(x);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    sum +=
        static_cast<double>(core::bf16_to_f32(a[i])) * static_cast<double>(core::bf16_to_f32(b[i]));
  }
  return static_cast<float>(sum);
}

}  // namespace sarathi::kernels::ref
