#include "workload/serving_metrics.h"

#include <algorithm>
#include <cmath>

namespace sarathi::workload {

double DeadlineCount::fluidity_index() const {
  if (num_deadlines <= 0) return 1.0;
  return 1.0 - static_cast<double>(num_missed) / static_cast<double>(num_deadlines);
}

DeadlineCount count_deadlines_from_gaps(std::span<const double> gaps, double deadline_s) {
  DeadlineCount c;
  if (!(deadline_s > 0) || !std::isfinite(deadline_s)) return c;
  double slack = 0;
  for (const double g : gaps) {
    if (g <= deadline_s + slack) {
      slack += deadline_s - g;
      ++c.num_deadlines;
      continue;
    }
    // Every deadline that passed during the stall; at least the one this token missed (the
    // max guards rounding when g is a hair above deadline + slack).
    const double passed = std::floor((g - slack) / deadline_s);
    const auto misses = static_cast<int64_t>(std::max(1.0, std::min(passed, 1e15)));
    c.num_missed += misses;
    c.num_deadlines += misses;
    slack = 0;
  }
  return c;
}

DeadlineCount count_deadlines(std::span<const double> token_times, double deadline_s) {
  std::vector<double> gaps;
  for (size_t i = 1; i < token_times.size(); ++i)
    gaps.push_back(token_times[i] - token_times[i - 1]);
  return count_deadlines_from_gaps(gaps, deadline_s);
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0.0;
  // Selection, not a sort: linear time, the same value (large simulated runs have millions).
  if (p == 50.0 && v.size() % 2 == 0) {
    const auto hi = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
    std::nth_element(v.begin(), hi, v.end());
    return 0.5 * (*std::max_element(v.begin(), hi) + *hi);
  }
  const double rank = std::ceil(p / 100.0 * static_cast<double>(v.size()));
  const size_t idx = static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(v.size()))) - 1;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(idx), v.end());
  return v[idx];
}

ServingMetrics summarize_serving(std::span<const RequestTimeline> requests, double duration_s,
                                 double tbt_deadline_s) {
  ServingMetrics m;
  m.duration_s = duration_s;
  m.tbt_deadline_s = tbt_deadline_s > 0 ? tbt_deadline_s : 0;
  std::vector<double> tbt, delay, ttft;
  int64_t out_tokens = 0, all_tokens = 0;
  for (const RequestTimeline& r : requests) {
    if (!r.ok) {
      ++m.num_failed;
      continue;
    }
    ++m.num_requests;
    const auto& t = r.token_times;
    for (size_t i = 1; i < t.size(); ++i) tbt.push_back(t[i] - t[i - 1]);
    if (!t.empty()) {
      ttft.push_back(t.front() - r.arrival_s);
      if (r.first_scheduled_s >= 0) {
        delay.push_back(r.first_scheduled_s - r.arrival_s);
      } else {
        delay.push_back(t.front() - r.arrival_s);
        m.delay_is_ttft = true;
      }
    }
    if (m.tbt_deadline_s > 0) m.deadlines += count_deadlines(t, m.tbt_deadline_s);
    const int64_t n =
        r.num_output_tokens > 0 ? r.num_output_tokens : static_cast<int64_t>(t.size());
    out_tokens += n;
    all_tokens += n + r.num_prompt_tokens;
  }
  m.p50_tbt_s = percentile(tbt, 50);
  m.p99_tbt_s = percentile(tbt, 99);
  m.max_tbt_s = tbt.empty() ? 0 : *std::max_element(tbt.begin(), tbt.end());
  m.median_delay_s = percentile(delay, 50);
  m.p50_ttft_s = percentile(ttft, 50);
  m.p99_ttft_s = percentile(ttft, 99);
  if (duration_s > 0) {
    m.output_tokens_per_s = static_cast<double>(out_tokens) / duration_s;
    m.total_tokens_per_s = static_cast<double>(all_tokens) / duration_s;
  }
  m.fluidity_index = m.deadlines.fluidity_index();
  return m;
}

}  // namespace sarathi::workload
