#include "sched/config.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sarathi::sched {

using core::ErrorCode;
using core::make_error;

int32_t token_budget(const SchedulerConfig& config) {
  if (config.max_num_batched_tokens > 0) return config.max_num_batched_tokens;
  if (config.policy == "sarathi-serve")
    return config.tbt_slo_s > 0 ? std::max(kDefaultTokenBudgetWholePrompt, config.max_num_seqs)
                                : kDefaultTokenBudgetSarathiServe;
  if (config.policy == "static") return std::numeric_limits<int32_t>::max();
  return std::max(kDefaultTokenBudgetWholePrompt, config.max_model_len);
}

int32_t watermark_blocks(const SchedulerConfig& config) {
  return static_cast<int32_t>(std::floor(config.watermark * config.num_kv_blocks));
}

core::Status validate(const SchedulerConfig& c) {
  if (c.max_num_seqs < 1)
    return make_error(ErrorCode::kInvalidArgument, "max_num_seqs must be >= 1, got {}",
                      c.max_num_seqs);
  if (c.block_size < 1 || c.num_kv_blocks < 1)
    return make_error(ErrorCode::kInvalidArgument,
                      "the KV pool needs block_size >= 1 and num_kv_blocks >= 1, got {} and {}",
                      c.block_size, c.num_kv_blocks);
  if (c.max_num_batched_tokens < 0 || c.chunk_size < 1 || c.tile_size < 1 || c.max_model_len < 2)
    return make_error(ErrorCode::kInvalidArgument,
                      "need max_num_batched_tokens >= 0 (0: default), chunk_size >= 1, "
                      "tile_size >= 1, max_model_len >= 2");
  if (!(c.watermark >= 0.0 && c.watermark < 1.0))
    return make_error(ErrorCode::kInvalidArgument, "watermark must be in [0, 1), got {}",
                      c.watermark);
  if (c.priority_aging_steps < 0)
    return make_error(ErrorCode::kInvalidArgument, "priority_aging_steps must be >= 0, got {}",
                      c.priority_aging_steps);
  if (c.max_in_flight < 1 || c.max_in_flight > 1024)
    return make_error(ErrorCode::kInvalidArgument, "max_in_flight must be in [1, 1024], got {}",
                      c.max_in_flight);
  if (!(c.tbt_slo_s >= 0.0) || c.min_chunk < 0)
    return make_error(ErrorCode::kInvalidArgument,
                      "need tbt_slo >= 0 (0: off) and min_chunk >= 0 (0: one block), got {} s "
                      "and {}", c.tbt_slo_s, c.min_chunk);
  const int32_t tau = token_budget(c);
  if (c.policy == "sarathi-serve" && tau < c.max_num_seqs)
    return make_error(ErrorCode::kInvalidArgument,
                      "sarathi-serve needs token budget ({}) >= max_num_seqs ({}) so every "
                      "running decode fits one step",
                      tau, c.max_num_seqs);
  if ((c.policy == "vllm" || c.policy == "orca" || c.policy == "static") && tau < c.max_model_len)
    return make_error(ErrorCode::kInvalidArgument,
                      "{} schedules whole prompts: max_num_batched_tokens ({}) must be >= "
                      "max_model_len ({})",
                      c.policy, tau, c.max_model_len);
  return core::ok_status();
}

}  // namespace sarathi::sched
