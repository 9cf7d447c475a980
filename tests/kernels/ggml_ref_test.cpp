// Dequantization of every GGML block type against llama.cpp's own results: the bytes and float32
// values in tests/data/ggml_dequant_ref.txt come from llama.cpp's gguf-py (its header says how),
// and every ISA's to_float must reproduce them bit for bit. The dot products are then checked
// against those reference values: vec_dot(w, q(x)) against dot(reference w, dequant(q(x))).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/fp16.h"
#include "kernels/kernels.h"
#include "tests/test_util.h"

namespace sarathi::kernels {
namespace {

struct RefCase {
  std::string name;
  uint32_t ggml_id = 0;
  int64_t n = 0;
  std::vector<uint8_t> bytes;
  std::vector<float> values;
};

std::vector<RefCase> load_cases() {
  std::vector<RefCase> cases;
  std::istringstream in(testing::read_file(testing::test_data("ggml_dequant_ref.txt")));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string key;
    fields >> key;
    if (key == "type") {
      RefCase c;
      fields >> c.name >> c.ggml_id >> c.n;
      cases.push_back(c);
    } else if (key == "bytes" && !cases.empty()) {
      std::string hex;
      fields >> hex;
      for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        cases.back().bytes.push_back(
            static_cast<uint8_t>(std::strtoul(hex.substr(i, 2).c_str(), nullptr, 16)));
      }
    } else if (key == "values" && !cases.empty()) {
      std::string v;
      while (fields >> v) cases.back().values.push_back(std::strtof(v.c_str(), nullptr));
    } else {
      ADD_FAILURE() << "unexpected line: " << line.substr(0, 40);
    }
  }
  return cases;
}

TEST(GgmlReference, EveryTypeIsSupportedAndDecodesBitEqualOnEveryIsa) {
  const auto cases = load_cases();
  ASSERT_EQ(cases.size(), 12u);
  for (const RefCase& c : cases) {
    SCOPED_TRACE(c.name);
    const auto dt = core::dtype_from_ggml(c.ggml_id);
    ASSERT_TRUE(dt.has_value()) << "GGML type id " << c.ggml_id << " unsupported";
    EXPECT_EQ(core::dtype_name(*dt), c.name);
    ASSERT_EQ(static_cast<int64_t>(c.values.size()), c.n);
    ASSERT_EQ(core::dtype_row_bytes(*dt, c.n), c.bytes.size());
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx}) {
      if (!isa_supported(isa)) continue;
      SCOPED_TRACE(std::string(isa_name(isa)));
      std::vector<float> got(static_cast<size_t>(c.n));
      cpu_ops_for(isa).type(*dt).to_float(c.bytes.data(), got.data(), c.n);
      int64_t mismatches = 0, first = -1;
      for (int64_t i = 0; i < c.n; ++i) {
        if (core::f32_to_bits(got[i]) != core::f32_to_bits(c.values[i])) {
          if (first < 0) first = i;
          ++mismatches;
        }
      }
      EXPECT_EQ(mismatches, 0) << "first at " << first << ": got " << got[first] << ", llama.cpp "
                               << c.values[first];
    }
  }
}

TEST(GgmlReference, DotProductsAgreeWithTheReferenceValues) {
  for (const RefCase& c : load_cases()) {
    SCOPED_TRACE(c.name);
    const auto dt = core::dtype_from_ggml(c.ggml_id);
    ASSERT_TRUE(dt.has_value());
    const TypeOps& ops = cpu_ops().type(*dt);
    const TypeOps& xops = cpu_ops().type(ops.vec_dot_type);
    std::vector<float> x(static_cast<size_t>(c.n));
    for (int64_t i = 0; i < c.n; ++i) x[i] = std::sin(0.37f * static_cast<float>(i)) * 2.0f;
    std::vector<uint8_t> xq(*core::dtype_row_bytes(ops.vec_dot_type, c.n));
    xops.from_float(x.data(), xq.data(), c.n);
    std::vector<float> xf(static_cast<size_t>(c.n));
    xops.to_float(xq.data(), xf.data(), c.n);
    double want = 0, magnitude = 0;
    for (int64_t i = 0; i < c.n; ++i) {
      want += static_cast<double>(c.values[i]) * xf[i];
      magnitude += std::fabs(static_cast<double>(c.values[i]) * xf[i]);
    }
    const double got = ops.vec_dot(c.n, c.bytes.data(), xq.data());
    // f32 accumulation of exact per-block integer sums: a few hundred roundings at most, each
    // bounded by eps times the magnitude (plus the min terms, which are part of the magnitude
    // here since the reference values include them).
    EXPECT_NEAR(got, want, 1e-4 * magnitude + 1e-6) << "magnitude " << magnitude;
  }
}

}  // namespace
}  // namespace sarathi::kernels
