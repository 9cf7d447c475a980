// sched/policies/static_batch.cpp: request-level ("static") batching as in FasterTransformer.
// When nothing runs, admit a batch: the first waiting requests, FCFS without skipping, up to
// max_num_seqs, their prompt tokens within the token budget (default: unlimited), each reserving
// KV for its whole prompt + max output up front (so it never preempts). The batch's prompts are
// prefilled in one step; then it decodes until every member finished. Only then does the next
// batch start: finished members leave idle slots behind. Under pipeline parallelism a batch
// still in flight counts as running: no admission until every member finished.
#include <algorithm>

#include "sched/policies/policies.h"
#include "sched/policy_util.h"

namespace sarathi::sched {
namespace {

class StaticPolicy final : public Policy {
 public:
  explicit StaticPolicy(const SchedulerConfig& config) : tau_(token_budget(config)) {}

  std::string_view name() const override { return "static"; }

  BatchPlan plan(const SchedView& v) override {
    PlanBuilder p(v);
    KvLedger kv(v);
    if (!v.running().empty() || v.num_in_flight() > 0) {
      schedule_all_decodes(v, kv, p);  // never preempts: KV was reserved at admission
      return p.take();
    }
    TokenBudget budget(tau_);
    for (const SeqState* s : v.waiting()) {
      const int32_t n = s->num_prefill_left();  // past its cached prefix
      const int32_t num_kv_tokens = std::max(n, s->num_prompt_tokens + s->max_output_tokens - 1);
      if (!can_admit_more(v, p) || !budget.fits(n) || !kv.try_admit(*s, num_kv_tokens)) break;
      p.admit(*s, n, num_kv_tokens);
      budget.take(n);
    }
    return p.take();
  }

 private:
  int32_t tau_;
};

}  // namespace

std::unique_ptr<Policy> make_static(const SchedulerConfig& config) {
  return std::make_unique<StaticPolicy>(config);
}

}  // namespace sarathi::sched
