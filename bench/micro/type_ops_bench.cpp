// vec_dot throughput per weight type and ISA over one 4096-element row (the inner loop of a
// matmul). Rows are small enough to stay in L1/L2, so this measures the kernels, not memory.
// Counters: bytes/s of the weight row, items/s = multiply-adds per second.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "kernels/kernels.h"

namespace sarathi::kernels {
namespace {

using core::DType;

constexpr int64_t kRowLen = 4096;

void bm_vec_dot(benchmark::State& state, Isa isa, DType t) {
  const CpuOps& ops = cpu_ops_for(isa);
  const TypeOps& wt = ops.type(t);
  const DType xt = wt.vec_dot_type;
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> wf(kRowLen), xf(kRowLen);
  for (float& f : wf) f = dist(rng);
  for (float& f : xf) f = dist(rng);
  std::vector<uint8_t> w(core::dtype_row_bytes(t, kRowLen).value());
  std::vector<uint8_t> x(core::dtype_row_bytes(xt, kRowLen).value());
  wt.from_float(wf.data(), w.data(), kRowLen);
  ops.type(xt).from_float(xf.data(), x.data(), kRowLen);
  for (auto _ : state) {
    benchmark::DoNotOptimize(w.data());
    benchmark::DoNotOptimize(wt.vec_dot(kRowLen, w.data(), x.data()));
  }
  state.SetItemsProcessed(state.iterations() * kRowLen);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(w.size()));
}

// Registers one case per (supported ISA, weight type); unsupported ISAs are left out.
bool register_all() {
  const DType types[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0,
                         DType::kQ4_0, DType::kQ4_K, DType::kQ6_K};
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!isa_supported(isa)) continue;
    for (DType t : types) {
      const std::string name = "vec_dot/" + std::string(core::dtype_name(t)) + "/" +
                               std::string(isa_name(isa)) + "/4096";
      benchmark::RegisterBenchmark(name.c_str(), bm_vec_dot, isa, t);
    }
  }
  return true;
}

const bool kRegistered = register_all();

}  // namespace
}  // namespace sarathi::kernels
