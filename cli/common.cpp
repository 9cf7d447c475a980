#include "cli/common.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli/progress.h"

namespace sarathi::cli {

void add_model_options(CLI::App& cmd, ModelArgs& args) {
  cmd.add_option("-m,--model", args.model,
                 "GGUF file, or synthetic:<shape>[:<dtype>] with shape one of tiny, qwen2-tiny, "
                 "llama-160m, tinyllama-1.1b, llama-2-7b and dtype one of f32, f16, bf16, q8_0, "
                 "q4_0, q4_K, q6_K (random weights, byte-level tokenizer, no download)")
      ->capture_default_str();
  cmd.add_option("-t,--threads", args.threads, "Threads; 0 = all cores")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  cmd.add_option("-c,--ctx-size", args.ctx_size, "Context length; 0 = the model's")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 24));
  cmd.add_option("--kv-type", args.kv_type, "KV cache element type: f16 or f32")
      ->capture_default_str();
}

std::unique_ptr<model::LlamaModel> load_model(const ModelArgs& args) {
  model::LoadOptions load;
  load.n_ctx = args.ctx_size;
  load.seed = args.seed;
  Progress progress("loading " + args.model);
  load.progress = [&](uint64_t done, uint64_t total) { progress.update(done, total); };
  auto loaded = model::LlamaModel::load(args.model, load);
  if (!loaded.ok()) {
    std::fprintf(stderr, "error: %s\n", loaded.error().message.c_str());
    return nullptr;
  }
  return std::move(*loaded);
}

std::optional<core::DType> kv_dtype(const ModelArgs& args) {
  auto d = core::dtype_from_name(args.kv_type);
  if (!d || (*d != core::DType::kF16 && *d != core::DType::kF32)) {
    std::fprintf(stderr, "error: --kv-type must be f16 or f32, not '%s'\n", args.kv_type.c_str());
    return std::nullopt;
  }
  return d;
}

double median(std::vector<double> v) { return percentile(std::move(v), 50.0); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  if (p == 50.0 && v.size() % 2 == 0)
    return 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  const double rank = std::ceil(p / 100.0 * static_cast<double>(v.size()));
  const size_t idx = static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(v.size()))) - 1;
  return v[idx];
}

}  // namespace sarathi::cli
