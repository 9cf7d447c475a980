// sim/step_model.h: what a step costs in the simulator. A step's work (tokens, decodes and the
// context they read, prefill chunks and the query-key pairs they attend) maps to a predicted
// time per pipeline stage, the hand-off between stages and the CPU work around the model
// (scheduling, sampling). Implementations: measured on this machine (sim/measured_model.h) and
// GPU operator profiles (sim/gpu_model.h). Pure arithmetic; must not depend on model/ or kernels/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sarathi::sim {

/// The model's shape as a profile records it (for KV sizing and the GPU roofline terms).
struct ModelShape {
  std::string name;
  int32_t n_layer = 0, n_embd = 0, n_head = 0, n_head_kv = 0, head_dim = 0, n_vocab = 0;
  int32_t n_ctx = 0;
  int64_t kv_bytes_per_token = 0;  // K and V of every layer, in the profiled KV type
};

/// A step's work, summed over its chunks.
struct StepWork {
  int32_t num_tokens = 0;      // all tokens of the step
  int32_t num_decodes = 0;     // decode chunks (1 token each)
  int64_t decode_context = 0;  // sum over decodes of the positions each attends (pos + 1)
  int32_t num_prefill_chunks = 0;
  int32_t num_prefill_tokens = 0;
  int64_t prefill_pairs = 0;    // query-key pairs the prefill chunks attend (causal)
  int64_t prefill_context = 0;  // sum over prefill chunks of the positions their K/V covers
  int32_t num_logits = 0;       // chunks that produce a token (decodes, completed prefills)

  /// Adds a chunk of n tokens starting at position first_pos.
  void add(int32_t first_pos, int32_t n, bool decode, bool logits);
  /// The mean number of positions a decode attends (its position + 1; 0 without decodes).
  double mean_decode_context() const {
    return num_decodes > 0 ? static_cast<double>(decode_context) / num_decodes : 0.0;
  }
};

/// A step's predicted time on one replica (seconds).
struct StepTime {
  double stage_s = 0;     // the model's compute on one pipeline stage (every stage alike; tensor
                          // parallel all-reduces included)
  double handoff_s = 0;   // activations sent from one stage to the next (0 with one stage)
  double overhead_s = 0;  // CPU work of the step outside the model (scheduling, sampling)

  /// Issue to finish through num_stages stages with no waiting.
  double total_s(int32_t num_stages) const {
    return overhead_s + num_stages * stage_s + (num_stages - 1) * handoff_s;
  }
};

/// A step-time model for one replica configuration.
class StepModel {
 public:
  virtual ~StepModel() = default;
  /// The predicted time of a step.
  virtual StepTime predict(const StepWork& work) const = 0;
  /// Pipeline stages the model was built for (>= 1).
  virtual int32_t num_stages() const { return 1; }
  /// Whether the model knows how much identical steps vary (a measured spread).
  virtual bool has_spread() const { return false; }
  /// A factor for a step predicted to take predicted_s, drawn (by `random`, uniform over 64 bits)
  /// from the measured run-to-run spread of steps of about that length; 1 without a spread.
  virtual double step_factor(double predicted_s, uint64_t random) const {
    (void)predicted_s;
    (void)random;
    return 1.0;
  }
  /// What the model is, in a few lines (source, terms, efficiencies).
  virtual std::string describe() const = 0;
};

}  // namespace sarathi::sim
