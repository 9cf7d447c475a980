// kernels/ref/type_ops.h: the scalar oracle for every element type: GGML's dequantize_row_*,
// quantize_row_*_ref and generic vec_dot semantics, written as plain loops for clarity.
// Depends on core/ only; must not depend on any ISA-specific code (SIMD versions test against it).
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace sarathi::kernels::ref {

// ---- to_float: n elements (a multiple of the block size) to f32. Same as GGML's
// dequantize_row_* (the float expressions are evaluated in the same order, so SIMD versions
// can be bit-equal).
/// f32 -> f32 copy.
void to_float_f32(const void* src, float* dst, int64_t n);
/// IEEE half -> f32 (exact).
void to_float_f16(const void* src, float* dst, int64_t n);
/// bfloat16 -> f32 (exact).
void to_float_bf16(const void* src, float* dst, int64_t n);
/// y = qs * d.
void to_float_q8_0(const void* src, float* dst, int64_t n);
/// y = (q - 8) * d; low nibbles hold elements 0..15 of a block, high nibbles 16..31.
void to_float_q4_0(const void* src, float* dst, int64_t n);
/// y = (d * sc) * q - dmin * m, with 6-bit (sc, m) per 32 elements (get_scale_min_k4).
void to_float_q4_k(const void* src, float* dst, int64_t n);
/// y = d * sc * (q - 32), 6-bit q from ql/qh, 8-bit signed sc per 16 elements.
void to_float_q6_k(const void* src, float* dst, int64_t n);
/// y = d * qs (f32 d).
void to_float_q8_k(const void* src, float* dst, int64_t n);

// ---- from_float: n f32 values into the type (GGML's quantize_row_*_ref).
/// f32 -> f32 copy.
void from_float_f32(const float* src, void* dst, int64_t n);
/// f32 -> half, round to nearest even.
void from_float_f16(const float* src, void* dst, int64_t n);
/// f32 -> bfloat16, round to nearest even (NaN stays quiet NaN).
void from_float_bf16(const float* src, void* dst, int64_t n);
/// d = amax / 127, q = roundf(x / d) (round half away from zero).
void from_float_q8_0(const float* src, void* dst, int64_t n);
/// d = max / -8 where max is the value of largest magnitude, q = min(15, (int)(x / d + 8.5)).
void from_float_q4_0(const float* src, void* dst, int64_t n);
/// GGML's quantize_row_q4_K_ref: make_qkx2_quants per 32 elements, 6-bit scales and mins.
void from_float_q4_k(const float* src, void* dst, int64_t n);
/// GGML's quantize_row_q6_K_ref: make_qx_quants (rmse_type 1) per 16 elements, 8-bit scales.
void from_float_q6_k(const float* src, void* dst, int64_t n);
/// The same two without the search for the best scales (each group's first min/max fit): valid
/// blocks with a somewhat larger error, ~10x faster. For synthetic weights, which need no
/// fidelity and would otherwise take a minute to quantize at the tinyllama-1.1b shape.
void from_float_q4_k_quick(const float* src, void* dst, int64_t n);
void from_float_q6_k_quick(const float* src, void* dst, int64_t n);
/// GGML's quantize_row_q8_K_ref: iscale = -127 / max (max the signed value of largest
/// magnitude), q = min(127, nearest_int(iscale * x)), d = 1 / iscale, bsums per 16.
/// An all-zero block gives d = 0, q = 0 and bsums = 0.
void from_float_q8_k(const float* src, void* dst, int64_t n);

// ---- vec_dot: w a row of the weight type, x a row of its vec_dot_type.
/// f32 · f32, accumulated in double (as GGML's generic ggml_vec_dot_f32).
float vec_dot_f32(int64_t n, const void* w, const void* x);
/// f16 · f16, accumulated in double.
float vec_dot_f16(int64_t n, const void* w, const void* x);
/// bf16 · bf16, accumulated in double.
float vec_dot_bf16(int64_t n, const void* w, const void* x);
/// q8_0 · q8_0: sum over blocks of d_w * d_x * (integer dot of the quants).
float vec_dot_q8_0(int64_t n, const void* w, const void* x);
/// q4_0 · q8_0: sum over blocks of d_w * d_x * sum((q - 8) * qx).
float vec_dot_q4_0(int64_t n, const void* w, const void* x);
/// q4_K · q8_K: per block d_w*d_x*sum(sc_j * isum_j) - dmin_w*d_x*sum(m_j * bsums of j).
float vec_dot_q4_k(int64_t n, const void* w, const void* x);
/// q6_K · q8_K: per block d_w*d_x*sum(sc_g * sum((q - 32) * qx)) over 16-element groups.
float vec_dot_q6_k(int64_t n, const void* w, const void* x);

// ---- Helpers shared by the oracle and the tests.
/// Unpacks the 12 packed bytes of a Q4_K block into 8 scales and 8 mins (6 bits each).
void unpack_q4_k_scales(const uint8_t* packed, uint8_t* scales, uint8_t* mins);
/// The 256 quants of a Q6_K block in element order, -32..31.
void decode_q6_k_quants(const core::BlockQ6_K& b, int8_t* q);

}  // namespace sarathi::kernels::ref
