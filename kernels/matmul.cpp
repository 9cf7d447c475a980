#include "kernels/matmul.h"

#include <algorithm>

#include "core/check.h"

namespace sarathi::kernels {

namespace {
constexpr int64_t kRowTile = 16;  // weight rows kept hot in cache while all tokens pass over them
}

void matmul(const CpuOps& ops, core::ThreadPool& pool, const WeightView& w, const float* x,
            int64_t m, float* y, MatmulScratch& scratch) {
  const TypeOps& wt = ops.type(w.dtype);
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

void matmul_ref(const CpuOps& ops, const WeightView& w, const float* x, int64_t m, float* y) {
  std::vector<float> row(static_cast<size_t>(w.cols));
  const auto* wbase = static_cast<const uint8_t*>(w.data);
  for (int64_t r = 0; r < w.rows; ++r) {
    ops.type(w.dtype).to_float(wbase + static_cast<size_t>(r) * w.row_bytes, row.data(), w.cols);
    for (int64_t i = 0; i < m; ++i) {
      double s = 0.0;
      for (int64_t c = 0; c < w.cols; ++c) s += static_cast<double>(row[static_cast<size_t>(c)]) * x[i * w.cols + c];
      y[i * w.rows + r] = static_cast<float>(s);
    }
  }
}

}  // namespace sarathi::kernels
