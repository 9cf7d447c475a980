// sched/policies/sarathi.cpp: SARATHI (arXiv 2308.16369): chunked prefills with decode-maximal
// batching. Each step holds at most ONE prefill chunk of up to chunk_size tokens (continuing the
// partially prefilled request, else admitting the head of the queue) plus the decodes of every
// other running request (at most max_num_seqs - 1 beside a chunk). Tile-quantization rule: a
// chunk cut by chunk_size shrinks so that chunk + decodes is a multiple of tile_size, if that
// leaves a positive chunk; a prompt's last chunk is never shrunk (it would only add a step).
// The whole prompt's blocks are reserved at admission. Under a TBT SLO (tbt_slo_s) the chunk is
// also cut so the step's predicted duration stays within the SLO's step target (chunk_size
// then caps it).
#include <algorithm>

#include "sched/policies/policies.h"
#include "sched/policy_util.h"

namespace sarathi::sched {
namespace {

class SarathiPolicy final : public Policy {
 public:
  explicit SarathiPolicy(const SchedulerConfig& config)
      : chunk_size_(config.chunk_size), tile_size_(config.tile_size) {}

  std::string_view name() const override { return "sarathi"; }

  BatchPlan plan(const SchedView& v) override {
    PlanBuilder p(v);
    KvLedger kv(v);
    const int32_t num_decodes = schedule_all_decodes(v, kv, p);
    const auto running = v.running();
    for (size_t i = 0; i < running.size(); ++i) {  // a partial prefill goes first
      const SeqState& s = *running[i];
      if (p.taken(i) || !s.is_prefilling()) continue;
      const int32_t n = chunk(s, num_decodes, v, p);
      if (kv.try_reserve(s, s.num_computed_tokens + n)) p.add_running(i, n);
      return p.take();
    }
    if (can_admit_more(v, p) && !v.waiting().empty()) {
      const SeqState& s = *v.waiting().front();
      try_admit_prefill(s, chunk(s, num_decodes, v, p), kv, p);
    }
    return p.take();
  }

 private:
  int32_t chunk(const SeqState& s, int32_t num_decodes, const SchedView& v,
                const PlanBuilder& p) const {
    const int32_t rest = s.num_prefill_left();
    int32_t n = slo_chunk_cap(s, chunk_size_, v, p);
    if (n < rest && tile_size_ > 1) {
      const int32_t shrunk = (n + num_decodes) / tile_size_ * tile_size_ - num_decodes;
      if (shrunk > 0) n = shrunk;
    }
    return n;
  }

  int32_t chunk_size_;
  int32_t tile_size_;
};

}  // namespace

std::unique_ptr<Policy> make_sarathi(const SchedulerConfig& config) {
  return std::make_unique<SarathiPolicy>(config);
}

}  // namespace sarathi::sched
