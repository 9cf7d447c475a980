#include "sim/pipeline.h"

#include <algorithm>

#include "core/check.h"

namespace sarathi::sim {

Pipeline::Pipeline(int32_t num_stages)
    : free_(static_cast<size_t>(std::max(1, num_stages)), 0.0),
      busy_(static_cast<size_t>(std::max(1, num_stages)), 0.0) {}

double Pipeline::launch(double t, double first_stage_s, double stage_s, double handoff_s) {
  SARATHI_DCHECK(first_stage_s >= 0 && stage_s >= 0 && handoff_s >= 0, "negative stage time");
  double ready = t;  // when the micro-batch can start on the next stage
  for (size_t s = 0; s < free_.size(); ++s) {
    const double dur = s == 0 ? first_stage_s : stage_s;
    const double start = std::max(ready + (s == 0 ? 0.0 : handoff_s), free_[s]);
    free_[s] = start + dur;
    busy_[s] += dur;
    ready = free_[s];
  }
  return ready;
}

double StageUsage::bubble_s(size_t s) const { return std::max(0.0, active_s - busy_s[s]); }

double StageUsage::bubble_fraction() const {
  if (busy_s.empty() || !(active_s > 0)) return 0.0;
  double idle = 0;
  for (size_t s = 0; s < busy_s.size(); ++s) idle += bubble_s(s);
  return idle / (active_s * static_cast<double>(busy_s.size()));
}

}  // namespace sarathi::sim
