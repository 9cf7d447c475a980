// engine/metrics.h: serving metrics in the Prometheus text format under vLLM's names (so
// existing dashboards work) plus sarathi's per-step histograms. Updated by the engine thread,
// rendered by any thread (guarded by the owner's lock). Depends on engine/request.h.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/request.h"
#include "sched/cost_model.h"

namespace sarathi::engine {

/// A cumulative histogram with fixed upper bounds (Prometheus `le` buckets).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  /// Appends the _bucket/_sum/_count lines of metric `name` with extra labels `labels`.
  void render(std::string& out, const std::string& name, const std::string& labels) const;
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); last = +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  explicit Metrics(std::string model_name);

  /// A request finished (or was aborted) with these timestamps.
  void on_request_done(const RequestRecord& rec);
  /// A step ran.
  void on_step(const StepStats& s);
  /// Gauges, set by the engine thread after each step.
  void set_gauges(int32_t running, int32_t waiting, double kv_usage, int64_t preemptions);
  /// Prefix cache counters (prompt tokens queried, of them found cached), as the scheduler has.
  void set_prefix_cache(int64_t queries, int64_t hits) {
    prefix_queries_ = queries;
    prefix_hits_ = hits;
  }
  /// The TBT SLO in force (seconds; 0: none) and the step duration chunking plans to.
  void set_slo(double tbt_slo_s, double step_target_s);
  /// The step-cost model the scheduler plans with now.
  void set_cost_model(const sched::StepCostModel& model) { cost_model_ = model; }
  /// The whole exposition (text/plain; version=0.0.4).
  std::string render() const;

  int32_t num_running() const { return running_; }
  int32_t num_waiting() const { return waiting_; }
  double kv_usage() const { return kv_usage_; }

 private:
  std::string labels_;  // model_name="..."
  int32_t running_ = 0, waiting_ = 0;
  double kv_usage_ = 0;
  int64_t preemptions_ = 0;
  int64_t prefix_queries_ = 0, prefix_hits_ = 0;
  uint64_t prompt_tokens_ = 0, generation_tokens_ = 0;
  std::map<std::string, uint64_t> success_;  // by finished_reason
  Histogram ttft_, itl_, e2e_, queue_;
  Histogram step_prefill_, step_decode_, step_duration_;
  double tbt_slo_s_ = 0, step_target_s_ = 0;
  sched::StepCostModel cost_model_;
  uint64_t steps_over_slo_ = 0;  // steps whose decodes alone were predicted beyond the target
  uint64_t steps_predicted_ = 0;
  double rel_error_ewma_ = 0;    // |predicted / measured - 1|, exponentially averaged
};

}  // namespace sarathi::engine
