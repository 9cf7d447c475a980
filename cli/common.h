// cli/common.h: options and helpers shared by subcommands (model loading with a progress bar,
// parsing of comma-separated lists, statistics).
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "model/llama.h"

namespace sarathi::cli {

struct ModelArgs {
  std::string model = "synthetic:llama-160m:q8_0";
  int threads = 0;
  int32_t ctx_size = 0;
  std::string kv_type = "f16";
  std::string dtype = "auto";  // float weight matrices: auto (the file's), f32, f16, bf16
  uint64_t seed = 42;          // synthetic weights
  int32_t pipeline_parallel_size = 1;  // --pipeline-parallel-size (generate, serve, bench throughput)
};

/// Registers -m/--model, -t/--threads, -c/--ctx-size, --kv-type on a subcommand.
void add_model_options(CLI::App& cmd, ModelArgs& args);

/// Loads the model (progress bar on a terminal), under pipeline parallelism rank 0's stage
/// (cli/pipeline.h); prints the error and returns null on failure.
std::unique_ptr<model::LlamaModel> load_model(const ModelArgs& args);

/// The KV dtype named by --kv-type, or nullopt after printing an error.
std::optional<core::DType> kv_dtype(const ModelArgs& args);

/// Median, and the p-th percentile (0..100, nearest rank) of a sample; 0 for an empty one.
double median(std::vector<double> v);
double percentile(std::vector<double> v, double p);

/// Median wall time of `repeats` calls of fn, after one warm-up call.
template <typename Fn>
double median_seconds(int32_t repeats, Fn&& fn) {
  fn();
  std::vector<double> t;
  for (int32_t r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return median(t);
}

/// Streaming read bandwidth in GB/s on the pool's threads: the median of `repeats` sums of buf
/// (after a warm-up), 8 independent accumulators per thread.
double read_bandwidth_gbps(core::ThreadPool& pool, const std::vector<uint64_t>& buf,
                           int32_t repeats);

}  // namespace sarathi::cli

#include "sched/config.h"

namespace sarathi::cli {

/// Scheduler knobs shared by `serve` and `bench throughput`.
struct SchedArgs {
  std::string policy = "sarathi-serve";
  int32_t max_num_seqs = 64;
  int32_t chunk_size = 256;
  int32_t token_budget = 0;
  int32_t tile_size = 1;
  int32_t block_size = 16;
  int32_t max_model_len = 0;
  std::string kv_cache_memory = "2GiB";
  int32_t num_kv_blocks = 0;
  double watermark = 0.01;
  // --tbt-slo: "" (off: fixed budget), "strict" (5x the one-sequence decode step, measured at
  // load) or milliseconds. Ignored (fixed budget) when --token-budget is given.
  std::string tbt_slo;
  int32_t min_chunk = 0;
  bool enable_prefix_caching = true;
  std::string scheduling_policy = "fcfs";
  int32_t priority_aging_steps = 256;
};

/// The SLO --tbt-slo asks for: 0 = off (none, or --token-budget fixes the budget), < 0 = strict,
/// else seconds; nullopt (after printing an error) when malformed.
std::optional<double> tbt_slo_request(const SchedArgs& args);

/// Registers --max-num-seqs, --chunk-size, --token-budget, --tbt-slo, --min-chunk, --tile-size,
/// --block-size, --max-model-len, --kv-cache-memory, --num-kv-blocks, --watermark,
/// --[no-]enable-prefix-caching, --scheduling-policy, --priority-aging-steps (and --policy if
/// asked).
void add_sched_options(CLI::App& cmd, SchedArgs& args, bool with_policy);

/// The scheduler configuration for a model: max_model_len defaults to the model's context; the
/// KV pool comes from --num-kv-blocks or else --kv-cache-memory. Errors are printed.
std::optional<sched::SchedulerConfig> sched_config(const SchedArgs& args,
                                                   const model::LlamaConfig& model,
                                                   core::DType kv_dtype);

/// Parses "2GiB", "512MiB", "1.5G", "123456" into bytes; nullopt when malformed.
std::optional<int64_t> parse_bytes(const std::string& s);

}  // namespace sarathi::cli
