// The interleaved (packed) q8_0 / q4_0 matmul: the AVX-512 VNNI and AMX kernels must equal the
// scalar oracle of kernels/packed.h bit for bit on odd shapes (row groups with padding, an odd
// number of blocks, token tails around the 4-token VNNI tiles and the 16-token AMX tiles, one
// and two threads), which also makes every output independent of its batch. The oracle itself
// is checked against the dequantize-then-double reference and against the packed-layout
// scalar kernel.
#include "kernels/packed.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/fp16.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#ifdef SARATHI_AMX_EMULATE
#include "kernels/cpu/amx/packed_gemm.h"
#include "kernels/cpu/avx512/gemm.h"
#endif

namespace sarathi::kernels {
namespace {

using core::DType;

std::vector<float> randn(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

struct Weights {
  std::vector<uint8_t> bytes;
  WeightView view;
};

Weights make_weights(DType dt, int64_t rows, int64_t cols, uint32_t seed) {
  const CpuOps& ref = cpu_ops_for(Isa::kScalar);
  Weights w;
  const size_t rb = *core::dtype_row_bytes(dt, cols);
  w.bytes.resize(rb * static_cast<size_t>(rows));
  const auto wf = randn(static_cast<size_t>(rows * cols), seed, 0.1f);
  for (int64_t r = 0; r < rows; ++r)
    ref.type(dt).from_float(wf.data() + r * cols, w.bytes.data() + static_cast<size_t>(r) * rb,
                            cols);
  w.view = {dt, w.bytes.data(), rows, cols, rb};
  return w;
}

// Op tables with a packed path: every ISA table that has one, plus the AMX tile kernels
// (kernels::amx_tile_packed_ops) in a copy of the AMX table.
struct NamedOps {
  std::string name;
  CpuOps ops;
};
#ifdef SARATHI_AMX_EMULATE
// amx_emulate_test: the tile kernels over the software tile unit (tests/kernels/amx_emulate.h),
// in copies of the AVX-512 table (their AVX-512 code needs AVX512-BF16).
bool emulation_runs() {
  return isa_supported(Isa::kAvx512) && cpu_ops_for(Isa::kAvx512).bf16.gemm.run != nullptr;
}

std::vector<NamedOps> packed_tables() {
  std::vector<NamedOps> out;
  if (!emulation_runs()) return out;
  CpuOps o = cpu_ops_for(Isa::kAvx512);
  o.q8_0.packed.run = amx::packed_gemm_q8_0;
  o.q4_0.packed.run = amx::packed_gemm_q4_0;
  o.bf16.packed = {avx512::pack_x_packed_bf16, amx::packed_gemm_bf16};
  out.push_back({"emulated-amx-tiles", o});
  return out;
}
#else
std::vector<NamedOps> packed_tables() {
  std::vector<NamedOps> out;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx})
    if (isa_supported(isa) && cpu_ops_for(isa).q8_0.packed.run != nullptr)
      out.push_back({std::string(isa_name(isa)), cpu_ops_for(isa)});
  if (isa_supported(Isa::kAvx512)) {
    // The decode streaming this CPU does not use by default (two groups per thread with
    // prefetch, or one sequential stream), so both paths run on every AVX-512 CPU.
    CpuOps other = cpu_ops_for(Isa::kAvx512);
    const bool pairs = !other.q4_k.packed.stream_pairs;
    for (TypeOps* t : {&other.q8_0, &other.q4_0, &other.q4_k, &other.q5_k, &other.q6_k})
      t->packed.stream_pairs = pairs;
    out.push_back({pairs ? "avx512-stream-pairs" : "avx512-one-stream", other});
  }
  if (isa_supported(Isa::kAmx)) {
    CpuOps tiles = cpu_ops_for(Isa::kAmx);
    tiles.q8_0.packed = amx_tile_packed_ops(DType::kQ8_0);
    tiles.q4_0.packed = amx_tile_packed_ops(DType::kQ4_0);
    out.push_back({"amx-tiles", tiles});
  }
  return out;
}
#endif

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct Shape {
  int64_t rows;
  int64_t cols;
};
const Shape kShapes[] = {{1, 32}, {16, 96}, {33, 64}, {50, 224}, {64, 256}, {130, 160}};
// q4_K rows are whole 256-element super-blocks.
const Shape kShapesK[] = {{1, 256}, {16, 512}, {33, 256}, {50, 768}, {130, 512}};
std::vector<Shape> shapes_for(DType dt) {
  if (dt == DType::kQ4_K || dt == DType::kQ5_K || dt == DType::kQ6_K)
    return {std::begin(kShapesK), std::end(kShapesK)};
  return {std::begin(kShapes), std::end(kShapes)};
}
const int64_t kTokenCounts[] = {1, 2, 3, 4, 5, 7, 15, 16, 17, 33, 48, 70};

TEST(PackedLayout, SizesAndOffsets) {
  EXPECT_TRUE(packable(DType::kQ8_0));
  EXPECT_TRUE(packable(DType::kQ4_0));
  EXPECT_TRUE(packable(DType::kQ4_K));
  EXPECT_TRUE(packable(DType::kQ5_K));
  EXPECT_TRUE(packable(DType::kQ6_K));
  EXPECT_FALSE(packable(DType::kF16));
  EXPECT_FALSE(packable(DType::kQ3_K));
  // q5_K: q4_K's 320 header bytes, then per sub-block 64 bytes of fifth bits and 256 of nibbles.
  EXPECT_EQ(packed_group_bytes(DType::kQ5_K, 512), 2 * (320u + 8 * (64 + 256)));
  EXPECT_EQ(q5k_nibbles_off(7) + 256, kQ5KSuperBytes);
  EXPECT_EQ(packed_x_bytes(DType::kQ5_K, 512), packed_x_bytes(DType::kQ4_K, 512));
  EXPECT_EQ(packed_group_bytes(DType::kQ6_K, 256), 16 * sizeof(core::BlockQ6_K));
  // q4_K: 320 bytes of scales and mins, then 16 rows x 128 bytes of nibbles per super-block,
  // about GGML's 16 x 144 bytes.
  EXPECT_EQ(packed_group_bytes(DType::kQ4_K, 512), 2 * (320u + 16 * 128));
  EXPECT_EQ(kQ4KQuantsOff, 320u);
  EXPECT_EQ(packed_x_bytes(DType::kQ4_K, 512), 576u);
  EXPECT_EQ(packed_groups(1), 1);
  EXPECT_EQ(packed_groups(16), 1);
  EXPECT_EQ(packed_groups(17), 2);
  // Pairs of blocks: 64 bytes of scales, then two blocks of quants; bytes match GGML's per block.
  EXPECT_EQ(packed_group_bytes(DType::kQ8_0, 64), 64u + 2 * 512);
  EXPECT_EQ(packed_group_bytes(DType::kQ8_0, 96), 2 * (64u + 2 * 512));
  EXPECT_EQ(packed_group_bytes(DType::kQ4_0, 2048), 32 * (64u + 2 * 256));
  EXPECT_EQ(packed_group_bytes(DType::kQ8_0, 2048), 16 * 64 * sizeof(core::BlockQ8_0));
  EXPECT_EQ(packed_quants_offset(DType::kQ4_0, 3), 576u + 64 + 256);
  EXPECT_EQ(packed_scales_offset(DType::kQ4_0, 3), 576u + 32);
  EXPECT_EQ(packed_x_bytes(96) % 64, 0u);
  // Activation rows are an odd number of 64-byte lines (bf16 at k = 2048 would be 4096 bytes,
  // every row of a tile in one L1 set).
  EXPECT_EQ(packed_x_bytes(DType::kBF16, 2048), 4096u + 64);
  EXPECT_EQ(packed_x_bytes(64) / 64 % 2, 1u);
  EXPECT_EQ(packed_x_bytes(2048), 2560u + 64);
  EXPECT_EQ(packed_x_bytes(DType::kQ6_K, 2048) / 64 % 2, 1u);
  // bf16: 1024 bytes per 32-element block (k padded), activations padded to 32 elements.
  EXPECT_TRUE(packable(DType::kBF16));
  EXPECT_EQ(packed_group_bytes(DType::kBF16, 64), 2048u);
  EXPECT_EQ(packed_group_bytes(DType::kBF16, 33), 2048u);
  EXPECT_EQ(packed_x_bytes(DType::kBF16, 33), 192u);
  EXPECT_EQ(packed_x_bytes(DType::kQ8_0, 96), packed_x_bytes(96));
}

// bf16 packing puts element e of row n where TDPBF16PS reads it: block e / 32, pair row
// (e % 32) / 2, column n, half e % 2 (checked on odd widths, padding zero).
TEST(PackedLayout, Bf16ElementPositions) {
  for (int64_t cols : {1, 31, 33, 70}) {
    const int64_t rows = 19;
    std::vector<uint16_t> src(static_cast<size_t>(rows * cols));
    for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint16_t>(i + 1);
    const WeightView w{DType::kBF16, src.data(), rows, cols, static_cast<size_t>(cols) * 2};
    AlignedBuffer buf;
    const WeightView p = pack_weight(w, buf);
    ASSERT_TRUE(p.packed);
    const size_t gb = packed_group_bytes(DType::kBF16, cols);
    const auto* bytes = static_cast<const uint8_t*>(p.data);
    size_t nonzero = 0;
    for (size_t i = 0; i < static_cast<size_t>(packed_groups(rows)) * gb / 2; ++i) {
      uint16_t v = 0;
      std::memcpy(&v, bytes + 2 * i, 2);
      nonzero += v != 0;
    }
    EXPECT_EQ(nonzero, src.size()) << "cols=" << cols;  // padding is zero, nothing lost
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t e = 0; e < cols; ++e) {
        const size_t off = static_cast<size_t>(r / 16) * gb + static_cast<size_t>(e / 32) * 1024 +
                           static_cast<size_t>((e % 32) / 2) * 64 +
                           static_cast<size_t>(r % 16) * 4 + static_cast<size_t>(e % 2) * 2;
        uint16_t v = 0;
        std::memcpy(&v, bytes + off, 2);
        ASSERT_EQ(v, src[static_cast<size_t>(r * cols + e)]) << "row " << r << " element " << e;
      }
    }
  }
}

// The oracle (GGML layout in, no packing code involved) against the f64 reference, and the
// scalar kernel over the packed layout against the oracle (this checks the packing).
TEST(PackedOracle, MatchesReferenceAndPackedScalarKernel) {
  const CpuOps& ref = cpu_ops_for(Isa::kScalar);
  for (DType dt :
       {DType::kQ8_0, DType::kQ4_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kBF16}) {
    for (const Shape& s : shapes_for(dt)) {
      SCOPED_TRACE(std::string(core::dtype_name(dt)) + " " + std::to_string(s.rows) + "x" +
                   std::to_string(s.cols));
      const Weights w = make_weights(dt, s.rows, s.cols, 11);
      const int64_t m = 5;
      const auto x = randn(static_cast<size_t>(m * s.cols), 12, 1.0f);
      std::vector<float> oracle(static_cast<size_t>(m * s.rows));
      std::vector<float> exact(oracle.size());
      packed_matmul_oracle(w.view, x.data(), m, oracle.data());
      matmul_ref(ref, w.view, x.data(), m, exact.data());
      for (size_t i = 0; i < oracle.size(); ++i) {
        // q8_0 activations: about 1/254 of each block's largest value per element; bf16
        // activations 1/256 of each element.
        const float tol = 0.005f * std::sqrt(static_cast<float>(s.cols)) + 1e-3f;
        ASSERT_NEAR(oracle[i], exact[i], tol) << "output " << i;
      }

      AlignedBuffer buf;
      const WeightView p = pack_weight(w.view, buf);
      ASSERT_TRUE(p.packed);
      const size_t xrb = packed_x_bytes(dt, s.cols);
      std::vector<uint8_t> xp(xrb * static_cast<size_t>(m));
      for (int64_t t = 0; t < m; ++t)
        pack_x_ref(dt, x.data() + t * s.cols, xp.data() + static_cast<size_t>(t) * xrb, s.cols);
      std::vector<float> y(oracle.size(), -1.0f);
      PackedGemmArgs a;
      a.dtype = dt;
      a.w = static_cast<const uint8_t*>(p.data);
      a.group_bytes = packed_group_bytes(dt, s.cols);
      a.k = s.cols;
      a.rows = s.rows;
      a.x = xp.data();
      a.x_row_bytes = xrb;
      a.y = y.data();
      a.ldy = s.rows;
      a.group_begin = 0;
      a.group_end = packed_groups(s.rows);
      a.tok_begin = 0;
      a.tok_end = m;
      packed_gemm_ref(a);
      EXPECT_TRUE(bit_equal(y, oracle));
    }
  }
}

TEST(PackedKernels, PackXMatchesReference) {
  for (const NamedOps& t : packed_tables()) {
    const CpuOps& ops = t.ops;
    for (DType dt :
         {DType::kQ8_0, DType::kQ4_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kBF16}) {
      if (ops.type(dt).packed.pack_x == nullptr) continue;
      const std::vector<int64_t> widths = dt == DType::kQ4_K || dt == DType::kQ5_K ||
                                                  dt == DType::kQ6_K
                                              ? std::vector<int64_t>{256, 768, 2048}
                                              : std::vector<int64_t>{32, 96, 2048};
      for (int64_t k : widths) {
        auto x = randn(static_cast<size_t>(k), 5, 3.0f);
        // A block of zeros (scale 0) and one with a huge outlier (quants of 0 and +-127).
        if (k >= 96) {
          std::fill(x.begin() + 32, x.begin() + 64, 0.0f);
          x[70] = -3e30f;
        }
        const size_t bytes = packed_x_bytes(dt, k);
        std::vector<uint8_t> want(bytes, 0xaa), got(bytes, 0x55);
        pack_x_ref(dt, x.data(), want.data(), k);
        ops.type(dt).packed.pack_x(x.data(), got.data(), k);
        EXPECT_EQ(want, got) << t.name << " " << core::dtype_name(dt) << " k=" << k;
      }
    }
  }
}

// Every ISA's kernels equal the oracle bit for bit, for every batch size and thread count.
TEST(PackedKernels, BitEqualToOracleOnEveryIsa) {
  const auto tables = packed_tables();
  if (tables.empty()) GTEST_SKIP() << "no ISA with a packed matmul on this CPU";
  core::ThreadPool pool1(1);
  core::ThreadPool pool2(2);
  for (const NamedOps& t : tables) {
    const CpuOps& ops = t.ops;
    for (DType dt : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
      for (const Shape& s : shapes_for(dt)) {
        const Weights w = make_weights(dt, s.rows, s.cols, 21);
        AlignedBuffer buf;
        const WeightView p = pack_weight(w.view, buf);
        const int64_t max_m = 70;
        const auto x = randn(static_cast<size_t>(max_m * s.cols), 22, 1.0f);
        std::vector<float> oracle(static_cast<size_t>(max_m * s.rows));
        packed_matmul_oracle(w.view, x.data(), max_m, oracle.data());
        for (int64_t m : kTokenCounts) {
          for (core::ThreadPool* pool : {&pool1, &pool2}) {
            SCOPED_TRACE(t.name + " " + std::string(core::dtype_name(dt)) + " " +
                         std::to_string(s.rows) + "x" + std::to_string(s.cols) + " m=" +
                         std::to_string(m) + " threads=" + std::to_string(pool->num_threads()));
            MatmulScratch scratch;
            std::vector<float> y(static_cast<size_t>(m * s.rows), -7.0f);
            // The batch starts at a varying token of x, so tokens sit at every tile position.
            const int64_t first = (max_m - m) / 2;
            matmul(ops, *pool, p, x.data() + first * s.cols, m, y.data(), scratch);
            const std::vector<float> want(oracle.begin() + first * s.rows,
                                          oracle.begin() + (first + m) * s.rows);
            ASSERT_TRUE(bit_equal(y, want));
          }
        }
      }
    }
  }
}

// bf16 (vdpbf16ps on AVX512-BF16, the tile unit on AMX): each output within f32 rounding of
// the double-sum oracle (every product is exact, so the only error is the rounding of at most
// k f32 additions), and the same bits for a token whatever its batch, tile position or thread
// count.
void check_packed_bf16(const CpuOps& ops) {
  ASSERT_NE(ops.bf16.packed.run, nullptr);
  core::ThreadPool pool1(1);
  core::ThreadPool pool2(2);
  const Shape shapes[] = {{1, 1}, {16, 32}, {33, 70}, {50, 224}, {64, 256}, {130, 161}, {40, 2048}};
  for (const Shape& s : shapes) {
    const Weights w = make_weights(DType::kBF16, s.rows, s.cols, 31);
    AlignedBuffer buf;
    const WeightView p = pack_weight(w.view, buf);
    ASSERT_TRUE(p.packed);
    const int64_t max_m = 70;
    const auto x = randn(static_cast<size_t>(max_m * s.cols), 32, 1.0f);
    std::vector<float> oracle(static_cast<size_t>(max_m * s.rows));
    packed_matmul_oracle(w.view, x.data(), max_m, oracle.data());
    // Bound per output: k roundings of partial sums no larger than sum |w x|.
    std::vector<double> magnitude(oracle.size(), 0.0);
    std::vector<float> wf(static_cast<size_t>(s.cols));
    for (int64_t r = 0; r < s.rows; ++r) {
      ops.bf16.to_float(
          static_cast<const uint8_t*>(w.view.data) + static_cast<size_t>(r) * w.view.row_bytes,
          wf.data(), s.cols);
      for (int64_t t = 0; t < max_m; ++t)
        for (int64_t e = 0; e < s.cols; ++e)
          magnitude[static_cast<size_t>(t * s.rows + r)] +=
              std::fabs(static_cast<double>(wf[static_cast<size_t>(e)]) *
                        x[static_cast<size_t>(t * s.cols + e)]);
    }
    std::vector<float> alone(static_cast<size_t>(max_m * s.rows));
    {
      MatmulScratch scratch;
      for (int64_t t = 0; t < max_m; ++t)
        matmul(ops, pool1, p, x.data() + t * s.cols, 1, alone.data() + t * s.rows, scratch);
    }
    for (size_t i = 0; i < alone.size(); ++i) {
      // 1/128 of the bf16 rounding of x in the bound: x is rounded the same way in both.
      const double tol = static_cast<double>(s.cols + 2) * 0x1p-24 * magnitude[i] * 1.01 + 1e-30;
      ASSERT_NEAR(alone[i], oracle[i], tol)
          << s.rows << "x" << s.cols << " output " << i << " magnitude " << magnitude[i];
    }
    for (int64_t m : kTokenCounts) {
      for (core::ThreadPool* pool : {&pool1, &pool2}) {
        SCOPED_TRACE(std::to_string(s.rows) + "x" + std::to_string(s.cols) +
                     " m=" + std::to_string(m) + " threads=" + std::to_string(pool->num_threads()));
        MatmulScratch scratch;
        std::vector<float> y(static_cast<size_t>(m * s.rows), -7.0f);
        const int64_t first = (max_m - m) / 2;
        matmul(ops, *pool, p, x.data() + first * s.cols, m, y.data(), scratch);
        const std::vector<float> want(alone.begin() + first * s.rows,
                                      alone.begin() + (first + m) * s.rows);
        ASSERT_TRUE(bit_equal(y, want));
      }
    }
  }
}

#ifndef SARATHI_AMX_EMULATE  // (kernels_test runs the real kernels)
TEST(PackedKernels, Avx2Bf16MatchesOracleAndIsBatchInvariant) {
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2 on this CPU";
  check_packed_bf16(cpu_ops_for(Isa::kAvx2));
}

TEST(PackedKernels, Avx512Bf16MatchesOracleAndIsBatchInvariant) {
  if (!isa_supported(Isa::kAvx512) || cpu_ops_for(Isa::kAvx512).bf16.gemm.run == nullptr)
    GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  check_packed_bf16(cpu_ops_for(Isa::kAvx512));
}

TEST(PackedKernels, AmxBf16MatchesOracleAndIsBatchInvariant) {
  if (!isa_supported(Isa::kAmx)) GTEST_SKIP() << "no AMX on this CPU";
  check_packed_bf16(cpu_ops_for(Isa::kAmx));
}
#endif

#ifdef SARATHI_AMX_EMULATE
TEST(PackedKernels, EmulatedAmxBf16MatchesOracleAndIsBatchInvariant) {
  if (!emulation_runs()) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  for (const NamedOps& t : packed_tables()) check_packed_bf16(t.ops);
}
#endif

// matmul_shared_x gives each weight exactly what matmul gives it: weights that share the packed
// activations (q8_0 then q8_0), a different packed format between them (q4_0), a weight in the
// GGML layout (which uses the buffer otherwise), and a second call with fewer tokens.
TEST(PackedKernels, SharedActivationsEqualSeparateMatmuls) {
  core::ThreadPool pool(2);
  for (const NamedOps& t : packed_tables()) {
    SCOPED_TRACE(t.name);
    const int64_t cols = 256;
    std::vector<Weights> ws;
    std::vector<AlignedBuffer> bufs(4);
    std::vector<WeightView> views;
    const DType types[] = {DType::kQ8_0, DType::kQ8_0, DType::kQ4_0, DType::kQ8_0};
    for (int i = 0; i < 4; ++i) {
      ws.push_back(make_weights(types[i], 40 + 16 * i, cols, 50 + static_cast<uint32_t>(i)));
      views.push_back(i == 3 ? ws.back().view
                             : pack_weight(ws.back().view, bufs[static_cast<size_t>(i)]));
    }
    const auto x = randn(static_cast<size_t>(20 * cols), 60, 1.0f);
    MatmulScratch shared;
    for (int64_t m : {20, 7}) {
      std::vector<std::vector<float>> got(4), want(4);
      for (size_t i = 0; i < 4; ++i) {
        got[i].assign(static_cast<size_t>(m * views[i].rows), -1.0f);
        want[i].assign(got[i].size(), -2.0f);
        MatmulScratch own;
        matmul(t.ops, pool, views[i], x.data(), m, want[i].data(), own);
      }
      matmul_shared_x(t.ops, pool,
                      {{&views[0], got[0].data()},
                       {&views[1], got[1].data()},
                       {&views[2], got[2].data()},
                       {&views[3], got[3].data()},
                       {&views[0], got[0].data()}},
                      x.data(), m, shared);
      for (size_t i = 0; i < 4; ++i) EXPECT_TRUE(bit_equal(got[i], want[i])) << i << " m=" << m;
    }
  }
}

TEST(PackedKernels, PackedPathsPerIsa) {
  // The scalar table keeps the GGML layout; AVX2 and up pack every integer type and bf16.
  EXPECT_EQ(cpu_ops_for(Isa::kScalar).q8_0.packed.run, nullptr);
  if (isa_supported(Isa::kAvx2)) {
    EXPECT_NE(cpu_ops_for(Isa::kAvx2).q8_0.packed.run, nullptr);
    EXPECT_NE(cpu_ops_for(Isa::kAvx2).q4_0.packed.run, nullptr);
    EXPECT_NE(cpu_ops_for(Isa::kAvx2).q4_k.packed.run, nullptr);
    EXPECT_NE(cpu_ops_for(Isa::kAvx2).q5_k.packed.run, nullptr);
    EXPECT_NE(cpu_ops_for(Isa::kAvx2).q6_k.packed.run, nullptr);
    EXPECT_NE(cpu_ops_for(Isa::kAvx2).bf16.packed.run, nullptr);
  }
  if (isa_supported(Isa::kAvx512)) {
    EXPECT_NE(cpu_ops_for(Isa::kAvx512).q6_k.packed.run, nullptr);
    EXPECT_NE(cpu_ops_for(Isa::kAvx512).q5_k.packed.run, nullptr);
    // Its own VNNI kernel, not the AVX2 one.
    EXPECT_NE(cpu_ops_for(Isa::kAvx512).q5_k.packed.run, cpu_ops_for(Isa::kAvx2).q5_k.packed.run);
  }
}

// q8_0 quants of -128 (which GGML's quantizer never writes but a file may hold) at every
// position, against activations of both signs and the extremes: the AVX2 kernel's |w| * sign
// trick and every other kernel still equal the oracle.
TEST(PackedKernels, Q8ExtremeQuantsBitEqual) {
  const auto tables = packed_tables();
  if (tables.empty()) GTEST_SKIP() << "no ISA with a packed matmul on this CPU";
  const int64_t rows = 19, cols = 96, m = 5;
  const size_t rb = core::dtype_row_bytes(DType::kQ8_0, cols).value();
  std::vector<uint8_t> wbytes(rb * rows);
  std::mt19937 rng(9);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t b = 0; b < cols / 32; ++b) {
      core::BlockQ8_0 blk;
      blk.d = core::f32_to_f16(0.01f * static_cast<float>(1 + (r + b) % 7));
      for (int i = 0; i < 32; ++i) {
        const uint32_t v = rng() % 4;
        const int any = static_cast<int>(rng() % 256) - 128;
        const int q = v == 0 ? -128 : v == 1 ? 127 : v == 2 ? -127 : any;
        blk.qs[i] = static_cast<int8_t>(q);
      }
      const size_t at = static_cast<size_t>(r) * rb + static_cast<size_t>(b) * sizeof(blk);
      uint8_t* dst = wbytes.data() + at;
      std::memcpy(dst, &blk, sizeof(blk));
    }
  }
  const WeightView w{DType::kQ8_0, wbytes.data(), rows, cols, rb};
  AlignedBuffer buf;
  const WeightView p = pack_weight(w, buf);
  ASSERT_TRUE(p.packed);
  std::vector<float> x(static_cast<size_t>(m * cols));
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = (i % 3 == 0 ? -1.0f : 1.0f) * static_cast<float>(1 + i % 32);
  std::vector<float> oracle(static_cast<size_t>(m * rows));
  packed_matmul_oracle(w, x.data(), m, oracle.data());
  core::ThreadPool pool(1);
  for (const NamedOps& t : tables) {
    MatmulScratch scratch;
    std::vector<float> y(oracle.size(), -7.0f);
    matmul(t.ops, pool, p, x.data(), m, y.data(), scratch);
    EXPECT_TRUE(bit_equal(y, oracle)) << t.name;
  }
}

// 4-bit-and-up weights at their largest quants (q4_0 and q4_K 15, q5_K 31, q6_K u = 63) against
// activations whose quants are at their extreme (a constant block: q8_K's are all -128, q8_0's
// -127): the int16 sums the AVX2 kernels keep per block or sub-block reach their bounds
// (30480, 30720, 31744, 32256) without wrapping. Rows mix such blocks, all-zero quants and
// random bytes; scales are random bytes, q6_K's include -128 and 127.
TEST(PackedKernels, Int16SumsOfExtremeQuantsBitEqual) {
  const auto tables = packed_tables();
  if (tables.empty()) GTEST_SKIP() << "no ISA with a packed matmul on this CPU";
  const int64_t rows = 21, cols = 512, m = 5;
  for (const DType t : {DType::kQ4_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    SCOPED_TRACE(std::string(core::dtype_name(t)));
    const size_t rb = core::dtype_row_bytes(t, cols).value();
    const int64_t be = core::dtype_block_size(t);
    const size_t bb = core::dtype_block_bytes(t);
    std::vector<uint8_t> wbytes(rb * rows);
    std::mt19937 rng(11);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t b = 0; b < cols / be; ++b) {
        uint8_t* blk = wbytes.data() + static_cast<size_t>(r) * rb + static_cast<size_t>(b) * bb;
        const int kind = static_cast<int>((r + b) % 3);  // 0: all max, 1: all zero, 2: random
        for (size_t i = 0; i < bb; ++i)
          blk[i] = kind == 0 ? 0xff : kind == 1 ? 0x00 : static_cast<uint8_t>(rng());
        const uint16_t d = core::f32_to_f16(0.001f * static_cast<float>(1 + (r + b) % 5));
        const uint16_t dmin = core::f32_to_f16(0.0005f * static_cast<float>(1 + r % 3));
        if (t == DType::kQ4_0) {
          std::memcpy(blk, &d, 2);
        } else if (t == DType::kQ6_K) {
          auto* q = reinterpret_cast<core::BlockQ6_K*>(blk);
          for (int g = 0; g < core::kQK_K / 16; ++g)
            q->scales[g] = static_cast<int8_t>(g % 3 == 0 ? -128 : g % 3 == 1 ? 127
                                                                   : static_cast<int>(rng() % 256) - 128);
          q->d = d;
        } else {
          // d, dmin first in both; the scale bytes stay random (any 6-bit fields are valid).
          std::memcpy(blk, &d, 2);
          std::memcpy(blk + 2, &dmin, 2);
          for (int i = 0; i < core::kKScaleBytes; ++i) blk[4 + i] = static_cast<uint8_t>(rng());
        }
      }
    }
    const WeightView w{t, wbytes.data(), rows, cols, rb};
    AlignedBuffer buf;
    const WeightView p = pack_weight(w, buf);
    ASSERT_TRUE(p.packed);
    // Token 0: every block constant (all quants -128); the others alternate constant blocks of
    // either sign with random ones.
    std::vector<float> x(static_cast<size_t>(m * cols));
    std::uniform_real_distribution<float> u(-3.0f, 3.0f);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t c = 0; c < cols; ++c) {
        const int64_t blk = c / core::kQK_K;
        const bool constant = i == 0 || (i + blk) % 2 == 0;
        x[static_cast<size_t>(i * cols + c)] =
            constant ? ((i + blk) % 4 < 2 ? -1.5f : 2.0f) : u(rng);
      }
    std::vector<float> oracle(static_cast<size_t>(m * rows));
    packed_matmul_oracle(w, x.data(), m, oracle.data());
    core::ThreadPool pool(1);
    for (const NamedOps& n : tables) {
      MatmulScratch scratch;
      std::vector<float> y(oracle.size(), -7.0f);
      matmul(n.ops, pool, p, x.data(), m, y.data(), scratch);
      EXPECT_TRUE(bit_equal(y, oracle)) << n.name;
    }
  }
}

// A batch runs in passes of about 256 tokens over each thread's weights; a few tokens past 256
// (a chunk with decodes beside it) stay in the one pass, larger batches are balanced.
TEST(PackedKernels, TokenPassesAreBalancedTileMultiples) {
  for (int64_t m = 1; m <= 320; ++m) EXPECT_EQ(packed_token_block(m), m);
  EXPECT_EQ(packed_token_block(321), 176);
  EXPECT_EQ(packed_token_block(512), 256);
  EXPECT_EQ(packed_token_block(2048), 304);
  for (int64_t m = 321; m <= 5000; ++m) {
    SCOPED_TRACE(m);
    const int64_t b = packed_token_block(m);
    const int64_t passes = (m + b - 1) / b;
    EXPECT_EQ(b % 16, 0);
    EXPECT_LE(b, 320);
    EXPECT_EQ(passes, (m + 319) / 320);           // no more passes than needed
    EXPECT_GT(m - (passes - 1) * b, 0);           // the last pass is not empty
  }
}

// Batches of several passes (and one pass a little over 256 tokens) give the oracle's bits.
TEST(PackedKernels, MultiPassBatchesBitEqualToOracle) {
  const auto tables = packed_tables();
  if (tables.empty()) GTEST_SKIP() << "no ISA with a packed matmul on this CPU";
  core::ThreadPool pool1(1);
  core::ThreadPool pool2(2);
  const int64_t rows = 48;
  const int64_t max_m = 700;
  for (const NamedOps& t : tables) {
    for (DType dt : {DType::kQ8_0, DType::kQ4_K}) {
      const int64_t cols = dt == DType::kQ8_0 ? 64 : 256;
      const Weights w = make_weights(dt, rows, cols, 41);
      AlignedBuffer buf;
      const WeightView p = pack_weight(w.view, buf);
      const auto x = randn(static_cast<size_t>(max_m * cols), 42, 1.0f);
      std::vector<float> oracle(static_cast<size_t>(max_m * rows));
      packed_matmul_oracle(w.view, x.data(), max_m, oracle.data());
      for (int64_t m : {255, 256, 257, 271, 320, 321, 337, 513, 700}) {
        for (core::ThreadPool* pool : {&pool1, &pool2}) {
          SCOPED_TRACE(t.name + " " + std::string(core::dtype_name(dt)) + " m=" +
                       std::to_string(m) + " threads=" + std::to_string(pool->num_threads()));
          MatmulScratch scratch;
          std::vector<float> y(static_cast<size_t>(m * rows), -7.0f);
          matmul(t.ops, *pool, p, x.data(), m, y.data(), scratch);
          ASSERT_TRUE(bit_equal(y, std::vector<float>(oracle.begin(), oracle.begin() + m * rows)));
        }
      }
    }
  }
}

}  // namespace
}  // namespace sarathi::kernels
