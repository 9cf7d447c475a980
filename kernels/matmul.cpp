#include "kernels/matmul.h"

#include <algorithm>

#include "core/check.h"
#include "kernels/packed.h"

namespace sarathi::kernels {

namespace {
constexpr int64_t kRowTile = 16;  // weight rows kept hot in cache while all tokens pass over them
// Tokens per pass of the gemm path: their packed activations (192 bytes per 64 q8 elements,
// 4 bytes per f32) stay in L2 while a thread's weight rows stream past them once.
constexpr int64_t kTokenBlock = 64;
// The same for interleaved weights (at most 2.1 bytes per element of activations). Interleaved
// q8_0 on Zen 4, 2 threads, 512 x 11264 x 2048: 609-627 GOP/s with 64, 600-660 with 128,
// 648-679 with 256; vdpbf16ps the same within noise. A batch of up to 1.25x this runs in one
// pass (packed_token_block): on a 2-core Xeon (AMX), tinyllama-1.1b q8_0, a step of a 256-token
// chunk and 15 decodes took 1.62-1.64 s at 1 thread with a second 15-token pass, 1.51-1.55 s
// without (bench ops, 4 interleaved runs; 2 threads: 0.79-0.87 s against 0.75-0.82 s); under
// pipeline parallelism (2 ranks of 1 thread, 16 x 1024:128, sarathi) its chunk steps took 9%
// less compute (docs/PERFORMANCE.md).
constexpr int64_t kPackedTokenBlock = 256;
constexpr int64_t kPackedTokenBlockMax = kPackedTokenBlock + kPackedTokenBlock / 4;
constexpr int64_t kTokenTile = 16;
// Fewer tokens than this are packed on the calling thread (a pool wake-up costs more).
constexpr int64_t kParallelPackMin = 16;

// Packs m activation rows of cols floats into xp (xrb bytes apart), on the pool for enough rows.
void pack_rows(core::ThreadPool& pool, void (*pack_x)(const float*, void*, int64_t), const float* x,
               int64_t m, int64_t cols, uint8_t* xp, size_t xrb) {
  auto pack = [&](int, int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) pack_x(x + i * cols, xp + static_cast<size_t>(i) * xrb, cols);
  };
  if (m < kParallelPackMin) {
    pack(0, 0, m);
  } else {
    pool.parallel_for(m, 4, pack);
  }
}

void matmul_gemm(const GemmOps& g, core::ThreadPool& pool, const WeightView& w, const float* x,
                 int64_t m, float* y, MatmulScratch& scratch) {
  const size_t xrb = g.packed_x_bytes(w.cols);
  const size_t need = xrb * static_cast<size_t>(m);
  if (scratch.x_converted.size() < need) scratch.x_converted.resize(need);
  uint8_t* xp = scratch.x_converted.data();
  pack_rows(pool, g.pack_x, x, m, w.cols, xp, xrb);
  GemmArgs base;
  base.w = static_cast<const uint8_t*>(w.data);
  base.w_row_bytes = w.row_bytes;
  base.k = w.cols;
  base.x = xp;
  base.x_row_bytes = xrb;
  base.y = y;
  base.ldy = w.rows;
  pool.parallel_for(w.rows, kRowTile, [&](int, int64_t r0, int64_t r1) {
    GemmArgs a = base;
    a.row_begin = r0;
    a.row_end = r1;
    for (int64_t t0 = 0; t0 < m; t0 += kTokenBlock) {
      a.tok_begin = t0;
      a.tok_end = std::min(m, t0 + kTokenBlock);
      g.run(a);
    }
  });
}

// Interleaved weights: threads split the 16-row groups; each passes over its groups once per
// block of tokens.
// reuse_x: the caller's x is the one the previous call packed (matmul_shared_x).
void matmul_packed(const PackedGemmOps& g, core::ThreadPool& pool, const WeightView& w,
                   const float* x, int64_t m, float* y, MatmulScratch& scratch, bool reuse_x) {
  const size_t xrb = packed_x_bytes(w.dtype, w.cols);
  const size_t need = xrb * static_cast<size_t>(m);
  if (!(reuse_x && scratch.packed_by == g.pack_x && scratch.packed_m == m &&
        scratch.packed_cols == w.cols)) {
    if (scratch.x_converted.size() < need) scratch.x_converted.resize(need);
    pack_rows(pool, g.pack_x, x, m, w.cols, scratch.x_converted.data(), xrb);
    scratch.packed_by = g.pack_x;
    scratch.packed_m = m;
    scratch.packed_cols = w.cols;
  }
  uint8_t* xp = scratch.x_converted.data();
  PackedGemmArgs base;
  base.dtype = w.dtype;
  base.w = static_cast<const uint8_t*>(w.data);
  base.group_bytes = packed_group_bytes(w.dtype, w.cols);
  base.k = w.cols;
  base.rows = w.rows;
  base.x = xp;
  base.x_row_bytes = xrb;
  base.y = y;
  base.ldy = w.rows;
  base.stream_pairs = g.stream_pairs;
  // (AMX-BF16 measured the same with 64, 128, 256 and 512 tokens per pass on a 512-token
  // prefill, all within the host's noise.)
  const int64_t tok_block = packed_token_block(m);
  pool.parallel_for(packed_groups(w.rows), 1, [&](int, int64_t g0, int64_t g1) {
    PackedGemmArgs a = base;
    a.group_begin = g0;
    a.group_end = g1;
    for (int64_t t0 = 0; t0 < m; t0 += tok_block) {
      a.tok_begin = t0;
      a.tok_end = std::min(m, t0 + tok_block);
      g.run(a);
    }
  });
}

}  // namespace

int64_t packed_token_block(int64_t m) {
  if (m <= kPackedTokenBlockMax) return std::max<int64_t>(m, 1);
  const int64_t passes = (m + kPackedTokenBlockMax - 1) / kPackedTokenBlockMax;
  const int64_t per_pass = (m + passes - 1) / passes;
  return (per_pass + kTokenTile - 1) / kTokenTile * kTokenTile;
}

namespace {

void matmul_one(const CpuOps& ops, core::ThreadPool& pool, const WeightView& w, const float* x,
                int64_t m, float* y, MatmulScratch& scratch, bool reuse_x) {
  const TypeOps& wt = ops.type(w.dtype);
  if (w.packed) {
    SARATHI_CHECK(wt.packed.run != nullptr, "{} ops have no path for packed {} weights",
                  isa_name(ops.isa), core::dtype_name(w.dtype));
    matmul_packed(wt.packed, pool, w, x, m, y, scratch, reuse_x);
    return;
  }
  scratch.packed_by = nullptr;
  if (wt.gemm.run != nullptr) {
    matmul_gemm(wt.gemm, pool, w, x, m, y, scratch);
    return;
  }
  const core::DType xt = wt.vec_dot_type;
  const auto x_row_bytes = core::dtype_row_bytes(xt, w.cols);
  SARATHI_CHECK(x_row_bytes.has_value(), "cols {} not a multiple of {}'s block", w.cols,
                core::dtype_name(xt));
  const uint8_t* xq = reinterpret_cast<const uint8_t*>(x);
  if (xt != core::DType::kF32) {
    const size_t need = *x_row_bytes * static_cast<size_t>(m);
    if (scratch.x_converted.size() < need) scratch.x_converted.resize(need);
    const FromFloatFn convert = ops.type(xt).from_float;
    uint8_t* dst = scratch.x_converted.data();
    pool.parallel_for(m, 1, [&](int, int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        convert(x + i * w.cols, dst + static_cast<size_t>(i) * *x_row_bytes, w.cols);
    });
    xq = dst;
  }
  const auto* wbase = static_cast<const uint8_t*>(w.data);
  const VecDotFn dot = wt.vec_dot;
  const size_t xrb = *x_row_bytes;
  pool.parallel_for(w.rows, kRowTile, [&](int, int64_t r0, int64_t r1) {
    for (int64_t rt = r0; rt < r1; rt += kRowTile) {
      const int64_t rt_end = std::min(r1, rt + kRowTile);
      for (int64_t i = 0; i < m; ++i) {
        const uint8_t* xr = xq + static_cast<size_t>(i) * xrb;
        float* yr = y + i * w.rows;
        for (int64_t r = rt; r < rt_end; ++r)
          yr[r] = dot(w.cols, wbase + static_cast<size_t>(r) * w.row_bytes, xr);
      }
    }
  });
}

}  // namespace

void matmul(const CpuOps& ops, core::ThreadPool& pool, const WeightView& w, const float* x,
            int64_t m, float* y, MatmulScratch& scratch) {
  matmul_one(ops, pool, w, x, m, y, scratch, false);
}

void matmul_shared_x(const CpuOps& ops, core::ThreadPool& pool,
                     std::initializer_list<MatmulTarget> targets, const float* x, int64_t m,
                     MatmulScratch& scratch) {
  bool first = true;
  for (const MatmulTarget& t : targets) {
    matmul_one(ops, pool, *t.w, x, m, t.y, scratch, !first);
    first = false;
  }
}

void matmul_ref(const CpuOps& ops, const WeightView& w, const float* x, int64_t m, float* y) {
  SARATHI_CHECK(!w.packed, "matmul_ref needs the GGML layout");
  std::vector<float> row(static_cast<size_t>(w.cols));
  const auto* wbase = static_cast<const uint8_t*>(w.data);
  for (int64_t r = 0; r < w.rows; ++r) {
    ops.type(w.dtype).to_float(wbase + static_cast<size_t>(r) * w.row_bytes, row.data(), w.cols);
    for (int64_t i = 0; i < m; ++i) {
      double s = 0.0;
      for (int64_t c = 0; c < w.cols; ++c)
        s += static_cast<double>(row[static_cast<size_t>(c)]) * x[i * w.cols + c];
      y[i * w.rows + r] = static_cast<float>(s);
    }
  }
}

}  // namespace sarathi::kernels
