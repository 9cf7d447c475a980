// SLO-driven chunking: the cost model's chunk search against brute force, and the sarathi-serve
// and sarathi policies under a TBT SLO over seeded random workloads: no step is predicted beyond
// the SLO's step target unless it carries only the minimum prefill chunk, prompts always
// progress (never starved), and every request finishes.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "sched/config.h"
#include "sched/cost_model.h"
#include "sched/scheduler.h"

namespace sarathi::sched {
namespace {

int pick(std::mt19937& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

StepCostModel random_model(std::mt19937& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  return StepCostModel({0.01 + 0.04 * u(rng), 1e-4 + 3e-3 * u(rng), 3e-4 * u(rng),
                        u(rng) < 0.3 ? 0.0 : 0.5 * u(rng)});
}

TEST(StepCostModel, PredictsTheLinearFormAndClampsNegatives) {
  const StepCostModel m({0.03, 0.002, -0.5, 1.0});
  EXPECT_EQ(m.coefs()[2], 0.0);
  StepShape s;
  s.add_chunk(100, 1);   // a decode at position 100: 101 pairs
  s.add_chunk(0, 10);    // a chunk of 10 from 0: 55 pairs
  EXPECT_EQ(s.num_tokens, 11);
  EXPECT_EQ(s.num_seqs, 2);
  EXPECT_EQ(s.num_attended, 156);
  EXPECT_DOUBLE_EQ(m.predict(s), 0.03 + 0.002 * 11 + 1.0 * 156e-6);
  EXPECT_FALSE(StepCostModel().valid());
  EXPECT_TRUE(m.valid());
}

TEST(StepCostModel, MaxChunkWithinMatchesBruteForce) {
  std::mt19937 rng(7);
  for (int iter = 0; iter < 2000; ++iter) {
    const StepCostModel m = random_model(rng);
    StepShape base;
    for (int d = pick(rng, 0, 40); d > 0; --d) base.add_chunk(pick(rng, 0, 2000), 1);
    const int32_t first = pick(rng, 0, 1500);
    const int32_t max_tokens = pick(rng, 0, 700);
    const double target = std::uniform_real_distribution<double>(0.0, 1.5)(rng);
    int32_t expect = 0;
    for (int32_t n = 1; n <= max_tokens; ++n) {
      StepShape s = base;
      s.add_chunk(first, n);
      if (m.predict(s) <= target) expect = n;
    }
    ASSERT_EQ(max_chunk_within(m, base, first, max_tokens, target), expect) << "iter " << iter;
  }
}

// Drives a Scheduler to completion with a fake model (each request ends after exactly its max
// output tokens) and checks every plan against the SLO.
void check_slo_run(const std::string& policy, uint32_t seed) {
  std::mt19937 rng(seed);
  SchedulerConfig c;
  c.policy = policy;
  c.block_size = 16;
  c.max_num_seqs = pick(rng, 1, 48);
  c.max_model_len = 1024;
  c.num_kv_blocks = 8192;  // ample: only the SLO and max_num_seqs limit a step
  c.watermark = 0;
  c.chunk_size = pick(rng, 32, 512);
  c.min_chunk = pick(rng, 0, 1) ? 0 : pick(rng, 1, 64);
  c.tbt_slo_s = std::uniform_real_distribution<double>(0.01, 0.6)(rng);  // some below c[0]
  auto sched = Scheduler::create(c);
  ASSERT_TRUE(sched.ok()) << sched.error().message;
  Scheduler& s = *sched;
  const StepCostModel model = random_model(rng);
  s.set_cost_model(model);
  const double target = slo_step_target_s(c);
  const int n = pick(rng, 5, 40);
  std::vector<int64_t> arrival(static_cast<size_t>(n));
  int64_t step = 0;
  for (int i = 0; i < n; ++i) {
    step += pick(rng, 0, 3) == 0 ? pick(rng, 1, 20) : 0;
    arrival[static_cast<size_t>(i)] = step;
  }
  int next = 0, finished = 0;
  for (int64_t t = 0; t < 200000 && finished < n; ++t) {
    while (next < n && arrival[static_cast<size_t>(next)] <= t) {
      s.add(next, pick(rng, 1, 900), pick(rng, 1, 100));
      ++next;
    }
    bool prefill_pending = s.num_waiting() > 0;
    bool can_progress = prefill_pending && s.num_running() < c.max_num_seqs;
    for (const SeqState* r : s.running()) {
      prefill_pending |= r->is_prefilling();
      can_progress |= r->is_prefilling();
    }
    const BatchPlan plan = s.schedule();
    ASSERT_TRUE(plan.rejected.empty());
    if (plan.empty()) {
      ASSERT_FALSE(prefill_pending) << "a prompt waits but nothing was scheduled";
      continue;
    }
    StepShape all;
    int32_t prefill_chunks = 0, first_prefill = 0;
    for (const SeqChunk& ch : plan.chunks) {
      all.add_chunk(ch.first_token, ch.num_tokens);
      const SeqState* st = s.find(ch.seq);
      // After applying: a prefill chunk is one that left the sequence prefilling or ended it
      // with more than one token, or any chunk of a sequence that started this step.
      const bool decode = ch.num_tokens == 1 && ch.first_token >= st->num_prompt_tokens;
      if (!decode) {
        if (prefill_chunks++ == 0) first_prefill = ch.num_tokens;
      }
    }
    EXPECT_NEAR(plan.predicted_s, model.predict(all), 1e-12);
    // Never starved: a pending prompt gets a chunk every step (policy's room permitting).
    if (can_progress) {
      EXPECT_GE(prefill_chunks, 1) << "step " << t;
    }
    // Within the target, unless the decodes alone exceed it (they never stall) or the step's
    // only prefill is the guaranteed minimum chunk.
    if (model.predict(all) > target + 1e-12) {
      EXPECT_LE(prefill_chunks, 1) << "step " << t << " predicted " << model.predict(all);
      if (prefill_chunks == 0) {
        EXPECT_TRUE(plan.decodes_over_slo) << "step " << t;
      } else {
        EXPECT_LE(first_prefill, slo_min_chunk(c)) << "step " << t;
      }
    }
    if (policy == "sarathi") {
      EXPECT_LE(first_prefill, c.chunk_size);
    }
    std::vector<StepResult> results;
    for (const SeqChunk& ch : plan.chunks) {
      const SeqState* st = s.find(ch.seq);
      const bool produces = st->num_computed_tokens + ch.num_tokens >= st->num_prefill_tokens;
      const bool done = produces && st->num_output_tokens + 1 >= st->max_output_tokens;
      results.push_back({ch.seq, produces, done});
      finished += done ? 1 : 0;
    }
    s.on_step_done(plan, results);
    s.check_invariants();
  }
  EXPECT_EQ(finished, n) << "not every request finished";
  EXPECT_EQ(s.kv().num_used(), 0);
}

TEST(SloChunking, SarathiServeStaysWithinTheTargetAndNeverStarves) {
  for (uint32_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE(seed);
    check_slo_run("sarathi-serve", seed);
    if (HasFatalFailure() || HasNonfatalFailure()) return;
  }
}

TEST(SloChunking, SarathiChunkFollowsTheTarget) {
  for (uint32_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE(seed);
    check_slo_run("sarathi", seed);
    if (HasFatalFailure() || HasNonfatalFailure()) return;
  }
}

TEST(SloChunking, TighterTargetsNeverGiveLongerChunks) {
  // The same waiting prompt under tighter and tighter SLOs: the first chunk shrinks
  // monotonically to the minimum chunk, and with no model the fixed budget applies.
  int32_t prev = 1 << 30;
  for (double slo : {1.0, 0.5, 0.2, 0.1, 0.05, 0.01}) {
    SchedulerConfig c;
    c.policy = "sarathi-serve";
    c.num_kv_blocks = 256;
    c.max_model_len = 2048;
    c.tbt_slo_s = slo;
    auto s = Scheduler::create(c);
    ASSERT_TRUE(s.ok());
    s->set_cost_model(StepCostModel({0.02, 0.001, 0.0, 0.0}));
    s->add(1, 1500, 4);
    const BatchPlan plan = s->schedule();
    ASSERT_EQ(plan.chunks.size(), 1u);
    const int32_t n = plan.chunks[0].num_tokens;
    // 0.02 + 0.001 n <= 0.85 slo, cut to a block boundary; at least one block.
    const auto fit = static_cast<int32_t>((0.85 * slo - 0.02) / 0.001 + 1e-9);
    EXPECT_EQ(n, std::max(16, std::min(2048, fit) / 16 * 16)) << "slo " << slo;
    EXPECT_LE(n, prev);
    prev = n;
  }
  SchedulerConfig c;
  c.policy = "sarathi-serve";
  c.num_kv_blocks = 256;
  c.max_model_len = 2048;
  c.tbt_slo_s = 0.05;  // an SLO without a valid model yet: the fixed budget (max(2048, seqs))
  auto s = Scheduler::create(c);
  ASSERT_TRUE(s.ok());
  s->add(1, 1500, 4);
  EXPECT_EQ(s->schedule().chunks[0].num_tokens, 1500);
}

}  // namespace
}  // namespace sarathi::sched
