#include "cli/common.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli/pipeline.h"
#include "cli/progress.h"
#include "model/forward.h"
#include "workload/serving_metrics.h"

namespace sarathi::cli {

void add_model_options(CLI::App& cmd, ModelArgs& args) {
  cmd.add_option("-m,--model", args.model,
                 fmt::format("GGUF file (architectures llama, qwen2, qwen3, phi3, gemma2, gemma3), "
                             "or synthetic:<shape>[:<dtype>] with shape one of {} and dtype a "
                             "weight type: f32, f16, bf16, q8_0, q4_0, q4_K, q5_K, q6_K, q4_1, "
                             "q5_0, q5_1, q2_K, q3_K, iq4_nl, iq4_xs (random weights, byte-level "
                             "tokenizer, no download)",
                             fmt::join(model::synthetic_shapes(), ", ")))
      ->capture_default_str();
  cmd.add_option("-t,--threads", args.threads, "Threads; 0 = all cores")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  cmd.add_option("-c,--ctx-size", args.ctx_size, "Context length; 0 = the model's")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 24));
  cmd.add_option("--kv-type", args.kv_type,
                 "KV cache element type: f16, f32, or q8_0 (llama.cpp's --cache-type-k/v q8_0: "
                 "per 32 elements an f16 scale and int8 quants, 1.0625 bytes per element, "
                 "approximate; head size a multiple of 32)")
      ->capture_default_str();
  cmd.add_option("--dtype", args.dtype,
                 "Type of the float weight matrices (those stored as f32, f16 or bf16; quantized "
                 "ones, norms and the embedding table keep theirs): auto (as in the file), "
                 "float32|float, float16|half, bfloat16|bf16. Converted once at load, rounding "
                 "to nearest even. bfloat16 runs f16 models on the AVX512-BF16 / AMX-BF16 "
                 "kernels: prefill of 512 tokens on tinyllama-1.1b f16, 2-core Zen 4: 5.75 s as "
                 "f16, 2.66 s as bf16 (its 8-bit mantissa costs precision, as in vLLM's CPU "
                 "backend)")
      ->capture_default_str();
}

namespace {

// --dtype: false for a name we do not know; out stays empty for auto.
bool parse_float_weights(const std::string& name, std::optional<core::DType>& out) {
  out.reset();
  if (name == "auto") return true;
  if (name == "float32" || name == "float" || name == "f32") {
    out = core::DType::kF32;
  } else if (name == "float16" || name == "half" || name == "f16") {
    out = core::DType::kF16;
  } else if (name == "bfloat16" || name == "bf16") {
    out = core::DType::kBF16;
  } else {
    return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<model::LlamaModel> load_model(const ModelArgs& args) {
  model::LoadOptions load;
  if (!parse_float_weights(args.dtype, load.float_weights)) {
    std::fprintf(stderr,
                 "error: --dtype must be auto, float32, float16 (half) or bfloat16, not '%s'\n",
                 args.dtype.c_str());
    return nullptr;
  }
  load.n_ctx = args.ctx_size;
  load.seed = args.seed;
  Progress progress("loading " + args.model);
  load.progress = [&](uint64_t done, uint64_t total) { progress.update(done, total); };
  auto loaded = load_pipelined(args.model, load);
  if (!loaded.ok()) {
    std::fprintf(stderr, "error: %s\n", loaded.error().message.c_str());
    return nullptr;
  }
  return std::move(*loaded);
}

std::optional<core::DType> kv_dtype(const ModelArgs& args) {
  auto d = core::dtype_from_name(args.kv_type);
  if (!d || (*d != core::DType::kF16 && *d != core::DType::kF32 && *d != core::DType::kQ8_0)) {
    std::fprintf(stderr, "error: --kv-type must be f16, f32 or q8_0, not '%s'\n",
                 args.kv_type.c_str());
    return std::nullopt;
  }
  return d;
}

double median(std::vector<double> v) { return percentile(std::move(v), 50.0); }

double percentile(std::vector<double> v, double p) {
  return workload::percentile(std::move(v), p);
}

}  // namespace sarathi::cli

namespace sarathi::cli {

void add_sched_options(CLI::App& cmd, SchedArgs& a, bool with_policy) {
  if (with_policy)
    cmd.add_option("--policy", a.policy,
                   "Scheduling policy: static, orca, vllm, sarathi, sarathi-serve")
        ->capture_default_str();
  cmd.add_option("--max-num-seqs", a.max_num_seqs, "Running sequences at most (batch size)")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  cmd.add_option("--chunk-size", a.chunk_size,
                 "sarathi: prefill chunk tokens per step. 256 by default: measured with bench "
                 "step-cost on a 2-core Zen 4 (tinyllama-1.1b q8_0), 31 decodes at 1024 context "
                 "riding on a 256-token chunk add 10-20% to the chunk's ~1 s, i.e. a decode "
                 "costs a fraction of its share of a decode-only step; larger chunks lengthen "
                 "every step the decodes wait on")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd.add_option("--token-budget,--max-num-batched-tokens", a.token_budget,
                 "Tokens per step (tau). 0 = the policy's default: sarathi-serve 512, vllm/orca "
                 "max(2048, max-model-len) (whole prompts). tau bounds the time between tokens: "
                 "measured on a 2-core Zen 4, a 512-token step of llama-160m q8_0 takes ~0.36 s "
                 "and of tinyllama-1.1b q8_0 ~2.1 s; use 64-128 on such a CPU when inter-token "
                 "latency matters more than prefill throughput")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 24));
  cmd.add_option("--tbt-slo", a.tbt_slo,
                 "Time-between-tokens target in ms, or 'strict' (5x the one-sequence decode "
                 "step, measured at load), for sarathi-serve's token budget and sarathi's chunk "
                 "size: each step's prefill chunks are cut so the step's predicted duration "
                 "stays within a margin of it (from the spread of measured steps), by a step-cost "
                 "model fitted at load and refined from every step; 'off' or 0 disables it. --token-budget instead fixes the budget" +
                     std::string(a.tbt_slo.empty() ? " (default: off)"
                                                   : " (default: " + a.tbt_slo + ")"));
  cmd.add_option("--min-chunk", a.min_chunk,
                 "Under --tbt-slo, the least prefill per step while prompts wait, even when the "
                 "decodes alone exceed the target (0 = one KV block, or fewer tokens where a "
                 "block beside one decode would exceed the target on this host)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  cmd.add_option("--tile-size", a.tile_size,
                 "sarathi: shrink chunks so chunk + decodes is a multiple of this (1 = off)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  cmd.add_option("--block-size", a.block_size,
                 "Tokens per KV block (multiples of 16 take the fastest attention path)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd.add_option("--max-model-len", a.max_model_len,
                 "Prompt + output tokens of one request at most; 0 = the model's context")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 24));
  cmd.add_option("--kv-cache-memory", a.kv_cache_memory,
                 "Memory for the KV cache (e.g. 2GiB, 512MiB); per rank under pipeline "
                 "parallelism (each rank holds its own layers' KV)")
      ->capture_default_str();
  cmd.add_option("--num-kv-blocks", a.num_kv_blocks,
                 "KV blocks in the pool (overrides --kv-cache-memory); 0 = from memory")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 28));
  cmd.add_option("--watermark", a.watermark,
                 "Fraction of KV blocks that admitting new prompts leaves free")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.5));
  cmd.add_flag("--enable-prefix-caching,!--no-enable-prefix-caching", a.enable_prefix_caching,
               "Automatic prefix caching (default on): full KV blocks are kept, keyed by the "
               "hash chain of their tokens, and a request sharing a cached prefix computes only "
               "the rest; finished requests' blocks are evicted least-recently-used when the "
               "pool needs them. Outputs are identical either way");
  cmd.add_option("--scheduling-policy", a.scheduling_policy,
                 "Admission and preemption order: fcfs (arrival; a request's 'priority' must be "
                 "0) or priority (lower 'priority' first, then arrival; preemption takes the "
                 "worst priority first)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fcfs", "priority"}));
  cmd.add_option("--priority-aging-steps", a.priority_aging_steps,
                 "With priority scheduling, a request's priority improves by one level every this "
                 "many engine steps since its arrival, so none waits forever (0 = no aging)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 30));
}

std::optional<int64_t> parse_bytes(const std::string& s) {
  size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(s, &pos);
  } catch (...) {
    return std::nullopt;
  }
  std::string unit = s.substr(pos);
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double mult = 1;
  if (unit.empty() || unit == "b")
    mult = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib")
    mult = 1024.0;
  else if (unit == "m" || unit == "mb" || unit == "mib")
    mult = 1024.0 * 1024;
  else if (unit == "g" || unit == "gb" || unit == "gib")
    mult = 1024.0 * 1024 * 1024;
  else
    return std::nullopt;
  if (!(v > 0) || v * mult > 1e15) return std::nullopt;
  return static_cast<int64_t>(v * mult);
}

std::optional<double> tbt_slo_request(const SchedArgs& a) {
  if (a.tbt_slo.empty() || a.tbt_slo == "off" || a.token_budget > 0) return 0.0;
  if (a.tbt_slo == "strict") return -1.0;
  size_t pos = 0;
  double ms = 0;
  try {
    ms = std::stod(a.tbt_slo, &pos);
  } catch (...) {
    pos = 0;
  }
  if (pos == a.tbt_slo.size() && ms == 0) return 0.0;
  if (pos != a.tbt_slo.size() || !(ms > 0) || ms > 1e7) {
    std::fprintf(stderr, "error: --tbt-slo '%s' is not a positive number of ms or 'strict'\n",
                 a.tbt_slo.c_str());
    return std::nullopt;
  }
  return ms * 1e-3;
}

std::optional<sched::SchedulerConfig> sched_config(const SchedArgs& a, const model::LlamaConfig& m,
                                                   core::DType kv_dtype) {
  sched::SchedulerConfig c;
  c.policy = a.policy;
  c.max_num_seqs = a.max_num_seqs;
  c.chunk_size = a.chunk_size;
  c.max_num_batched_tokens = a.token_budget;
  c.tile_size = a.tile_size;
  c.block_size = a.block_size;
  c.watermark = a.watermark;
  c.min_chunk = a.min_chunk;
  c.enable_prefix_caching = a.enable_prefix_caching;
  c.scheduling_policy = a.scheduling_policy == "priority" ? sched::SchedulingPolicy::kPriority
                                                          : sched::SchedulingPolicy::kFcfs;
  c.priority_aging_steps = a.priority_aging_steps;
  // Cached blocks are only valid for this model's weights and this KV type.
  c.prefix_cache_salt = std::hash<std::string>{}(m.name + "|" + std::string(core::dtype_name(kv_dtype)));
  c.max_model_len = a.max_model_len > 0 ? std::min(a.max_model_len, m.n_ctx) : m.n_ctx;
  if (a.num_kv_blocks > 0) {
    c.num_kv_blocks = a.num_kv_blocks;
  } else {
    const auto bytes = parse_bytes(a.kv_cache_memory);
    if (!bytes) {
      std::fprintf(stderr, "error: --kv-cache-memory '%s' is not a size like 2GiB\n",
                   a.kv_cache_memory.c_str());
      return std::nullopt;
    }
    // Per rank under pipeline parallelism: a rank keeps the KV of its own layers only.
    const auto per_block = static_cast<int64_t>(model::PagedKvCache::bytes_per_block(
        m, a.block_size, kv_dtype, kv_layers_per_rank(m)));
    c.num_kv_blocks = static_cast<int32_t>(std::min<int64_t>(*bytes / per_block, 1 << 28));
    if (c.num_kv_blocks < 1) {
      std::fprintf(stderr, "error: --kv-cache-memory %s holds no KV block (%lld bytes each)\n",
                   a.kv_cache_memory.c_str(), static_cast<long long>(per_block));
      return std::nullopt;
    }
  }
  auto st = sched::validate(c);
  if (!st.ok()) {
    std::fprintf(stderr, "error: %s\n", st.error().message.c_str());
    return std::nullopt;
  }
  return c;
}

double read_bandwidth_gbps(core::ThreadPool& pool, const std::vector<uint64_t>& buf,
                           int32_t repeats) {
  std::vector<uint64_t> sinks(static_cast<size_t>(pool.num_threads()) * 8);
  const auto n = static_cast<int64_t>(buf.size());
  const double seconds = median_seconds(repeats, [&] {
    pool.parallel_for(n, 4096, [&](int idx, int64_t b, int64_t e) {
      uint64_t acc[8] = {};
      for (int64_t i = b; i + 8 <= e; i += 8)
        for (int j = 0; j < 8; ++j) acc[j] += buf[static_cast<size_t>(i + j)];
      for (int j = 0; j < 8; ++j)
        sinks[static_cast<size_t>(idx) * 8 + static_cast<size_t>(j)] += acc[j];
    });
  });
  uint64_t total = 0;
  for (uint64_t v : sinks) total += v;
  if (total == 42) std::printf(" ");  // keeps the loads
  return static_cast<double>(buf.size() * sizeof(uint64_t)) / seconds / 1e9;
}

}  // namespace sarathi::cli
