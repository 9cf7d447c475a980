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

/// How far measured steps stray above their predictions, and so what fraction of the TBT SLO
/// steps are planned to: 1 / (the 99th percentile of measured / predicted over the last 512
/// steps), within [0.5, 0.95]; sched::kSloPlanFraction until 32 steps were seen. A noisy
/// machine thus gets a wider margin, a quiet one more prefill per step (the SLO is on the P99
/// of time between tokens, and on a shared 2-core host 1-2% of identical steps take 1.5x).
class SloMargin {
 public:
  static constexpr size_t kWindow = 512;
  static constexpr size_t kMinSamples = 32;
  static constexpr double kQuantile = 0.99;
  static constexpr double kMinFraction = 0.5, kMaxFraction = 0.95;

  SloMargin() { ratios_.reserve(kWindow); scratch_.reserve(kWindow); }
  /// A step that took measured_s where predicted_s was predicted (ignored unless both > 0).
  void add(double predicted_s, double measured_s);
  /// The fraction of the SLO to plan steps to.
  double plan_fraction() const { return fraction_; }

 private:
  std::vector<double> ratios_;   // ring of the last kWindow ratios
  std::vector<double> scratch_;  // for the percentile, reused (no allocation per step)
  size_t next_ = 0;
  double fraction_ = sched::kSloPlanFraction;
};

/// Weighted least squares over the StepCostModel's terms, minimizing the squared relative error
/// (t_predicted / t_measured - 1)^2, with every coefficient >= 0 (the best of all subsets of
/// terms whose unconstrained fit is non-negative). Step samples decay by `forget` per new
/// sample, so the model follows a machine that slows down or speeds up; prior samples
/// (calibration) decay the same way but never below a tenth of their weight, so every term stays
/// determined when the steps that run are all alike (e.g. decode-only).
///
/// It also keeps the SloMargin of its own predictions: each add() first compares the step with
/// what the current fit predicted for it.
class StepCostFitter {
 public:
  explicit StepCostFitter(double forget = 0.995) : forget_(forget) {}
  /// A sample that never decays.
  void add_prior(const sched::StepShape& shape, double seconds);
  /// A sample from a step that ran; earlier step samples decay.
  void add(const sched::StepShape& shape, double seconds);
  /// The current fit (all-zero, i.e. invalid, before any sample).
  const sched::StepCostModel& fit() const { return fit_; }
  int64_t num_samples() const { return num_samples_; }
  /// Records how a step that took `seconds` compares with the current fit, without fitting it
  /// (calibration's repeated probes).
  void observe(const sched::StepShape& shape, double seconds) {
    margin_.add(fit_.predict(shape), seconds);
  }
  /// The fraction of the TBT SLO to plan steps to (SloMargin over this fit's predictions).
  double plan_fraction() const { return margin_.plan_fraction(); }

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
  sched::StepCostModel solve() const;
  double forget_;
  sched::StepCostModel fit_;
  SloMargin margin_;
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
  int32_t spread_runs = 36;    // further runs of a decode, a decode batch and a mixed probe,
                               // whose spread around the fit seeds the SLO's planning margin
};

struct Calibration {
  sched::StepCostModel model;
  StepCostFitter fitter;       // holds the probes as its prior
  double decode_step_s = 0;    // the one-sequence decode step (25th percentile of 14 runs: a
                               // busy host's slow runs do not move the strict SLO)
  double plan_fraction = 0;    // of the SLO, from the probes' spread around the fit
  double seconds = 0;          // calibration wall time
  int32_t num_probe_steps = 0;   // fitted
  int32_t num_spread_steps = 0;  // further runs that only measure the spread around the fit
  int32_t max_chunk_probed = 0;
};

/// Times probe steps on `executor`, which must have no live sequences: the probes write KV
/// blocks [0, num_blocks) that real sequences overwrite before reading. Errors from the
/// executor are returned.
core::Result<Calibration> calibrate(Executor& executor, const CalibrationOptions& options);

/// Sarathi-Serve's strict TBT SLO: 5x the one-sequence decode step.
inline double strict_tbt_slo_s(const Calibration& c) { return 5.0 * c.decode_step_s; }

/// The minimum prefill chunk an SLO-driven step takes when min_chunk is 0: the longest chunk, at
/// most one KV block and at least 1 token, that fits beside one decode (at 512 tokens of context,
/// or less on short models) within target_s. On a fast host that is the whole block; on a slow
/// one fewer tokens, so that steps carrying a prompt still meet the SLO.
int32_t default_min_chunk(const sched::StepCostModel& model, const sched::SchedulerConfig& config,
                          double target_s);

/// --tbt-slo: calibrates on `executor` (idle, with config's KV pool) and sets config.tbt_slo_s
/// to the SLO in force: slo_s seconds, or the strict SLO when slo_s < 0, and, when
/// config.min_chunk is 0, the minimum chunk (default_min_chunk). Pass the result's fitter as
/// EngineOptions::cost_fitter.
core::Result<Calibration> calibrate_slo(Executor& executor, sched::SchedulerConfig& config,
                                        double slo_s);

/// Start-up lines for an SLO-driven engine: the SLO, the fitted model, and the chunk the SLO
/// allows with no decodes and beside max_num_seqs decodes at 512 tokens of context.
std::string describe_slo(const Calibration& cal, const sched::SchedulerConfig& config);

}  // namespace sarathi::engine
