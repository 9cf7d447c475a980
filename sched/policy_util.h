// sched/policy_util.h: the helpers every policy is built from: TokenBudget, KvLedger (scratch
// block accounting), PlanBuilder, chunk_len and decode-with-preemption. No model/ or kernels/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "sched/policy.h"
#include "sched/types.h"

namespace sarathi::sched {

/// Tokens a step may still take.
class TokenBudget {
 public:
  /// A budget of num_tokens tokens (>= 0).
  explicit TokenBudget(int32_t num_tokens) : left_(num_tokens) {}
  /// Tokens still available.
  int32_t left() const { return left_; }
  /// Whether n more tokens fit.
  bool fits(int32_t n) const { return n <= left_; }
  /// Uses n tokens; they must fit.
  void take(int32_t n);

 private:
  int32_t left_;
};

/// Scratch copy of the pool's free-block count for one plan: reserving here changes nothing in
/// the scheduler, it only tells the policy what the plan will need. Each sequence is reserved for
/// at most once per plan (it gets at most one chunk), so its held blocks come from the view.
class KvLedger {
 public:
  /// Starts from the view's free blocks.
  explicit KvLedger(const SchedView& view);
  /// Free blocks left in this plan.
  int32_t num_free() const { return num_free_; }
  /// Blocks s still needs so that it holds num_kv_tokens tokens.
  int32_t blocks_needed(const SeqState& s, int32_t num_kv_tokens) const;
  /// Reserves blocks so running sequence s holds num_kv_tokens tokens (may use the watermark).
  /// false (nothing reserved) when the pool is short: out of KV is a normal outcome.
  bool try_reserve(const SeqState& s, int32_t num_kv_tokens);
  /// As try_reserve, for admitting a waiting sequence: keeps the watermark free.
  bool try_admit(const SeqState& s, int32_t num_kv_tokens);
  /// Returns the blocks s holds that nobody shares (s is being preempted).
  void release(const SeqState& s);

 private:
  const SchedView* view_;
  int32_t num_free_;
};

/// A BatchPlan under construction. Tracks which running sequences already have a chunk or were
/// preempted ("taken"), so preemption victims are always sequences not yet in the plan.
class PlanBuilder {
 public:
  static constexpr size_t kNone = static_cast<size_t>(-1);

  /// An empty plan over view.running().
  explicit PlanBuilder(const SchedView& view);
  /// Whether running()[idx] has a chunk or was preempted in this plan.
  bool taken(size_t idx) const { return taken_[idx] != 0; }
  /// Adds a chunk of num_tokens for running()[idx] (a decode or a continued prefill).
  void add_running(size_t idx, int32_t num_tokens);
  /// Admits waiting sequence s with a first chunk of num_tokens, holding num_kv_tokens of KV.
  void admit(const SeqState& s, int32_t num_tokens, int32_t num_kv_tokens);
  /// Preempts running()[idx] (recompute): releases its blocks in kv.
  void preempt(size_t idx, KvLedger& kv);
  /// The newest running sequence not yet taken, other than running()[skip]; kNone if none.
  size_t newest_untaken(size_t skip) const;
  /// Whom to preempt so that running()[idx] can go on: FCFS: newest_untaken(idx) (kNone:
  /// none, idx must yield itself); priority: the untaken sequence, idx included, of the worst
  /// effective priority, the newest admitted among equals (idx itself when it is the worst).
  size_t victim_for(size_t idx) const;

  /// Decode chunks so far.
  int32_t num_decodes() const { return num_decodes_; }
  /// Prefill chunks so far.
  int32_t num_prefill_chunks() const { return num_prefill_chunks_; }
  /// The shape of the step so far (what the cost model predicts from).
  const StepShape& shape() const { return shape_; }
  /// Whether this plan preempts anything.
  bool any_preempted() const { return !plan_.preempted.empty(); }
  /// Running sequences once the plan is applied: in flight + running - preempted + admitted.
  int32_t num_seqs_after() const;
  /// The finished plan (token counts are filled in by the Scheduler).
  BatchPlan take() { return std::move(plan_); }

 private:
  const SchedView* view_;
  BatchPlan plan_;
  std::vector<uint8_t> taken_;  // [running().size()]
  int32_t num_admitted_ = 0;
  int32_t num_decodes_ = 0;
  int32_t num_prefill_chunks_ = 0;
  StepShape shape_;
};

/// Schedules one decode token for running()[idx] (decoding, not taken). While the ledger lacks
/// its next block, preempts PlanBuilder::victim_for(idx) (vLLM's recompute policy: the newest
/// untaken running sequence, or with priority scheduling the worst); when that is idx itself,
/// or none is left, idx is preempted. Returns whether the decode was scheduled.
bool schedule_decode(size_t idx, const SchedView& view, KvLedger& kv, PlanBuilder& plan);

/// schedule_decode for every decoding running sequence, oldest first. Returns decodes scheduled.
int32_t schedule_all_decodes(const SchedView& view, KvLedger& kv, PlanBuilder& plan);

/// Length of s's next prefill chunk under budget_left tokens (sarathi-serve rule): the whole rest
/// when it fits (the last chunk); else the longest chunk ending on a block boundary; else, when
/// less than a block of budget is left, all of budget_left (so small budgets are not wasted;
/// the next chunk re-aligns). 0 when budget_left <= 0.
int32_t chunk_len(const SeqState& s, int32_t budget_left, int32_t block_size);

/// Under a TBT SLO (view.slo_model() set): the most tokens (<= max_tokens) the next prefill
/// chunk of s may have so that the step so far plus the chunk is predicted within the SLO's
/// step target; when the plan has no prefill chunk yet, at least min(slo_min_chunk, max_tokens),
/// so prompts progress even when the decodes alone exceed the target. Without an SLO:
/// max_tokens.
int32_t slo_chunk_cap(const SeqState& s, int32_t max_tokens, const SchedView& view,
                      const PlanBuilder& plan);

/// Whether one more waiting sequence may be admitted: nothing was preempted in this plan (no
/// re-admission in the step that evicted) and running stays below max_num_seqs.
bool can_admit_more(const SchedView& view, const PlanBuilder& plan);

/// Tries to admit waiting sequence s with a first chunk of num_tokens, reserving KV for its whole
/// prefill (num_prefill_tokens) up front and keeping the watermark free, so later chunks of it
/// never need blocks. Returns false (nothing added) when the KV does not fit.
bool try_admit_prefill(const SeqState& s, int32_t num_tokens, KvLedger& kv, PlanBuilder& plan);

}  // namespace sarathi::sched
