// engine/generator.h: one sequence from prompt to completion (what `sarathi generate` runs):
// chunked prefill, then one decode step per token, over the same batch forward pass and paged
// KV cache the scheduler uses. Depends on model/, kv/ and engine/sampler.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "engine/sampler.h"
#include "kv/block_pool.h"
#include "model/forward.h"
#include "model/llama.h"

namespace sarathi::engine {

struct GenerateOptions {
  int32_t max_tokens = 64;
  SamplingParams sampling;
  int32_t prefill_chunk = 512;  // tokens per prefill step
  bool ignore_eos = false;      // keep going past end-of-generation tokens
};

struct GenerateStats {
  int32_t num_prompt_tokens = 0;
  int32_t num_generated_tokens = 0;
  double prompt_seconds = 0;    // prefill, up to and including the first token's logits
  int32_t num_decode_steps = 0; // forward passes after the prompt (one per fed-back token)
  double generate_seconds = 0;  // the decode steps after the first token
};

/// Called with each new token; return false to stop.
using TokenFn = std::function<bool(int32_t token)>;

class Generator {
 public:
  struct Options {
    int num_threads = 0;  // 0: all cores
    model::KvCacheOptions kv{.num_blocks = 0, .block_size = 16, .dtype = core::DType::kF16};
  };
  /// kv.num_blocks == 0 sizes the cache for the model's full context.
  static core::Result<std::unique_ptr<Generator>> create(const model::LlamaModel& model,
                                                         const Options& options);

  /// Generates from a tokenized prompt; the cache is reset first.
  core::Result<GenerateStats> generate(std::span<const int32_t> prompt,
                                       const GenerateOptions& options, const TokenFn& on_token);

 private:
  Generator(const model::LlamaModel& model, int num_threads);

  const model::LlamaModel& model_;
  core::ThreadPool pool_;
  std::unique_ptr<model::PagedKvCache> cache_;
  std::unique_ptr<kv::BlockPool> blocks_;
  std::unique_ptr<model::Forward> forward_;
};

}  // namespace sarathi::engine
