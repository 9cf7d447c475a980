// The 32-element block types (q8_0, q4_0, q4_1, q5_0, q5_1) and the q8_K activation type of the
// scalar oracle.
// Each function follows GGML's ggml-quants.c (quantize_row_*_ref, dequantize_row_*) and the
// generic ggml_vec_dot_*_q8_* loops: integer inner products per block, scaled in f32.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/dtype.h"
#include "core/fp16.h"
#include "kernels/ref/type_ops.h"

namespace sarathi::kernels::ref {
namespace {

using core::BlockQ4_0;
using core::BlockQ4_1;
using core::BlockQ5_0;
using core::BlockQ5_1;
using core::BlockQ8_0;
using core::BlockQ8_K;
using core::kQK4_0;
using core::kQK8_0;
using core::kQK_K;

// Round to nearest, ties to even (GGML's nearest_int; valid for |x| < 2^22 there).
int nearest_int(float x) { return static_cast<int>(std::lrint(x)); }

constexpr int kHalf = kQK4_0 / 2;

// The 32 quants of a 4-bit block in element order: low nibbles are elements 0..15.
void unpack_nibbles(const uint8_t* qs, int* q) {
  for (int j = 0; j < kHalf; ++j) {
    q[j] = qs[j] & 0x0f;
    q[j + kHalf] = qs[j] >> 4;
  }
}

// The 32 quants (0..31) of a 5-bit block: nibbles plus bit j of the little-endian qh word.
void unpack_5bit(const uint8_t* qs, const uint8_t* qh_bytes, int* q) {
  uint32_t qh = 0;
  std::memcpy(&qh, qh_bytes, sizeof qh);
  unpack_nibbles(qs, q);
  for (int j = 0; j < kQK4_0; ++j) q[j] |= static_cast<int>((qh >> j) & 1u) << 4;
}

// Packs 32 quants (0..31) into nibbles and the qh word.
void pack_5bit(const int* q, uint8_t* qs, uint8_t* qh_bytes) {
  uint32_t qh = 0;
  for (int j = 0; j < kHalf; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 0x0f) | ((q[j + kHalf] & 0x0f) << 4));
    qh |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
    qh |= static_cast<uint32_t>((q[j + kHalf] >> 4) & 1) << (j + kHalf);
  }
  std::memcpy(qh_bytes, &qh, sizeof qh);
}

// Asymmetric fit of a block with 2^bits - 1 steps (GGML's quantize_row_q4_1_ref / q5_1):
// d = (max - min) / steps, m = min, q = (int)((x - min) / d + 0.5).
void fit_min_max(const float* x, int steps, uint16_t& d_out, uint16_t& m_out, int* q) {
  float min = x[0];
  float max = x[0];
  for (int j = 1; j < kQK4_0; ++j) {
    min = std::min(min, x[j]);
    max = std::max(max, x[j]);
  }
  const float d = (max - min) / static_cast<float>(steps);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  d_out = core::f32_to_f16(d);
  m_out = core::f32_to_f16(min);
  for (int j = 0; j < kQK4_0; ++j) {
    q[j] = std::min(steps, static_cast<int>((x[j] - min) * id + 0.5f));
  }
}

// sum(q * qx) and sum(qx) of one block against a q8_0 block.
void block_sums(const int* q, const int8_t* qx, int32_t& dot, int32_t& sum_x) {
  dot = 0;
  sum_x = 0;
  for (int j = 0; j < kQK4_0; ++j) {
    dot += q[j] * int32_t{qx[j]};
    sum_x += qx[j];
  }
}

}  // namespace

// ---------------------------------------------------------------- q8_0

void to_float_q8_0(const void* src, float* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK8_0 == 0);
  const auto* b = static_cast<const BlockQ8_0*>(src);
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const float d = core::f16_to_f32(b[i].d);
    for (int j = 0; j < kQK8_0; ++j) dst[i * kQK8_0 + j] = static_cast<float>(b[i].qs[j]) * d;
  }
}

void from_float_q8_0(const float* src, void* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK8_0 == 0);
  auto* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const float* x = src + i * kQK8_0;
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = core::f32_to_f16(d);
    for (int j = 0; j < kQK8_0; ++j) b[i].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
  }
}

float vec_dot_q8_0(int64_t n, const void* w, const void* x) {
  SARATHI_DCHECK(n % kQK8_0 == 0);
  const auto* bw = static_cast<const BlockQ8_0*>(w);
  const auto* bx = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    int32_t isum = 0;
    for (int j = 0; j < kQK8_0; ++j) isum += int32_t{bw[i].qs[j]} * int32_t{bx[i].qs[j]};
    const float d = core::f16_to_f32(bw[i].d) * core::f16_to_f32(bx[i].d);
    sum += d * static_cast<float>(isum);
  }
  return sum;
}

// ---------------------------------------------------------------- q4_0

void to_float_q4_0(const void* src, float* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK4_0 == 0);
  const auto* b = static_cast<const BlockQ4_0*>(src);
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    const float d = core::f16_to_f32(b[i].d);
    float* y = dst + i * kQK4_0;
    for (int j = 0; j < kHalf; ++j) {
      y[j] = static_cast<float>((b[i].qs[j] & 0x0f) - 8) * d;
      y[j + kHalf] = static_cast<float>((b[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void from_float_q4_0(const float* src, void* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK4_0 == 0);
  auto* b = static_cast<BlockQ4_0*>(dst);
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    const float* x = src + i * kQK4_0;
    float amax = 0.0f;  // largest magnitude ...
    float max = 0.0f;   // ... and its signed value (the first one, on ties)
    for (int j = 0; j < kQK4_0; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = core::f32_to_f16(d);
    for (int j = 0; j < kHalf; ++j) {
      // x * id lies in [-8, 8]; + 8.5 and truncation round it to 0..16, clamped to 15.
      const int q0 = std::min(15, static_cast<int>(x[j] * id + 8.5f));
      const int q1 = std::min(15, static_cast<int>(x[j + kHalf] * id + 8.5f));
      b[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

float vec_dot_q4_0(int64_t n, const void* w, const void* x) {
  SARATHI_DCHECK(n % kQK4_0 == 0);
  const auto* bw = static_cast<const BlockQ4_0*>(w);
  const auto* bx = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    int32_t isum = 0;
    for (int j = 0; j < kHalf; ++j) {
      isum += ((bw[i].qs[j] & 0x0f) - 8) * int32_t{bx[i].qs[j]};
      isum += ((bw[i].qs[j] >> 4) - 8) * int32_t{bx[i].qs[j + kHalf]};
    }
    const float d = core::f16_to_f32(bw[i].d) * core::f16_to_f32(bx[i].d);
    sum += d * static_cast<float>(isum);
  }
  return sum;
}

// ---------------------------------------------------------------- q8_K

void to_float_q8_k(const void* src, float* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK_K == 0);
  const auto* b = static_cast<const BlockQ8_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    for (int j = 0; j < kQK_K; ++j) dst[i * kQK_K + j] = b[i].d * static_cast<float>(b[i].qs[j]);
  }
}

void from_float_q8_k(const float* src, void* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK_K == 0);
  auto* b = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float* x = src + i * kQK_K;
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < kQK_K; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    if (amax == 0.0f) {  // GGML leaves bsums unset here; we zero them
      std::memset(&b[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    // -127 (not -128) keeps every quant in [-127, 127], as GGML does for its AVX paths.
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQK_K; ++j) {
      b[i].qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
    }
    for (int g = 0; g < kQK_K / 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += b[i].qs[g * 16 + j];
      b[i].bsums[g] = static_cast<int16_t>(sum);
    }
    b[i].d = 1.0f / iscale;
  }
}

// ---------------------------------------------------------------- q4_1

void to_float_q4_1(const void* src, float* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK4_0 == 0);
  const auto* b = static_cast<const BlockQ4_1*>(src);
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    int q[kQK4_0];
    unpack_nibbles(b[i].qs, q);
    const float d = core::f16_to_f32(b[i].d);
    const float m = core::f16_to_f32(b[i].m);
    for (int j = 0; j < kQK4_0; ++j) dst[i * kQK4_0 + j] = static_cast<float>(q[j]) * d + m;
  }
}

void from_float_q4_1(const float* src, void* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK4_0 == 0);
  auto* b = static_cast<BlockQ4_1*>(dst);
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    int q[kQK4_0];
    fit_min_max(src + i * kQK4_0, 15, b[i].d, b[i].m, q);
    for (int j = 0; j < kHalf; ++j) b[i].qs[j] = static_cast<uint8_t>(q[j] | (q[j + kHalf] << 4));
  }
}

float vec_dot_q4_1(int64_t n, const void* w, const void* x) {
  SARATHI_DCHECK(n % kQK4_0 == 0);
  const auto* bw = static_cast<const BlockQ4_1*>(w);
  const auto* bx = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    int q[kQK4_0];
    unpack_nibbles(bw[i].qs, q);
    int32_t dot = 0, sum_x = 0;
    block_sums(q, bx[i].qs, dot, sum_x);
    const float dx = core::f16_to_f32(bx[i].d);
    sum += core::f16_to_f32(bw[i].d) * dx * static_cast<float>(dot) +
           core::f16_to_f32(bw[i].m) * dx * static_cast<float>(sum_x);
  }
  return sum;
}

// ---------------------------------------------------------------- q5_0

void to_float_q5_0(const void* src, float* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK4_0 == 0);
  const auto* b = static_cast<const BlockQ5_0*>(src);
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    int q[kQK4_0];
    unpack_5bit(b[i].qs, b[i].qh, q);
    const float d = core::f16_to_f32(b[i].d);
    for (int j = 0; j < kQK4_0; ++j) dst[i * kQK4_0 + j] = static_cast<float>(q[j] - 16) * d;
  }
}

void from_float_q5_0(const float* src, void* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK4_0 == 0);
  auto* b = static_cast<BlockQ5_0*>(dst);
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    const float* x = src + i * kQK4_0;
    float amax = 0.0f;  // largest magnitude and its signed value, as for q4_0
    float max = 0.0f;
    for (int j = 0; j < kQK4_0; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = core::f32_to_f16(d);
    int q[kQK4_0];
    for (int j = 0; j < kQK4_0; ++j) q[j] = std::min(31, static_cast<int>(x[j] * id + 16.5f));
    pack_5bit(q, b[i].qs, b[i].qh);
  }
}

float vec_dot_q5_0(int64_t n, const void* w, const void* x) {
  SARATHI_DCHECK(n % kQK4_0 == 0);
  const auto* bw = static_cast<const BlockQ5_0*>(w);
  const auto* bx = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    int q[kQK4_0];
    unpack_5bit(bw[i].qs, bw[i].qh, q);
    int32_t isum = 0;
    for (int j = 0; j < kQK4_0; ++j) isum += (q[j] - 16) * int32_t{bx[i].qs[j]};
    const float d = core::f16_to_f32(bw[i].d) * core::f16_to_f32(bx[i].d);
    sum += d * static_cast<float>(isum);
  }
  return sum;
}

// ---------------------------------------------------------------- q5_1

void to_float_q5_1(const void* src, float* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK4_0 == 0);
  const auto* b = static_cast<const BlockQ5_1*>(src);
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    int q[kQK4_0];
    unpack_5bit(b[i].qs, b[i].qh, q);
    const float d = core::f16_to_f32(b[i].d);
    const float m = core::f16_to_f32(b[i].m);
    for (int j = 0; j < kQK4_0; ++j) dst[i * kQK4_0 + j] = static_cast<float>(q[j]) * d + m;
  }
}

void from_float_q5_1(const float* src, void* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK4_0 == 0);
  auto* b = static_cast<BlockQ5_1*>(dst);
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    int q[kQK4_0];
    fit_min_max(src + i * kQK4_0, 31, b[i].d, b[i].m, q);
    pack_5bit(q, b[i].qs, b[i].qh);
  }
}

float vec_dot_q5_1(int64_t n, const void* w, const void* x) {
  SARATHI_DCHECK(n % kQK4_0 == 0);
  const auto* bw = static_cast<const BlockQ5_1*>(w);
  const auto* bx = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    int q[kQK4_0];
    unpack_5bit(bw[i].qs, bw[i].qh, q);
    int32_t dot = 0, sum_x = 0;
    block_sums(q, bx[i].qs, dot, sum_x);
    const float dx = core::f16_to_f32(bx[i].d);
    sum += core::f16_to_f32(bw[i].d) * dx * static_cast<float>(dot) +
           core::f16_to_f32(bw[i].m) * dx * static_cast<float>(sum_x);
  }
  return sum;
}

}  // namespace sarathi::kernels::ref
