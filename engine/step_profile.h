// engine/step_profile.h: the step-time profile `sarathi simulate --profile cpu:FILE` predicts
// from (sim/measured_model.h reads it): timed runs of the engine's executor on this machine:
//  - prefill chunks of T tokens at position 0 (T over a doubling grid) and of one length at later
//    positions (the cost of a query-key pair);
//  - decode steps of B sequences at context L (a full batch x context grid);
//  - held-out hybrid steps (a chunk with decodes riding along), to check the model with;
//  - the engine's own CPU time per step around the executor (scheduling, sampling,
//    bookkeeping), from an engine run over an executor that returns at once;
//  - the run-to-run spread of identical steps: per point its median and each run's ratio to it
//    (more runs of a few short steps, for the tail).
// Blocks are handed out from the executor's pool in order and wrap around when a step needs
// more than the pool holds (the attention then reads the same blocks twice, from memory as
// large as the pool). Written as JSON, format "sarathi-step-profile/1".
// Depends on engine/executor.h, engine/engine.h and model/llama.h (for the shape).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/executor.h"
#include "model/llama.h"

namespace sarathi::engine {

struct StepProfileOptions {
  std::vector<int32_t> chunk_tokens = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048};
  int32_t position_chunk = 128;  // the chunk timed at later positions
  std::vector<int32_t> chunk_positions = {512, 1024, 1920};
  std::vector<int32_t> decode_batches = {1, 2, 4, 8, 16, 32, 64};
  std::vector<int32_t> decode_contexts = {16, 128, 512, 1024, 2048};
  std::vector<std::array<int32_t, 3>> hybrid = {  // {decodes, context, chunk}
      {7, 512, 128},
      {15, 128, 512},
      {31, 1024, 256},
      {63, 512, 64},
      {3, 1920, 32}};
  int32_t repeats = 5;       // timed runs per point (median kept), after one warm-up run
  int32_t spread_runs = 60;  // more runs of 3 steps (1 and 16 decodes, a 64-token chunk),
                             // for the spread's tail
  int32_t num_blocks = 0;    // the executor's KV pool
  int32_t block_size = 16;
  int32_t kv_bytes_per_token = 0;  // K and V of every layer in the executor's KV type
  std::string kv_type = "f16";
  int32_t threads = 0;
  std::string isa;
  // Called after each point with a line of what was measured (progress); may be empty.
  std::function<void(const std::string&)> progress;
};

/// Measures the profile on `executor` (idle: the probes overwrite KV blocks) for a model of
/// shape `config`; grid points beyond the model's context are left out. Returns the JSON text.
core::Result<std::string> measure_step_profile(Executor& executor, const model::LlamaConfig& config,
                                               const StepProfileOptions& options);

}  // namespace sarathi::engine
