// The batched matmul y = x · Wᵀ on a tinyllama-sized weight (2048 x 2048) per weight type, batch
// size M, thread count and path: "packed" (the interleaved layout the engine runs, where the op
// table has one), "gemm" (the register-blocked GemmOps path over the GGML layout) and "vecdot"
// (one vec_dot per output, the fallback). Counters: items/s = multiply-adds per second,
// bytes/s = the weight bytes per second (what bounds M = 1). M = 271 is a 256-token chunk with 15
// decodes beside it (no multiple of a kernel's token tile). SARATHI_ISA=avx2 etc. runs a lower
// level.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/packed.h"

namespace sarathi::kernels {
namespace {

using core::DType;

constexpr int64_t kRows = 2048;
constexpr int64_t kCols = 2048;

enum class Path { kPacked, kGemm, kVecDot };

void bm_matmul(benchmark::State& state, DType t, Path path) {
  CpuOps ops = cpu_ops_for(active_isa());  // SARATHI_ISA picks a lower level
  const bool use_gemm = path == Path::kGemm;
  if (path == Path::kPacked && ops.type(t).packed.run == nullptr) {
    state.SkipWithError("no packed path");
    return;
  }
  if (path == Path::kVecDot) {
    for (TypeOps* to : {&ops.f32, &ops.f16, &ops.bf16, &ops.q8_0, &ops.q4_0, &ops.q4_k, &ops.q5_k,
                         &ops.q6_k})
      to->gemm = GemmOps{};
  }
  if (use_gemm && ops.type(t).gemm.run == nullptr) {
    state.SkipWithError("no gemm path");
    return;
  }
  const int64_t m = state.range(0);
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> wf(static_cast<size_t>(kRows * kCols));
  for (float& f : wf) f = dist(rng);
  const size_t rb = core::dtype_row_bytes(t, kCols).value();
  std::vector<uint8_t> w(rb * kRows);
  for (int64_t r = 0; r < kRows; ++r)
    ops.type(t).from_float(wf.data() + r * kCols, w.data() + static_cast<size_t>(r) * rb, kCols);
  std::vector<float> x(static_cast<size_t>(m * kCols));
  for (float& f : x) f = dist(rng);
  std::vector<float> y(static_cast<size_t>(m * kRows));
  core::ThreadPool pool(static_cast<int>(state.range(1)));
  MatmulScratch scratch;
  WeightView wv{t, w.data(), kRows, kCols, rb};
  AlignedBuffer packed;
  if (path == Path::kPacked) wv = pack_weight(wv, packed);
  for (auto _ : state) {
    matmul(ops, pool, wv, x.data(), m, y.data(), scratch);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * m * kRows * kCols);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(w.size()));
}

bool register_all() {
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_K,
                  DType::kQ5_K, DType::kQ6_K}) {
    for (Path path : {Path::kPacked, Path::kGemm, Path::kVecDot}) {
      const char* label = path == Path::kPacked ? "/packed"
                          : path == Path::kGemm ? "/gemm"
                                                : "/vecdot";
      const std::string name = "matmul/" + std::string(core::dtype_name(t)) + label;
      benchmark::RegisterBenchmark(name.c_str(), bm_matmul, t, path)
          ->ArgsProduct({{1, 4, 8, 16, 32, 256, 271}, {1, 2}})
          ->ArgNames({"m", "threads"})
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  return true;
}

const bool kRegistered = register_all();

}  // namespace
}  // namespace sarathi::kernels
