// kernels/matmul.h: y = x · Wᵀ for a weight matrix of any supported type, multi-threaded over
// output rows. Activations are first converted to the weight type's vec_dot_type (as GGML
// does), then every output is one vec_dot. Each output depends only on its own x row, so
// results do not depend on what else is in the batch. Depends on core/ and kernels.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"

namespace sarathi::kernels {

/// A row-major weight matrix: `rows` output features, each a row of `cols` inputs.
struct WeightView {
  core::DType dtype = core::DType::kF32;
  const void* data = nullptr;  // [rows, cols] in dtype
  int64_t rows = 0;
  int64_t cols = 0;
  size_t row_bytes = 0;  // of the GGML layout
  /// True if data is in the interleaved layout of kernels/packed.h (pack_weight), which only
  /// an op table with TypeOps::packed for this type can multiply.
  bool packed = false;
};

/// Scratch for converted activations; grows to the largest batch seen, then stays.
struct MatmulScratch {
  std::vector<uint8_t> x_converted;
};

/// y[m][rows] = x[m][cols] · Wᵀ.
void matmul(const CpuOps& ops, core::ThreadPool& pool, const WeightView& w, const float* x,
            int64_t m, float* y, MatmulScratch& scratch);

/// Plain f32 reference: dequantizes W and accumulates in double. For tests.
void matmul_ref(const CpuOps& ops, const WeightView& w, const float* x, int64_t m, float* y);

}  // namespace sarathi::kernels
