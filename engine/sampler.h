// engine/sampler.h: turns a logit vector into a token: greedy, or temperature sampling after
// top-k / top-p filtering, from a per-request seeded generator (so the result depends only on
// the request, never on what else shares the batch). Depends on core/ only.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace sarathi::engine {

struct SamplingParams {
  float temperature = 0.0f;  // <= 0: greedy (argmax, ties to the lowest id)
  int32_t top_k = 0;         // <= 0: off
  float top_p = 1.0f;        // >= 1: off
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  /// Picks the next token from logits[n_vocab].
  int32_t sample(std::span<const float> logits);

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;  // reused scratch
  std::vector<double> weights_;                        // reused scratch
};

/// Index of the largest value; ties go to the lowest index.
int32_t argmax(std::span<const float> v);

}  // namespace sarathi::engine
