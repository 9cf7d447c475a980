// sched/policies/sarathi_serve.cpp: Sarathi-Serve's stall-free batching (OSDI'24). Each step,
// within the token budget τ: every running decode first (so no decode ever stalls behind a
// prompt), then the partially prefilled requests oldest first, then new requests in arrival
// order. Several prefill chunks may share a step. Admission is FCFS without skipping: it stops at
// the first request whose whole prompt's blocks do not fit (they are reserved at admission, so a
// started prefill never waits for KV). Chunks end on block boundaries except a prompt's last
// chunk and chunks shorter than a block (see chunk_len).
#include "sched/policies/policies.h"
#include "sched/policy_util.h"

namespace sarathi::sched {
namespace {

class SarathiServePolicy final : public Policy {
 public:
  explicit SarathiServePolicy(const SchedulerConfig& config) : tau_(token_budget(config)) {}

  std::string_view name() const override { return "sarathi-serve"; }

  BatchPlan plan(const SchedView& v) override {
    PlanBuilder p(v);
    KvLedger kv(v);
    TokenBudget budget(tau_);
    budget.take(schedule_all_decodes(v, kv, p));  // tau >= max_num_seqs (validated)
    continue_prefills(v, kv, budget, p);
    admit_new(v, kv, budget, p);
    return p.take();
  }

 private:
  static void continue_prefills(const SchedView& v, KvLedger& kv, TokenBudget& budget,
                                PlanBuilder& p) {
    const auto running = v.running();
    for (size_t i = 0; i < running.size(); ++i) {
      const SeqState& s = *running[i];
      if (p.taken(i) || !s.is_prefilling()) continue;
      const int32_t n = chunk_len(s, slo_chunk_cap(s, budget.left(), v, p), v.block_size());
      if (n == 0 || !kv.try_reserve(s, s.num_computed_tokens + n)) return;
      p.add_running(i, n);
      budget.take(n);
    }
  }

  static void admit_new(const SchedView& v, KvLedger& kv, TokenBudget& budget, PlanBuilder& p) {
    for (const SeqState* s : v.waiting()) {
      if (!can_admit_more(v, p)) return;
      const int32_t n = chunk_len(*s, slo_chunk_cap(*s, budget.left(), v, p), v.block_size());
      if (n == 0 || !try_admit_prefill(*s, n, kv, p)) return;
      budget.take(n);
    }
  }

  int32_t tau_;
};

}  // namespace

std::unique_ptr<Policy> make_sarathi_serve(const SchedulerConfig& config) {
  return std::make_unique<SarathiServePolicy>(config);
}

}  // namespace sarathi::sched
