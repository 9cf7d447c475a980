// sched/policies/orca.cpp: Orca's iteration-level batching (OSDI'22). Every step runs all
// running decodes (preempting the newest when one cannot get a block) and, unless that step
// preempted, as many whole new prompts as fit, FCFS without skipping: max_num_seqs, KV above the
// watermark, and the token budget on the step's prompt tokens (decodes ride along outside it).
// Prompts are never chunked, so a long prompt makes its step long for every decode in it.
#include "sched/policies/policies.h"
#include "sched/policy_util.h"

namespace sarathi::sched {
namespace {

class OrcaPolicy final : public Policy {
 public:
  explicit OrcaPolicy(const SchedulerConfig& config) : tau_(token_budget(config)) {}

  std::string_view name() const override { return "orca"; }

  BatchPlan plan(const SchedView& v) override {
    PlanBuilder p(v);
    KvLedger kv(v);
    schedule_all_decodes(v, kv, p);
    TokenBudget budget(tau_);
    for (const SeqState* s : v.waiting()) {
      const int32_t n = s->num_prefill_left();  // past its cached prefix
      if (!can_admit_more(v, p) || !budget.fits(n) || !try_admit_prefill(*s, n, kv, p)) break;
      budget.take(n);
    }
    return p.take();
  }

 private:
  int32_t tau_;
};

}  // namespace

std::unique_ptr<Policy> make_orca(const SchedulerConfig& config) {
  return std::make_unique<OrcaPolicy>(config);
}

}  // namespace sarathi::sched
