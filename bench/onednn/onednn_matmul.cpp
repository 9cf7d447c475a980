// sarathi_onednn_bench: oneDNN's bf16 matmul against sarathi's over the same weights, to decide
// (as the kernels issue asks) whether the library beats the hand-written kernel per shape. Built
// only when CMake finds oneDNN (Debian: libdnnl-dev); oneDNN's threads come from OpenMP, so run
// it as `OMP_NUM_THREADS=2 sarathi_onednn_bench 2`.
//
// For each shape (tokens M x output rows N x inputs K) it prints GOP/s (2 per multiply-add) of
// oneDNN's matmul (weights [N][K] as the "ba" layout, reordered once into its preferred layout),
// of sarathi's kernels::matmul on the interleaved bf16 weights, and whether oneDNN gives the first
// token the same bits at M and at M = 1 (sarathi's kernels do by construction).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/packed.h"

namespace {

using namespace sarathi;

template <class Fn>
double gops(double ops, Fn&& fn) {
  fn();
  std::vector<double> rates;
  for (int r = 0; r < 7; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    int n = 0;
    do {
      fn();
      ++n;
    } while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(200));
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(ops * n / s / 1e9);
  }
  std::sort(rates.begin(), rates.end());
  return rates[3];
}

struct OneDnn {
  dnnl::matmul prim;
  dnnl::memory a, w, c;
};

OneDnn onednn_matmul(const dnnl::engine& eng, dnnl::stream& s, int64_t m, int64_t n, int64_t k,
                     const uint16_t* x, const uint16_t* wt) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  const dnnl::memory::desc a_md({m, k}, dt::bf16, tag::ab);
  const dnnl::memory::desc w_md({k, n}, dt::bf16, tag::ba);  // [N][K] rows, as GGUF stores them
  const dnnl::memory::desc w_any({k, n}, dt::bf16, tag::any);
  const dnnl::memory::desc c_md({m, n}, dt::f32, tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, w_any, c_md), eng);
  OneDnn o{dnnl::matmul(pd), dnnl::memory(a_md, eng, const_cast<uint16_t*>(x)),
           dnnl::memory(pd.weights_desc(), eng), dnnl::memory(c_md, eng)};
  dnnl::memory plain(w_md, eng, const_cast<uint16_t*>(wt));
  dnnl::reorder(plain, o.w).execute(s, plain, o.w);
  s.wait();
  return o;
}

void run(OneDnn& o, dnnl::stream& s) {
  o.prim.execute(s, {{DNNL_ARG_SRC, o.a}, {DNNL_ARG_WEIGHTS, o.w}, {DNNL_ARG_DST, o.c}});
  s.wait();
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const kernels::CpuOps& ops = kernels::cpu_ops();
  if (ops.bf16.packed.run == nullptr) {
    std::printf("this CPU has no interleaved bf16 path (needs AVX512-BF16 or AMX)\n");
    return 0;
  }
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  core::ThreadPool pool(threads);
  std::printf("kernels %s, %d threads (oneDNN: OMP_NUM_THREADS)\n",
              std::string(kernels::isa_name(ops.isa)).c_str(), threads);
  std::printf("%5s %6s %5s | %14s %14s | %s\n", "M", "N", "K", "oneDNN GOP/s", "sarathi GOP/s",
              "oneDNN token 0 same bits at M = 1");
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (const auto& [n, k] :
       {std::pair<int64_t, int64_t>{2048, 2048}, {11264, 2048}, {2048, 5632}}) {
    std::vector<uint16_t> wt(static_cast<size_t>(n * k));
    for (auto& v : wt) v = core::f32_to_bf16(dist(rng));
    const kernels::WeightView wv{core::DType::kBF16, wt.data(), n, k, static_cast<size_t>(k) * 2};
    kernels::AlignedBuffer store;
    const kernels::WeightView pw = kernels::pack_weight(wv, store);
    for (int64_t m : {1, 32, 256, 512}) {
      std::vector<float> xf(static_cast<size_t>(m * k));
      for (auto& v : xf) v = dist(rng);
      std::vector<uint16_t> xb(xf.size());
      for (size_t i = 0; i < xf.size(); ++i) xb[i] = core::f32_to_bf16(xf[i]);
      OneDnn o = onednn_matmul(eng, s, m, n, k, xb.data(), wt.data());
      OneDnn o1 = onednn_matmul(eng, s, 1, n, k, xb.data(), wt.data());
      std::vector<float> y(static_cast<size_t>(m * n));
      kernels::MatmulScratch scratch;
      const double ops_count = 2.0 * static_cast<double>(m * n * k);
      const double dnn = gops(ops_count, [&] { run(o, s); });
      const double ours =
          gops(ops_count, [&] { kernels::matmul(ops, pool, pw, xf.data(), m, y.data(), scratch); });
      run(o1, s);
      const bool same = std::memcmp(o.c.get_data_handle(), o1.c.get_data_handle(),
                                    static_cast<size_t>(n) * sizeof(float)) == 0;
      std::printf("%5lld %6lld %5lld | %14.1f %14.1f | %s\n", static_cast<long long>(m),
                  static_cast<long long>(n), static_cast<long long>(k), dnn, ours,
                  m == 1 ? "-" : (same ? "yes" : "no"));
    }
  }
  return 0;
}
