// The K-quants (q2_K, q3_K, q4_K, q5_K, q6_K: 256-element super-blocks) of the scalar oracle.
// Quantizers are GGML's reference algorithms (quantize_row_q4_K_ref with make_qkx2_quants,
// quantize_row_q6_K_ref with make_qx_quants, rmse_type 1; q2_K, q3_K and q5_K written after
// theirs); dequantization and dot products follow dequantize_row_* and the generic
// ggml_vec_dot_q*_K_q8_K loops.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/dtype.h"
#include "core/fp16.h"
#include "kernels/ref/type_ops.h"

namespace sarathi::kernels::ref {
namespace {

using core::BlockQ2_K;
using core::BlockQ3_K;
using core::BlockQ4_K;
using core::BlockQ5_K;
using core::BlockQ6_K;
using core::BlockQ8_K;
using core::kQK_K;

constexpr float kGroupMaxEps = 1e-15f;  // GGML's GROUP_MAX_EPS: below this a group is zero

int nearest_int(float x) { return static_cast<int>(std::lrint(x)); }

// Fits x[i] ~ scale * L[i] - the_min with L in [0, nmax] by weighted least squares, trying
// nstep + 1 candidate inverse scales (GGML's make_qkx2_quants; use_mad weighs |error| instead
// of its square).
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad = false) {
  auto err = [use_mad](float diff) { return use_mad ? std::fabs(diff) : diff * diff; };
  float min = x[0];
  float max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    min = std::min(min, x[i]);
    max = std::max(max, x[i]);
    sum_w += weights[i];
    sum_x += weights[i] * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    std::fill(L, L + n, uint8_t{0});
    *the_min = -min;
    return 0.0f;
  }
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    L[i] = static_cast<uint8_t>(std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax));
    best_error += weights[i] * err(scale * L[i] + min - x[i]);
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax);
      Laux[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      sum_l += w * static_cast<float>(l);
      sum_l2 += w * static_cast<float>(l) * static_cast<float>(l);
      sum_xl += w * static_cast<float>(l) * x[i];
    }
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (det <= 0) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    if (this_min > 0) {
      this_min = 0;
      this_scale = sum_xl / sum_l2;
    }
    float cur_error = 0;
    for (int i = 0; i < n; ++i) {
      cur_error += weights[i] * err(this_scale * Laux[i] + this_min - x[i]);
    }
    if (cur_error < best_error) {
      std::copy(Laux, Laux + n, L);
      best_error = cur_error;
      scale = this_scale;
      min = this_min;
    }
  }
  *the_min = -min;
  return scale;
}

// Symmetric fit x[i] ~ scale * (L[i] - nmax) with L - nmax in [-nmax, nmax - 1], weights x^2,
// trying 19 inverse scales around -nmax / max (GGML's make_qx_quants, rmse_type 1, no qw);
// search = false keeps the first fit (-nmax / max).
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, bool search) {
  float max = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, int8_t{0});
    return 0.0f;
  }
  auto quant = [&](float iscale, int i) {
    return std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
  };
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = quant(iscale, i);
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; search && is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = quant(iscale, i);
      const float w = x[i] * x[i];
      sumlx += w * x[i] * static_cast<float>(l);
      suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(quant(iscale, i) + nmax);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// The 256 quants of a Q4_K block, in element order (0..15).
void decode_q4_k(const BlockQ4_K& b, uint8_t* q) {
  for (int k = 0; k < kQK_K / 64; ++k) {  // 32 bytes hold 64 elements: low nibbles first
    for (int l = 0; l < 32; ++l) {
      q[64 * k + l] = b.qs[32 * k + l] & 0x0f;
      q[64 * k + 32 + l] = b.qs[32 * k + l] >> 4;
    }
  }
}

// The 256 quants of a Q6_K block, in element order, minus 32 (-32..31).
void decode_q6_k(const BlockQ6_K& b, int8_t* q) {
  for (int h = 0; h < kQK_K / 128; ++h) {  // each half: 64 bytes of ql, 32 of qh
    const uint8_t* ql = b.ql + 64 * h;
    const uint8_t* qh = b.qh + 32 * h;
    int8_t* y = q + 128 * h;
    for (int l = 0; l < 32; ++l) {
      y[l] = static_cast<int8_t>(((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32);
      y[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32);
      y[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
      y[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
    }
  }
}

// Packs 8 scales and 8 mins (6 bits each) into 12 bytes; inverse of unpack_q4_k_scales.
void pack_q4_k_scales(const uint8_t* ls, const uint8_t* lm, uint8_t* packed) {
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      packed[j] = ls[j];
      packed[j + 4] = lm[j];
    } else {
      packed[j + 4] = static_cast<uint8_t>((ls[j] & 0x0f) | ((lm[j] & 0x0f) << 4));
      packed[j - 4] = static_cast<uint8_t>(packed[j - 4] | ((ls[j] >> 4) << 6));
      packed[j] = static_cast<uint8_t>(packed[j] | ((lm[j] >> 4) << 6));
    }
  }
}

// The scale/min fit Q4_K and Q5_K share (GGML's quantize_row_q{4,5}_K_ref): quants 0..nmax per
// 32 elements by make_qkx2_quants (nstep refinement steps from rmin, or -1 for none: the min/max
// fit), 6-bit scales and mins packed into 12 bytes, then the quants again against the scales
// actually stored.
void quantize_k_scaled(const float* x, int nmax, float rmin, int nstep, uint8_t* L,
                       uint8_t* packed_scales, uint16_t& d_out, uint16_t& dmin_out) {
  uint8_t Laux[32];
  float weights[32];
  float mins[kQK_K / 32];
  float scales[kQK_K / 32];
  float max_scale = 0;  // scales are positive since the min is subtracted
  float max_min = 0;
  for (int j = 0; j < kQK_K / 32; ++j) {
    const float* xj = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += xj[l] * xj[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xj[l]);
    scales[j] =
        make_qkx2_quants(32, nmax, xj, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < kQK_K / 32; ++j) {
    ls[j] = static_cast<uint8_t>(std::min(63, nearest_int(inv_scale * scales[j])));
    lm[j] = static_cast<uint8_t>(std::min(63, nearest_int(inv_min * mins[j])));
  }
  std::memset(packed_scales, 0, core::kKScaleBytes);
  pack_q4_k_scales(ls, lm, packed_scales);
  d_out = core::f32_to_f16(max_scale / 63.0f);
  dmin_out = core::f32_to_f16(max_min / 63.0f);
  for (int j = 0; j < kQK_K / 32; ++j) {
    const float d = core::f16_to_f32(d_out) * static_cast<float>(ls[j]);
    if (d == 0.0f) continue;
    const float dm = core::f16_to_f32(dmin_out) * static_cast<float>(lm[j]);
    for (int l = 0; l < 32; ++l) {
      L[32 * j + l] =
          static_cast<uint8_t>(std::clamp(nearest_int((x[32 * j + l] + dm) / d), 0, nmax));
    }
  }
}

// nstep: GGML's 20 refinement steps of the scale and min, or -1 for none (the min/max fit).
void quantize_block_q4_k(const float* x, BlockQ4_K& y, int nstep) {
  uint8_t L[kQK_K];
  quantize_k_scaled(x, 15, -1.0f, nstep, L, y.scales, y.d, y.dmin);
  for (int k = 0; k < kQK_K / 64; ++k) {
    for (int l = 0; l < 32; ++l) {
      y.qs[32 * k + l] = static_cast<uint8_t>(L[64 * k + l] | (L[64 * k + 32 + l] << 4));
    }
  }
}

// GGML's quantize_row_q5_K_ref: 15 refinement steps from -0.5; the 5th bit of element 64k + l
// goes to bit 2k of qh[l], of element 64k + 32 + l to bit 2k + 1.
void quantize_block_q5_k(const float* x, BlockQ5_K& y) {
  uint8_t L[kQK_K];
  quantize_k_scaled(x, 31, -0.5f, 15, L, y.scales, y.d, y.dmin);
  std::memset(y.qh, 0, sizeof(y.qh));
  for (int k = 0; k < kQK_K / 64; ++k) {
    for (int l = 0; l < 32; ++l) {
      const int lo = L[64 * k + l], hi = L[64 * k + 32 + l];
      y.qs[32 * k + l] = static_cast<uint8_t>((lo & 0x0f) | ((hi & 0x0f) << 4));
      y.qh[l] = static_cast<uint8_t>(y.qh[l] | ((lo >> 4) << (2 * k)) | ((hi >> 4) << (2 * k + 1)));
    }
  }
}

void quantize_block_q6_k(const float* x, BlockQ6_K& y, bool search) {
  int8_t L[kQK_K];
  float scales[kQK_K / 16];
  float max_scale = 0;
  float max_abs_scale = 0;
  for (int g = 0; g < kQK_K / 16; ++g) {
    scales[g] = make_qx_quants(16, 32, x + 16 * g, L + 16 * g, search);
    if (std::fabs(scales[g]) > max_abs_scale) {
      max_abs_scale = std::fabs(scales[g]);
      max_scale = scales[g];
    }
  }
  std::memset(&y, 0, sizeof(BlockQ6_K));
  if (max_abs_scale < kGroupMaxEps) return;  // all zero: d = 0
  const float iscale = -128.0f / max_scale;
  y.d = core::f32_to_f16(1 / iscale);
  for (int g = 0; g < kQK_K / 16; ++g) {
    y.scales[g] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[g])));
  }
  for (int g = 0; g < kQK_K / 16; ++g) {
    const float d = core::f16_to_f32(y.d) * static_cast<float>(y.scales[g]);
    if (d == 0.0f) continue;
    for (int l = 0; l < 16; ++l) {
      L[16 * g + l] = static_cast<int8_t>(std::clamp(nearest_int(x[16 * g + l] / d), -32, 31) + 32);
    }
  }
  for (int h = 0; h < kQK_K / 128; ++h) {
    uint8_t* ql = y.ql + 64 * h;
    uint8_t* qh = y.qh + 32 * h;
    const int8_t* l4 = L + 128 * h;  // four runs of 32: bits 0-3 go to ql, 4-5 to qh
    for (int l = 0; l < 32; ++l) {
      ql[l] = static_cast<uint8_t>((l4[l] & 0x0f) | ((l4[l + 64] & 0x0f) << 4));
      ql[l + 32] = static_cast<uint8_t>((l4[l + 32] & 0x0f) | ((l4[l + 96] & 0x0f) << 4));
      qh[l] = static_cast<uint8_t>((l4[l] >> 4) | ((l4[l + 32] >> 4) << 2) |
                                   ((l4[l + 64] >> 4) << 4) | ((l4[l + 96] >> 4) << 6));
    }
  }
}

// The 256 quants of a Q5_K block in element order (0..31).
void decode_q5_k(const BlockQ5_K& b, uint8_t* q) {
  for (int k = 0; k < kQK_K / 64; ++k) {
    for (int l = 0; l < 32; ++l) {
      q[64 * k + l] =
          static_cast<uint8_t>((b.qs[32 * k + l] & 0x0f) | (((b.qh[l] >> (2 * k)) & 1) << 4));
      q[64 * k + 32 + l] =
          static_cast<uint8_t>((b.qs[32 * k + l] >> 4) | (((b.qh[l] >> (2 * k + 1)) & 1) << 4));
    }
  }
}

// The 256 quants of a Q2_K block in element order (0..3): each 32-byte half of qs holds 128
// elements, 2 bits per element, four shifts of 32 elements (16 from bytes 0..15, 16 from 16..31).
void decode_q2_k(const BlockQ2_K& b, uint8_t* q) {
  for (int h = 0; h < kQK_K / 128; ++h) {
    const uint8_t* qs = b.qs + 32 * h;
    for (int j = 0; j < 4; ++j) {
      for (int l = 0; l < 32; ++l) {
        q[128 * h + 32 * j + l] = static_cast<uint8_t>((qs[l] >> (2 * j)) & 3);
      }
    }
  }
}

// The 256 quants of a Q3_K block in element order (-4..3): Q2_K's 2-bit layout, minus 4 where
// the element's hmask bit (bit 4h + j of hmask[l], l the byte index within the half) is clear.
void decode_q3_k(const BlockQ3_K& b, int8_t* q) {
  for (int h = 0; h < kQK_K / 128; ++h) {
    const uint8_t* qs = b.qs + 32 * h;
    for (int j = 0; j < 4; ++j) {
      const int bit = 4 * h + j;
      for (int l = 0; l < 32; ++l) {
        const int low = (qs[l] >> (2 * j)) & 3;
        q[128 * h + 32 * j + l] = static_cast<int8_t>(low - (((b.hmask[l] >> bit) & 1) ? 0 : 4));
      }
    }
  }
}

// The 16 scales of a Q3_K block, -32..31: low 4 bits in the nibbles of bytes 0..7 (scales 0..7
// low nibbles, 8..15 high), high 2 bits in bytes 8..11 (scale j at bits 2 * (j / 4) of 8 + j % 4).
void unpack_q3_k_scales(const uint8_t* packed, int* scales) {
  for (int j = 0; j < 16; ++j) {
    const int low = j < 8 ? packed[j] & 0x0f : packed[j - 8] >> 4;
    const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
    scales[j] = (low | (high << 4)) - 32;
  }
}

// Inverse of decode_q2_k for quants 0..3 (also Q3_K's low 2 bits).
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int h = 0; h < kQK_K / 128; ++h) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t* x = L + 128 * h;
      qs[32 * h + l] = static_cast<uint8_t>(x[l] | (x[l + 32] << 2) | (x[l + 64] << 4) |
                                            (x[l + 96] << 6));
    }
  }
}

// Symmetric 3-bit fit of n values (GGML's make_q3_quants with do_rmse): L in 0..2*nmax-1 (the
// quant plus nmax), starting from -nmax / max and moving single quants while the weighted
// (x^2) fit improves, at most 5 rounds. Returns the scale.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, int8_t{0});
    return 0.0f;
  }
  const float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * static_cast<float>(L[i]);
      if (slx <= 0) continue;
      float sl2 = suml2 - w * static_cast<float>(L[i]) * static_cast<float>(L[i]);
      const int new_l = std::clamp(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
      if (new_l == L[i]) continue;
      slx += w * x[i] * static_cast<float>(new_l);
      sl2 += w * static_cast<float>(new_l) * static_cast<float>(new_l);
      if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
        L[i] = static_cast<int8_t>(new_l);
        sumlx = slx;
        suml2 = sl2;
        ++n_changed;
      }
    }
    if (n_changed == 0) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return suml2 > 0 ? sumlx / suml2 : 0.0f;
}

// GGML's quantize_row_q2_K_ref: per 16 elements make_qkx2_quants (quants 0..3, |x| weights,
// absolute-error fit), then 4-bit scales and mins against the largest of each.
void quantize_block_q2_k(const float* x, BlockQ2_K& y) {
  uint8_t L[kQK_K];
  uint8_t Laux[16];
  float weights[16];
  float mins[kQK_K / 16];
  float scales[kQK_K / 16];
  float max_scale = 0;
  float max_min = 0;
  for (int j = 0; j < kQK_K / 16; ++j) {
    for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
    scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f,
                                 0.1f, 15, true);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  constexpr float kQ4Scale = 15.0f;
  std::memset(y.scales, 0, sizeof(y.scales));
  y.d = 0;
  y.dmin = 0;
  if (max_scale > 0) {
    const float iscale = kQ4Scale / max_scale;
    for (int j = 0; j < kQK_K / 16; ++j) {
      y.scales[j] = static_cast<uint8_t>(std::min(15, nearest_int(iscale * scales[j])));
    }
    y.d = core::f32_to_f16(max_scale / kQ4Scale);
  }
  if (max_min > 0) {
    const float iscale = kQ4Scale / max_min;
    for (int j = 0; j < kQK_K / 16; ++j) {
      y.scales[j] = static_cast<uint8_t>(y.scales[j] |
                                         (std::min(15, nearest_int(iscale * mins[j])) << 4));
    }
    y.dmin = core::f32_to_f16(max_min / kQ4Scale);
  }
  for (int j = 0; j < kQK_K / 16; ++j) {
    const float d = core::f16_to_f32(y.d) * static_cast<float>(y.scales[j] & 0x0f);
    if (d == 0.0f) continue;
    const float dm = core::f16_to_f32(y.dmin) * static_cast<float>(y.scales[j] >> 4);
    for (int l = 0; l < 16; ++l) {
      L[16 * j + l] = static_cast<uint8_t>(std::clamp(nearest_int((x[16 * j + l] + dm) / d), 0, 3));
    }
  }
  pack_2bit(L, y.qs);
}

// GGML's quantize_row_q3_K_ref: per 16 elements make_q3_quants, then 6-bit signed scales
// against the largest magnitude, then the quants again against the stored scales.
void quantize_block_q3_k(const float* x, BlockQ3_K& y) {
  int8_t L[kQK_K];
  float scales[kQK_K / 16];
  float max_scale = 0;
  float amax = 0;
  for (int j = 0; j < kQK_K / 16; ++j) {
    scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
    if (std::fabs(scales[j]) > amax) {
      amax = std::fabs(scales[j]);
      max_scale = scales[j];
    }
  }
  std::memset(&y, 0, sizeof(BlockQ3_K));
  if (max_scale == 0.0f) return;  // all zero: d = 0
  const float iscale = -32.0f / max_scale;
  for (int j = 0; j < kQK_K / 16; ++j) {
    const int l = std::clamp(nearest_int(iscale * scales[j]), -32, 31) + 32;
    if (j < 8) {
      y.scales[j] = static_cast<uint8_t>(l & 0x0f);
    } else {
      y.scales[j - 8] = static_cast<uint8_t>(y.scales[j - 8] | ((l & 0x0f) << 4));
    }
    y.scales[8 + j % 4] = static_cast<uint8_t>(y.scales[8 + j % 4] | ((l >> 4) << (2 * (j / 4))));
  }
  y.d = core::f32_to_f16(1 / iscale);
  int sc[16];
  unpack_q3_k_scales(y.scales, sc);
  uint8_t Lu[kQK_K];
  for (int j = 0; j < kQK_K / 16; ++j) {
    const float d = core::f16_to_f32(y.d) * static_cast<float>(sc[j]);
    for (int l = 0; l < 16; ++l) {
      const int q = d == 0.0f ? 0 : std::clamp(nearest_int(x[16 * j + l] / d), -4, 3);
      Lu[16 * j + l] = static_cast<uint8_t>(q + 4);
    }
  }
  // The 3rd bit of element 128h + 32j + l goes to bit 4h + j of hmask[l]; the rest as Q2_K.
  for (int i = 0; i < kQK_K; ++i) {
    if (Lu[i] > 3) {
      const int h = i / 128, j = (i % 128) / 32, l = i % 32;
      y.hmask[l] = static_cast<uint8_t>(y.hmask[l] | (1 << (4 * h + j)));
      Lu[i] = static_cast<uint8_t>(Lu[i] - 4);
    }
  }
  pack_2bit(Lu, y.qs);
}

// Dequantization and q8_K dot product of one q4_K / q5_K super-block from its quants q (0..15 or
// 0..31 in element order), 12 packed scale/min bytes and f16 d / dmin.
void to_float_k_scaled(const uint8_t* packed_scales, uint16_t d16, uint16_t dmin16,
                       const uint8_t* q, float* y);
float vec_dot_k_scaled(const uint8_t* packed_scales, uint16_t d16, uint16_t dmin16,
                       const uint8_t* q, const BlockQ8_K& x);

}  // namespace

void decode_q6_k_quants(const BlockQ6_K& b, int8_t* q) { decode_q6_k(b, q); }
void decode_q5_k_quants(const BlockQ5_K& b, uint8_t* q) { decode_q5_k(b, q); }

void unpack_q4_k_scales(const uint8_t* packed, uint8_t* scales, uint8_t* mins) {
  for (int j = 0; j < 8; ++j) {  // GGML's get_scale_min_k4
    if (j < 4) {
      scales[j] = packed[j] & 63;
      mins[j] = packed[j + 4] & 63;
    } else {
      scales[j] = static_cast<uint8_t>((packed[j + 4] & 0x0f) | ((packed[j - 4] >> 6) << 4));
      mins[j] = static_cast<uint8_t>((packed[j + 4] >> 4) | ((packed[j] >> 6) << 4));
    }
  }
}

// ---------------------------------------------------------------- q4_K

namespace {

void to_float_k_scaled(const uint8_t* packed_scales, uint16_t d16, uint16_t dmin16,
                       const uint8_t* q, float* y) {
  uint8_t sc[8], m[8];
  unpack_q4_k_scales(packed_scales, sc, m);
  const float d = core::f16_to_f32(d16);
  const float dmin = core::f16_to_f32(dmin16);
  for (int j = 0; j < kQK_K / 32; ++j) {
    const float dj = d * static_cast<float>(sc[j]);
    const float mj = dmin * static_cast<float>(m[j]);
    for (int l = 0; l < 32; ++l) y[32 * j + l] = dj * static_cast<float>(q[32 * j + l]) - mj;
  }
}

float vec_dot_k_scaled(const uint8_t* packed_scales, uint16_t d16, uint16_t dmin16,
                       const uint8_t* q, const BlockQ8_K& x) {
  uint8_t sc[8], m[8];
  unpack_q4_k_scales(packed_scales, sc, m);
  int32_t isum = 0;  // sum_j sc_j * <q_j, qx_j>
  int32_t msum = 0;  // sum_j m_j * sum(qx_j), from the bsums
  for (int j = 0; j < kQK_K / 32; ++j) {
    int32_t dot = 0;
    for (int l = 0; l < 32; ++l) dot += int32_t{q[32 * j + l]} * int32_t{x.qs[32 * j + l]};
    isum += int32_t{sc[j]} * dot;
    msum += int32_t{m[j]} * (x.bsums[2 * j] + x.bsums[2 * j + 1]);
  }
  const float d = core::f16_to_f32(d16) * x.d;
  const float dmin = core::f16_to_f32(dmin16) * x.d;
  return d * static_cast<float>(isum) - dmin * static_cast<float>(msum);
}

}  // namespace

void to_float_q4_k(const void* src, float* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK_K == 0);
  const auto* b = static_cast<const BlockQ4_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t q[kQK_K];
    decode_q4_k(b[i], q);
    to_float_k_scaled(b[i].scales, b[i].d, b[i].dmin, q, dst + i * kQK_K);
  }
}

void from_float_q4_k(const float* src, void* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK_K == 0);
  auto* b = static_cast<BlockQ4_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i) quantize_block_q4_k(src + i * kQK_K, b[i], 20);
}

void from_float_q4_k_quick(const float* src, void* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK_K == 0);
  auto* b = static_cast<BlockQ4_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i) quantize_block_q4_k(src + i * kQK_K, b[i], -1);
}

float vec_dot_q4_k(int64_t n, const void* w, const void* x) {
  SARATHI_DCHECK(n % kQK_K == 0);
  const auto* bw = static_cast<const BlockQ4_K*>(w);
  const auto* bx = static_cast<const BlockQ8_K*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t q[kQK_K];
    decode_q4_k(bw[i], q);
    sum += vec_dot_k_scaled(bw[i].scales, bw[i].d, bw[i].dmin, q, bx[i]);
  }
  return sum;
}

// ---------------------------------------------------------------- q6_K

void to_float_q6_k(const void* src, float* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK_K == 0);
  const auto* b = static_cast<const BlockQ6_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int8_t q[kQK_K];
    decode_q6_k(b[i], q);
    const float d = core::f16_to_f32(b[i].d);
    float* y = dst + i * kQK_K;
    for (int l = 0; l < kQK_K; ++l) {
      y[l] = d * static_cast<float>(b[i].scales[l / 16]) * static_cast<float>(q[l]);
    }
  }
}

void from_float_q6_k(const float* src, void* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK_K == 0);
  auto* b = static_cast<BlockQ6_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i) quantize_block_q6_k(src + i * kQK_K, b[i], true);
}

void from_float_q6_k_quick(const float* src, void* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK_K == 0);
  auto* b = static_cast<BlockQ6_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i) quantize_block_q6_k(src + i * kQK_K, b[i], false);
}

float vec_dot_q6_k(int64_t n, const void* w, const void* x) {
  SARATHI_DCHECK(n % kQK_K == 0);
  const auto* bw = static_cast<const BlockQ6_K*>(w);
  const auto* bx = static_cast<const BlockQ8_K*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int8_t q[kQK_K];
    decode_q6_k(bw[i], q);
    int32_t isum = 0;  // sum_g sc_g * <q_g - 32, qx_g> over 16-element groups
    for (int g = 0; g < kQK_K / 16; ++g) {
      int32_t dot = 0;
      for (int l = 0; l < 16; ++l) dot += int32_t{q[16 * g + l]} * int32_t{bx[i].qs[16 * g + l]};
      isum += int32_t{bw[i].scales[g]} * dot;
    }
    const float d = core::f16_to_f32(bw[i].d) * bx[i].d;
    sum += d * static_cast<float>(isum);
  }
  return sum;
}

// ---------------------------------------------------------------- q5_K

void to_float_q5_k(const void* src, float* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK_K == 0);
  const auto* b = static_cast<const BlockQ5_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t q[kQK_K];
    decode_q5_k(b[i], q);
    to_float_k_scaled(b[i].scales, b[i].d, b[i].dmin, q, dst + i * kQK_K);
  }
}

void from_float_q5_k(const float* src, void* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK_K == 0);
  auto* b = static_cast<BlockQ5_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i) quantize_block_q5_k(src + i * kQK_K, b[i]);
}

float vec_dot_q5_k(int64_t n, const void* w, const void* x) {
  SARATHI_DCHECK(n % kQK_K == 0);
  const auto* bw = static_cast<const BlockQ5_K*>(w);
  const auto* bx = static_cast<const BlockQ8_K*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t q[kQK_K];
    decode_q5_k(bw[i], q);
    sum += vec_dot_k_scaled(bw[i].scales, bw[i].d, bw[i].dmin, q, bx[i]);
  }
  return sum;
}

// ---------------------------------------------------------------- q2_K

void to_float_q2_k(const void* src, float* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK_K == 0);
  const auto* b = static_cast<const BlockQ2_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t q[kQK_K];
    decode_q2_k(b[i], q);
    const float d = core::f16_to_f32(b[i].d);
    const float dmin = core::f16_to_f32(b[i].dmin);
    float* y = dst + i * kQK_K;
    for (int g = 0; g < kQK_K / 16; ++g) {
      const float dl = d * static_cast<float>(b[i].scales[g] & 0x0f);
      const float ml = dmin * static_cast<float>(b[i].scales[g] >> 4);
      for (int l = 0; l < 16; ++l) y[16 * g + l] = dl * static_cast<float>(q[16 * g + l]) - ml;
    }
  }
}

void from_float_q2_k(const float* src, void* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK_K == 0);
  auto* b = static_cast<BlockQ2_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i) quantize_block_q2_k(src + i * kQK_K, b[i]);
}

float vec_dot_q2_k(int64_t n, const void* w, const void* x) {
  SARATHI_DCHECK(n % kQK_K == 0);
  const auto* bw = static_cast<const BlockQ2_K*>(w);
  const auto* bx = static_cast<const BlockQ8_K*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t q[kQK_K];
    decode_q2_k(bw[i], q);
    int32_t isum = 0;  // sum_g sc_g * <q_g, qx_g>
    int32_t msum = 0;  // sum_g m_g * bsums_g
    for (int g = 0; g < kQK_K / 16; ++g) {
      int32_t dot = 0;
      for (int l = 0; l < 16; ++l) dot += int32_t{q[16 * g + l]} * int32_t{bx[i].qs[16 * g + l]};
      isum += int32_t{bw[i].scales[g] & 0x0f} * dot;
      msum += int32_t{bw[i].scales[g] >> 4} * bx[i].bsums[g];
    }
    const float d = core::f16_to_f32(bw[i].d) * bx[i].d;
    const float dmin = core::f16_to_f32(bw[i].dmin) * bx[i].d;
    sum += d * static_cast<float>(isum) - dmin * static_cast<float>(msum);
  }
  return sum;
}

// ---------------------------------------------------------------- q3_K

void to_float_q3_k(const void* src, float* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK_K == 0);
  const auto* b = static_cast<const BlockQ3_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int8_t q[kQK_K];
    int sc[16];
    decode_q3_k(b[i], q);
    unpack_q3_k_scales(b[i].scales, sc);
    const float d = core::f16_to_f32(b[i].d);
    float* y = dst + i * kQK_K;
    for (int g = 0; g < kQK_K / 16; ++g) {
      const float dl = d * static_cast<float>(sc[g]);
      for (int l = 0; l < 16; ++l) y[16 * g + l] = dl * static_cast<float>(q[16 * g + l]);
    }
  }
}

void from_float_q3_k(const float* src, void* dst, int64_t n) {
  SARATHI_DCHECK(n % kQK_K == 0);
  auto* b = static_cast<BlockQ3_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i) quantize_block_q3_k(src + i * kQK_K, b[i]);
}

float vec_dot_q3_k(int64_t n, const void* w, const void* x) {
  SARATHI_DCHECK(n % kQK_K == 0);
  const auto* bw = static_cast<const BlockQ3_K*>(w);
  const auto* bx = static_cast<const BlockQ8_K*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int8_t q[kQK_K];
    int sc[16];
    decode_q3_k(bw[i], q);
    unpack_q3_k_scales(bw[i].scales, sc);
    int32_t isum = 0;  // sum_g sc_g * <q_g, qx_g>
    for (int g = 0; g < kQK_K / 16; ++g) {
      int32_t dot = 0;
      for (int l = 0; l < 16; ++l) dot += int32_t{q[16 * g + l]} * int32_t{bx[i].qs[16 * g + l]};
      isum += sc[g] * dot;
    }
    sum += core::f16_to_f32(bw[i].d) * bx[i].d * static_cast<float>(isum);
  }
  return sum;
}

}  // namespace sarathi::kernels::ref
