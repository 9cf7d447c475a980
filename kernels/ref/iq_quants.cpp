// The non-linear 4-bit types of the scalar oracle: iq4_nl (32-element blocks, one f16 scale) and
// iq4_xs (256-element super-blocks of eight 32-element sub-blocks with 6-bit scales). Each 4-bit
// index selects a value of core::kIq4nlValues. Dequantization and dot products follow GGML's
// dequantize_row_iq4_{nl,xs} and generic ggml_vec_dot_iq4_{nl_q8_0,xs_q8_K}; the quantizers
// follow its quantize_row_iq4_nl_impl without importance weights (weights x^2, 7 tries either side).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/dtype.h"
#include "core/fp16.h"
#include "kernels/ref/type_ops.h"

namespace sarathi::kernels::ref {
namespace {

using core::BlockIQ4_NL;
using core::BlockIQ4_XS;
using core::BlockQ8_0;
using core::BlockQ8_K;
using core::kIq4nlValues;
using core::kQK4_0;
using core::kQK_K;

constexpr int kBlock = kQK4_0;                 // elements per scale
constexpr int kSubBlocks = kQK_K / kBlock;     // scales per iq4_xs super-block
constexpr int kTries = 7;                      // GGML's ntry
constexpr float kGroupMaxEps = 1e-15f;

int nearest_int(float x) { return static_cast<int>(std::lrint(x)); }

// Index of the table value nearest x (the lower one on ties), GGML's best_index_int8.
int best_index(float x) {
  if (x <= kIq4nlValues[0]) return 0;
  if (x >= kIq4nlValues[15]) return 15;
  int lo = 0, hi = 15;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (x < kIq4nlValues[mid]) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return x - kIq4nlValues[hi - 1] < kIq4nlValues[hi] - x ? hi - 1 : hi;
}

// Best scale d for 32 values: x ~ d * kIq4nlValues[L], weighted by x^2, over the first fit
// -max / values[0] and 2 * kTries + 1 nearby inverse scales. 0 for an all-zero block.
float fit_block(const float* x) {
  float amax = 0, max = 0;
  for (int j = 0; j < kBlock; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  if (amax < kGroupMaxEps) return 0.0f;
  auto fit = [&](float id, float& sumqx, float& sumq2) {
    sumqx = sumq2 = 0;
    for (int j = 0; j < kBlock; ++j) {
      const float q = kIq4nlValues[best_index(id * x[j])];
      const float w = x[j] * x[j];
      sumqx += w * q * x[j];
      sumq2 += w * q * q;
    }
  };
  float sumqx = 0, sumq2 = 0;
  fit(-static_cast<float>(kIq4nlValues[0]) / max, sumqx, sumq2);
  float d = sumq2 > 0 ? sumqx / sumq2 : 0.0f;
  float best = d * sumqx;
  for (int itry = -kTries; itry <= kTries; ++itry) {
    fit((static_cast<float>(itry) + kIq4nlValues[0]) / max, sumqx, sumq2);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

// Indices of 32 values against scale d, packed as nibbles (element j low, j + 16 high).
void pack_indices(const float* x, float d, uint8_t* qs) {
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < kBlock / 2; ++j) {
    qs[j] = static_cast<uint8_t>(best_index(id * x[j]) | (best_index(id * x[j + kBlock / 2]) << 4));
  }
}

// sum(kIq4nlValues[q] * qx) over one 32-element block of nibbles.
int32_t block_dot(const uint8_t* qs, const int8_t* qx) {
  int32_t sum = 0;
  for (int j = 0; j < kBlock / 2; ++j) {
    sum += int32_t{kIq4nlValues[qs[j] & 0x0f]} * qx[j];
    sum += int32_t{kIq4nlValues[qs[j] >> 4]} * qx[j + kBlock / 2];
  }
  return sum;
}

void decode_block(const uint8_t* qs, float d, float* y) {
  for (int j = 0; j < kBlock / 2; ++j) {
    y[j] = d * static_cast<float>(kIq4nlValues[qs[j] & 0x0f]);
    y[j + kBlock / 2] = d * static_cast<float>(kIq4nlValues[qs[j] >> 4]);
  }
}

// The 6-bit scale of sub-block ib, minus 32.
int iq4_xs_scale(const BlockIQ4_XS& b, int ib) {
  const int low = (b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f;
  const int high = (b.scales_h >> (2 * ib)) & 3;
  return (low | (high << 4)) - 32;
}

}  // namespace

// ---------------------------------------------------------------- iq4_nl

void to_float_iq4_nl(const void* src, float* dst, int64_t n) {
  SARATHI_DCHECK(n % kBlock == 0);
  const auto* b = static_cast<const BlockIQ4_NL*>(src);
  for (int64_t i = 0; i < n / kBlock; ++i) decode_block(b[i].qs, core::f16_to_f32(b[i].d), dst + i * kBlock);
}

void from_float_iq4_nl(const float* src, void* dst, int64_t n) {
  SARATHI_DCHECK(n % kBlock == 0);
  auto* b = static_cast<BlockIQ4_NL*>(dst);
  for (int64_t i = 0; i < n / kBlock; ++i) {
    const float* x = src + i * kBlock;
    const float d = fit_block(x);
    b[i].d = core::f32_to_f16(d);
    pack_indices(x, d, b[i].qs);  // against the unrounded scale, as GGML does
  }
}

float vec_dot_iq4_nl(int64_t n, const void* w, const void* x) {
  SARATHI_DCHECK(n % kBlock == 0);
  const auto* bw = static_cast<const BlockIQ4_NL*>(w);
  const auto* bx = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kBlock; ++i) {
    const float d = core::f16_to_f32(bw[i].d) * core::f16_to_f32(bx[i].d);
    sum += d * static_cast<float>(block_dot(bw[i].qs, bx[i].qs));
  }
  return sum;
}

// ---------------------------------------------------------------- iq4_xs

void to_float_iq4_xs(const void* src, float* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK_K == 0);
  const auto* b = static_cast<const BlockIQ4_XS*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = core::f16_to_f32(b[i].d);
    for (int ib = 0; ib < kSubBlocks; ++ib) {
      decode_block(b[i].qs + ib * (kBlock / 2), d * static_cast<float>(iq4_xs_scale(b[i], ib)),
                   dst + i * kQK_K + ib * kBlock);
    }
  }
}

void from_float_iq4_xs(const float* src, void* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK_K == 0);
  auto* b = static_cast<BlockIQ4_XS*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float* x = src + i * kQK_K;
    float scales[kSubBlocks];
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < kSubBlocks; ++ib) {
      scales[ib] = fit_block(x + ib * kBlock);
      if (std::fabs(scales[ib]) > amax_scale) {
        amax_scale = std::fabs(scales[ib]);
        max_scale = scales[ib];
      }
    }
    std::memset(&b[i], 0, sizeof(BlockIQ4_XS));
    // Sub-block scales d * l with l in -32..31 against the super-block scale -max / 32.
    const float d = -max_scale / 32;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = core::f32_to_f16(d);
    for (int ib = 0; ib < kSubBlocks; ++ib) {
      const int l = std::clamp(nearest_int(id * scales[ib]), -32, 31);
      pack_indices(x + ib * kBlock, d * static_cast<float>(l), b[i].qs + ib * (kBlock / 2));
      const int biased = l + 32;
      b[i].scales_l[ib / 2] = static_cast<uint8_t>(b[i].scales_l[ib / 2] | ((biased & 0x0f) << (4 * (ib % 2))));
      b[i].scales_h = static_cast<uint16_t>(b[i].scales_h | ((biased >> 4) << (2 * ib)));
    }
  }
}

float vec_dot_iq4_xs(int64_t n, const void* w, const void* x) {
  SARATHI_DCHECK(n % kQK_K == 0);
  const auto* bw = static_cast<const BlockIQ4_XS*>(w);
  const auto* bx = static_cast<const BlockQ8_K*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int32_t isum = 0;  // sum_ib (ls_ib - 32) * <values[q_ib], qx_ib>
    for (int ib = 0; ib < kSubBlocks; ++ib) {
      isum += iq4_xs_scale(bw[i], ib) *
              block_dot(bw[i].qs + ib * (kBlock / 2), bx[i].qs + ib * kBlock);
    }
    sum += core::f16_to_f32(bw[i].d) * bx[i].d * static_cast<float>(isum);
  }
  return sum;
}

}  // namespace sarathi::kernels::ref
