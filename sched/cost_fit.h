// sched/cost_fit.h: fitting the StepCostModel from timed steps: weighted least squares on
// relative error with non-negative coefficients (StepCostFitter), and the SLO planning margin
// from how far timed steps stray above their predictions (SloMargin). The engine feeds them its
// measured steps (engine/step_cost.h), the simulator its predicted ones (sim/). Pure arithmetic:
// no clocks, no model/.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "sched/config.h"
#include "sched/cost_model.h"
#include "sched/types.h"

namespace sarathi::sched {

/// The shape of a planned step: every chunk at its first token.
StepShape shape_of(const BatchPlan& plan);

/// How far measured steps stray above their predictions, and so what fraction of the TBT SLO
/// steps are planned to: 1 / (the 99th percentile of measured / predicted over the last 512
/// steps), within [0.5, 0.95]; kSloPlanFraction until 32 steps were seen. A noisy
/// machine thus gets a wider margin, a quiet one more prefill per step (the SLO is on the P99
/// of time between tokens, and on a shared 2-core host 1-2% of identical steps take 1.5x).
class SloMargin {
 public:
  static constexpr size_t kWindow = 512;
  static constexpr size_t kMinSamples = 32;
  static constexpr double kQuantile = 0.99;
  static constexpr double kMinFraction = 0.5, kMaxFraction = 0.95;

  SloMargin() {
    ratios_.reserve(kWindow);
    scratch_.reserve(kWindow);
  }
  /// A step that took measured_s where predicted_s was predicted (ignored unless both > 0).
  void add(double predicted_s, double measured_s);
  /// The fraction of the SLO to plan steps to.
  double plan_fraction() const { return fraction_; }

 private:
  std::vector<double> ratios_;   // ring of the last kWindow ratios
  std::vector<double> scratch_;  // for the percentile, reused (no allocation per step)
  size_t next_ = 0;
  double fraction_ = kSloPlanFraction;
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
  void add_prior(const StepShape& shape, double seconds);
  /// A sample from a step that ran; earlier step samples decay.
  void add(const StepShape& shape, double seconds);
  /// The current fit (all-zero, i.e. invalid, before any sample).
  const StepCostModel& fit() const { return fit_; }
  int64_t num_samples() const { return num_samples_; }
  /// Records how a step that took `seconds` compares with the current fit, without fitting it
  /// (calibration's repeated probes).
  void observe(const StepShape& shape, double seconds) {
    margin_.add(fit_.predict(shape), seconds);
  }
  /// The fraction of the TBT SLO to plan steps to (SloMargin over this fit's predictions).
  double plan_fraction() const { return margin_.plan_fraction(); }

 private:
  static constexpr int kN = StepCostModel::kNumTerms;
  struct Sums {
    std::array<double, kN * kN> xx{};
    std::array<double, kN> xy{};
    double yy = 0;
    void add(const StepShape& shape, double seconds, double weight);
    void scale(double f);
  };
  static constexpr double kPriorFloor = 0.1;
  StepCostModel solve() const;
  double forget_;
  StepCostModel fit_;
  SloMargin margin_;
  double prior_weight_ = 1.0;
  Sums prior_, steps_;
  int64_t num_samples_ = 0;
};

/// One calibration probe step: num_decodes decodes, each at position decode_ctx, plus one prefill
/// chunk [chunk_pos, chunk_pos + chunk) when chunk > 0 (no logits for it).
struct CalibrationProbe {
  int32_t num_decodes = 0, decode_ctx = 0;
  int32_t chunk = 0, chunk_pos = 0;
  /// The step's shape for the cost model.
  StepShape shape() const;
};

/// What the probes must fit: the KV pool, the batch and model length, the longest chunk.
struct ProbeLimits {
  int32_t num_blocks = 0;
  int32_t block_size = 16;
  int32_t max_num_seqs = 64;  // the largest decode batch probed is min(64, this)
  int32_t max_model_len = 4096;
  int32_t max_chunk = 256;
};

/// The probes calibration times (engine::calibrate on a real executor, the simulator on its
/// step-time model), each shrunk to fit the pool: [0] one decode at a short context, [1..4]
/// decode batches at short and long contexts, [5..7] prefill chunks up to max_chunk (the largest
/// is [7]), [8] a chunk at a long context, [9] a mixed step.
std::vector<CalibrationProbe> calibration_probes(const ProbeLimits& limits);

/// The probes rerun (in turn) to measure the spread of steps around the fit: a one-sequence
/// decode (whose runs also give the strict SLO), a decode batch, a mixed step.
inline constexpr std::array<size_t, 3> kSpreadProbes = {0, 2, 9};

/// The minimum prefill chunk an SLO-driven step takes when min_chunk is 0: the longest chunk, at
/// most one KV block and at least 1 token, that fits beside one decode (at 512 tokens of context,
/// or less on short models) within target_s. On a fast host that is the whole block; on a slow
/// one fewer tokens, so that steps carrying a prompt still meet the SLO.
int32_t default_min_chunk(const StepCostModel& model, const SchedulerConfig& config,
                          double target_s);

}  // namespace sarathi::sched
