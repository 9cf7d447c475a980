// `sarathi bench roofline`: this machine's ceilings, against which every other speed report is
// a ratio. (1) Streaming DRAM read bandwidth. (1b) The instruction peaks the matmul paths are
// built on (register-only loops: f32 FMA, VNNI, AVX512-BF16, AMX tiles). (2) The peak of each
// matmul path the engine has
// (the batched GemmOps path where a type has one, else one vec_dot per output): a weight block
// that stays in L2 times 128 tokens. (3) Decode-shaped matmul (one token) over weights far
// larger than the caches: weight bytes per second, and its ratio to (1). On 1 and all threads.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "kernels/matmul.h"
#include "kernels/packed.h"
#include "kernels/peak.h"

namespace sarathi::cli {
namespace {

using core::DType;

struct RooflineArgs {
  int threads = 0;
  int64_t read_mib = 1024;
  int64_t decode_mib = 256;
  int32_t repeats = 7;
};

struct Weights {
  std::vector<uint8_t> bytes;
  kernels::AlignedBuffer packed;
  kernels::WeightView view;
};

// One matmul path of the engine: a type on an op table, in the GGML or the interleaved layout.
struct Path {
  DType type;
  const kernels::CpuOps* ops;
  bool packed;
  std::string label;
};

// The AMX table with the tile kernels switched in (whatever SARATHI_AMX_TILES says).
const kernels::CpuOps& amx_tiles_ops() {
  static const kernels::CpuOps ops = [] {
    kernels::CpuOps o = kernels::cpu_ops_for(kernels::Isa::kAmx);
    o.q8_0.packed = kernels::amx_tile_packed_ops(DType::kQ8_0);
    o.q4_0.packed = kernels::amx_tile_packed_ops(DType::kQ4_0);
    return o;
  }();
  return ops;
}

std::vector<Path> matmul_paths(const kernels::CpuOps& ops) {
  const DType types[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0,
                         DType::kQ4_0, DType::kQ4_K, DType::kQ6_K, DType::kQ4_1,
                         DType::kQ5_0, DType::kQ5_1, DType::kQ2_K, DType::kQ3_K,
                         DType::kQ5_K, DType::kIQ4_NL, DType::kIQ4_XS};
  std::vector<Path> paths;
  for (DType t : types) {
    const kernels::TypeOps& to = ops.type(t);
    paths.push_back({t, &ops, false, to.gemm.run != nullptr ? "gemm" : "vec_dot"});
    if (to.packed.run == nullptr) continue;
    if (t == DType::kBF16) {  // interleaved bf16: TDPBF16PS on AMX, vdpbf16ps or FMA below
      const bool fma = to.packed.run == kernels::cpu_ops_for(kernels::Isa::kAvx2).bf16.packed.run;
      paths.push_back({t, &ops, true,
                       ops.isa == kernels::Isa::kAmx ? "amx-bf16"
                       : fma                         ? "fma-16"
                                                     : "dpbf16-16"});
      continue;
    }
    // The interleaved layout: maddubs on AVX2; VNNI on AVX-512 and AMX (the AMX table runs the
    // VNNI kernel by default), and on AMX machines the tile unit as well.
    if (ops.isa == kernels::Isa::kAvx2) {
      paths.push_back({t, &ops, true, "maddubs-16"});
      continue;
    }
    paths.push_back({t, &kernels::cpu_ops_for(kernels::Isa::kAvx512), true, "vnni-16"});
    if (kernels::amx_tile_packed_ops(t).run != nullptr) {
      paths.push_back({t, &amx_tiles_ops(), true, "amx-16"});
    }
  }
  return paths;
}

Weights random_weights(const kernels::CpuOps& ops, DType t, int64_t rows, int64_t cols) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  const size_t rb = core::dtype_row_bytes(t, cols).value();
  Weights w;
  w.bytes.resize(rb * static_cast<size_t>(rows));
  std::vector<float> row(static_cast<size_t>(cols));
  // Rows repeat every 64 to keep set-up fast; the bytes are what matter here.
  for (int64_t r = 0; r < rows; ++r) {
    if (r < 64) {
      for (float& f : row) f = dist(rng);
      ops.type(t).from_float(row.data(), w.bytes.data() + static_cast<size_t>(r) * rb, cols);
    } else {
      std::copy_n(w.bytes.data() + static_cast<size_t>(r % 64) * rb, rb,
                  w.bytes.data() + static_cast<size_t>(r) * rb);
    }
  }
  w.view = {t, w.bytes.data(), rows, cols, rb};
  return w;
}

Weights path_weights(const Path& p, int64_t rows, int64_t cols) {
  Weights w = random_weights(*p.ops, p.type, rows, cols);
  if (p.packed) {
    w.view = kernels::pack_weight(w.view, w.packed);
    w.bytes = {};
  }
  return w;
}

int run(const RooflineArgs& a) {
  const kernels::CpuOps& ops = kernels::cpu_ops();
  const int all = a.threads > 0 ? a.threads : core::default_num_threads();
  std::vector<int> thread_counts = {1};
  if (all > 1) thread_counts.push_back(all);
  std::printf("kernels %s; medians of %d runs\n", std::string(kernels::isa_name(ops.isa)).c_str(),
              a.repeats);

  std::vector<uint64_t> buf(static_cast<size_t>(a.read_mib) * 1024 * 1024 / sizeof(uint64_t));
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = i;
  std::vector<double> bw;
  for (int t : thread_counts) {
    core::ThreadPool pool(t);
    bw.push_back(read_bandwidth_gbps(pool, buf, a.repeats));
    std::printf("stream read, %d thread%s: %8.1f GB/s (%lld MiB)\n", t, t > 1 ? "s" : "", bw.back(),
                static_cast<long long>(a.read_mib));
  }
  buf = {};

  std::printf("\ninstruction peak: register-only loops (GOP/s = 2 x multiply-adds)\n");
  std::printf("%-17s", "instruction");
  for (int t : thread_counts) std::printf(" %9s GOP/s", (std::to_string(t) + "T").c_str());
  std::printf("\n");
  for (kernels::PeakOp op : kernels::peak_ops_supported()) {
    // About 50 ms per run at this machine's speed: calibrated on one short run.
    const auto t0 = std::chrono::steady_clock::now();
    const double probe_ops = kernels::peak_loop(op, 20000);
    const double probe_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto iters = static_cast<int64_t>(std::max(1.0, 20000 * 0.05 / std::max(probe_s, 1e-6)));
    const double per_thread = probe_ops / 20000 * static_cast<double>(iters);
    std::printf("%-17s", std::string(kernels::peak_op_name(op)).c_str());
    for (int nt : thread_counts) {
      core::ThreadPool pool(nt);
      const double s = median_seconds(a.repeats, [&] {
        pool.parallel_for(nt, 1, [&](int, int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) kernels::peak_loop(op, iters);
        });
      });
      std::printf(" %15.1f", per_thread * nt / s / 1e9);
    }
    std::printf("\n");
  }

  const std::vector<Path> paths = matmul_paths(ops);
  constexpr int64_t kCols = 2048;
  constexpr int64_t kTokens = 128;
  std::printf("\nmatmul peak: W %d x %lld in cache, %lld tokens (GOP/s = 2 x multiply-adds)\n", 256,
              static_cast<long long>(kCols), static_cast<long long>(kTokens));
  std::printf("%-6s %-10s", "type", "path");
  for (int t : thread_counts) std::printf(" %9s GOP/s", (std::to_string(t) + "T").c_str());
  std::printf("\n");
  std::vector<float> x(static_cast<size_t>(kTokens * kCols));
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float& f : x) f = dist(rng);
  for (const Path& p : paths) {
    const Weights w = path_weights(p, 256, kCols);
    std::vector<float> y(static_cast<size_t>(kTokens * 256));
    std::printf("%-6s %-10s", std::string(core::dtype_name(p.type)).c_str(), p.label.c_str());
    for (int nt : thread_counts) {
      core::ThreadPool pool(nt);
      kernels::MatmulScratch scratch;
      const double s = median_seconds(a.repeats, [&] {
        kernels::matmul(*p.ops, pool, w.view, x.data(), kTokens, y.data(), scratch);
      });
      std::printf(" %15.1f", 2.0 * kTokens * 256 * kCols / s / 1e9);
    }
    std::printf("\n");
  }

  std::printf("\ndecode matmul (1 token) over %lld MiB of weights: weight GB/s (ratio to read)\n",
              static_cast<long long>(a.decode_mib));
  for (const Path& p : paths) {
    if (p.label == "amx-16") continue;  // one token runs the VNNI kernel
    const size_t rb = core::dtype_row_bytes(p.type, kCols).value();
    const auto rows =
        std::max<int64_t>(16, static_cast<int64_t>((static_cast<size_t>(a.decode_mib) << 20) / rb));
    const Weights w = path_weights(p, rows, kCols);
    std::vector<float> y(static_cast<size_t>(rows));
    std::printf("%-6s %-10s", std::string(core::dtype_name(p.type)).c_str(), p.label.c_str());
    for (size_t i = 0; i < thread_counts.size(); ++i) {
      core::ThreadPool pool(thread_counts[i]);
      kernels::MatmulScratch scratch;
      const double s = median_seconds(a.repeats, [&] {
        kernels::matmul(*p.ops, pool, w.view, x.data(), 1, y.data(), scratch);
      });
      const double gbps = static_cast<double>(rb) * static_cast<double>(rows) / s / 1e9;
      std::printf("  %dT %6.1f GB/s (%4.2f)", thread_counts[i], gbps, gbps / bw[i]);
    }
    std::printf("\n");
  }
  return 0;
}

}  // namespace

Runner add_bench_roofline(CLI::App& bench) {
  auto args = std::make_shared<RooflineArgs>();
  CLI::App* cmd = bench.add_subcommand(
      "roofline",
      "Machine ceilings: streaming read bandwidth, the peak of each matmul path, and decode "
      "matmul bandwidth, on 1 and all threads");
  cmd->add_option("-t,--threads", args->threads, "Threads for the 'all' column; 0 = all cores")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--read-mib", args->read_mib, "Buffer size of the read test in MiB")
      ->capture_default_str()
      ->check(CLI::Range(64, 1 << 16));
  cmd->add_option("--decode-mib", args->decode_mib,
                  "Weight bytes of the one-token matmul test in MiB (keep it well above the "
                  "last-level cache)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--repeats", args->repeats, "Timed runs per figure (median reported)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  return [args] { return run(*args); };
}

}  // namespace sarathi::cli
