// `sarathi bench profile`: measures the step-time profile `sarathi simulate --profile cpu:FILE`
// predicts from (engine/step_profile.h): prefill chunks over a doubling grid of lengths and at
// later positions, a batch x context grid of decode steps, held-out hybrid steps, the engine's
// own CPU time per step, and the run-to-run spread, all on the engine's executor on this
// machine.
#include <array>
#include <cstdio>
#include <fstream>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "engine/model_executor.h"
#include "engine/step_profile.h"
#include "kernels/kernels.h"
#include "model/forward.h"

namespace sarathi::cli {
namespace {

struct ProfileArgs {
  ModelArgs model;
  engine::StepProfileOptions profile;
  std::string kv_cache_memory = "2GiB";
  std::vector<std::string> hybrid;  // "D:L:C"
  std::string json_path;
};

int run(ProfileArgs a) {
  const auto kv = kv_dtype(a.model);
  if (!kv) return 2;
  if (a.json_path.empty()) {
    std::fprintf(stderr, "error: --json FILE is required (the profile simulate reads)\n");
    return 2;
  }
  const auto bytes = parse_bytes(a.kv_cache_memory);
  if (!bytes) {
    std::fprintf(stderr, "error: --kv-cache-memory '%s' is not a size like 2GiB\n",
                 a.kv_cache_memory.c_str());
    return 2;
  }
  if (!a.hybrid.empty()) {
    a.profile.hybrid.clear();
    for (const std::string& h : a.hybrid) {
      std::array<int32_t, 3> v{};
      if (std::sscanf(h.c_str(), "%d:%d:%d", &v[0], &v[1], &v[2]) != 3 || v[0] < 0 || v[1] < 0 ||
          v[2] < 1) {
        std::fprintf(stderr, "error: --hybrid takes DECODES:CONTEXT:CHUNK, not '%s'\n", h.c_str());
        return 2;
      }
      a.profile.hybrid.push_back(v);
    }
  }
  const auto m = load_model(a.model);
  if (!m) return 1;
  const model::LlamaConfig& c = m->config();
  const int32_t bs = a.profile.block_size;
  const auto per_block = static_cast<int64_t>(model::PagedKvCache::bytes_per_block(c, bs, *kv));
  // The pool holds at least the longest chunk measured, so a chunk never overwrites itself.
  const auto need = static_cast<int64_t>((c.n_ctx + bs - 1) / bs);
  const auto num_blocks = static_cast<int32_t>(std::max(need, *bytes / per_block));
  auto exec = engine::ModelExecutor::create(
      *m, {.num_blocks = num_blocks, .block_size = bs, .dtype = *kv}, a.model.threads);
  if (!exec.ok()) {
    std::fprintf(stderr, "error: %s\n", exec.error().message.c_str());
    return 1;
  }
  a.profile.num_blocks = num_blocks;
  a.profile.kv_bytes_per_token = static_cast<int32_t>(per_block / bs);
  a.profile.kv_type = a.model.kv_type;
  a.profile.threads =
      a.model.threads > 0 ? a.model.threads : static_cast<int>(std::thread::hardware_concurrency());
  a.profile.isa = std::string(kernels::isa_name(kernels::active_isa()));
  a.profile.progress = [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  };
  std::printf("profiling %s: %d threads, kernels %s, KV %s (%d blocks of %d), median of %d runs\n",
              c.name.c_str(), a.profile.threads, a.profile.isa.c_str(), a.model.kv_type.c_str(),
              num_blocks, bs, a.profile.repeats);
  auto text = engine::measure_step_profile(**exec, c, a.profile);
  if (!text.ok()) {
    std::fprintf(stderr, "error: %s\n", text.error().message.c_str());
    return 1;
  }
  std::ofstream f(a.json_path);
  f << *text;
  if (!f) {
    std::fprintf(stderr, "error: cannot write %s\n", a.json_path.c_str());
    return 1;
  }
  std::printf("wrote %s (use: sarathi simulate --profile cpu:%s)\n", a.json_path.c_str(),
              a.json_path.c_str());
  return 0;
}

}  // namespace

Runner add_bench_profile(CLI::App& bench) {
  auto a = std::make_shared<ProfileArgs>();
  CLI::App* cmd = bench.add_subcommand(
      "profile",
      "Measure the step-time profile of this machine for `sarathi simulate --profile cpu:FILE`: "
      "prefill chunks of every length in --chunk-tokens at position 0 and of --position-chunk "
      "tokens at --chunk-positions, decode steps over --decode-batches x --decode-contexts, "
      "held-out hybrid steps (a chunk plus decodes) that check the model, the engine's own CPU "
      "time per step, and the spread of repeated identical steps");
  add_model_options(*cmd, a->model);
  auto& p = a->profile;
  cmd->add_option("--chunk-tokens", p.chunk_tokens, "Prefill chunk lengths at position 0")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--position-chunk", p.position_chunk, "Chunk length timed at later positions")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--chunk-positions", p.chunk_positions, "Positions of that chunk")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--decode-batches", p.decode_batches, "Decode batch sizes")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--decode-contexts", p.decode_contexts, "Decode positions (context lengths)")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 24));
  cmd->add_option("--hybrid", a->hybrid,
                  "Held-out hybrid steps DECODES:CONTEXT:CHUNK (a chunk at position 0 with that "
                  "many decodes at that context), comma-separated (default 7:512:128, "
                  "15:128:512, 31:1024:256, 63:512:64, 3:1920:32; points beyond the model's "
                  "context are left out)")
      ->delimiter(',');
  cmd->add_option("--repeats", p.repeats, "Timed runs per point (median kept)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--spread-runs", p.spread_runs,
                  "Further runs of a decode batch and of a short chunk, for the spread")
      ->capture_default_str()
      ->check(CLI::Range(2, 100000));
  cmd->add_option("--block-size", p.block_size, "Tokens per KV block")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--kv-cache-memory", a->kv_cache_memory,
                  "KV pool for the probes (blocks wrap around when a step needs more)")
      ->capture_default_str();
  cmd->add_option("--json", a->json_path, "Write the profile here (required)");
  return [a] { return run(*a); };
}

}  // namespace sarathi::cli
