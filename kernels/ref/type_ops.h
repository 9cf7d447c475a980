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
/// y = q * d + m, 4-bit q in Q4_0's nibble order.
void to_float_q4_1(const void* src, float* dst, int64_t n);
/// y = (q - 16) * d, 5-bit q: Q4_0's nibbles plus the qh bit of each element.
void to_float_q5_0(const void* src, float* dst, int64_t n);
/// y = q * d + m, 5-bit q as in Q5_0.
void to_float_q5_1(const void* src, float* dst, int64_t n);
/// y = d * (sc & 15) * q - dmin * (sc >> 4), 2-bit q, one scale byte per 16 elements.
void to_float_q2_k(const void* src, float* dst, int64_t n);
/// y = d * (sc - 32) * (q - (hbit ? 0 : 4)), 2-bit q plus hmask bit, 6-bit sc per 16 elements.
void to_float_q3_k(const void* src, float* dst, int64_t n);
/// As Q4_K with 5-bit q (the 5th bit from qh).
void to_float_q5_k(const void* src, float* dst, int64_t n);
/// y = d * kIq4nlValues[q] per 32 elements.
void to_float_iq4_nl(const void* src, float* dst, int64_t n);
/// y = d * (ls - 32) * kIq4nlValues[q], 6-bit ls per 32 elements of a 256-element super-block.
void to_float_iq4_xs(const void* src, float* dst, int64_t n);

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
/// GGML's quantize_row_q4_1_ref / q5_0 / q5_1: min/max (q4_1, q5_1) or signed-max (q5_0) fit
/// per 32 elements.
void from_float_q4_1(const float* src, void* dst, int64_t n);
void from_float_q5_0(const float* src, void* dst, int64_t n);
void from_float_q5_1(const float* src, void* dst, int64_t n);
/// GGML's quantize_row_q2_K_ref (make_qkx2_quants on |x| weights per 16, 4-bit scales/mins),
/// quantize_row_q3_K_ref (make_q3_quants per 16, 6-bit scales) and quantize_row_q5_K_ref
/// (make_qkx2_quants per 32 as Q4_K, 5-bit quants), written from GGML's algorithms; the files
/// they make load in llama.cpp, but bytes are not promised equal to its quantizer's.
void from_float_q2_k(const float* src, void* dst, int64_t n);
void from_float_q3_k(const float* src, void* dst, int64_t n);
void from_float_q5_k(const float* src, void* dst, int64_t n);
/// GGML's quantize_row_iq4_nl_ref / iq4_xs (no importance weights): the best scale among 15
/// candidates per 32 elements, nearest table entry per element.
void from_float_iq4_nl(const float* src, void* dst, int64_t n);
void from_float_iq4_xs(const float* src, void* dst, int64_t n);
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
/// q4_1 / q5_1 · q8_0: per block d_w*d_x*sum(q * qx) + m_w*d_x*sum(qx). (GGML pairs them with
/// q8_1, which stores d_x*sum(qx) rounded to f16; here that sum is exact.)
float vec_dot_q4_1(int64_t n, const void* w, const void* x);
float vec_dot_q5_1(int64_t n, const void* w, const void* x);
/// q5_0 · q8_0: per block d_w*d_x*sum((q - 16) * qx).
float vec_dot_q5_0(int64_t n, const void* w, const void* x);
/// q2_K · q8_K: per block d_w*d_x*sum(sc_g * isum_g) - dmin_w*d_x*sum(m_g * bsums_g).
float vec_dot_q2_k(int64_t n, const void* w, const void* x);
/// q3_K · q8_K: per block d_w*d_x*sum((sc_g - 32) * sum(q3 * qx)) over 16-element groups.
float vec_dot_q3_k(int64_t n, const void* w, const void* x);
/// q5_K · q8_K: as q4_K with 5-bit quants.
float vec_dot_q5_k(int64_t n, const void* w, const void* x);
/// iq4_nl · q8_0: per block d_w*d_x*sum(kIq4nlValues[q] * qx).
float vec_dot_iq4_nl(int64_t n, const void* w, const void* x);
/// iq4_xs · q8_K: per block d_w*d_x*sum((ls_j - 32) * sum(kIq4nlValues[q] * qx)) per 32.
float vec_dot_iq4_xs(int64_t n, const void* w, const void* x);

// ---- Helpers shared by the oracle and the tests.
/// Unpacks the 12 packed bytes of a Q4_K block into 8 scales and 8 mins (6 bits each).
void unpack_q4_k_scales(const uint8_t* packed, uint8_t* scales, uint8_t* mins);
/// The 256 quants of a Q5_K block in element order, 0..31.
void decode_q5_k_quants(const core::BlockQ5_K& b, uint8_t* q);
/// The 256 quants of a Q6_K block in element order, -32..31.
void decode_q6_k_quants(const core::BlockQ6_K& b, int8_t* q);

}  // namespace sarathi::kernels::ref
