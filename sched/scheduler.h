// sched/scheduler.h: the Scheduler core: owns the waiting/running queues and the KV block
// manager, asks the policy for a plan each step, checks and applies it. Must not depend on
// model/ or kernels/ (the engine and the simulator drive it alike); no clocks, no randomness.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "kv/block_manager.h"
#include "sched/config.h"
#include "sched/cost_model.h"
#include "sched/policy.h"
#include "sched/types.h"

namespace sarathi::sched {

/// The step loop is: add()/abort() at any time; plan = schedule(); run the plan; report with
/// on_step_done(plan, results); repeat. KV rules:
///  - blocks are reserved when a plan is applied: for a chunk, up to its num_kv_tokens (policies
///    reserve a whole prompt at admission); a decode appends a block when it crosses one;
///  - a recompute-preempted sequence loses all its blocks, goes to the front of the waiting queue
///    (preempted ones ordered by arrival) and later prefills prompt + kept outputs;
///  - blocks are freed when a sequence finishes (engine report, or max_output_tokens reached) or
///    is aborted.
/// Pipeline parallelism (config.max_in_flight > 1): up to that many plans (micro-batches) may be
/// scheduled before the oldest is reported. Each plan is made from the running sequences not in
/// flight (SeqState::in_flight) and the waiting ones, so a sequence is in at most one micro-batch;
/// in-flight sequences keep their blocks, count toward max_num_seqs and are never preempted.
/// Blocks registered in the prefix cache by a plan in flight may be shared by a later plan: a
/// pipeline runs micro-batches through every stage in order, so they are written first.
/// Misuse by the caller (duplicate id, more plans than max_in_flight without on_step_done,
/// results that do not match the plan) aborts via SARATHI_CHECK; anything a user can cause is a
/// Status or `rejected`.
class Scheduler {
 public:
  /// A scheduler running the policy config.policy names; errors for an unknown policy or an
  /// invalid config.
  static core::Result<Scheduler> create(const SchedulerConfig& config);

  Scheduler(Scheduler&&) noexcept = default;
  Scheduler& operator=(Scheduler&&) noexcept = default;
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;
  ~Scheduler();

  /// Why a request could never run (an error), else ok: it needs a prompt >= 1 token and
  /// max_output_tokens >= 1, prompt + max output <= max_model_len, and its longest KV need
  /// (prompt + max output - 1 tokens) must fit the pool minus the watermark.
  core::Status check_request(int32_t num_prompt_tokens, int32_t max_output_tokens) const;

  /// Queues a request (at the back of the waiting queue; with priority scheduling, behind those
  /// of the same or better effective priority). One that fails check_request is not queued: the
  /// next plan lists it in `rejected`. `id` must not be live already.
  void add(SeqId id, int32_t num_prompt_tokens, int32_t max_output_tokens, int32_t priority = 0);
  /// As add(id, prompt.size(), max_output_tokens), with the prompt's token ids: with prefix
  /// caching on, the sequence then shares cached blocks of its prompt (and, after a recompute
  /// preemption, of its outputs, which the engine reports in StepResult::token) and caches its
  /// own full blocks.
  void add(SeqId id, std::span<const int32_t> prompt, int32_t max_output_tokens,
           int32_t priority = 0);

  /// Drops a request wherever it is and frees its blocks now. A chunk of it in the plan being
  /// run is ignored by on_step_done. Returns false for an unknown id.
  bool abort(SeqId id);

  /// Plans the next step and applies it (admissions, preemptions, block reservations). An empty
  /// plan means there is nothing to run now. Pair each call with on_step_done; at most
  /// config().max_in_flight non-empty plans may await it.
  BatchPlan schedule();

  /// Applies the step's results (results[i] is for plan.chunks[i]): advances computed tokens,
  /// counts produced tokens, and frees finished sequences. Plans in flight may be reported in
  /// any order.
  void on_step_done(const BatchPlan& plan, std::span<const StepResult> results);

  /// The blocks of seq in token order: they cover at least the computed + scheduled tokens
  /// (more when the policy reserved ahead). Empty for a sequence without blocks.
  std::span<const int32_t> block_table(SeqId seq) const { return kv_.table(seq); }

  /// Whether the engine samples a token for chunk (of the plan in flight): true for a decode
  /// and for the chunk that completes a prefill; false for other chunks and aborted sequences.
  bool produces_token(const SeqChunk& chunk) const;

  /// The live (waiting or running) sequence `id`, or nullptr.
  const SeqState* find(SeqId id) const;
  /// Waiting sequences in queue order (preempted ones first).
  std::span<const SeqState* const> waiting() const { return waiting_; }
  /// Running sequences in admission order.
  std::span<const SeqState* const> running() const { return running_; }
  /// Running sequences (in flight included).
  int32_t num_running() const { return static_cast<int32_t>(running_.size()); }
  /// Non-empty plans scheduled and not yet reported with on_step_done.
  int32_t num_plans_in_flight() const { return num_plans_in_flight_; }
  /// Waiting sequences.
  int32_t num_waiting() const { return static_cast<int32_t>(waiting_.size()); }
  /// Whether nothing is waiting, running or pending rejection.
  bool idle() const { return running_.empty() && waiting_.empty() && pending_rejects_.empty(); }
  /// Fraction of KV blocks in use.
  double kv_usage() const;
  /// Recompute preemptions so far.
  int64_t num_preemptions() const { return num_preemptions_; }
  /// Plans applied so far (non-empty ones).
  int64_t num_steps() const { return num_steps_; }
  /// The configuration.
  const SchedulerConfig& config() const { return config_; }
  /// The policy's name.
  std::string_view policy_name() const { return policy_->name(); }
  /// Sets the step-cost model: plans then carry predicted_s, and with tbt_slo_s > 0 the
  /// SLO-driven policies cut their chunks so each step is predicted within step_target_s
  /// (default: slo_step_target_s(config)). An invalid (all-zero) model turns both off.
  void set_cost_model(const StepCostModel& model, double step_target_s) {
    cost_model_ = model;
    step_target_s_ = step_target_s;
  }
  void set_cost_model(const StepCostModel& model) {
    set_cost_model(model, slo_step_target_s(config_));
  }
  const StepCostModel& cost_model() const { return cost_model_; }
  /// The step duration SLO-driven chunking plans to now.
  double step_target_s() const { return step_target_s_; }
  /// Planned steps whose decodes alone were predicted beyond the SLO's step target.
  int64_t num_steps_decodes_over_slo() const { return num_over_slo_; }

  /// The block manager (read-only).
  const kv::BlockManager& kv() const { return kv_; }

  /// Prefix caching (vLLM's counters): prompt tokens of admitted sequences that took part, and
  /// of those, tokens found cached (not computed).
  int64_t prefix_cache_queries() const { return prefix_queries_; }
  int64_t prefix_cache_hits() const { return prefix_hits_; }
  /// Forgets every cached block content (vLLM's POST /reset_prefix_cache); running sequences
  /// keep their blocks. Returns the blocks unregistered.
  int32_t reset_prefix_cache() { return kv_.reset_prefix_cache(); }

  /// Aborts (SARATHI_CHECK) unless the queues and the KV agree: free + used == total, no block
  /// owned twice, only running sequences hold blocks and cover their computed tokens, running <=
  /// max_num_seqs, waiting order is FCFS. Run after every step in debug builds; tests call it.
  void check_invariants() const;

 private:
  Scheduler(const SchedulerConfig& config, std::unique_ptr<Policy> policy);
  void check_plan_shape(const BatchPlan& plan) const;  // before applying: ids unique
  void apply_rejections(BatchPlan& plan);
  void apply_preemption(SeqId id);
  void apply_chunk(const SeqChunk& chunk, BatchPlan& plan);
  void apply_result(const SeqChunk& chunk, const StepResult& result);
  void push_waiting(SeqState* s);
  // Priority scheduling: a's effective priority at step `step`, the waiting order, and the
  // re-sort at the start of each schedule().
  int64_t effective_priority(const SeqState& s, int64_t step) const;
  bool waits_before(const SeqState* a, const SeqState* b) const;
  void order_by_priority();
  void erase(SeqId id);
  // Prefix caching.
  struct SeqTokens {
    std::vector<int32_t> tokens;  // prompt, then outputs
    std::vector<uint64_t> hashes; // of each full block of tokens
    uint64_t match_epoch = ~uint64_t{0};
  };
  SeqTokens* tokens_of(SeqId id);
  void refresh_prefix_matches();
  void share_cached_prefix(SeqChunk& chunk, bool grow);
  void cache_chunk_blocks(const SeqChunk& chunk);

  SchedulerConfig config_;
  std::unique_ptr<Policy> policy_;
  kv::BlockManager kv_;
  std::unordered_map<SeqId, SeqState> seqs_;  // live sequences; node-based, so pointers stay
  std::vector<SeqState*> waiting_;            // restarted (by arrival), then fresh (by arrival)
  std::vector<SeqState*> running_;            // admission order
  std::vector<SeqId> pending_rejects_;        // added but failing check_request
  std::unordered_map<SeqId, SeqTokens> tokens_;  // sequences taking part in prefix caching
  int64_t prefix_queries_ = 0;
  int64_t prefix_hits_ = 0;
  int64_t next_arrival_idx_ = 0;
  int64_t order_step_ = 0;  // the step the priority order was last computed for
  int64_t num_preemptions_ = 0;
  int64_t num_steps_ = 0;
  int64_t num_over_slo_ = 0;
  StepCostModel cost_model_;
  double step_target_s_ = 0;
  int32_t num_plans_in_flight_ = 0;
  std::vector<const SeqState*> ready_;  // running and not in flight: what a policy plans from
};

}  // namespace sarathi::sched
