#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "engine/stop_checker.h"

namespace sarathi::engine {
namespace {

std::vector<float> random_logits(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 2.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

TEST(Sampler, GreedyTakesArgmaxLowestOnTies) {
  Sampler s({});
  std::vector<float> l = {0.5f, 2.0f, 2.0f, -1.0f};
  EXPECT_EQ(s.sample(l).token, 1);
}

TEST(Sampler, SameSeedSameTokensWhateverElseHappens) {
  const auto l = random_logits(1000, 1);
  SamplingParams p{.temperature = 1.0f, .seed = 1234};
  Sampler a(p), b(p);
  std::vector<int32_t> ta, tb;
  for (int i = 0; i < 50; ++i) ta.push_back(a.sample(l).token);
  Sampler other({.temperature = 0.7f, .seed = 99});
  for (int i = 0; i < 50; ++i) {
    other.sample(l);  // another request interleaved: no shared state
    tb.push_back(b.sample(l).token);
  }
  EXPECT_EQ(ta, tb);
  Sampler c({.temperature = 1.0f, .seed = 1235});
  std::vector<int32_t> tc;
  for (int i = 0; i < 50; ++i) tc.push_back(c.sample(l).token);
  EXPECT_NE(ta, tc);
}

TEST(Sampler, TopKOneIsGreedyAndFiltersRespectTheirBounds) {
  const auto l = random_logits(500, 2);
  const int32_t best = argmax(l);
  Sampler k1({.temperature = 5.0f, .top_k = 1, .seed = 3});
  for (int i = 0; i < 20; ++i) EXPECT_EQ(k1.sample(l).token, best);

  // top-k 5: only the five best ever appear.
  std::vector<int32_t> order(l.size());
  for (size_t i = 0; i < l.size(); ++i) order[i] = static_cast<int32_t>(i);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return l[a] > l[b]; });
  Sampler k5({.temperature = 10.0f, .top_k = 5, .seed = 4});
  for (int i = 0; i < 200; ++i) {
    const int32_t t = k5.sample(l).token;
    EXPECT_NE(std::find(order.begin(), order.begin() + 5, t), order.begin() + 5);
  }
  // min-p 0.5: only tokens with p >= 0.5 p_max, i.e. logit >= max + log(0.5).
  Sampler mp({.temperature = 1.0f, .min_p = 0.5f, .seed = 5});
  for (int i = 0; i < 200; ++i) {
    const int32_t t = mp.sample(l).token;
    EXPECT_GE(l[t], l[best] + std::log(0.5f) - 1e-6f);
  }
}

TEST(Sampler, TemperatureSamplingFollowsTheDistribution) {
  std::vector<float> l = {0.0f, std::log(3.0f)};  // p = 1/4, 3/4
  Sampler s({.temperature = 1.0f, .seed = 7});
  int ones = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ones += s.sample(l).token;
  EXPECT_NEAR(ones / double(n), 0.75, 0.015);
}

TEST(Sampler, PenaltiesAndBias) {
  std::vector<float> l = {1.0f, 0.9f, -0.5f};
  // Repetition penalty on token 0 (seen in the prompt) makes token 1 the best.
  Sampler rep({.repetition_penalty = 2.0f});
  const std::vector<int32_t> prompt = {0};
  EXPECT_EQ(rep.sample(l, prompt, {}).token, 1);
  // Frequency penalty counts occurrences; presence only once.
  Sampler freq({.frequency_penalty = 0.1f});
  const std::vector<int32_t> out = {0, 0};
  EXPECT_EQ(freq.sample(l, {}, out).token, 1);  // 1.0 - 0.2 < 0.9
  Sampler pres({.presence_penalty = 0.05f});
  EXPECT_EQ(pres.sample(l, {}, out).token, 0);  // 1.0 - 0.05 > 0.9
  Sampler bias({.logit_bias = {{2, 5.0f}}});
  EXPECT_EQ(bias.sample(l).token, 2);
}

TEST(Sampler, LogprobsAreNormalisedAndSorted) {
  const auto l = random_logits(100, 9);
  Sampler s({.num_logprobs = 5});
  const SampledToken t = s.sample(l);
  ASSERT_EQ(t.top_logprobs.size(), 5u);
  EXPECT_EQ(t.top_logprobs[0].first, t.token);
  EXPECT_FLOAT_EQ(t.top_logprobs[0].second, t.logprob);
  for (size_t i = 1; i < 5; ++i) EXPECT_LE(t.top_logprobs[i].second, t.top_logprobs[i - 1].second);
  double total = 0;
  for (float x : l) total += std::exp(double(x) - double(l[t.token]) + double(t.logprob));
  EXPECT_NEAR(total, 1.0, 1e-4);
}

// The mask removes tokens before top-k / top-p / temperature: with top-k 1 the best allowed
// token wins, never a masked one; logprobs stay the model's.
TEST(Sampler, TokenMaskAppliesBeforeTopKAndTemperature) {
  std::vector<float> logits(130, 0.0f);
  logits[3] = 9.0f;    // the model's favourite, masked out
  logits[70] = 5.0f;   // the best allowed
  logits[129] = 4.0f;  // allowed
  std::vector<uint64_t> mask(3, 0);
  mask[70 / 64] |= uint64_t{1} << (70 % 64);
  mask[129 / 64] |= uint64_t{1} << (129 % 64);
  Sampler greedy(SamplingParams{});
  EXPECT_EQ(greedy.sample(logits, {}, {}, mask).token, 70);
  Sampler topk(SamplingParams{.temperature = 1.0f, .top_k = 1, .seed = 3});
  for (int i = 0; i < 20; ++i) EXPECT_EQ(topk.sample(logits, {}, {}, mask).token, 70);
  Sampler hot(SamplingParams{.temperature = 2.0f, .seed = 5});
  int n129 = 0;
  for (int i = 0; i < 400; ++i) {
    const SampledToken t = hot.sample(logits, {}, {}, mask);
    ASSERT_TRUE(t.token == 70 || t.token == 129) << t.token;
    n129 += t.token == 129;
    EXPECT_LT(t.logprob, -3.0f);  // the unmasked distribution's logprob
  }
  EXPECT_GT(n129, 100);  // p(129) = 1 / (1 + e^0.5) = 0.38 at temperature 2
  std::vector<float> v(70, 1.0f);
  apply_token_mask(mask, v);  // shorter than the mask's words: only its own tokens change
  EXPECT_EQ(std::count(v.begin(), v.end(), -std::numeric_limits<float>::infinity()), 70);
}

TEST(StopChecker, NeverLeaksAPartialStopString) {
  StopChecker s({"###", "END"});
  std::string out;
  out += s.push("Hello #");
  EXPECT_EQ(out, "Hello ");  // "#" might start "###"
  out += s.push("# wor");
  EXPECT_EQ(out, "Hello ## wor");
  out += s.push("ld E");
  EXPECT_EQ(out, "Hello ## world ");
  out += s.push("NDING");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.matched(), "END");
  EXPECT_EQ(out, "Hello ## world ");
  EXPECT_EQ(s.push("more"), "");
}

TEST(StopChecker, FlushReleasesHeldTextWithoutAMatch) {
  StopChecker s({"</s>"});
  EXPECT_EQ(s.push("a </"), "a ");
  EXPECT_EQ(s.flush(), "</");
  EXPECT_FALSE(s.stopped());
  StopChecker none({});
  EXPECT_EQ(none.push("x"), "x");
}

}  // namespace
}  // namespace sarathi::engine
