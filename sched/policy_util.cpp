#include "sched/policy_util.h"

#include <algorithm>

#include "core/check.h"

namespace sarathi::sched {

void TokenBudget::take(int32_t n) {
  SARATHI_DCHECK(n >= 0 && n <= left_, "taking {} tokens with {} left", n, left_);
  left_ -= n;
}

KvLedger::KvLedger(const SchedView& view) : view_(&view), num_free_(view.num_free_blocks()) {}

int32_t KvLedger::blocks_needed(const SeqState& s, int32_t num_kv_tokens) const {
  // A waiting sequence's cached prefix held by others is shared, not allocated.
  const int32_t shared = s.status == SeqStatus::kWaiting ? s.num_prefix_blocks_held : 0;
  return std::max(0, view_->blocks_for(num_kv_tokens) - view_->num_blocks_held(s.id) - shared);
}

bool KvLedger::try_reserve(const SeqState& s, int32_t num_kv_tokens) {
  const int32_t need = blocks_needed(s, num_kv_tokens);
  if (need > num_free_) return false;
  num_free_ -= need;
  return true;
}

bool KvLedger::try_admit(const SeqState& s, int32_t num_kv_tokens) {
  const int32_t need = blocks_needed(s, num_kv_tokens);
  if (num_free_ - need < view_->num_watermark_blocks()) return false;
  num_free_ -= need;
  return true;
}

void KvLedger::release(const SeqState& s) { num_free_ += view_->num_blocks_freed_by(s.id); }

PlanBuilder::PlanBuilder(const SchedView& view) : view_(&view), taken_(view.running().size(), 0) {}

void PlanBuilder::add_running(size_t idx, int32_t num_tokens) {
  SARATHI_DCHECK(!taken(idx), "running sequence #{} scheduled twice", idx);
  const SeqState& s = *view_->running()[idx];
  taken_[idx] = 1;
  plan_.chunks.push_back(
      {.seq = s.id, .first_token = s.num_computed_tokens, .num_tokens = num_tokens});
  shape_.add_chunk(s.num_computed_tokens, num_tokens);
  if (s.is_prefilling()) {
    ++num_prefill_chunks_;
  } else {
    ++num_decodes_;
  }
}

void PlanBuilder::admit(const SeqState& s, int32_t num_tokens, int32_t num_kv_tokens) {
  plan_.chunks.push_back({.seq = s.id,
                          .first_token = s.num_computed_tokens,
                          .num_tokens = num_tokens,
                          .num_kv_tokens = num_kv_tokens});
  shape_.add_chunk(s.num_computed_tokens, num_tokens);
  ++num_admitted_;
  ++num_prefill_chunks_;
}

void PlanBuilder::preempt(size_t idx, KvLedger& kv) {
  SARATHI_DCHECK(!taken(idx), "preempting running sequence #{} that is in the plan", idx);
  const SeqState& s = *view_->running()[idx];
  taken_[idx] = 1;
  kv.release(s);
  plan_.preempted.push_back(s.id);
}

size_t PlanBuilder::newest_untaken(size_t skip) const {
  for (size_t i = taken_.size(); i-- > 0;)
    if (i != skip && !taken(i)) return i;
  return kNone;
}

int32_t PlanBuilder::num_seqs_after() const {
  return view_->num_in_flight() + static_cast<int32_t>(taken_.size()) -
         static_cast<int32_t>(plan_.preempted.size()) + num_admitted_;
}

size_t PlanBuilder::victim_for(size_t idx) const {
  if (view_->config().scheduling_policy != SchedulingPolicy::kPriority) return newest_untaken(idx);
  const auto running = view_->running();
  size_t worst = idx;
  for (size_t i = 0; i < taken_.size(); ++i) {
    if (i == idx || taken(i)) continue;
    const int64_t p = running[i]->effective_priority, w = running[worst]->effective_priority;
    if (p > w || (p == w && i > worst)) worst = i;
  }
  return worst;
}

bool schedule_decode(size_t idx, const SchedView& view, KvLedger& kv, PlanBuilder& plan) {
  const SeqState& s = *view.running()[idx];
  SARATHI_DCHECK(!s.is_prefilling(), "seq {} is not decoding", s.id);
  while (!kv.try_reserve(s, s.num_computed_tokens + 1)) {
    const size_t victim = plan.victim_for(idx);
    if (victim == PlanBuilder::kNone || victim == idx) {
      plan.preempt(idx, kv);  // nothing newer (or worse) to evict: s itself restarts later
      return false;
    }
    plan.preempt(victim, kv);
  }
  plan.add_running(idx, 1);
  return true;
}

int32_t schedule_all_decodes(const SchedView& view, KvLedger& kv, PlanBuilder& plan) {
  int32_t n = 0;
  const auto running = view.running();
  for (size_t i = 0; i < running.size(); ++i) {
    if (plan.taken(i) || running[i]->is_prefilling()) continue;
    if (schedule_decode(i, view, kv, plan)) ++n;
  }
  return n;
}

int32_t chunk_len(const SeqState& s, int32_t budget_left, int32_t block_size) {
  if (budget_left <= 0) return 0;
  const int32_t rest = s.num_prefill_left();
  if (rest <= budget_left) return rest;
  const int32_t end = (s.num_computed_tokens + budget_left) / block_size * block_size;
  if (end > s.num_computed_tokens) return end - s.num_computed_tokens;
  return budget_left;
}

int32_t slo_chunk_cap(const SeqState& s, int32_t max_tokens, const SchedView& view,
                      const PlanBuilder& plan) {
  const StepCostModel* model = view.slo_model();
  max_tokens = std::min(max_tokens, s.num_prefill_left());
  if (model == nullptr || max_tokens <= 0) return max_tokens;
  const int32_t fit = max_chunk_within(*model, plan.shape(), s.num_computed_tokens, max_tokens,
                                       view.slo_step_target_s());
  if (plan.num_prefill_chunks() > 0) return fit;
  return std::max(fit, std::min(slo_min_chunk(view.config()), max_tokens));
}

bool can_admit_more(const SchedView& view, const PlanBuilder& plan) {
  return !plan.any_preempted() && plan.num_seqs_after() < view.config().max_num_seqs;
}

bool try_admit_prefill(const SeqState& s, int32_t num_tokens, KvLedger& kv, PlanBuilder& plan) {
  if (!kv.try_admit(s, s.num_prefill_tokens)) return false;
  plan.admit(s, num_tokens, s.num_prefill_tokens);
  return true;
}

}  // namespace sarathi::sched
