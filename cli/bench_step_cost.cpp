// `sarathi bench step-cost`: the SARATHI piggyback measurement. For a grid of batch sizes B,
// chunk sizes C and context lengths L it times (1) a decode-only step of B sequences at
// context L, (2) a prefill chunk of C tokens alone, and (3) the chunk with B-1 decodes riding
// along, and reports the per-decode-token cost stand-alone and piggybacked.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "kv/block_pool.h"
#include "model/forward.h"

namespace sarathi::cli {
namespace {

struct StepCostArgs {
  ModelArgs model;
  std::vector<int32_t> batch_sizes = {1, 8, 32};
  std::vector<int32_t> chunk_sizes = {128, 256, 512};
  std::vector<int32_t> context_lens = {128, 1024};
  int32_t repeats = 5;
  std::string json_path;
};

// Times one step configuration (median over repeats, after one warm-up run).
class StepTimer {
 public:
  StepTimer(const model::LlamaModel& m, model::PagedKvCache& cache, core::ThreadPool& pool)
      : m_(m), fwd_(m, cache, pool), blocks_(cache.num_blocks(), cache.block_size()) {}

  // Sequences: `num_decodes` decodes at context `ctx`, plus one chunk of `chunk` tokens at
  // position 0 when chunk > 0. KV contents are whatever the cache holds: cost does not depend
  // on the values.
  core::Result<double> time(int32_t num_decodes, int32_t chunk, int32_t ctx, int32_t repeats) {
    std::vector<std::vector<int32_t>> tables(static_cast<size_t>(num_decodes + 1));
    std::vector<model::SeqInput> batch;
    std::mt19937 rng(1);
    std::vector<int32_t> tokens(static_cast<size_t>(chunk + num_decodes));
    for (auto& t : tokens) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(m_.config().n_vocab));
    bool ok = true;
    if (chunk > 0) {
      ok &= blocks_.ensure(tables[0], chunk);
      batch.push_back({std::span(tokens).first(static_cast<size_t>(chunk)), 0, tables[0], 1});
    }
    for (int32_t i = 0; i < num_decodes; ++i) {
      auto& t = tables[static_cast<size_t>(i + 1)];
      ok &= blocks_.ensure(t, ctx + 1);
      batch.push_back({std::span(tokens).subspan(static_cast<size_t>(chunk + i), 1), ctx, t, 1});
    }
    std::vector<double> times;
    core::Result<double> result = core::make_error(core::ErrorCode::kResourceExhausted,
                                                   "KV cache too small for this grid point");
    if (ok) {
      for (int32_t r = 0; r <= repeats; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        auto out = fwd_.run(batch);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (!out.ok()) {
          result = out.error();
          break;
        }
        if (r > 0) times.push_back(s);
      }
      if (!times.empty()) result = median(times);
    }
    for (auto& t : tables) blocks_.release(t);
    return result;
  }

 private:
  const model::LlamaModel& m_;
  model::Forward fwd_;
  kv::BlockPool blocks_;
};

int run(const StepCostArgs& a) {
  const auto kv = kv_dtype(a.model);
  if (!kv) return 2;
  const auto m = load_model(a.model);
  if (!m) return 1;
  const model::LlamaConfig& c = m->config();
  const int32_t max_b = *std::max_element(a.batch_sizes.begin(), a.batch_sizes.end());
  const int32_t max_c = *std::max_element(a.chunk_sizes.begin(), a.chunk_sizes.end());
  const int32_t max_l = *std::max_element(a.context_lens.begin(), a.context_lens.end());
  if (max_l + 1 > c.n_ctx || max_c > c.n_ctx) {
    std::fprintf(stderr, "error: context %d / chunk %d exceed the model context %d (use -c)\n",
                 max_l, max_c, c.n_ctx);
    return 2;
  }
  const int32_t bs = 16;
  const int32_t num_blocks = (max_b + 1) * ((max_l + bs) / bs + 1) + max_c / bs + 2;
  auto cache = model::PagedKvCache::create(c, {.num_blocks = num_blocks, .block_size = bs, .dtype = *kv});
  if (!cache.ok()) {
    std::fprintf(stderr, "error: %s\n", cache.error().message.c_str());
    return 1;
  }
  core::ThreadPool pool(a.model.threads > 0 ? a.model.threads : core::default_num_threads());
  StepTimer timer(*m, **cache, pool);
  std::printf("model %s (weights %s), %d threads, kernels %s, KV %s, median of %d runs\n",
              c.name.c_str(), std::string(core::dtype_name(c.dtype)).c_str(), pool.num_threads(),
              std::string(kernels::isa_name(kernels::active_isa())).c_str(),
              a.model.kv_type.c_str(), a.repeats);
  std::printf("%4s %5s %6s | %10s %10s %10s | %12s %12s %7s\n", "B", "C", "ctx", "decode ms",
              "chunk ms", "hybrid ms", "dec/tok ms", "piggy/tok ms", "hyb/chk");
  nlohmann::json grid = nlohmann::json::array();
  for (int32_t L : a.context_lens) {
    for (int32_t B : a.batch_sizes) {
      auto t_dec = timer.time(B, 0, L, a.repeats);
      for (int32_t C : a.chunk_sizes) {
        auto t_chunk = timer.time(0, C, L, a.repeats);
        auto t_hyb = timer.time(B - 1, C, L, a.repeats);
        if (!t_dec.ok() || !t_chunk.ok() || !t_hyb.ok()) {
          const auto& e = !t_dec.ok() ? t_dec.error() : !t_chunk.ok() ? t_chunk.error() : t_hyb.error();
          std::fprintf(stderr, "error: %s\n", e.message.c_str());
          return 1;
        }
        const double dec_per_tok = *t_dec / B;
        const double piggy = B > 1 ? (*t_hyb - *t_chunk) / (B - 1) : 0.0;
        std::printf("%4d %5d %6d | %10.2f %10.2f %10.2f | %12.3f %12.3f %7.3f\n", B, C, L,
                    *t_dec * 1e3, *t_chunk * 1e3, *t_hyb * 1e3, dec_per_tok * 1e3, piggy * 1e3,
                    *t_hyb / *t_chunk);
        std::fflush(stdout);
        grid.push_back({{"batch_size", B}, {"chunk_size", C}, {"context_len", L},
                        {"decode_only_s", *t_dec}, {"chunk_only_s", *t_chunk},
                        {"hybrid_s", *t_hyb}, {"decode_cost_per_token_s", dec_per_tok},
                        {"piggyback_cost_per_token_s", piggy},
                        {"hybrid_over_chunk", *t_hyb / *t_chunk}});
      }
    }
  }
  if (!a.json_path.empty()) {
    nlohmann::json out = {{"model", c.name}, {"threads", pool.num_threads()},
                          {"isa", kernels::isa_name(kernels::active_isa())},
                          {"kv_type", a.model.kv_type}, {"repeats", a.repeats}, {"grid", grid}};
    std::ofstream f(a.json_path);
    f << out.dump(2) << "\n";
    if (!f) {
      std::fprintf(stderr, "error: cannot write %s\n", a.json_path.c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace

Runner add_bench_step_cost(CLI::App& bench) {
  auto args = std::make_shared<StepCostArgs>();
  CLI::App* cmd = bench.add_subcommand(
      "step-cost",
      "Piggyback measurement: time of a decode-only step of B sequences at context L, of a "
      "prefill chunk of C tokens alone, and of the chunk with B-1 decodes riding along");
  add_model_options(*cmd, args->model);
  cmd->add_option("--batch-sizes", args->batch_sizes, "Decode batch sizes B")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--chunk-sizes", args->chunk_sizes, "Prefill chunk sizes C")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--context-lens", args->context_lens, "Context lengths L of the decodes")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--repeats", args->repeats, "Timed runs per point (median reported)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--json", args->json_path, "Also write the grid as JSON to this path");
  return [args] { return run(*args); };
}

}  // namespace sarathi::cli
