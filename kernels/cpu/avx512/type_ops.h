// kernels/cpu/avx512/type_ops.h: AVX-512 (F/BW/VL/DQ + VNNI) versions of the per-type row ops (see
// kernels/ref/type_ops.h for what each computes). Declarations only: this header is included
// by baseline code (dispatch.cpp), so it must hold no inline code or intrinsics.
#pragma once

#include <cstdint>

namespace sarathi::kernels::avx512 {

/// Bit-equal to ref::to_float_*.
void to_float_f16(const void* src, float* dst, int64_t n);
void to_float_bf16(const void* src, float* dst, int64_t n);
void to_float_q8_0(const void* src, float* dst, int64_t n);
void to_float_q4_0(const void* src, float* dst, int64_t n);

/// Bit-equal to ref::from_float_* (the activation types).
void from_float_f16(const float* src, void* dst, int64_t n);
void from_float_bf16(const float* src, void* dst, int64_t n);
void from_float_q8_0(const float* src, void* dst, int64_t n);
/// One activation row into the interleaved q8_0 / q4_0 layout (as cpu::pack_x_q8 around
/// from_float_q8_0, bit-equal, in one pass per block; c: 128 for q8_0, 8 for q4_0).
void pack_x_q8_rows(const float* src, void* dst, int64_t k, int32_t c);
void from_float_q8_k(const float* src, void* dst, int64_t n);

/// Same as ref::vec_dot_* up to f32 summation order (integer parts are exact).
float vec_dot_f32(int64_t n, const void* w, const void* x);
float vec_dot_f16(int64_t n, const void* w, const void* x);
/// Needs AVX512_BF16 (vdpbf16ps); dispatch uses avx2::vec_dot_bf16 on CPUs without it.
float vec_dot_bf16(int64_t n, const void* w, const void* x);
float vec_dot_q8_0(int64_t n, const void* w, const void* x);
float vec_dot_q4_0(int64_t n, const void* w, const void* x);
float vec_dot_q4_k(int64_t n, const void* w, const void* x);
float vec_dot_q6_k(int64_t n, const void* w, const void* x);

}  // namespace sarathi::kernels::avx512
