// The engine's step-cost fitting: least squares recovers known coefficients from synthetic
// timings (exactly without noise, closely with it), keeps coefficients non-negative, follows a
// machine that slows down, and calibrate() probes only within the KV pool and the model length.
#include "engine/step_cost.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <vector>

namespace sarathi::engine {
namespace {

sched::StepShape random_shape(std::mt19937& rng) {
  sched::StepShape s;
  const int decodes = std::uniform_int_distribution<int>(0, 48)(rng);
  for (int d = 0; d < decodes; ++d)
    s.add_chunk(std::uniform_int_distribution<int>(1, 2000)(rng), 1);
  if (decodes == 0 || rng() % 2)
    s.add_chunk(std::uniform_int_distribution<int>(0, 1000)(rng),
                std::uniform_int_distribution<int>(1, 512)(rng));
  return s;
}

TEST(StepCostFitter, RecoversKnownCoefficientsExactly) {
  const sched::StepCostModel truth({0.035, 0.0025, 0.0004, 0.9});
  StepCostFitter f;
  std::mt19937 rng(3);
  for (int i = 0; i < 40; ++i) {
    const auto s = random_shape(rng);
    f.add_prior(s, truth.predict(s));
  }
  const auto fit = f.fit();
  for (int i = 0; i < sched::StepCostModel::kNumTerms; ++i)
    EXPECT_NEAR(fit.coefs()[i], truth.coefs()[i], 1e-6 * (1 + truth.coefs()[i])) << "term " << i;
}

TEST(StepCostFitter, NoisyTimingsGiveCloseCoefficientsAndPredictions) {
  const sched::StepCostModel truth({0.030, 0.0020, 0.0003, 0.5});
  StepCostFitter f;
  std::mt19937 rng(11);
  std::normal_distribution<double> noise(1.0, 0.05);  // 5% multiplicative noise
  for (int i = 0; i < 400; ++i) {
    const auto s = random_shape(rng);
    f.add(s, truth.predict(s) * noise(rng));
  }
  const auto fit = f.fit();
  EXPECT_NEAR(fit.coefs()[0], 0.030, 0.003);
  EXPECT_NEAR(fit.coefs()[1], 0.0020, 0.0001);
  for (int i = 0; i < 50; ++i) {
    const auto s = random_shape(rng);
    EXPECT_NEAR(fit.predict(s) / truth.predict(s), 1.0, 0.05);
  }
}

TEST(StepCostFitter, CoefficientsStayNonNegative) {
  // Timings that a negative per-seq cost would fit best: the fit drops that term instead.
  StepCostFitter f;
  std::mt19937 rng(5);
  for (int i = 0; i < 100; ++i) {
    const auto s = random_shape(rng);
    f.add(s, std::max(1e-3, 0.02 + 0.002 * s.num_tokens - 0.0015 * s.num_seqs));
  }
  const auto fit = f.fit();
  for (double c : fit.coefs()) EXPECT_GE(c, 0.0);
  EXPECT_TRUE(fit.valid());
  EXPECT_FALSE(StepCostFitter().fit().valid());
}

TEST(StepCostFitter, FollowsAMachineThatSlowsDown) {
  const sched::StepCostModel before({0.03, 0.002, 0.0, 0.0}), after({0.06, 0.004, 0.0, 0.0});
  StepCostFitter f;
  std::mt19937 rng(8);
  for (int i = 0; i < 20; ++i) {
    const auto s = random_shape(rng);
    f.add_prior(s, before.predict(s));
  }
  for (int i = 0; i < 2000; ++i) {
    const auto s = random_shape(rng);
    f.add(s, after.predict(s));
  }
  sched::StepShape probe;
  probe.add_chunk(0, 256);
  EXPECT_NEAR(f.fit().predict(probe) / after.predict(probe), 1.0, 0.05);
}

TEST(SloMargin, PlansToTheInverseOfThe99thPercentileRatio) {
  SloMargin m;
  EXPECT_DOUBLE_EQ(m.plan_fraction(), sched::kSloPlanFraction);  // before any step
  for (int i = 0; i < 31; ++i) m.add(0.1, 0.1);
  EXPECT_DOUBLE_EQ(m.plan_fraction(), sched::kSloPlanFraction);  // still too few steps
  // 100 steps: ratios 1.00, 1.01, ..., 1.99 in a shuffled order; the 99th percentile by rank
  // (index 0.99 * 99 = 98.01 -> 98 of the sorted window) is 1.98 -> plan to 1 / 1.98 of it.
  SloMargin n;
  std::vector<int> order(100);
  for (int i = 0; i < 100; ++i) order[static_cast<size_t>(i)] = (i * 37) % 100;
  for (int k : order) n.add(0.05, 0.05 * (1.0 + k / 100.0));
  EXPECT_NEAR(n.plan_fraction(), 1.0 / 1.98, 1e-12);
  // A quiet machine: steps never above prediction -> the ceiling; a wild one -> the floor.
  SloMargin quiet, wild;
  for (int i = 0; i < 600; ++i) {
    quiet.add(0.05, 0.04);
    wild.add(0.05, 0.2);
  }
  EXPECT_DOUBLE_EQ(quiet.plan_fraction(), SloMargin::kMaxFraction);
  EXPECT_DOUBLE_EQ(wild.plan_fraction(), SloMargin::kMinFraction);
  // The window forgets: after 512 calm steps the wild past no longer counts.
  for (int i = 0; i < 512; ++i) wild.add(0.05, 0.05);
  EXPECT_DOUBLE_EQ(wild.plan_fraction(), SloMargin::kMaxFraction);
  // Steps without a prediction are ignored.
  wild.add(0.0, 1.0);
  EXPECT_DOUBLE_EQ(wild.plan_fraction(), SloMargin::kMaxFraction);
}

// Records every batch; each run "takes" no time.
class RecordingExecutor final : public Executor {
 public:
  int32_t n_vocab() const override { return 32; }
  core::Result<std::span<const float>> run(std::span<const ExecSeq> batch) override {
    std::set<int32_t> used;
    int rows = 0;
    for (const ExecSeq& s : batch) {
      const auto end = s.first_pos + static_cast<int32_t>(s.tokens.size());
      EXPECT_LE(end, max_len);
      EXPECT_GE(static_cast<int32_t>(s.block_table.size()) * block_size, end);
      for (int32_t b : s.block_table) {
        EXPECT_TRUE(b >= 0 && b < num_blocks);
        EXPECT_TRUE(used.insert(b).second) << "block " << b << " used twice in one step";
      }
      rows += s.want_logits ? 1 : 0;
      max_tokens = std::max<int64_t>(max_tokens, static_cast<int64_t>(s.tokens.size()));
    }
    ++steps;
    logits.assign(static_cast<size_t>(rows) * 32, 0.0f);
    return std::span<const float>(logits);
  }
  int32_t num_blocks = 0, block_size = 16, max_len = 0;
  int64_t steps = 0, max_tokens = 0;
  std::vector<float> logits;
};

TEST(Calibrate, ProbesStayWithinThePoolAndTheModelLength) {
  for (int32_t blocks : {4, 40, 4000}) {
    RecordingExecutor ex;
    ex.num_blocks = blocks;
    ex.max_len = 300;
    auto cal = calibrate(ex, {.num_blocks = blocks, .block_size = 16, .max_num_seqs = 64,
                              .max_model_len = 300, .max_chunk = 256});
    ASSERT_TRUE(cal.ok()) << cal.error().message;
    EXPECT_GT(ex.steps, 10);
    EXPECT_LE(ex.max_tokens, 256);
    EXPECT_EQ(cal->num_probe_steps, 20);
  }
}

TEST(Calibrate, ResolvesTheStrictSloFromTheDecodeStep) {
  RecordingExecutor ex;
  ex.num_blocks = 512;
  ex.max_len = 4096;
  sched::SchedulerConfig cfg;
  cfg.num_kv_blocks = 512;
  auto cal = calibrate_slo(ex, cfg, -1.0);
  ASSERT_TRUE(cal.ok());
  EXPECT_DOUBLE_EQ(cfg.tbt_slo_s, 5.0 * cal->decode_step_s);
  sched::SchedulerConfig fixed;
  fixed.num_kv_blocks = 512;
  ASSERT_TRUE(calibrate_slo(ex, fixed, 0.25).ok());
  EXPECT_DOUBLE_EQ(fixed.tbt_slo_s, 0.25);
}

// The default minimum chunk: a whole block where it fits beside one decode within the target,
// fewer tokens where it does not (a slow host), never below 1.
TEST(Calibrate, DefaultMinChunkFitsBesideOneDecode) {
  sched::SchedulerConfig cfg;
  cfg.block_size = 16;
  cfg.max_model_len = 4096;
  // 60 ms per step plus 18 ms per token: a decode alone costs 78 ms.
  const sched::StepCostModel slow({0.060, 0.018, 0.0, 0.0});
  EXPECT_EQ(default_min_chunk(slow, cfg, 1.0), 16);     // 16 tokens + the decode: 0.37 s
  EXPECT_EQ(default_min_chunk(slow, cfg, 0.18), 5);     // 0.060 + (1 + 6) * 0.018 > 0.18
  EXPECT_EQ(default_min_chunk(slow, cfg, 0.05), 1);     // not even the decode fits: still 1
  const sched::StepCostModel fast({0.010, 0.0005, 0.0, 0.0});
  EXPECT_EQ(default_min_chunk(fast, cfg, 0.05), 16);
  // calibrate_slo leaves a given minimum alone.
  RecordingExecutor ex;
  ex.num_blocks = 512;
  ex.max_len = 4096;
  sched::SchedulerConfig given;
  given.num_kv_blocks = 512;
  given.min_chunk = 7;
  ASSERT_TRUE(calibrate_slo(ex, given, 0.25).ok());
  EXPECT_EQ(given.min_chunk, 7);
  sched::SchedulerConfig derived;
  derived.num_kv_blocks = 512;
  ASSERT_TRUE(calibrate_slo(ex, derived, 0.25).ok());
  EXPECT_GE(derived.min_chunk, 1);
  EXPECT_LE(derived.min_chunk, derived.block_size);
}

}  // namespace
}  // namespace sarathi::engine
