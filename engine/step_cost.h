// engine/step_cost.h: fitting the scheduler's StepCostModel from the engine's own measured
// steps. calibrate() runs a few probe steps on an idle executor (decodes of several batch sizes
// and contexts, prefill chunks of several lengths, a mixed step) and fits the model; the Engine
// then refines it from every step it runs (StepCostFitter::add). Least squares on relative error
// with non-negative coefficients. Depends on sched/cost_model.h and engine/executor.h.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/executor.h"
#include "sched/config.h"
#include "sched/cost_model.h"
#include "sched/types.h"

namespace sarathi::engine {

/// The shape of a planned step: every chunk at its first token.
sched::StepShape shape_of(const sched::BatchPlan& plan);

/// Weighted least squares over the StepCostModel's terms, minimizing the squared relative error
/// (t_predicted / t_measured - 1)^2, with every coefficient >= 0 (the best of all subsets of
/// terms whose unconstrained fit is non-negative). Prior samples (calibration) are kept for good;
/// step samples decay by `forget` per new sample, so the model follows a machine that slows
/// down or speeds up while the prior keeps every term determined.
class StepCostFitter {
 public:
  explicit StepCostFitter(double forget = 0.995) : forget_(forget) {}
  /// A sample that never decays.
  void add_prior(const sched::StepShape& shape, double seconds);
  /// A sample from a step that ran; earlier step samples decay.
  void add(const sched::StepShape& shape, double seconds);
  /// The current fit (all-zero, i.e. invalid, before any sample).
  sched::StepCostModel fit() const;
  int64_t num_samples() const { return num_samples_; }

 private:
  static constexpr int kN = sched::StepCostModel::kNumTerms;
  struct Sums {
    std::array<double, kN * kN> xx{};
    std::array<double, kN> xy{};
    double yy = 0;
    void add(const sched::StepShape& shape, double seconds, double weight);
    void scale(double f);
  };
  static constexpr double kPriorFloor = 0.1;
  double forget_;
  double prior_weight_ = 1.0;
  Sums prior_, steps_;
  int64_t num_samples_ = 0;
};

struct CalibrationOptions {
  int32_t num_blocks = 0;      // the executor's KV pool; probes use blocks [0, num_blocks)
  int32_t block_size = 16;
  int32_t max_num_seqs = 64;   // the largest decode batch probed is min(64, this)
  int32_t max_model_len = 4096;
  int32_t max_chunk = 256;     // the longest prefill chunk probed
  int32_t repeats = 2;         // timed runs per probe (after one warm-up of the largest)
};

struct Calibration {
  sched::StepCostModel model;
  StepCostFitter fitter;       // holds the probes as its prior
  double decode_step_s = 0;    // the one-sequence decode step (median of its runs)
  double seconds = 0;          // calibration wall time
  int32_t num_probe_steps = 0;
  int32_t max_chunk_probed = 0;
};

/// Times probe steps on `executor`, which must have no live sequences: the probes write KV
/// blocks [0, num_blocks) that real sequences overwrite before reading. Errors from the
/// executor are returned.
core::Result<Calibration> calibrate(Executor& executor, const CalibrationOptions& options);

/// Sarathi-Serve's strict TBT SLO: 5x the one-sequence decode step.
inline double strict_tbt_slo_s(const Calibration& c) { return 5.0 * c.decode_step_s; }

/// --tbt-slo: calibrates on `executor` (idle, with config's KV pool) and sets config.tbt_slo_s
/// to the SLO in force: slo_s seconds, or the strict SLO when slo_s < 0. Pass the result's
/// fitter as EngineOptions::cost_fitter.
core::Result<Calibration> calibrate_slo(Executor& executor, sched::SchedulerConfig& config,
                                        double slo_s);

/// Start-up lines for an SLO-driven engine: the SLO, the fitted model, and the chunk the SLO
/// allows with no decodes and beside max_num_seqs decodes at 512 tokens of context.
std::string describe_slo(const Calibration& cal, const sched::SchedulerConfig& config);

}  // namespace sarathi::engine
