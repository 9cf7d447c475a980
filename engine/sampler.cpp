#include "engine/sampler.h"

#include <algorithm>
#include <cmath>

namespace sarathi::engine {

int32_t argmax(std::span<const float> v) {
  int32_t best = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[static_cast<size_t>(best)]) best = static_cast<int32_t>(i);
  return best;
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}

int32_t Sampler::sample(std::span<const float> logits) {
  if (params_.temperature <= 0.0f) return argmax(logits);
  auto& c = candidates_;
  c.clear();
  for (size_t i = 0; i < logits.size(); ++i)
    c.emplace_back(logits[i], static_cast<int32_t>(i));
  auto by_logit = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  // top-k (llama.cpp order: top-k, top-p, then temperature).
  size_t keep = c.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < keep) {
    keep = static_cast<size_t>(params_.top_k);
    std::partial_sort(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(keep), c.end(), by_logit);
  } else {
    std::sort(c.begin(), c.end(), by_logit);
  }
  c.resize(keep);
  // top-p on the untempered distribution: the smallest prefix with mass >= top_p.
  if (params_.top_p < 1.0f) {
    const float max_logit = c.front().first;
    double total = 0.0;
    for (const auto& [l, id] : c) total += std::exp(static_cast<double>(l - max_logit));
    double cum = 0.0;
    size_t n = 0;
    while (n < c.size()) {
      cum += std::exp(static_cast<double>(c[n].first - max_logit)) / total;
      ++n;
      if (cum >= params_.top_p) break;
    }
    c.resize(std::max<size_t>(1, n));
  }
  // Temperature, softmax, draw.
  const double max_logit = c.front().first;
  std::vector<double>& w = weights_;
  w.clear();
  for (const auto& [l, id] : c)
    w.push_back(std::exp((static_cast<double>(l) - max_logit) / params_.temperature));
  std::discrete_distribution<size_t> dist(w.begin(), w.end());
  return c[dist(rng_)].second;
}

}  // namespace sarathi::engine
