// `sarathi bench ops`: where the time of one step goes. Runs a step of a given shape (a prefill
// chunk of --chunk tokens plus --decodes decodes at context --context) several times with an
// OpProfile attached to the forward pass and prints each operator's time per step.
#include <chrono>
#include <cstdio>
#include <random>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "kv/block_pool.h"
#include "model/forward.h"

namespace sarathi::cli {
namespace {

struct OpsArgs {
  ModelArgs model;
  int32_t chunk = 0;
  int32_t decodes = 1;
  int32_t context = 512;
  int32_t repeats = 5;
  bool roofline = false;
  int64_t read_mib = 1024;
};

// Bytes of a weight matrix (each is read once per step, whatever the batch).
double matrix_bytes(const kernels::WeightView& w) {
  return static_cast<double>(w.rows) * static_cast<double>(w.row_bytes);
}
double matrix_ops(const kernels::WeightView& w) {  // 2 x multiply-adds per token
  return 2.0 * static_cast<double>(w.rows) * static_cast<double>(w.cols);
}

// The step's ceilings: the matmuls' rate, and for a decode-only step the memory floor (every
// weight matrix once plus the KV the decodes read, over the read bandwidth measured now).
void print_roofline(const model::LlamaModel& m, const OpsArgs& a, core::DType kv_type,
                    core::ThreadPool& pool, const model::OpProfile& profile, double step_s) {
  const model::LlamaConfig& c = m.config();
  const model::LlamaWeights& w = m.weights();
  double layer_bytes = 0, layer_ops = 0;
  for (const model::LayerWeights& l : w.layers) {
    for (const kernels::WeightView* v :
         {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) {
      layer_bytes += matrix_bytes(*v);
      layer_ops += matrix_ops(*v);
    }
  }
  const int64_t tokens = static_cast<int64_t>(a.chunk) + a.decodes;
  const int64_t logit_rows = (a.chunk > 0 ? 1 : 0) + a.decodes;
  const double ops = layer_ops * static_cast<double>(tokens) +
                     matrix_ops(w.output) * static_cast<double>(logit_rows);
  double matmul_s = 0;
  for (int op = 0; op < model::OpProfile::kNumOps; ++op) {
    const std::string_view name = model::OpProfile::name(op);
    if (name.starts_with("matmul") || name == "logits") matmul_s += profile.seconds[op];
  }
  matmul_s /= a.repeats;
  std::printf("matmuls (logits included): %.1f GOP in %.2f ms = %.1f GOP/s\n", ops / 1e9,
              matmul_s * 1e3, ops / matmul_s / 1e9);
  if (a.chunk > 0) return;
  // 1 GiB by default, as `bench roofline`: smaller buffers can sit in a large L3 (this Zen 4
  // host has read 256 MiB at 58 GB/s and 1 GiB at 33 GB/s).
  std::vector<uint64_t> buf(static_cast<size_t>(a.read_mib) << 20 >> 3);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = i;
  const double gbps = read_bandwidth_gbps(pool, buf, 3);
  // Bytes of one position's K and V in every layer (q8_0: quants and scales).
  const double kv_per_pos =
      static_cast<double>(model::PagedKvCache::bytes_per_block(c, 1, kv_type));
  const double kv_bytes = static_cast<double>(a.decodes) * (a.context + 1.0) * kv_per_pos;
  const double weight_bytes = layer_bytes + matrix_bytes(w.output);
  const double floor_s = (weight_bytes + kv_bytes) / (gbps * 1e9);
  std::printf(
      "memory floor: weights %.3f GB + KV %.3f GB per step at %.1f GB/s (stream read, %d "
      "threads, now) = %.2f ms; step %.2f ms = %.2fx the floor (%.2f of it)\n",
      weight_bytes / 1e9, kv_bytes / 1e9, gbps, pool.num_threads(), floor_s * 1e3, step_s * 1e3,
      step_s / floor_s, floor_s / step_s);
}

int run(const OpsArgs& a) {
  if (a.chunk == 0 && a.decodes == 0) {
    std::fprintf(stderr, "error: the step is empty (--chunk 0 and --decodes 0)\n");
    return 2;
  }
  const auto kv = kv_dtype(a.model);
  if (!kv) return 2;
  const auto m = load_model(a.model);
  if (!m) return 1;
  const model::LlamaConfig& c = m->config();
  if (a.context + 1 > c.n_ctx || a.chunk > c.n_ctx) {
    std::fprintf(stderr, "error: context %d / chunk %d exceed the model context %d (use -c)\n",
                 a.context, a.chunk, c.n_ctx);
    return 2;
  }
  const int32_t bs = 16;
  const int32_t num_blocks = (a.decodes + 1) * ((a.context + bs) / bs + 1) + a.chunk / bs + 2;
  auto cache =
      model::PagedKvCache::create(c, {.num_blocks = num_blocks, .block_size = bs, .dtype = *kv});
  if (!cache.ok()) {
    std::fprintf(stderr, "error: %s\n", cache.error().message.c_str());
    return 1;
  }
  core::ThreadPool pool(a.model.threads > 0 ? a.model.threads : core::default_num_threads());
  model::Forward fwd(*m, **cache, pool);
  kv::BlockPool blocks((*cache)->num_blocks(), bs);

  // The step: one chunk at position 0, then the decodes at position `context`.
  std::vector<std::vector<int32_t>> tables(static_cast<size_t>(a.decodes + 1));
  std::vector<int32_t> tokens(static_cast<size_t>(a.chunk + a.decodes));
  std::mt19937 rng(1);
  for (auto& t : tokens) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(c.n_vocab));
  std::vector<model::SeqInput> batch;
  bool ok = true;
  if (a.chunk > 0) {
    ok &= blocks.ensure(tables[0], a.chunk);
    batch.push_back({std::span(tokens).first(static_cast<size_t>(a.chunk)), 0, tables[0], 1});
  }
  for (int32_t i = 0; i < a.decodes; ++i) {
    auto& t = tables[static_cast<size_t>(i + 1)];
    ok &= blocks.ensure(t, a.context + 1);
    batch.push_back(
        {std::span(tokens).subspan(static_cast<size_t>(a.chunk + i), 1), a.context, t, 1});
  }
  if (!ok) {
    std::fprintf(stderr, "error: KV cache too small\n");
    return 1;
  }
  if (auto out = fwd.run(batch); !out.ok()) {  // warm-up: buffers, page faults
    std::fprintf(stderr, "error: %s\n", out.error().message.c_str());
    return 1;
  }
  model::OpProfile profile;
  fwd.set_profile(&profile);
  std::vector<double> step_s;
  for (int32_t r = 0; r < a.repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    if (auto out = fwd.run(batch); !out.ok()) {
      std::fprintf(stderr, "error: %s\n", out.error().message.c_str());
      return 1;
    }
    step_s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  fwd.set_profile(nullptr);
  double total_s = 0;
  for (double s : step_s) total_s += s;

  std::printf("model %s (weights %s), %d threads, kernels %s, KV %s\n", c.name.c_str(),
              std::string(core::dtype_name(c.dtype)).c_str(), pool.num_threads(),
              std::string(kernels::isa_name(kernels::active_isa())).c_str(),
              a.model.kv_type.c_str());
  std::printf("step: chunk %d tokens + %d decodes at context %d; %d runs, median %.2f ms/step\n",
              a.chunk, a.decodes, a.context, a.repeats, median(step_s) * 1e3);
  std::printf("%-16s %12s %8s\n", "op", "ms/step", "share");
  double accounted = 0;
  for (int op = 0; op < model::OpProfile::kNumOps; ++op) {
    const double per_step = profile.seconds[op] / a.repeats;
    accounted += profile.seconds[op];
    std::printf("%-16s %12.3f %7.1f%%\n", model::OpProfile::name(op), per_step * 1e3,
                100.0 * profile.seconds[op] / total_s);
  }
  std::printf("%-16s %12.3f %7.1f%%\n", "other", (total_s - accounted) / a.repeats * 1e3,
              100.0 * (total_s - accounted) / total_s);
  if (a.roofline) print_roofline(*m, a, *kv, pool, profile, median(step_s));
  for (auto& t : tables) blocks.release(t);
  return 0;
}

}  // namespace

Runner add_bench_ops(CLI::App& bench) {
  auto args = std::make_shared<OpsArgs>();
  CLI::App* cmd = bench.add_subcommand(
      "ops", "Per-operator time of one step: a prefill chunk plus decodes at a context length");
  add_model_options(*cmd, args->model);
  cmd->add_option("--chunk", args->chunk, "Prefill chunk tokens (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 16));
  cmd->add_option("--decodes", args->decodes, "Decode sequences in the step")
      ->capture_default_str()
      ->check(CLI::Range(0, 4096));
  cmd->add_option("--context", args->context, "Context length of the decodes")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--repeats", args->repeats, "Timed steps")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_flag("--roofline", args->roofline,
                "Also print the matmuls' GOP/s and, for a decode-only step, its memory floor "
                "(every weight matrix once plus the KV read, at the read bandwidth measured "
                "after the run) and the step's ratio to it");
  cmd->add_option("--read-mib", args->read_mib, "Buffer read by --roofline's bandwidth probe")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{16}, int64_t{1} << 20));
  return [args] { return run(*args); };
}

}  // namespace sarathi::cli
