// kernels/cpu/amx/packed_gemm.h: AMX-INT8 matmul over interleaved q8_0 / q4_0 weights and
// AMX-BF16 over interleaved bf16 weights (kernels/packed.h). Declarations only: included by baseline code (dispatch.cpp).
#pragma once

#include "kernels/kernels.h"

namespace sarathi::kernels::amx {

/// Full 16-token tiles run on the tile unit (one TDPBSUD per 32-element block, then the block
/// scales applied with AVX-512); the remaining tokens run the AVX-512 VNNI kernel. Both follow
/// the arithmetic of kernels/packed.h, so outputs are bit-equal to packed_gemm_ref.
void packed_gemm_q8_0(const PackedGemmArgs& args);
void packed_gemm_q4_0(const PackedGemmArgs& args);

/// AMX-BF16 over interleaved bf16 weights, activations packed by avx512::pack_x_packed_bf16
/// (bf16 rows, zero-padded). Every token count runs on the tile unit, so an output does not
/// depend on its batch; agrees with packed_gemm_ref within f32 rounding.
void packed_gemm_bf16(const PackedGemmArgs& args);

/// kernels/peak.h's loops (TDPBF16PS, TDPBUSD on 16 x 64-byte tiles); return the operations done.
double peak_bf16(int64_t iters);
double peak_int8(int64_t iters);

}  // namespace sarathi::kernels::amx
