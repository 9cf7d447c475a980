// kernels/cpu/avx512/elementwise.h: AVX-512 element-wise ops (CpuOps::swiglu, CpuOps::rms_norm).
// Declarations only: included by baseline code.
#pragma once

#include <cstdint>

namespace sarathi::kernels::avx512 {

/// out[i] = silu(gate[i]) * up[i]; as kernels::swiglu up to the ~1 ulp vector exp.
void swiglu(const float* gate, const float* up, float* out, int64_t n);

/// kernels::rms_norm with the sum of squares in double over 8 lanes (the same up to the order of
/// that sum).
void rms_norm(const float* x, const float* w, float* y, int64_t num_rows, int64_t n, float eps);

}  // namespace sarathi::kernels::avx512
