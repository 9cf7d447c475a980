// kernels/cpu/avx512/attention.h: AVX-512 attention for one query token and one KV head's group
// of query heads (CpuOps::attend). Declarations only: included by baseline code.
#pragma once

#include "kernels/kernels.h"

namespace sarathi::kernels::avx512 {

/// Same result as the scalar loop in kernels/ops.cpp up to f32 summation order and a ~1 ulp exp.
void attend_group(const AttnGroupArgs& args);

}  // namespace sarathi::kernels::avx512
