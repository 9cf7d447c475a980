// kernels/cpu/avx512/gemm.h: register-blocked batched matmul (GemmOps) for AVX-512: VNNI
// vpdpbusd for q8_0/q4_0 (q6_K) weights with q8_0 (q8_K) activations, f32 FMA for f32/f16 weights,
// vdpbf16ps for bf16. Declarations only: included by baseline code (dispatch.cpp), so no intrinsics
// here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/kernels.h"

namespace sarathi::kernels::avx512 {

/// q8 activations for q8_0 / q4_0 weights: per pair of 32-blocks, the quants (bit-equal to
/// from_float_q8_0), their scales as f32 lanes and the offset correction of the weight type.
size_t packed_x_bytes_q8(int64_t k);
void pack_x_q8_for_q8_0(const float* src, void* dst, int64_t k);
void pack_x_q8_for_q4_0(const float* src, void* dst, int64_t k);
void gemm_q8_0(const GemmArgs& args);
void gemm_q4_0(const GemmArgs& args);

/// q8_K activations for q6_K weights (quants bit-equal to from_float_q8_k), per 64 elements
/// with the super-block scale and the weight offset's correction.
size_t packed_x_bytes_q8_k(int64_t k);
void pack_x_q8_k_for_q6_k(const float* src, void* dst, int64_t k);
void gemm_q6_k(const GemmArgs& args);

/// f32 activations for f32 weights, f16 ones (as GGML's f16 vec_dot_type) for f16 weights,
/// zero-padded to 16 elements; products and sums in f32.
size_t packed_x_bytes_f32(int64_t k);
void pack_x_f32(const float* src, void* dst, int64_t k);
size_t packed_x_bytes_f16(int64_t k);
void pack_x_f16(const float* src, void* dst, int64_t k);
void gemm_f32(const GemmArgs& args);
void gemm_f16(const GemmArgs& args);

/// bf16 activations (bit-equal to from_float_bf16), zero-padded to 32 elements. Needs
/// AVX512_BF16.
size_t packed_x_bytes_bf16(int64_t k);
void pack_x_bf16(const float* src, void* dst, int64_t k);
void gemm_bf16(const GemmArgs& args);

}  // namespace sarathi::kernels::avx512

namespace sarathi::kernels::avx512 {

/// The matmul over interleaved q8_0 / q4_0 weights (kernels/packed.h): activations packed
/// bit-equal to pack_x_ref, outputs bit-equal to packed_gemm_ref.
void pack_x_packed_q8_0(const float* src, void* dst, int64_t k);
void pack_x_packed_q4_0(const float* src, void* dst, int64_t k);
void packed_gemm_q8_0(const PackedGemmArgs& args);
void packed_gemm_q4_0(const PackedGemmArgs& args);
/// The same for interleaved q4_K / q5_K / q6_K weights with q8_K activations (kernels/packed.h).
void pack_x_packed_q4_k(const float* src, void* dst, int64_t k);
void packed_gemm_q4_k(const PackedGemmArgs& args);
void pack_x_packed_q5_k(const float* src, void* dst, int64_t k);
void packed_gemm_q5_k(const PackedGemmArgs& args);
void pack_x_packed_q6_k(const float* src, void* dst, int64_t k);
void packed_gemm_q6_k(const PackedGemmArgs& args);
/// bf16 activations for the interleaved layout (cpu::pack_x_bf16 around from_float_bf16).
void pack_x_packed_bf16(const float* src, void* dst, int64_t k);
/// The matmul over interleaved bf16 weights with vdpbf16ps (activations from
/// pack_x_packed_bf16): each output within f32 rounding of packed_gemm_ref, computed the same way
/// whatever its batch. Needs AVX512_BF16.
void packed_gemm_bf16(const PackedGemmArgs& args);

/// kernels/peak.h's loops (vfmadd231ps, vpdpbusd, vdpbf16ps on zmm); return the operations done.
/// peak_bf16 needs AVX512_BF16.
double peak_fma(int64_t iters);
double peak_vnni(int64_t iters);
double peak_bf16(int64_t iters);

}  // namespace sarathi::kernels::avx512
