// sched/config.h: SchedulerConfig (the --policy, --max-num-seqs, --token-budget... knobs) and
// its validation. Plain data plus core::Result; must not depend on model/ or kernels/.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace sarathi::sched {

/// The order requests are admitted in and preempted by (--scheduling-policy, as vLLM's).
enum class SchedulingPolicy {
  kFcfs,      // arrival order (restarted sequences first); request priorities are ignored
  kPriority,  // lower priority value first (then as kFcfs); preemption takes the worst first
};

struct SchedulerConfig {
  std::string policy = "sarathi-serve";  // static | orca | vllm | sarathi | sarathi-serve
  int32_t max_num_seqs = 128;            // running sequences at most (batch size)
  // τ, tokens per step (--token-budget / --max-num-batched-tokens). 0 picks the policy's
  // default (see token_budget()). sarathi-serve: all tokens of a step; vllm: prompt tokens of a
  // prefill step; orca and static: prompt tokens of a step (decodes ride along); sarathi: unused.
  int32_t max_num_batched_tokens = 0;
  int32_t chunk_size = 256;      // sarathi: prefill chunk length
  int32_t tile_size = 1;         // sarathi: chunk + decodes is made a multiple of this (1: off)
  int32_t block_size = 16;       // tokens per KV block
  int32_t num_kv_blocks = 1024;  // blocks in the KV pool
  double watermark = 0.01;       // fraction of the pool that admitting new prefills leaves free
  int32_t max_model_len = 4096;  // prompt + max output tokens of one request, at most
  // SLO-driven chunking (sarathi-serve, sarathi; --tbt-slo): when > 0, each step's prefill chunks
  // are cut so that the step's predicted duration (the StepCostModel the engine hands the
  // Scheduler) stays within kSloPlanFraction of this many seconds, and never exceed the token
  // budget / chunk size. 0: fixed budget only.
  double tbt_slo_s = 0;
  // The least prefill a step makes under an SLO when any prompt is pending, even if the decodes
  // alone exceed the target (so a prefill never starves). 0: one KV block (the engine's
  // calibration replaces 0 by what fits beside one decode within the target: see
  // engine::default_min_chunk).
  int32_t min_chunk = 0;
  // Automatic prefix caching (--enable-prefix-caching): full KV blocks are identified by the
  // hash chain of their tokens; a new (or restarted) sequence shares the cached blocks of its
  // longest cached prefix and prefills only the rest (at least its last prompt token, for the
  // logits); finished sequences' blocks stay cached until the pool needs them (LRU). Only
  // sequences added with their tokens take part.
  bool enable_prefix_caching = true;
  // Parent hash of every first block: names what else decides a block's content (model, KV
  // type), so caches of different models could never match.
  uint64_t prefix_cache_salt = 0;
  // Admission and preemption order. With kPriority, a request's effective priority is its
  // priority less one level per priority_aging_steps steps since it arrived (0: no aging), so a
  // request that waits long enough ranks ahead of every later arrival: starvation is bounded
  // (docs/DEVELOPERS.md).
  SchedulingPolicy scheduling_policy = SchedulingPolicy::kFcfs;
  int32_t priority_aging_steps = 256;
  // Pipeline parallelism: how many plans (micro-batches) may be in flight at once, i.e.
  // scheduled and not yet reported with on_step_done. Each plan is made from the running
  // sequences that are not in flight (and the waiting ones), so a sequence is in at most one
  // micro-batch at a time (Sarathi-Serve's pipeline-parallel scheduler). 1: every plan is
  // reported before the next is made. The engine sets it to its executor's depth.
  int32_t max_in_flight = 1;
};

/// The fraction of the TBT SLO a step is planned to until the engine has measured how far steps
/// stray from their predictions (the SLO is met on the P99, the model predicts the mean); the
/// engine then sets the target itself (Scheduler::set_cost_model).
inline constexpr double kSloPlanFraction = 0.85;

/// The step duration SLO-driven chunking plans to at first (0 when off).
inline double slo_step_target_s(const SchedulerConfig& c) { return c.tbt_slo_s * kSloPlanFraction; }
/// The SLO's minimum prefill chunk: min_chunk, or block_size when 0.
inline int32_t slo_min_chunk(const SchedulerConfig& c) {
  return c.min_chunk > 0 ? c.min_chunk : c.block_size;
}

inline constexpr int32_t kDefaultTokenBudgetSarathiServe = 512;
inline constexpr int32_t kDefaultTokenBudgetWholePrompt = 2048;

/// The token budget τ the policy runs with: the configured one, or the policy's default:
/// sarathi-serve 512 (under a TBT SLO: max(2048, max_num_seqs), a cap the SLO cuts down); vllm and orca max(2048, max_model_len) (whole prompts must fit one step);
/// static unlimited (its batch is bounded by max_num_seqs and KV).
int32_t token_budget(const SchedulerConfig& config);

/// Blocks that admitting a new prefill keeps free: floor(watermark * num_kv_blocks).
int32_t watermark_blocks(const SchedulerConfig& config);

/// Checks ranges and policy-specific constraints (sarathi-serve: τ >= max_num_seqs so every
/// decode fits a step; static/orca/vllm: τ >= max_model_len so every prompt fits a step).
/// The policy name itself is checked by make_policy.
core::Status validate(const SchedulerConfig& config);

}  // namespace sarathi::sched
