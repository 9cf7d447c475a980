// kernels/cpu/avx512/elementwise.h: AVX-512 element-wise ops (CpuOps::swiglu). Declarations only:
// included by baseline code.
#pragma once

#include <cstdint>

namespace sarathi::kernels::avx512 {

/// out[i] = silu(gate[i]) * up[i]; as kernels::swiglu up to the ~1 ulp vector exp.
void swiglu(const float* gate, const float* up, float* out, int64_t n);

}  // namespace sarathi::kernels::avx512
