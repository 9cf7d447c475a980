// sched/policy.h: the Policy interface and SchedView, the read-only window a policy plans from
// (queues, KV accounting, config). Must not depend on model/ or kernels/; a policy never mutates
// scheduler state: it returns a BatchPlan that the Scheduler checks and applies.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "kv/block_manager.h"
#include "sched/config.h"
#include "sched/cost_model.h"
#include "sched/types.h"

namespace sarathi::sched {

/// Read-only view of the scheduler for one planning call. Valid only during Policy::plan.
class SchedView {
 public:
  /// Wraps the scheduler's queues, its block manager and config. `running` are the running
  /// sequences the plan may use (not in flight); num_in_flight more run in micro-batches in
  /// flight (pipeline parallelism).
  SchedView(const SchedulerConfig& config, std::span<const SeqState* const> waiting,
            std::span<const SeqState* const> running, const kv::BlockManager& kv,
            const StepCostModel* cost_model = nullptr, double step_target_s = 0,
            int32_t num_in_flight = 0)
      : config_(&config), waiting_(waiting), running_(running), kv_(&kv), cost_(cost_model),
        step_target_s_(step_target_s), num_in_flight_(num_in_flight) {}

  /// Waiting sequences, FCFS: recompute-preempted ones first (by arrival), then never-run ones
  /// by arrival. None holds KV blocks.
  std::span<const SeqState* const> waiting() const { return waiting_; }
  /// Running sequences (prefilling or decoding) in admission order that are not in flight;
  /// the last is the newest. Only these may get a chunk or be preempted.
  std::span<const SeqState* const> running() const { return running_; }
  /// Running sequences in micro-batches still in flight (pipeline parallelism): they hold
  /// their blocks and count toward max_num_seqs, but are in no plan and never preempted.
  int32_t num_in_flight() const { return num_in_flight_; }
  /// The scheduler's configuration.
  const SchedulerConfig& config() const { return *config_; }

  /// The step-cost model SLO-driven chunking plans with, or nullptr when chunking is not
  /// SLO-driven (no tbt_slo, or no valid model yet).
  const StepCostModel* slo_model() const { return cost_; }
  /// The predicted step duration SLO-driven chunking keeps within (with slo_model()).
  double slo_step_target_s() const { return step_target_s_; }

  /// Tokens per KV block.
  int32_t block_size() const { return kv_->block_size(); }
  /// Blocks in the pool.
  int32_t num_total_blocks() const { return kv_->num_blocks(); }
  /// Blocks nobody holds.
  int32_t num_free_blocks() const { return kv_->num_free(); }
  /// Blocks that admitting a new prefill must leave free.
  int32_t num_watermark_blocks() const { return watermark_blocks(*config_); }
  /// Blocks sequence `seq` holds now.
  int32_t num_blocks_held(SeqId seq) const { return kv_->num_blocks_held(seq); }
  /// Blocks that would return to the pool if `seq` released its table now (those no other
  /// sequence shares).
  int32_t num_blocks_freed_by(SeqId seq) const { return kv_->num_exclusive_blocks(seq); }
  /// Blocks needed to hold num_tokens tokens.
  int32_t blocks_for(int64_t num_tokens) const { return kv_->blocks_for(num_tokens); }

 private:
  const SchedulerConfig* config_;
  std::span<const SeqState* const> waiting_;
  std::span<const SeqState* const> running_;
  const kv::BlockManager* kv_;
  const StepCostModel* cost_;
  double step_target_s_;
  int32_t num_in_flight_;
};

/// A batching policy: reads a SchedView and returns the next step's plan. Implementations live in
/// sched/policies/ (one file each) and are created through make_policy (sched/registry.h).
/// Contract, checked by the Scheduler when it applies the plan:
///  - one chunk per sequence at most; a chunk starts at the sequence's num_computed_tokens; a
///    decoding sequence gets exactly 1 token, a prefilling one at most num_prefill_left();
///  - a chunk of a waiting sequence admits it; running sequences (in flight included) never
///    exceed max_num_seqs;
///  - the KV the chunks need (after freeing `preempted`) fits the pool: use KvLedger;
///  - `preempted` are running sequences without a chunk in this plan.
class Policy {
 public:
  virtual ~Policy() = default;
  /// The registry name ("sarathi", ...).
  virtual std::string_view name() const = 0;
  /// Plans one step. Deterministic: the same view gives the same plan.
  virtual BatchPlan plan(const SchedView& view) = 0;
};

}  // namespace sarathi::sched
