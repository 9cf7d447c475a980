// Tests of the per-type row ops (kernels.h TypeOps) on every ISA this CPU supports, against the
// scalar oracle in kernels/ref, plus quantization accuracy and the SARATHI_ISA dispatch.
//
// Tolerances (c): the oracle sums float types in double, so a SIMD f32 sum of n products
// differs by at most about n * eps * M, M = sum |w_i * x_i| (the classic gamma_n bound on
// recursive summation). For the block types the integer inner products are exact on both sides;
// only the f32 accumulation of the per-block terms differs: at most (num_blocks + 16 lanes +
// log2 reduction) roundings, each bounded by eps times M, where M also counts the Q4_K min
// term (which can cancel against the scaled quants). We allow 4x that.
#include "kernels/ref/type_ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/fp16.h"
#include "kernels/kernels.h"

namespace sarathi::kernels {
namespace {

using core::DType;

constexpr float kEps = 1.1920929e-7f;  // f32 machine epsilon

const Isa kAllIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx};
const DType kWeightTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16,   DType::kQ8_0,
                              DType::kQ4_0, DType::kQ4_K, DType::kQ6_K,   DType::kQ4_1,
                              DType::kQ5_0, DType::kQ5_1, DType::kQ2_K,   DType::kQ3_K,
                              DType::kQ5_K, DType::kIQ4_NL, DType::kIQ4_XS};
// Every weight type has a SIMD vec_dot; the last eight have no SIMD to_float / from_float yet.
const DType kAllTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16,   DType::kQ8_0,
                           DType::kQ4_0, DType::kQ4_K, DType::kQ6_K,   DType::kQ8_K,
                           DType::kQ4_1, DType::kQ5_0, DType::kQ5_1,   DType::kQ2_K,
                           DType::kQ3_K, DType::kQ5_K, DType::kIQ4_NL, DType::kIQ4_XS};

// Row lengths with odd tails: float types have block size 1, so every n must work.
std::vector<int64_t> test_sizes(DType t) {
  const int64_t bs = core::dtype_block_size(t);
  if (bs == 1) return {1, 3, 17, 33, 64, 100, 1023};
  if (bs == 32) return {32, 96, 224};
  return {256, 512, 768};
}

std::vector<float> gaussian(int64_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = dist(rng);
  return v;
}

std::vector<float> uniform(int64_t n, uint32_t seed, float bound) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-bound, bound);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = dist(rng);
  return v;
}

size_t row_bytes(DType t, int64_t n) {
  const auto b = core::dtype_row_bytes(t, n);
  EXPECT_TRUE(b.has_value());
  return b.value_or(0);
}

std::vector<uint8_t> encode(const TypeOps& ops, DType t, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> out(row_bytes(t, n));
  ops.from_float(x.data(), out.data(), n);
  return out;
}

std::vector<float> decode(const TypeOps& ops, const std::vector<uint8_t>& q, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  ops.to_float(q.data(), out.data(), n);
  return out;
}

const CpuOps& ref_ops() { return cpu_ops_for(Isa::kScalar); }

double rel_rms_error(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0, norm = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
    norm += static_cast<double>(x[i]) * x[i];
  }
  return norm > 0 ? std::sqrt(err / norm) : std::sqrt(err);
}

// Index of the first differing float (bitwise), or -1.
int64_t first_bit_difference(const std::vector<float>& a, const std::vector<float>& b) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (core::f32_to_bits(a[i]) != core::f32_to_bits(b[i])) return static_cast<int64_t>(i);
  }
  return -1;
}

// sum |w_i * x_i| of the dequantized rows, plus for Q4_K the magnitude of the min term
// sum_j dmin * m_j * sum_{i in j} |x_i|, which the integer path subtracts separately.
double dot_magnitude(DType wt, const std::vector<uint8_t>& w, const std::vector<float>& wf,
                     const std::vector<float>& xf) {
  double m = 0;
  for (size_t i = 0; i < wf.size(); ++i) m += std::fabs(static_cast<double>(wf[i]) * xf[i]);
  if (wt == DType::kQ4_K) {
    const auto* b = reinterpret_cast<const core::BlockQ4_K*>(w.data());
    for (size_t blk = 0; blk < wf.size() / core::kQK_K; ++blk) {
      uint8_t sc[8], mn[8];
      ref::unpack_q4_k_scales(b[blk].scales, sc, mn);
      for (int j = 0; j < 8; ++j) {
        double ax = 0;
        for (int l = 0; l < 32; ++l) ax += std::fabs(xf[blk * core::kQK_K + 32 * j + l]);
        m += core::f16_to_f32(b[blk].dmin) * mn[j] * ax;
      }
    }
  }
  return m;
}

// Allowed |simd - ref| for vec_dot (see the header comment).
double vec_dot_tolerance(DType wt, int64_t n, double magnitude) {
  const int64_t bs = core::dtype_block_size(wt);
  const double roundings =
      bs == 1 ? static_cast<double>(n + 2) : static_cast<double>(n / bs + 16 + 6);
  return 4.0 * roundings * kEps * magnitude + 1e-30;
}

// Relative RMS error bounds of quantize -> dequantize on N(0, 1) data. Measured (16 blocks,
// every ISA): f16 2.1e-4, bf16 1.7e-3, q8_0 0.54%, q8_K 0.69%, q4_0 8.6%, q4_K 7.3%, q6_K 1.8%,
// q4_1 7.9%, q5_0 4.3%, q5_1 3.8%, q2_K 28.9%, q3_K 14.9%, q5_K 3.6%, iq4_nl 7.7%, iq4_xs 7.7%.
// The bounds leave some headroom.
double rms_bound(DType t) {
  switch (t) {
    case DType::kF32:
      return 0.0;
    case DType::kF16:
      return 3e-4;
    case DType::kBF16:
      return 2.5e-3;
    case DType::kQ8_0:
      return 0.008;
    case DType::kQ4_0:
      return 0.10;
    case DType::kQ4_K:
      return 0.08;
    case DType::kQ6_K:
      return 0.025;
    case DType::kQ8_K:
      return 0.01;
    case DType::kQ4_1:
      return 0.09;
    case DType::kQ5_0:
      return 0.05;
    case DType::kQ5_1:
      return 0.045;
    case DType::kQ2_K:
      return 0.33;
    case DType::kQ3_K:
      return 0.17;
    case DType::kQ5_K:
      return 0.042;
    case DType::kIQ4_NL:
      return 0.09;
    case DType::kIQ4_XS:
      return 0.09;
  }
  return 0.0;
}

// Largest magnitude each type can encode without its fp16 block scale overflowing (GGML has the
// same limits); f32-scaled types go much further.
float large_magnitude(DType t) {
  switch (t) {
    case DType::kF32:
      return 1e30f;
    case DType::kBF16:
      return 1e30f;
    case DType::kF16:
      return 6e4f;
    case DType::kQ8_0:
      return 1e6f;
    case DType::kQ4_0:
      return 1e5f;
    case DType::kQ4_K:
      return 1e5f;
    case DType::kQ6_K:
      return 1e6f;
    case DType::kQ8_K:
      return 1e30f;
    case DType::kQ4_1:  // the minimum itself is stored in f16
    case DType::kQ5_1:
      return 6e4f;
    case DType::kQ5_0:
    case DType::kQ2_K:
    case DType::kQ3_K:
    case DType::kQ5_K:
    case DType::kIQ4_NL:
    case DType::kIQ4_XS:
      return 1e5f;
  }
  return 1.0f;
}

// The scale fields (d, and dmin for q4_K) of every block of a row; the values for float types.
std::vector<float> block_scales(DType t, const std::vector<uint8_t>& q) {
  std::vector<float> out;
  const size_t num_blocks = q.size() / core::dtype_block_bytes(t);
  for (size_t i = 0; i < num_blocks; ++i) {
    const uint8_t* b = q.data() + i * core::dtype_block_bytes(t);
    switch (t) {
      case DType::kF32:
        out.push_back(reinterpret_cast<const float*>(b)[0]);
        break;
      case DType::kF16:
        out.push_back(core::f16_to_f32(reinterpret_cast<const uint16_t*>(b)[0]));
        break;
      case DType::kBF16:
        out.push_back(core::bf16_to_f32(reinterpret_cast<const uint16_t*>(b)[0]));
        break;
      case DType::kQ8_0:
        out.push_back(core::f16_to_f32(reinterpret_cast<const core::BlockQ8_0*>(b)->d));
        break;
      case DType::kQ4_0:
        out.push_back(core::f16_to_f32(reinterpret_cast<const core::BlockQ4_0*>(b)->d));
        break;
      case DType::kQ4_K:
        out.push_back(core::f16_to_f32(reinterpret_cast<const core::BlockQ4_K*>(b)->d));
        out.push_back(core::f16_to_f32(reinterpret_cast<const core::BlockQ4_K*>(b)->dmin));
        break;
      case DType::kQ6_K:
        out.push_back(core::f16_to_f32(reinterpret_cast<const core::BlockQ6_K*>(b)->d));
        break;
      case DType::kQ8_K:
        out.push_back(reinterpret_cast<const core::BlockQ8_K*>(b)->d);
        break;
      case DType::kQ4_1:
        out.push_back(core::f16_to_f32(reinterpret_cast<const core::BlockQ4_1*>(b)->d));
        out.push_back(core::f16_to_f32(reinterpret_cast<const core::BlockQ4_1*>(b)->m));
        break;
      case DType::kQ5_0:
        out.push_back(core::f16_to_f32(reinterpret_cast<const core::BlockQ5_0*>(b)->d));
        break;
      case DType::kQ5_1:
        out.push_back(core::f16_to_f32(reinterpret_cast<const core::BlockQ5_1*>(b)->d));
        out.push_back(core::f16_to_f32(reinterpret_cast<const core::BlockQ5_1*>(b)->m));
        break;
      case DType::kQ2_K:
        out.push_back(core::f16_to_f32(reinterpret_cast<const core::BlockQ2_K*>(b)->d));
        out.push_back(core::f16_to_f32(reinterpret_cast<const core::BlockQ2_K*>(b)->dmin));
        break;
      case DType::kQ3_K:
        out.push_back(core::f16_to_f32(reinterpret_cast<const core::BlockQ3_K*>(b)->d));
        break;
      case DType::kQ5_K:
        out.push_back(core::f16_to_f32(reinterpret_cast<const core::BlockQ5_K*>(b)->d));
        out.push_back(core::f16_to_f32(reinterpret_cast<const core::BlockQ5_K*>(b)->dmin));
        break;
      case DType::kIQ4_NL:
        out.push_back(core::f16_to_f32(reinterpret_cast<const core::BlockIQ4_NL*>(b)->d));
        break;
      case DType::kIQ4_XS:
        out.push_back(core::f16_to_f32(reinterpret_cast<const core::BlockIQ4_XS*>(b)->d));
        break;
    }
  }
  return out;
}

uint32_t seed_for(Isa isa, DType t, int64_t n, uint32_t salt) {
  return 1000003u * static_cast<uint32_t>(isa) + 7919u * static_cast<uint32_t>(t) +
         31u * static_cast<uint32_t>(n) + salt;
}

// ------------------------------------------------------------------ per (ISA, type) tests

struct Param {
  Isa isa;
  DType type;
};

void PrintTo(const Param& p, std::ostream* os) {
  *os << isa_name(p.isa) << "/" << core::dtype_name(p.type);
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  return std::string(isa_name(info.param.isa)) + "_" +
         std::string(core::dtype_name(info.param.type));
}

std::vector<Param> all_params(const DType* types, size_t num_types) {
  std::vector<Param> out;
  for (Isa isa : kAllIsas) {
    for (size_t i = 0; i < num_types; ++i) out.push_back({isa, types[i]});
  }
  return out;
}

class TypeOpsTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    if (!isa_supported(GetParam().isa)) {
      GTEST_SKIP() << isa_name(GetParam().isa) << " is not supported by this CPU";
    }
  }
  DType type() const { return GetParam().type; }
  const TypeOps& ops() const { return cpu_ops_for(GetParam().isa).type(type()); }
  const TypeOps& ref() const { return ref_ops().type(type()); }
  uint32_t seed(int64_t n, uint32_t salt) const {
    return seed_for(GetParam().isa, type(), n, salt);
  }
};

// (a) Dequantization is bit-equal to the oracle.
TEST_P(TypeOpsTest, ToFloatBitEqualToRef) {
  for (int64_t n : test_sizes(type())) {
    const uint32_t s = seed(n, 1);
    SCOPED_TRACE(::testing::Message() << "n=" << n << " seed=" << s);
    const auto q = encode(ref(), type(), gaussian(n, s, 3.0f));
    const auto want = decode(ref(), q, n);
    const auto got = decode(ops(), q, n);
    const int64_t at = first_bit_difference(want, got);
    EXPECT_EQ(at, -1) << "first difference at " << at << ": " << want[at] << " vs " << got[at];
  }
}

// (b) Quantization / conversion is bit-equal to the oracle, also on exact rounding ties.
TEST_P(TypeOpsTest, FromFloatEqualToRef) {
  for (int64_t n : test_sizes(type())) {
    const uint32_t s = seed(n, 2);
    SCOPED_TRACE(::testing::Message() << "n=" << n << " seed=" << s);
    std::vector<float> inputs[2] = {gaussian(n, s, 2.0f),
                                    std::vector<float>(static_cast<size_t>(n))};
    // Ties: with max |x| = 127 the q8 scales are exactly 1 (-1 for q8_K), so x.5 values sit
    // exactly between two quants (roundf rounds away from zero, q8_K's nearest_int to even).
    for (int64_t i = 0; i < n; ++i) inputs[1][i] = static_cast<float>(i % 64) - 31.5f;
    for (int64_t i = 0; i < n; i += 32) inputs[1][i] = 127.0f;
    for (const auto& x : inputs) {
      const auto want = encode(ref(), type(), x);
      const auto got = encode(ops(), type(), x);
      ASSERT_EQ(want.size(), got.size());
      size_t at = 0;
      while (at < want.size() && want[at] == got[at]) ++at;
      EXPECT_EQ(at, want.size()) << "first differing byte " << at;
    }
  }
}

// (c) vec_dot agrees with the oracle within the f32 summation bound.
TEST_P(TypeOpsTest, VecDotMatchesRef) {
  if (type() == DType::kQ8_K) GTEST_SKIP() << "activation-only type";
  const DType xt = ops().vec_dot_type;
  const TypeOps& xref = ref_ops().type(xt);
  for (int64_t n : test_sizes(type())) {
    const uint32_t s = seed(n, 3);
    SCOPED_TRACE(::testing::Message() << "n=" << n << " seed=" << s);
    const auto w = encode(ref(), type(), gaussian(n, s));
    const auto x = encode(xref, xt, gaussian(n, s + 1));
    const double want = ref().vec_dot(n, w.data(), x.data());
    const double got = ops().vec_dot(n, w.data(), x.data());
    const double mag = dot_magnitude(type(), w, decode(ref(), w, n), decode(xref, x, n));
    EXPECT_NEAR(got, want, vec_dot_tolerance(type(), n, mag));
  }
}

// (d) quantize -> dequantize error on N(0, 1) data.
TEST_P(TypeOpsTest, RoundTripRmsError) {
  const int64_t n = 16 * core::kQK_K;
  const uint32_t s = seed(n, 4);
  SCOPED_TRACE(::testing::Message() << "seed=" << s);
  const auto x = gaussian(n, s);
  const double err = rel_rms_error(x, decode(ops(), encode(ops(), type(), x), n));
  EXPECT_LE(err, rms_bound(type()));
  RecordProperty("rel_rms_error", std::to_string(err));
}

// (e) vec_dot(w, quantize(x)) approximates dot(dequant(w), x): the only extra error is x's own
// quantization, bounded by Cauchy-Schwarz: |<w, x - q(x)>| <= |w| |x - q(x)|.
TEST_P(TypeOpsTest, VecDotApproximatesFloatDot) {
  if (type() == DType::kQ8_K) GTEST_SKIP() << "activation-only type";
  const DType xt = ops().vec_dot_type;
  const TypeOps& xops = cpu_ops_for(GetParam().isa).type(xt);
  for (int64_t n : test_sizes(type())) {
    const uint32_t s = seed(n, 5);
    SCOPED_TRACE(::testing::Message() << "n=" << n << " seed=" << s);
    const auto w = encode(ref(), type(), gaussian(n, s));
    const auto wf = decode(ref(), w, n);
    const auto x = gaussian(n, s + 1);
    const auto xq = encode(xops, xt, x);
    const auto xf = decode(xops, xq, n);
    double exact = 0, w_norm2 = 0, xerr2 = 0;
    for (int64_t i = 0; i < n; ++i) {
      exact += static_cast<double>(wf[i]) * x[i];
      w_norm2 += static_cast<double>(wf[i]) * wf[i];
      xerr2 += (static_cast<double>(x[i]) - xf[i]) * (static_cast<double>(x[i]) - xf[i]);
    }
    const double got = ops().vec_dot(n, w.data(), xq.data());
    const double tol =
        std::sqrt(w_norm2 * xerr2) + vec_dot_tolerance(type(), n, dot_magnitude(type(), w, wf, xf));
    EXPECT_NEAR(got, exact, tol);
  }
}

// (f) All-zero blocks give zero scales and zeros; large magnitudes stay finite.
TEST_P(TypeOpsTest, ZeroAndLargeInputsStayFinite) {
  const int64_t n = test_sizes(type()).back();
  const uint32_t s = seed(n, 6);
  SCOPED_TRACE(::testing::Message() << "n=" << n << " seed=" << s);
  const std::vector<float> zeros(static_cast<size_t>(n), 0.0f);
  const auto qz = encode(ops(), type(), zeros);
  for (float d : block_scales(type(), qz)) ASSERT_EQ(d, 0.0f);  // (q4_0 stores -0, as GGML)
  for (float f : decode(ops(), qz, n)) ASSERT_EQ(f, 0.0f);

  const auto big = uniform(n, s, large_magnitude(type()));
  const auto qb = encode(ops(), type(), big);
  const auto back = decode(ops(), qb, n);
  for (float f : back) ASSERT_TRUE(std::isfinite(f));
  EXPECT_LE(rel_rms_error(big, back), 2 * rms_bound(type()));
  if (type() == DType::kQ8_K) return;

  const DType xt = ops().vec_dot_type;
  const TypeOps& xops = cpu_ops_for(GetParam().isa).type(xt);
  const auto xq = encode(xops, xt, gaussian(n, s + 1));
  const auto xz = encode(xops, xt, zeros);
  EXPECT_TRUE(std::isfinite(ops().vec_dot(n, qb.data(), xq.data())));
  EXPECT_EQ(ops().vec_dot(n, qb.data(), xz.data()), 0.0f);
  EXPECT_EQ(ops().vec_dot(n, qz.data(), xq.data()), 0.0f);
}

INSTANTIATE_TEST_SUITE_P(AllIsas, TypeOpsTest,
                         ::testing::ValuesIn(all_params(kAllTypes, std::size(kAllTypes))),
                         param_name);

// ------------------------------------------------------------------ dispatch

TEST(Dispatch, TablesAreCompleteWithGgmlVecDotTypes) {
  const std::pair<DType, DType> vec_dot_types[] = {
      {DType::kF32, DType::kF32},   {DType::kF16, DType::kF16},   {DType::kBF16, DType::kBF16},
      {DType::kQ8_0, DType::kQ8_0}, {DType::kQ4_0, DType::kQ8_0}, {DType::kQ4_K, DType::kQ8_K},
      {DType::kQ6_K, DType::kQ8_K}, {DType::kQ8_K, DType::kQ8_K}, {DType::kQ4_1, DType::kQ8_0},
      {DType::kQ5_0, DType::kQ8_0}, {DType::kQ5_1, DType::kQ8_0}, {DType::kQ2_K, DType::kQ8_K},
      {DType::kQ3_K, DType::kQ8_K}, {DType::kQ5_K, DType::kQ8_K}, {DType::kIQ4_NL, DType::kQ8_0},
      {DType::kIQ4_XS, DType::kQ8_K}};
  for (Isa isa : kAllIsas) {
    if (!isa_supported(isa)) continue;
    const CpuOps& ops = cpu_ops_for(isa);
    EXPECT_EQ(ops.isa, isa);
    for (const auto& [t, xt] : vec_dot_types) {
      SCOPED_TRACE(std::string(isa_name(isa)) + " " + std::string(core::dtype_name(t)));
      const TypeOps& o = ops.type(t);
      EXPECT_EQ(o.vec_dot_type, xt);
      EXPECT_NE(o.to_float, nullptr);
      EXPECT_NE(o.from_float, nullptr);
      EXPECT_EQ(o.vec_dot == nullptr, t == DType::kQ8_K);
    }
  }
}

TEST(Dispatch, SimdTablesUseSimdKernels) {
  const CpuOps& r = ref_ops();
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (!isa_supported(isa)) continue;
    const CpuOps& o = cpu_ops_for(isa);
    for (DType t : kWeightTypes) EXPECT_NE(o.type(t).vec_dot, r.type(t).vec_dot) << isa_name(isa);
    EXPECT_NE(o.q8_0.from_float, r.q8_0.from_float);
    EXPECT_NE(o.q8_k.from_float, r.q8_k.from_float);
  }
}

TEST(Dispatch, DetectsASupportedIsa) {
  EXPECT_TRUE(isa_supported(Isa::kScalar));
  EXPECT_TRUE(isa_supported(detect_isa()));
  for (Isa isa : kAllIsas) {
    if (isa_supported(isa)) {
      EXPECT_GE(static_cast<int>(detect_isa()), static_cast<int>(isa));
    }
  }
  EXPECT_EQ(cpu_ops().isa, active_isa());
  EXPECT_TRUE(isa_supported(active_isa()));
  std::printf("detected ISA: %s, active: %s\n", std::string(isa_name(detect_isa())).c_str(),
              std::string(isa_name(active_isa())).c_str());
}

TEST(Dispatch, ParsesIsaNames) {
  EXPECT_EQ(isa_from_name("scalar"), Isa::kScalar);
  EXPECT_EQ(isa_from_name("ref"), Isa::kScalar);
  EXPECT_EQ(isa_from_name("AVX2"), Isa::kAvx2);
  EXPECT_EQ(isa_from_name("avx512"), Isa::kAvx512);
  EXPECT_EQ(isa_from_name("Amx"), Isa::kAmx);
  EXPECT_EQ(isa_from_name(""), std::nullopt);
  EXPECT_EQ(isa_from_name("avx"), std::nullopt);
  EXPECT_EQ(isa_from_name("avx512 "), std::nullopt);
  for (Isa isa : kAllIsas) EXPECT_EQ(isa_from_name(isa_name(isa)), isa);
}

TEST(Dispatch, ResolvesOverridesAndFallsBackWithOneWarning) {
  EXPECT_EQ(resolve_isa(nullptr), detect_isa());
  EXPECT_EQ(resolve_isa(""), detect_isa());

  ::testing::internal::CaptureStderr();
  EXPECT_EQ(resolve_isa("scalar"), Isa::kScalar);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");

  ::testing::internal::CaptureStderr();
  EXPECT_EQ(resolve_isa("sse9"), detect_isa());
  std::string warning = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(warning.find("sse9"), std::string::npos) << warning;
  EXPECT_EQ(std::count(warning.begin(), warning.end(), '\n'), 1) << warning;

  for (Isa isa : kAllIsas) {
    Isa expected = isa;
    while (!isa_supported(expected)) expected = static_cast<Isa>(static_cast<int>(expected) - 1);
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(resolve_isa(std::string(isa_name(isa)).c_str()), expected);
    warning = ::testing::internal::GetCapturedStderr();
    if (isa_supported(isa)) {
      EXPECT_EQ(warning, "");
    } else {
      EXPECT_NE(warning.find(std::string(isa_name(expected))), std::string::npos) << warning;
      EXPECT_EQ(std::count(warning.begin(), warning.end(), '\n'), 1) << warning;
    }
  }
}

// The quick K-quant quantizers (no scale search, for synthetic weights) give valid blocks that
// decode close to the input: within the bound of the full quantizer's error plus a little, and
// no better than the full search (which would mean the search did nothing).
TEST(QuickKQuants, CloseToFullQuantizer) {
  const CpuOps& ref_ops = cpu_ops_for(Isa::kScalar);
  const int64_t n = 64 * core::kQK_K;
  const auto x = gaussian(n, 77);
  struct Case {
    DType t;
    FromFloatFn quick;
  };
  for (const Case& c : {Case{DType::kQ4_K, ref::from_float_q4_k_quick},
                        Case{DType::kQ6_K, ref::from_float_q6_k_quick}}) {
    const TypeOps& ops = ref_ops.type(c.t);
    std::vector<uint8_t> q(*core::dtype_row_bytes(c.t, n));
    c.quick(x.data(), q.data(), n);
    const double quick = rel_rms_error(x, decode(ops, q, n));
    const double full = rel_rms_error(x, decode(ops, encode(ops, c.t, x), n));
    EXPECT_LE(quick, 1.5 * rms_bound(c.t)) << core::dtype_name(c.t);
    EXPECT_LT(full, quick) << core::dtype_name(c.t);
    EXPECT_LE(quick, 1.5 * full) << core::dtype_name(c.t);
  }
}

TEST(DispatchDeathTest, UnsupportedTableIsAProgrammerError) {
  for (Isa isa : kAllIsas) {
    if (isa_supported(isa)) continue;
    EXPECT_DEATH(cpu_ops_for(isa), "not supported");
    return;
  }
  GTEST_SKIP() << "every ISA level is supported here";
}

}  // namespace
}  // namespace sarathi::kernels
