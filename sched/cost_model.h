// sched/cost_model.h: the step-cost model the SLO-driven policies plan with. A step's shape
// (tokens, sequences, query-key pairs attended) maps to a predicted duration through a linear
// model with non-negative coefficients; the engine fits it from measured steps
// (engine/step_cost.h) and hands it to the Scheduler. Pure arithmetic: no clocks, no model/.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace sarathi::sched {

/// What a step costs depends on, as the model sees it.
struct StepShape {
  int32_t num_tokens = 0;     // tokens in the step (prefill chunk tokens + decodes)
  int32_t num_seqs = 0;       // entries (chunks) in the step
  int64_t num_attended = 0;   // query-key pairs attention computes (causal within a chunk)

  /// Adds a chunk of n tokens whose first token is at position first_pos.
  void add_chunk(int32_t first_pos, int32_t n);
  /// The query-key pairs of such a chunk: n * first_pos + n (n + 1) / 2.
  static int64_t attended_pairs(int32_t first_pos, int32_t n);
};

/// t = c[0] + c[1] * tokens + c[2] * seqs + c[3] * pairs / 1e6, in seconds; every c >= 0.
class StepCostModel {
 public:
  static constexpr int kNumTerms = 4;
  using Coefs = std::array<double, kNumTerms>;

  StepCostModel() = default;
  /// Negative coefficients are clamped to 0 (a step never gets cheaper with more work).
  explicit StepCostModel(const Coefs& c);

  /// The model's regressors for a shape: {1, tokens, seqs, pairs / 1e6}.
  static std::array<double, kNumTerms> features(const StepShape& s);
  /// Predicted seconds.
  double predict(const StepShape& s) const;
  const Coefs& coefs() const { return c_; }
  /// Whether any coefficient is positive (an all-zero model predicts nothing).
  bool valid() const;
  /// "t = 31.2 ms + 0.95 ms/token + 0.10 ms/seq + 2.1 ms/M pairs".
  std::string describe() const;

 private:
  Coefs c_{};
};

/// The longest prefill chunk (at most max_tokens) of a sequence whose next token is at
/// first_pos, such that the step `base` plus that chunk is predicted within target_s. 0 when
/// not even one token fits. Monotone in target_s.
int32_t max_chunk_within(const StepCostModel& model, const StepShape& base, int32_t first_pos,
                         int32_t max_tokens, double target_s);

}  // namespace sarathi::sched
