// The SIMD attention (CpuOps::attend), SwiGLU, RMSNorm and kv_store against the scalar versions
// on every ISA this machine has: random caches with scattered blocks, grouped-query heads, head
// dims with and without a 16-lane tail, and batch invariance of attention.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "core/thread_pool.h"
#include "kernels/ops.h"
#include "kernels/peak.h"

namespace sarathi::kernels {
namespace {

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<Isa> isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx})
    if (isa_supported(isa)) out.push_back(isa);
  return out;
}

// The instruction-peak loops of `bench roofline`: every loop this CPU has runs and counts its
// operations (multiply-adds x 2 per iteration: 12 vector chains, or 4 tile products).
TEST(SimdOps, PeakLoopsRunAndCount) {
  const auto ops = peak_ops_supported();
  if (isa_supported(Isa::kAvx2)) {
    ASSERT_FALSE(ops.empty());
    EXPECT_EQ(ops.front(), PeakOp::kFmaYmm);
  }
  for (PeakOp op : ops) {
    SCOPED_TRACE(std::string(peak_op_name(op)));
    double per_iter = 0;
    switch (op) {
      case PeakOp::kFmaYmm:
        per_iter = 12 * 8 * 2;
        break;
      case PeakOp::kFmaZmm:
        per_iter = 12 * 16 * 2;
        break;
      case PeakOp::kVnniZmm:
        per_iter = 12 * 64 * 2;
        break;
      case PeakOp::kBf16Zmm:
        per_iter = 12 * 32 * 2;
        break;
      case PeakOp::kAmxBf16:
        per_iter = 4 * 16 * 16 * 32 * 2;
        break;
      case PeakOp::kAmxInt8:
        per_iter = 4 * 16 * 16 * 64 * 2;
        break;
    }
    EXPECT_EQ(peak_loop(op, 1000), 1000 * per_iter);
  }
}

TEST(SimdOps, SwigluMatchesScalar) {
  for (Isa isa : isas()) {
    const CpuOps& ops = cpu_ops_for(isa);
    if (ops.swiglu == nullptr) continue;
    for (int64_t n : {1, 15, 16, 33, 1000}) {
      auto g = randn(static_cast<size_t>(n), 3, 4.0f);
      if (n > 2) {
        g[0] = -100.0f;  // exp(-g) beyond f32 range: silu -> -0
        g[1] = 100.0f;
      }
      const auto u = randn(static_cast<size_t>(n), 4);
      std::vector<float> y(g.size()), yr(g.size());
      ops.swiglu(g.data(), u.data(), y.data(), n);
      swiglu(g.data(), u.data(), yr.data(), n);
      for (size_t i = 0; i < y.size(); ++i) {
        ASSERT_TRUE(std::isfinite(y[i])) << isa_name(isa) << " i=" << i;
        // A few ulps of the exp and the division.
        ASSERT_NEAR(y[i], yr[i], 1e-6 * (std::fabs(yr[i]) + 1e-30)) << isa_name(isa) << " i=" << i;
      }
    }
  }
}

// GeLU (tanh approximation) times up per ISA against kernels::gelu_mul: lengths with vector
// tails, large |x| (tanh saturates), in place.
TEST(SimdOps, GeluMatchesScalar) {
  for (Isa isa : isas()) {
    const CpuOps& ops = cpu_ops_for(isa);
    if (ops.gelu == nullptr) continue;
    for (int64_t n : {1, 7, 8, 33, 1000}) {
      auto g = randn(static_cast<size_t>(n), 5, 3.0f);
      if (n > 2) {
        g[0] = -60.0f;
        g[1] = 60.0f;
      }
      const auto u = randn(static_cast<size_t>(n), 6);
      std::vector<float> yr(g.size());
      gelu_mul(g.data(), u.data(), yr.data(), n);
      std::vector<float> y = g;
      ops.gelu(y.data(), u.data(), y.data(), n);  // in place
      for (size_t i = 0; i < y.size(); ++i) {
        ASSERT_TRUE(std::isfinite(y[i])) << isa_name(isa) << " i=" << i;
        // tanh as 1 - 2 / (e^2x + 1): a few ulps of 1 where gelu(x) ~ x / 2.
        ASSERT_NEAR(y[i], yr[i], 1e-6 * (std::fabs(g[i] * u[i]) + 1e-30)) << isa_name(isa) << " i=" << i;
      }
    }
  }
}

// RMSNorm per ISA against kernels::rms_norm: rows of odd and vector lengths, in place and not,
// values spanning orders of magnitude; only the order of the double sum of squares differs.
TEST(SimdOps, RmsNormMatchesScalar) {
  for (Isa isa : isas()) {
    const CpuOps& ops = cpu_ops_for(isa);
    if (ops.rms_norm == nullptr) continue;
    for (int64_t n : {1, 15, 16, 33, 2048}) {
      const int64_t rows = 3;
      auto x = randn(static_cast<size_t>(rows * n), 7, 3.0f);
      x[0] = 1e4f;
      const auto w = randn(static_cast<size_t>(n), 8);
      std::vector<float> y(x.size()), yr(x.size());
      ops.rms_norm(x.data(), w.data(), y.data(), rows, n, 1e-5f);
      rms_norm(x.data(), w.data(), yr.data(), rows, n, 1e-5f);
      for (size_t i = 0; i < y.size(); ++i)
        ASSERT_NEAR(y[i], yr[i], 1e-6 * std::fabs(yr[i]) + 1e-30) << isa_name(isa) << " n=" << n;
      std::vector<float> inplace = x;
      ops.rms_norm(inplace.data(), w.data(), inplace.data(), rows, n, 1e-5f);
      ASSERT_EQ(inplace, y) << isa_name(isa) << " n=" << n;
    }
  }
}

// kv_store with an op table's f16 conversion writes the same bits as the scalar one.
TEST(SimdOps, KvStoreMatchesScalar) {
  for (Isa isa : isas()) {
    const int32_t kv_heads = 2, hd = 72, bs = 16, nblocks = 4, num = 37;
    std::vector<uint16_t> k1(static_cast<size_t>(nblocks * bs * kv_heads * hd)), v1(k1.size());
    std::vector<uint16_t> k2(k1.size()), v2(k1.size());
    PagedKvLayer a{k1.data(), v1.data(), core::DType::kF16, nblocks, bs, kv_heads, hd};
    PagedKvLayer b{k2.data(), v2.data(), core::DType::kF16, nblocks, bs, kv_heads, hd};
    const std::vector<int32_t> table = {2, 0, 3};
    auto k = randn(static_cast<size_t>(num * kv_heads * hd), 9, 100.0f);
    const auto v = randn(k.size(), 10);
    k[5] = 1e6f;   // rounds to inf
    k[6] = 3e-8f;  // f16 subnormal
    kv_store(cpu_ops_for(isa), a, table.data(), 3, num, k.data(), v.data());
    kv_store(cpu_ops_for(Isa::kScalar), b, table.data(), 3, num, k.data(), v.data());
    EXPECT_EQ(k1, k2) << isa_name(isa);
    EXPECT_EQ(v1, v2) << isa_name(isa);
  }
}

struct AttnCase {
  core::DType dtype;
  int32_t kv_heads, heads, head_dim, block_size;
};

TEST(SimdOps, AttentionMatchesScalarAndIsBatchInvariant) {
  const AttnCase cases[] = {{core::DType::kF16, 4, 32, 64, 16},
                            {core::DType::kF32, 2, 6, 8, 4},
                            {core::DType::kF16, 1, 3, 72, 5},
                            {core::DType::kF32, 3, 3, 40, 16}};
  core::ThreadPool pool(2);
  for (const AttnCase& c : cases) {
    const int32_t nblocks = 96;
    const size_t elems = static_cast<size_t>(nblocks * c.block_size * c.kv_heads * c.head_dim);
    std::vector<uint16_t> kbuf(elems * 2), vbuf(elems * 2);
    PagedKvLayer kv{kbuf.data(),  vbuf.data(), c.dtype,   nblocks,
                    c.block_size, c.kv_heads,  c.head_dim};
    // Three sequences: a decode at context 37, a chunk of 20 after 50 cached, a fresh chunk of 9.
    struct Seq {
      int32_t first, num;
      std::vector<int32_t> table;
    };
    std::vector<Seq> seqs = {{36, 1, {}}, {50, 20, {}}, {0, 9, {}}};
    int32_t next_block = nblocks - 1;
    uint32_t seed = 40;
    for (auto& s : seqs) {
      const int32_t total = s.first + s.num;
      for (int32_t b = 0; b < (total + c.block_size - 1) / c.block_size; ++b)
        s.table.push_back(next_block--);
      const auto k = randn(static_cast<size_t>(total * c.kv_heads * c.head_dim), seed++);
      const auto v = randn(static_cast<size_t>(total * c.kv_heads * c.head_dim), seed++);
      kv_store(kv, s.table.data(), 0, total, k.data(), v.data());
    }
    std::vector<AttnSeq> as;
    int32_t rows = 0;
    for (auto& s : seqs) {
      as.push_back({rows, s.num, s.first, s.table.data()});
      rows += s.num;
    }
    const size_t width = static_cast<size_t>(c.heads * c.head_dim);
    const auto q = randn(static_cast<size_t>(rows) * width, 99);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    AttnScratch scratch;
    std::vector<float> ref(q.size());
    attention(cpu_ops_for(Isa::kScalar), kv, as, q.data(), c.heads, scale, ref.data(), pool,
              scratch);
    for (Isa isa : isas()) {
      const CpuOps& ops = cpu_ops_for(isa);
      std::vector<float> out(q.size());
      attention(ops, kv, as, q.data(), c.heads, scale, out.data(), pool, scratch);
      // f16: Q and P are rounded to f16 in both; a probability near a rounding boundary may
      // round the other way after a different summation order: one f16 ulp of P times |V|.
      const double tol = c.dtype == core::DType::kF16 ? 2e-3 : 2e-5;
      for (size_t i = 0; i < out.size(); ++i)
        ASSERT_NEAR(out[i], ref[i], tol) << isa_name(isa) << " hd=" << c.head_dim << " i=" << i;
      // Batch invariance: the chunk's rows alone equal the same rows in the mixed call.
      std::vector<AttnSeq> alone = {{0, seqs[1].num, seqs[1].first, seqs[1].table.data()}};
      std::vector<float> out1(static_cast<size_t>(seqs[1].num) * width);
      attention(ops, kv, alone, q.data() + static_cast<size_t>(as[1].q_begin) * width, c.heads,
                scale, out1.data(), pool, scratch);
      for (size_t i = 0; i < out1.size(); ++i)
        ASSERT_EQ(out1[i], out[static_cast<size_t>(as[1].q_begin) * width + i])
            << isa_name(isa) << " i=" << i;
    }
  }
}

}  // namespace
}  // namespace sarathi::kernels
