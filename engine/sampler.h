// engine/sampler.h: turns a logit vector into a token. Logit bias and repetition / presence /
// frequency penalties first, then greedy or temperature sampling after top-k, top-p and min-p
// filtering (after a grammar's token mask, when given), from a per-request seeded generator: a request's tokens depend only on its own
// logits, history and seed, never on what else shares the batch. Depends on nothing.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

namespace sarathi::engine {

struct SamplingParams {
  float temperature = 0.0f;         // <= 0: greedy (argmax, ties to the lowest id)
  int32_t top_k = 0;                // <= 0: off
  float top_p = 1.0f;               // >= 1: off
  float min_p = 0.0f;               // <= 0: off; keeps tokens with p >= min_p * p_max
  float repetition_penalty = 1.0f;  // 1: off; divides positive / multiplies negative logits of
                                    // tokens seen in prompt or output (CTRL / vLLM)
  float presence_penalty = 0.0f;    // subtracted once from tokens present in the output
  float frequency_penalty = 0.0f;   // subtracted per occurrence in the output
  std::vector<std::pair<int32_t, float>> logit_bias;  // added to the raw logits
  uint64_t seed = 0;
  int32_t num_logprobs = 0;         // top-N alternatives to report per token (0: none)
};

/// A sampled token with its log-probability under the model's distribution and, when asked,
/// the top-N alternatives (token, logprob), most likely first.
struct SampledToken {
  int32_t token = 0;
  float logprob = 0.0f;
  std::vector<std::pair<int32_t, float>> top_logprobs;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  /// Picks the next token from logits[n_vocab]. `prompt` and `output` are the request's tokens
  /// so far (for the penalties). `allowed`, when not empty, is a bitmask over the vocabulary
  /// (bit i of word i / 64: token i may be sampled, e.g. a grammar's mask): the others are
  /// removed after the bias and penalties, before top-k / top-p / min-p and temperature. At
  /// least one allowed token is the caller's to ensure. Logprobs stay those of the model's
  /// distribution.
  SampledToken sample(std::span<const float> logits, std::span<const int32_t> prompt = {},
                      std::span<const int32_t> output = {},
                      std::span<const uint64_t> allowed = {});

  const SamplingParams& params() const { return params_; }

 private:
  void apply_penalties(std::span<const int32_t> prompt, std::span<const int32_t> output);
  int32_t draw();
  void fill_logprobs(std::span<const float> raw, SampledToken& out) const;

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<float> work_;                             // processed logits (reused)
  std::vector<std::pair<float, int32_t>> candidates_;   // reused scratch
  std::vector<double> weights_;                         // reused scratch
  std::vector<int32_t> counts_;                         // reused: output token counts
};

/// Index of the largest value; ties go to the lowest index.
int32_t argmax(std::span<const float> v);

/// Sets the logits of tokens whose bit in `allowed` is clear to -infinity.
void apply_token_mask(std::span<const uint64_t> allowed, std::span<float> logits);

}  // namespace sarathi::engine
