// `sarathi generate`: run one prompt through a model and stream the completion.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <random>
#include <string>

#include "cli/commands.h"
#include "cli/common.h"
#include "engine/generator.h"
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

  engine::Generator::Options gopt;
  gopt.num_threads = a.model.threads;
  gopt.kv.dtype = *kv;
  auto gen = engine::Generator::create(m, gopt);
  if (!gen.ok()) {
    std::fprintf(stderr, "error: %s\n", gen.error().message.c_str());
    return 1;
  }
  const std::vector<int32_t> ids = m.tokenizer().encode(prompt, true, true);

  engine::GenerateOptions opt;
  opt.max_tokens = a.num_predict;
  opt.sampling.temperature = a.temperature;
  opt.sampling.top_k = a.top_k;
  opt.sampling.top_p = a.top_p;
  opt.sampling.seed = a.seed >= 0 ? static_cast<uint64_t>(a.seed) : std::random_device{}();
  opt.prefill_chunk = a.chunk;
  opt.ignore_eos = a.ignore_eos;

  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  std::fflush(stdout);
  model::IncrementalDecoder decoder(m.tokenizer());
  auto stats = (*gen)->generate(ids, opt, [&](int32_t token) {
    const std::string text = decoder.push(token);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  const std::string tail = decoder.flush();
  std::fwrite(tail.data(), 1, tail.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (!stats.ok()) {
    std::fprintf(stderr, "error: %s\n", stats.error().message.c_str());
    return 1;
  }
  const auto& s = *stats;
  std::fprintf(stderr, "\nprompt:     %5d tokens in %8.3f s = %9.2f tokens/s\n",
               s.num_prompt_tokens, s.prompt_seconds,
               s.prompt_seconds > 0 ? s.num_prompt_tokens / s.prompt_seconds : 0.0);
  std::fprintf(stderr, "generation: %5d tokens in %8.3f s = %9.2f tokens/s (%d decode steps)\n",
               s.num_generated_tokens, s.generate_seconds,
               s.generate_seconds > 0 ? s.num_decode_steps / s.generate_seconds : 0.0,
               s.num_decode_steps);
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
  cmd->add_option("--chunk-size", args->chunk, "Prompt tokens per prefill step")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_flag("--ignore-eos", args->ignore_eos, "Do not stop at end-of-generation tokens");
  cmd->add_flag("-v,--verbose", args->verbose, "Print model and kernel details");
  return [args] { return run(*args); };
}

}  // namespace sarathi::cli
