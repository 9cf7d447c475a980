#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sarathi::engine {

int32_t argmax(std::span<const float> v) {
  int32_t best = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[static_cast<size_t>(best)]) best = static_cast<int32_t>(i);
  return best;
}

void apply_token_mask(std::span<const uint64_t> allowed, std::span<float> logits) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const size_t n = logits.size();
  for (size_t w = 0; w * 64 < n; ++w) {
    const uint64_t bits = w < allowed.size() ? allowed[w] : 0;
    if (bits == ~uint64_t{0}) continue;
    const size_t end = std::min(n, w * 64 + 64);
    if (bits == 0) {  // most words of a grammar's mask
      std::fill(logits.begin() + static_cast<std::ptrdiff_t>(w * 64),
                logits.begin() + static_cast<std::ptrdiff_t>(end), kNegInf);
      continue;
    }
    for (size_t i = w * 64; i < end; ++i)
      if (!((bits >> (i & 63)) & 1)) logits[i] = kNegInf;
  }
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}

void Sampler::apply_penalties(std::span<const int32_t> prompt, std::span<const int32_t> output) {
  const auto n = static_cast<int32_t>(work_.size());
  auto valid = [n](int32_t t) { return t >= 0 && t < n; };
  if (params_.repetition_penalty != 1.0f) {
    const float rp = params_.repetition_penalty;
    auto penalize = [&](int32_t t) {
      if (!valid(t)) return;
      float& l = work_[static_cast<size_t>(t)];
      if (std::isnan(l) || l == -std::numeric_limits<float>::infinity()) return;
      l = l > 0 ? l / rp : l * rp;
    };
    // Each distinct token of prompt and output once.
    std::vector<int32_t> seen(prompt.begin(), prompt.end());
    seen.insert(seen.end(), output.begin(), output.end());
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    for (int32_t t : seen) penalize(t);
  }
  if (params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f) {
    counts_.clear();
    counts_.assign(output.begin(), output.end());
    std::sort(counts_.begin(), counts_.end());
    for (size_t i = 0; i < counts_.size();) {
      size_t j = i;
      while (j < counts_.size() && counts_[j] == counts_[i]) ++j;
      if (valid(counts_[i]))
        work_[static_cast<size_t>(counts_[i])] -=
            params_.presence_penalty + params_.frequency_penalty * static_cast<float>(j - i);
      i = j;
    }
  }
}

int32_t Sampler::draw() {
  auto& c = candidates_;
  c.clear();
  for (size_t i = 0; i < work_.size(); ++i)
    if (!std::isnan(work_[i]) && work_[i] > -std::numeric_limits<float>::infinity())
      c.emplace_back(work_[i], static_cast<int32_t>(i));
  if (c.empty()) return argmax(work_);
  auto by_logit = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  // top-k (llama.cpp / vLLM order: top-k, top-p, min-p, then temperature).
  size_t keep = c.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < keep) {
    keep = static_cast<size_t>(params_.top_k);
    std::partial_sort(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(keep), c.end(), by_logit);
  } else {
    std::sort(c.begin(), c.end(), by_logit);
  }
  c.resize(keep);
  const double max_logit = c.front().first;
  if (params_.top_p < 1.0f || params_.min_p > 0.0f) {
    double total = 0.0;
    for (const auto& [l, id] : c) total += std::exp(static_cast<double>(l) - max_logit);
    size_t n = c.size();
    if (params_.top_p < 1.0f) {  // the smallest prefix with mass >= top_p
      double cum = 0.0;
      for (n = 0; n < c.size();) {
        cum += std::exp(static_cast<double>(c[n].first) - max_logit) / total;
        ++n;
        if (cum >= params_.top_p) break;
      }
    }
    if (params_.min_p > 0.0f) {  // p >= min_p * p_max  <=>  l - l_max >= log(min_p)
      const double floor = std::log(static_cast<double>(params_.min_p));
      size_t m = 0;
      while (m < n && static_cast<double>(c[m].first) - max_logit >= floor) ++m;
      n = m;
    }
    c.resize(std::max<size_t>(1, n));
  }
  weights_.clear();
  for (const auto& [l, id] : c)
    weights_.push_back(std::exp((static_cast<double>(l) - max_logit) / params_.temperature));
  // Inverse-CDF draw with a 53-bit uniform: the same on every platform for the same seed.
  double total = 0.0;
  for (double w : weights_) total += w;
  const double u = static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0) * total;
  double cum = 0.0;
  for (size_t i = 0; i < c.size(); ++i) {
    cum += weights_[i];
    if (u < cum) return c[i].second;
  }
  return c.back().second;
}

void Sampler::fill_logprobs(std::span<const float> raw, SampledToken& out) const {
  double max_logit = -std::numeric_limits<double>::infinity();
  for (float l : raw) max_logit = std::max(max_logit, static_cast<double>(l));
  double total = 0.0;
  for (float l : raw) total += std::exp(static_cast<double>(l) - max_logit);
  const double log_z = max_logit + std::log(total);
  out.logprob = static_cast<float>(static_cast<double>(raw[static_cast<size_t>(out.token)]) - log_z);
  if (params_.num_logprobs <= 0) return;
  const size_t k = std::min(raw.size(), static_cast<size_t>(params_.num_logprobs));
  std::vector<std::pair<float, int32_t>> top;
  top.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) top.emplace_back(raw[i], static_cast<int32_t>(i));
  std::partial_sort(top.begin(), top.begin() + static_cast<std::ptrdiff_t>(k), top.end(),
                    [](const auto& a, const auto& b) {
                      return a.first > b.first || (a.first == b.first && a.second < b.second);
                    });
  for (size_t i = 0; i < k; ++i)
    out.top_logprobs.emplace_back(top[i].second,
                                  static_cast<float>(static_cast<double>(top[i].first) - log_z));
}

SampledToken Sampler::sample(std::span<const float> logits, std::span<const int32_t> prompt,
                             std::span<const int32_t> output, std::span<const uint64_t> allowed) {
  work_.assign(logits.begin(), logits.end());
  for (const auto& [t, bias] : params_.logit_bias)
    if (t >= 0 && static_cast<size_t>(t) < work_.size()) work_[static_cast<size_t>(t)] += bias;
  apply_penalties(prompt, output);
  if (!allowed.empty()) apply_token_mask(allowed, work_);
  SampledToken out;
  out.token = params_.temperature <= 0.0f ? argmax(work_) : draw();
  fill_logprobs(logits, out);
  return out;
}

}  // namespace sarathi::engine
