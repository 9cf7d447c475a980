// `sarathi generate`: run one prompt through a model and stream the completion.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <random>
#include <string>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/pipeline.h"
#include "engine/engine.h"
#include "kernels/kernels.h"
#include "model/llama.h"
#include "model/tokenizer.h"

namespace sarathi::cli {
namespace {

struct GenerateArgs {
  ModelArgs model;
  std::string prompt;
  bool prompt_given = false;
  int32_t num_predict = 64;
  float temperature = 0.8f;
  int32_t top_k = 40;
  float top_p = 0.95f;
  int64_t seed = -1;
  int32_t chunk = 512;
  bool ignore_eos = false;
  bool verbose = false;
};

int run(const GenerateArgs& a) {
  std::string prompt = a.prompt;
  if (!a.prompt_given) {
    if (isatty(0)) {
      std::fprintf(stderr, "error: no prompt: pass -p/--prompt or pipe it on standard input\n");
      return 2;
    }
    prompt.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  const auto kv = kv_dtype(a.model);
  if (!kv) return 2;
  const auto t_load = std::chrono::steady_clock::now();
  const auto loaded = load_model(a.model);
  if (!loaded) return 1;
  const model::LlamaModel& m = *loaded;
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
  if (a.verbose) {
    std::fprintf(stderr, "model: %s\n", m.config().summary().c_str());
    std::fprintf(stderr, "kernels: %s, weights %.1f MiB, loaded in %.2f s\n",
                 std::string(kernels::isa_name(kernels::active_isa())).c_str(),
                 static_cast<double>(m.weight_bytes()) / (1 << 20), load_s);
  }

  // One request on the engine, the code path every request takes (scheduler, executor,
  // sampler, detokenizer): the sarathi policy, whose chunk is --chunk-size.
  const int32_t n_ctx = m.config().n_ctx;
  const std::vector<int32_t> ids = m.tokenizer().encode(prompt, true, true);
  if (static_cast<int64_t>(ids.size()) >= n_ctx) {
    std::fprintf(stderr,
                 "error: the prompt has %zu tokens, but the context holds %d (leave room for "
                 "output; -c/--ctx-size)\n",
                 ids.size(), n_ctx);
    return 1;
  }
  sched::SchedulerConfig cfg;
  cfg.policy = "sarathi";
  cfg.max_num_seqs = 1;
  cfg.chunk_size = a.chunk;
  cfg.block_size = 16;
  cfg.watermark = 0;
  cfg.max_model_len = n_ctx;
  cfg.num_kv_blocks = (n_ctx + cfg.block_size - 1) / cfg.block_size;
  auto exec = make_executor(
      m, {.num_blocks = cfg.num_kv_blocks, .block_size = cfg.block_size, .dtype = *kv},
      a.model.threads);
  if (!exec.ok()) {
    std::fprintf(stderr, "error: %s\n", exec.error().message.c_str());
    return 1;
  }
  auto eng = engine::Engine::create(**exec, &m.tokenizer(), {.sched = cfg, .keep_finished = true});
  if (!eng.ok()) {
    std::fprintf(stderr, "error: %s\n", eng.error().message.c_str());
    return 1;
  }
  engine::RequestParams params;
  // Generation also stops at the end of the context, as before.
  params.max_tokens = std::min(a.num_predict, n_ctx - static_cast<int32_t>(ids.size()));
  params.ignore_eos = a.ignore_eos;
  params.sampling.temperature = a.temperature;
  params.sampling.top_k = a.top_k;
  params.sampling.top_p = a.top_p;
  params.sampling.seed = a.seed >= 0 ? static_cast<uint64_t>(a.seed) : std::random_device{}();

  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  std::fflush(stdout);
  auto id = (*eng)->add_request(ids, params, [](const engine::TokenEvent& ev) {
    std::fwrite(ev.text.data(), 1, ev.text.size(), stdout);
    std::fflush(stdout);
  });
  if (!id.ok()) {
    std::fprintf(stderr, "\nerror: %s\n", id.error().message.c_str());
    return 1;
  }
  int32_t prefill_steps = 0, decode_steps = 0;
  while ((*eng)->has_work()) {
    auto st = (*eng)->step();
    if (!st.ok()) {
      std::fprintf(stderr, "\nerror: %s\n", st.error().message.c_str());
      return 1;
    }
    (st->num_prefill_tokens > 0 ? prefill_steps : decode_steps) += 1;
  }
  std::fputc('\n', stdout);
  std::fflush(stdout);
  const engine::RequestRecord& rec = (*eng)->finished().back();
  const double prompt_s = rec.times.first_token - rec.times.arrival;
  const double gen_s = rec.times.finish - rec.times.first_token;
  const auto n_out = static_cast<int32_t>(rec.output.size());
  std::fprintf(stderr, "\nprompt:     %5zu tokens in %8.3f s = %9.2f tokens/s (%d steps)\n",
               ids.size(), prompt_s, prompt_s > 0 ? static_cast<double>(ids.size()) / prompt_s : 0.0,
               prefill_steps);
  // The first token comes with the prompt's last step; each later one takes a decode step.
  std::fprintf(stderr, "generation: %5d tokens in %8.3f s = %9.2f tokens/s (%d decode steps)\n",
               n_out, gen_s, gen_s > 0 ? decode_steps / gen_s : 0.0, decode_steps);
  return 0;
}

}  // namespace

Runner add_generate(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text from one prompt, streaming it");
  add_model_options(*cmd, args->model);
  cmd->add_option_function<std::string>(
      "-p,--prompt",
      [args](const std::string& p) {
        args->prompt = p;
        args->prompt_given = true;
      },
      "Prompt text (default: read standard input)");
  cmd->add_option("-n,--n-predict", args->num_predict, "Tokens to generate")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--temp", args->temperature, "Sampling temperature; 0 = greedy")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 100.0f));
  cmd->add_option("--top-k", args->top_k, "Keep the k most likely tokens; 0 = off")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-p", args->top_p, "Nucleus sampling mass; 1 = off")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("-s,--seed", args->seed, "Sampling seed; -1 = random (also seeds nothing else)")
      ->capture_default_str();
  cmd->add_option("--chunk-size", args->chunk, "Prompt tokens per prefill step (the engine's "
                                               "sarathi policy chunk)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_flag("--ignore-eos", args->ignore_eos, "Do not stop at end-of-generation tokens");
  cmd->add_flag("-v,--verbose", args->verbose, "Print model and kernel details");
  add_pipeline_option(*cmd, args->model.pipeline_parallel_size);
  return [args] { return run_pipelined(args->model.pipeline_parallel_size, [&] { return run(*args); }); };
}

}  // namespace sarathi::cli
