// sched/policies/policies.h: factories of the built-in policies, one file each; registry.cpp
// lists them in its table. Must not depend on model/ or kernels/.
#pragma once

#include <memory>

#include "sched/config.h"
#include "sched/policy.h"

namespace sarathi::sched {

/// Request-level batching (FasterTransformer): admit a batch, run it until all of it finished.
std::unique_ptr<Policy> make_static(const SchedulerConfig& config);
/// Iteration-level batching (Orca): every decode plus whole new prompts, mixed.
std::unique_ptr<Policy> make_orca(const SchedulerConfig& config);
/// Prefill-first (vLLM before chunking): prefill-only steps of whole prompts, else decode-only.
std::unique_ptr<Policy> make_vllm(const SchedulerConfig& config);
/// SARATHI: one prefill chunk per step plus decode-maximal batching, tile-quantized.
std::unique_ptr<Policy> make_sarathi(const SchedulerConfig& config);
/// Sarathi-Serve: stall-free batching under a token budget.
std::unique_ptr<Policy> make_sarathi_serve(const SchedulerConfig& config);

}  // namespace sarathi::sched
