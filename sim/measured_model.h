// sim/measured_model.h: the step-time model measured on this machine, from the profile `sarathi
// bench profile` writes (engine/step_profile.h: JSON of timed forward passes of the real
// engine's executor). A step of T tokens with D decodes at mean context L and prefill chunks
// attending P query-key pairs is predicted as
//   F(T) - F(D) + c_pair * P + G(D, L)   (+ the engine's own per-step and per-sequence CPU time)
// where F(T) is a prefill chunk of T tokens at position 0 without its attention (interpolated
// over the measured chunk lengths), c_pair the cost of a prefill query-key pair (from chunks
// measured at later positions), and G(D, L) a step of D decodes at context L (bilinear over the
// measured batch x context grid): the decodes cost what they cost alone, the prefill tokens
// what they add to a chunk of D tokens. (A decode step may cost less than a chunk of as many
// tokens at position 0: on a 2-core Xeon, llama-160m, 8-9 ms for one decode at 128-448 of
// context against 11-13 ms for a 1-token chunk.) Exact at every measured prefill and decode
// point; the hybrid (chunk + decodes) points are held out and the model's error on them is
// reported. Steps vary run to run: step_factor draws from the ratios measured for steps of a
// similar length (a stall of the host costs a short step more, relatively, than a long one).
// Depends on sim/step_model.h and sim/interp.h only.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "sim/interp.h"
#include "sim/step_model.h"

namespace sarathi::sim {

class MeasuredModel final : public StepModel {
 public:
  /// Parses a profile (JSON text); `name` names it in errors.
  static core::Result<std::unique_ptr<MeasuredModel>> parse(const std::string& text,
                                                            const std::string& name);
  /// Reads a profile file.
  static core::Result<std::unique_ptr<MeasuredModel>> read(const std::string& path);

  StepTime predict(const StepWork& work) const override;
  bool has_spread() const override { return !spread_.empty(); }
  double step_factor(double predicted_s, uint64_t random) const override;
  std::string describe() const override;

  const ModelShape& shape() const { return shape_; }
  /// The prefill-pair cost c_pair (seconds per query-key pair).
  double pair_cost_s() const { return pair_s_; }
  /// Relative error of the model on the held-out hybrid points: mean and max of |pred/meas - 1|.
  double hybrid_mean_error() const { return hybrid_mean_err_; }
  double hybrid_max_error() const { return hybrid_max_err_; }

 private:
  static constexpr size_t kMinPool = 32;
  MeasuredModel() = default;
  void build_spread(const nlohmann::json& points);
  ModelShape shape_;
  std::string source_;          // threads, ISA, KV type
  Table1D chunk_;               // F(T)
  Grid2D decode_;               // G(D, L), with a D = 0 row of F(0)
  double pair_s_ = 0;           // c_pair
  double step_overhead_s_ = 0;  // the engine's CPU time per step and per scheduled sequence
  double seq_overhead_s_ = 0;
  // Run-to-run ratios pooled by step length: spread_[b] holds the ratios of points whose median
  // is near 2^(b + spread_min_log2_) seconds (at least kMinPool of them, from neighbouring
  // lengths when a length has fewer).
  std::vector<std::vector<double>> spread_;
  int spread_min_log2_ = 0;
  int64_t num_spread_ = 0;
  double hybrid_mean_err_ = 0, hybrid_max_err_ = 0;
  int32_t num_hybrid_ = 0;
};

}  // namespace sarathi::sim
