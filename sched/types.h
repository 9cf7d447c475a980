// sched/types.h: the scheduler's vocabulary: sequence state, the chunks of one step (BatchPlan)
// and the engine's per-chunk report (StepResult). Plain data; must not depend on model/ or
// kernels/.
#pragma once

#include <cstdint>
#include <vector>

namespace sarathi::sched {

using SeqId = int64_t;

enum class SeqStatus { kWaiting, kRunning, kFinished, kAborted, kRejected };

/// One sequence as the scheduler sees it. Token accounting (vLLM semantics):
///  - the sequence's tokens are its prompt followed by its outputs;
///  - num_computed_tokens of them are in the KV cache;
///  - num_prefill_tokens is what the current (re)start must prefill: the prompt at first, and
///    prompt + outputs so far after a recompute preemption (outputs are kept, never resampled);
///  - while num_computed_tokens < num_prefill_tokens it is prefilling; afterwards it decodes:
///    then num_computed_tokens == num_prompt_tokens + num_output_tokens - 1, because the last
///    sampled token is the input of the next decode.
/// The last prefill chunk and every decode produce one output token.
struct SeqState {
  SeqId id = 0;
  int64_t arrival_idx = 0;  // order of add(); FCFS key
  int32_t num_prompt_tokens = 0;
  int32_t num_computed_tokens = 0;
  int32_t num_prefill_tokens = 0;
  int32_t num_output_tokens = 0;
  int32_t max_output_tokens = 0;
  int32_t num_restarts = 0;  // recompute preemptions so far
  SeqStatus status = SeqStatus::kWaiting;
  // Running and part of a plan not yet reported (on_step_done): a micro-batch in flight through
  // a pipeline. Such a sequence is in no other plan, is never preempted, and policies do not see
  // it (SchedView::running() leaves it out).
  bool in_flight = false;
  // Prefix caching, while waiting: num_computed_tokens is the cached prefix found before the
  // plan (whole blocks), and this many of its blocks are held by running sequences, so sharing
  // them takes no free block (the rest are cached blocks nobody holds, counted as free).
  int32_t num_prefix_blocks_held = 0;
  // Priority scheduling (SchedulingPolicy::kPriority): lower values are served first.
  int32_t priority = 0;
  int64_t arrival_step = 0;        // the scheduler's step count when it was added
  int64_t effective_priority = 0;  // priority less the levels aged, as of the last schedule()

  /// Prompt plus outputs.
  int32_t num_tokens() const { return num_prompt_tokens + num_output_tokens; }
  /// True until the current (re)start's prefill is complete.
  bool is_prefilling() const { return num_computed_tokens < num_prefill_tokens; }
  /// Prefill tokens still to compute (0 once decoding).
  int32_t num_prefill_left() const {
    return is_prefilling() ? num_prefill_tokens - num_computed_tokens : 0;
  }
};

/// One sequence's work in a step: tokens [first_token, first_token + num_tokens) of the sequence.
/// first_token equals the sequence's num_computed_tokens. A decode is a chunk of 1 whose token is
/// the last sampled one.
struct SeqChunk {
  SeqId seq = 0;
  int32_t first_token = 0;
  int32_t num_tokens = 0;
  // KV tokens the sequence must hold once this step is applied; 0 means
  // first_token + num_tokens. Policies set it to reserve ahead (a whole prompt at admission, or
  // prompt + max output for `static`). The engine can ignore it.
  int32_t num_kv_tokens = 0;
};

/// What one step runs. chunks are in plan order (decodes first for most policies); a chunk of a
/// waiting sequence admits it. preempted sequences lost their blocks before the step (they are
/// back at the front of the waiting queue); rejected ones can never run and were dropped.
struct BatchPlan {
  std::vector<SeqChunk> chunks;
  std::vector<SeqId> preempted;
  std::vector<SeqId> rejected;
  int32_t num_prefill_tokens = 0;  // filled by the Scheduler: tokens of prefill chunks
  int32_t num_decode_tokens = 0;   // filled by the Scheduler: decode chunks (1 token each)
  // Filled by the Scheduler when it has a cost model: the step's predicted seconds, and whether
  // its decodes alone are predicted beyond the TBT SLO's step target (the SLO cannot be met).
  double predicted_s = 0;
  bool decodes_over_slo = false;

  /// Tokens of the whole step.
  int32_t num_tokens() const { return num_prefill_tokens + num_decode_tokens; }
  /// Whether there is nothing to run.
  bool empty() const { return chunks.empty(); }
};

/// The engine's report for plan.chunks[i] (same index).
struct StepResult {
  SeqId seq = 0;
  bool produced_token = false;  // the last chunk of a prefill and every decode produce one
  bool finished = false;        // EOS, stop string, max tokens... (implies produced_token)
  int32_t token = -1;           // the token produced (prefix caching hashes it with the rest)
};

}  // namespace sarathi::sched
