// The register-blocked matmul paths (GemmOps): against the dequantize-then-double reference on
// odd shapes (row and token tails, an odd number of blocks, element tails), and batch
// invariance: every output is bit-identical to the same token computed alone, whatever the
// batch size, its place in the batch and the thread split.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"

namespace sarathi::kernels {
namespace {

using core::DType;

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

struct Case {
  DType dtype;
  int64_t cols;
};

// Columns: an odd number of 32-blocks for the q8 paths; an element tail for the float paths.
const Case kCases[] = {{DType::kF32, 83},   {DType::kF32, 256},  {DType::kF16, 77},
                       {DType::kF16, 160},  {DType::kBF16, 71},  {DType::kBF16, 192},
                       {DType::kQ8_0, 224}, {DType::kQ8_0, 256}, {DType::kQ4_0, 160},
                       {DType::kQ4_0, 32},  {DType::kQ4_K, 256}, {DType::kQ4_K, 768},
                       {DType::kQ6_K, 256}, {DType::kQ6_K, 512}};

std::vector<Isa> gemm_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx})
    if (isa_supported(isa)) out.push_back(isa);
  return out;
}

struct Weights {
  std::vector<uint8_t> bytes;
  WeightView view;
};

Weights make_weights(const CpuOps& ops, DType dt, int64_t rows, int64_t cols, uint32_t seed) {
  Weights w;
  const size_t rb = *core::dtype_row_bytes(dt, cols);
  w.bytes.resize(rb * static_cast<size_t>(rows));
  const auto wf = randn(static_cast<size_t>(rows * cols), seed, 0.1f);
  for (int64_t r = 0; r < rows; ++r)
    ops.type(dt).from_float(wf.data() + r * cols, w.bytes.data() + static_cast<size_t>(r) * rb,
                            cols);
  w.view = WeightView{dt, w.bytes.data(), rows, cols, rb};
  return w;
}

TEST(Gemm, MatchesReferenceOnOddShapes) {
  core::ThreadPool pool(2);
  for (Isa isa : gemm_isas()) {
    const CpuOps& ops = cpu_ops_for(isa);
    for (const Case& c : kCases) {
      const Weights w = make_weights(ops, c.dtype, 23, c.cols, 11);
      for (int64_t m : {1, 3, 4, 7, 70}) {
        const auto x = randn(static_cast<size_t>(m * c.cols), 12);
        std::vector<float> y(static_cast<size_t>(m * 23)), yr(y.size());
        MatmulScratch s;
        matmul(ops, pool, w.view, x.data(), m, y.data(), s);
        matmul_ref(ops, w.view, x.data(), m, yr.data());
        double scale = 0;
        for (float v : yr) scale = std::max(scale, double(std::fabs(v)));
        // Activation rounding: f16 2^-11, bf16 2^-8, q8 ~1/254 of |x|max per element.
        const double rel = c.dtype == DType::kF32    ? 1e-5
                           : c.dtype == DType::kF16  ? 2e-3
                           : c.dtype == DType::kBF16 ? 1.5e-2
                                                     : 3e-2;
        for (size_t i = 0; i < y.size(); ++i)
          ASSERT_NEAR(y[i], yr[i], rel * scale) << isa_name(isa) << " " << core::dtype_name(c.dtype)
                                                << " cols=" << c.cols << " m=" << m << " i=" << i;
      }
    }
  }
}

TEST(Gemm, BatchInvariant) {
  core::ThreadPool pool2(2);
  core::ThreadPool pool1(1);
  constexpr int64_t kRows = 37;
  for (Isa isa : gemm_isas()) {
    const CpuOps& ops = cpu_ops_for(isa);
    for (const Case& c : kCases) {
      const Weights w = make_weights(ops, c.dtype, kRows, c.cols, 21);
      constexpr int64_t kM = 75;  // more than one token block, with a token tail
      const auto x = randn(static_cast<size_t>(kM * c.cols), 22);
      std::vector<float> y(static_cast<size_t>(kM * kRows));
      MatmulScratch s;
      matmul(ops, pool2, w.view, x.data(), kM, y.data(), s);
      std::vector<float> alone(kRows);
      for (int64_t t : {int64_t{0}, int64_t{1}, int64_t{5}, int64_t{66}, kM - 1}) {
        matmul(ops, pool1, w.view, x.data() + t * c.cols, 1, alone.data(), s);
        for (int64_t r = 0; r < kRows; ++r)
          ASSERT_EQ(y[static_cast<size_t>(t * kRows + r)], alone[static_cast<size_t>(r)])
              << isa_name(isa) << " " << core::dtype_name(c.dtype) << " token " << t << " row "
              << r;
      }
      // A window of 3 tokens starting at an odd place: different tile positions.
      std::vector<float> win(static_cast<size_t>(3 * kRows));
      matmul(ops, pool2, w.view, x.data() + 9 * c.cols, 3, win.data(), s);
      for (size_t i = 0; i < win.size(); ++i)
        ASSERT_EQ(win[i], y[static_cast<size_t>(9 * kRows) + i])
            << isa_name(isa) << " " << core::dtype_name(c.dtype) << " i=" << i;
    }
  }
}

TEST(Gemm, SimdTablesHaveBatchedPaths) {
  if (!isa_supported(Isa::kAvx512)) GTEST_SKIP() << "no AVX-512";
  const CpuOps& ops = cpu_ops_for(Isa::kAvx512);
  for (DType dt : {DType::kF32, DType::kF16, DType::kQ8_0, DType::kQ4_0, DType::kQ6_K})
    EXPECT_NE(ops.type(dt).gemm.run, nullptr) << core::dtype_name(dt);
}

}  // namespace
}  // namespace sarathi::kernels
