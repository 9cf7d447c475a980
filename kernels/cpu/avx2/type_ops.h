// kernels/cpu/avx2/type_ops.h: AVX2/FMA/F16C versions of the per-type row ops (see
// kernels/ref/type_ops.h for what each computes). Declarations only: this header is included
// by baseline code (dispatch.cpp), so it must hold no inline code or intrinsics.
#pragma once

#include <cstdint>

#include "kernels/kernels.h"

namespace sarathi::kernels::avx2 {

/// Bit-equal to ref::to_float_*.
void to_float_f16(const void* src, float* dst, int64_t n);
void to_float_bf16(const void* src, float* dst, int64_t n);
void to_float_q8_0(const void* src, float* dst, int64_t n);
void to_float_q4_0(const void* src, float* dst, int64_t n);

/// Bit-equal to ref::from_float_* (the activation types).
void from_float_f16(const float* src, void* dst, int64_t n);
void from_float_bf16(const float* src, void* dst, int64_t n);
void from_float_q8_0(const float* src, void* dst, int64_t n);
void from_float_q8_k(const float* src, void* dst, int64_t n);

/// Same as ref::vec_dot_* up to f32 summation order (integer parts are exact).
float vec_dot_f32(int64_t n, const void* w, const void* x);
float vec_dot_f16(int64_t n, const void* w, const void* x);
float vec_dot_bf16(int64_t n, const void* w, const void* x);
float vec_dot_q8_0(int64_t n, const void* w, const void* x);
float vec_dot_q4_0(int64_t n, const void* w, const void* x);
float vec_dot_q4_k(int64_t n, const void* w, const void* x);
float vec_dot_q5_k(int64_t n, const void* w, const void* x);
float vec_dot_q4_1(int64_t n, const void* w, const void* x);
float vec_dot_q5_0(int64_t n, const void* w, const void* x);
float vec_dot_q5_1(int64_t n, const void* w, const void* x);
float vec_dot_iq4_nl(int64_t n, const void* w, const void* x);
float vec_dot_q2_k(int64_t n, const void* w, const void* x);
float vec_dot_q3_k(int64_t n, const void* w, const void* x);
float vec_dot_iq4_xs(int64_t n, const void* w, const void* x);
float vec_dot_q6_k(int64_t n, const void* w, const void* x);

/// The matmul over interleaved q8_0 / q4_0 weights (kernels/packed.h, maddubs + madd):
/// activations packed bit-equal to pack_x_ref, outputs bit-equal to packed_gemm_ref.
void pack_x_packed_q8_0(const float* src, void* dst, int64_t k);
void pack_x_packed_q4_0(const float* src, void* dst, int64_t k);
void packed_gemm_q8_0(const PackedGemmArgs& args);
void packed_gemm_q4_0(const PackedGemmArgs& args);
/// The same for interleaved q4_K / q6_K weights with q8_K activations.
void pack_x_packed_q4_k(const float* src, void* dst, int64_t k);
void packed_gemm_q4_k(const PackedGemmArgs& args);
void pack_x_packed_q5_k(const float* src, void* dst, int64_t k);
void packed_gemm_q5_k(const PackedGemmArgs& args);
void pack_x_packed_q6_k(const float* src, void* dst, int64_t k);
void packed_gemm_q6_k(const PackedGemmArgs& args);
/// The matmul over interleaved bf16 weights with FMA (packed_bf16.cpp), activations as bf16
/// rows zero-filled to packed_x_bytes(kBF16, k): each output within f32 rounding of
/// packed_gemm_ref, computed the same way whatever its batch.
void pack_x_packed_bf16(const float* src, void* dst, int64_t k);
void packed_gemm_bf16(const PackedGemmArgs& args);

/// Attention for one KV head's query group (kernels.h AttendFn), the AVX-512 kernel's algorithm
/// on 8 lanes.
void attend_group(const AttnGroupArgs& args);
/// out[i] = gelu(gate[i]) * up[i] (GGML's tanh GeLU; out may alias gate).
void gelu_mul(const float* gate, const float* up, float* out, int64_t n);
/// silu(gate[i]) * up[i] (kernels::swiglu's formula, vec_math.h's exp; out may alias gate).
void swiglu(const float* gate, const float* up, float* out, int64_t n);
/// RMSNorm of num_rows rows of n (a double sum of squares; y may alias x).
void rms_norm(const float* x, const float* w, float* y, int64_t num_rows, int64_t n, float eps);

/// kernels/peak.h's loop for vfmadd231ps ymm; returns the flops done.
double peak_fma(int64_t iters);

}  // namespace sarathi::kernels::avx2
