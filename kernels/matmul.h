// kernels/matmul.h: y = x · Wᵀ for a weight matrix of any supported type, multi-threaded over
// output rows. Activations are first converted to the weight type's vec_dot_type (as GGML
// does), then every output is one vec_dot. Each output depends only on its own x row, so
// results do not depend on what else is in the batch. Depends on core/ and kernels.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
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
  /// What x_converted holds for the interleaved path (pack_x, m rows of cols), so weights that
  /// share activations skip repacking; null after any other use of the buffer.
  void (*packed_by)(const float*, void*, int64_t) = nullptr;
  int64_t packed_m = 0, packed_cols = 0;
};

/// y[m][rows] = x[m][cols] · Wᵀ.
void matmul(const CpuOps& ops, core::ThreadPool& pool, const WeightView& w, const float* x,
            int64_t m, float* y, MatmulScratch& scratch);

/// One weight and its output for matmul_shared_x.
struct MatmulTarget {
  const WeightView* w;
  float* y;
};

/// y_i = x · W_iᵀ for weights that read the same activations (Q/K/V, gate/up): each is what
/// matmul gives, but the activations are packed once for consecutive weights with the same
/// packed format.
void matmul_shared_x(const CpuOps& ops, core::ThreadPool& pool,
                     std::initializer_list<MatmulTarget> targets, const float* x, int64_t m,
                     MatmulScratch& scratch);

/// Tokens per pass of the interleaved-weight path over a thread's weights, for a batch of m:
/// passes of about 256 tokens (their activations stay in L2 while the weights stream past),
/// balanced and a multiple of 16 (the AMX tile), and one pass up to 320. A 256-token chunk with
/// a few decodes beside it (SARATHI's hybrid step) would otherwise read every weight a second
/// time from memory for the decodes alone.
int64_t packed_token_block(int64_t m);

/// Plain f32 reference: dequantizes W and accumulates in double. For tests.
void matmul_ref(const CpuOps& ops, const WeightView& w, const float* x, int64_t m, float* y);

}  // namespace sarathi::kernels
