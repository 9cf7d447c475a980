// sched/policies/vllm.cpp: vLLM's scheduler before chunked prefill, the paper's main baseline.
// Prefill-first: when waiting requests can be admitted (whole prompts, FCFS without skipping,
// prompt tokens within the token budget, KV above the watermark, max_num_seqs) the step is
// prefill-only; otherwise it is a decode-only step of every running request, preempting the
// newest (recompute) when a decode cannot get a block. Running decodes stall while prompts
// are prefilled: the generation stalls Sarathi-Serve removes.
#include "sched/policies/policies.h"
#include "sched/policy_util.h"

namespace sarathi::sched {
namespace {

class VllmPolicy final : public Policy {
 public:
  explicit VllmPolicy(const SchedulerConfig& config) : tau_(token_budget(config)) {}

  std::string_view name() const override { return "vllm"; }

  BatchPlan plan(const SchedView& v) override {
    PlanBuilder p(v);
    KvLedger kv(v);
    TokenBudget budget(tau_);
    for (const SeqState* s : v.waiting()) {
      // The whole prompt (+ kept outputs after a restart) past its cached prefix.
      const int32_t n = s->num_prefill_left();
      if (!can_admit_more(v, p) || !budget.fits(n) || !try_admit_prefill(*s, n, kv, p)) break;
      budget.take(n);
    }
    if (p.num_prefill_chunks() == 0) schedule_all_decodes(v, kv, p);
    return p.take();
  }

 private:
  int32_t tau_;
};

}  // namespace

std::unique_ptr<Policy> make_vllm(const SchedulerConfig& config) {
  return std::make_unique<VllmPolicy>(config);
}

}  // namespace sarathi::sched
