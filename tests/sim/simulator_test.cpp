// The simulator over the real scheduler with simple step-time models: every request finishes
// with exactly its tokens, a hand-checked timeline, determinism from the seed, the router,
// SLO-driven chunking within its target, pipeline stages, and rejection of impossible requests.
#include "sim/simulator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

namespace sarathi::sim {
namespace {

// t = base + per_token * tokens + per_pos * (positions read), on `stages` stages; with `noisy`,
// steps take 1x, 1.5x or 0.8x their prediction.
class TestModel final : public StepModel {
 public:
  double base = 1e-3, per_token = 1e-5, per_pos = 1e-8;
  int32_t stages = 1;
  double handoff = 0;
  bool noisy = false;

  StepTime predict(const StepWork& w) const override {
    StepTime t;
    t.stage_s =
        (base + per_token * w.num_tokens + per_pos * double(w.decode_context + w.prefill_context)) /
        stages;
    t.handoff_s = stages > 1 ? handoff : 0.0;
    return t;
  }
  int32_t num_stages() const override { return stages; }
  bool has_spread() const override { return noisy; }
  double step_factor(double, uint64_t r) const override {
    const double f[] = {1.0, 1.5, 0.8};
    return f[r % 3];
  }
  std::string describe() const override { return "test model"; }
};

std::vector<workload::RequestSpec> poisson(int n, double rate, uint64_t seed, int in = 200,
                                           int out = 40) {
  auto w = workload::make_workload({.num_prompts = n,
                                    .input_len = in,
                                    .output_len = out,
                                    .range_ratio = 0.5,
                                    .request_rate = rate,
                                    .seed = seed});
  EXPECT_TRUE(w.ok());
  return *w;
}

SimOptions options(const std::string& policy, int32_t blocks = 2048) {
  SimOptions o;
  o.sched.policy = policy;
  o.sched.max_num_seqs = 32;
  o.sched.num_kv_blocks = blocks;
  o.sched.max_model_len = 1024;
  return o;
}

TEST(Simulator, EveryRequestGetsExactlyItsTokens) {
  TestModel m;
  const auto reqs = poisson(60, 1000, 1);
  for (const char* p : {"static", "orca", "vllm", "sarathi", "sarathi-serve"}) {
    // A small pool: recompute preemptions happen, and every request still finishes.
    auto r = simulate(m, options(p, 120), reqs);
    ASSERT_TRUE(r.ok()) << p << ": " << r.error().message;
    ASSERT_EQ(r->requests.size(), reqs.size());
    for (size_t i = 0; i < reqs.size(); ++i) {
      const auto& q = r->requests[i];
      ASSERT_TRUE(q.ok) << p << " request " << i;
      EXPECT_EQ(q.token_times.size(), static_cast<size_t>(reqs[i].output_len));
      EXPECT_GE(q.first_scheduled_s, reqs[i].arrival_s);
      EXPECT_GT(q.token_times.front(), q.first_scheduled_s);
      EXPECT_TRUE(std::is_sorted(q.token_times.begin(), q.token_times.end()));
    }
    if (std::string(p) == "vllm") {
      EXPECT_GT(r->num_preemptions, 0);
    }
  }
}

TEST(Simulator, HandCheckedTimeline) {
  // Steps cost 1 ms + 0.01 ms per token. vllm, 3 requests of 10 prompt tokens and 3 outputs, all
  // at t = 0: one prefill step of 30 tokens (1.3 ms), then two decode steps of 3 (1.03 ms).
  TestModel m;
  m.per_pos = 0;
  std::vector<workload::RequestSpec> reqs(3, {.arrival_s = 0, .input_len = 10, .output_len = 3});
  auto r = simulate(m, options("vllm"), reqs);
  ASSERT_TRUE(r.ok());
  for (const auto& q : r->requests) {
    ASSERT_EQ(q.token_times.size(), 3u);
    EXPECT_NEAR(q.token_times[0], 1.3e-3, 1e-12);
    EXPECT_NEAR(q.token_times[1], 2.33e-3, 1e-12);
    EXPECT_NEAR(q.token_times[2], 3.36e-3, 1e-12);
    EXPECT_EQ(q.first_scheduled_s, 0.0);
  }
  EXPECT_EQ(r->num_steps, 3);
  EXPECT_NEAR(r->duration_s, 3.36e-3, 1e-12);
  // A request arriving during a step waits for it: planned at the step's end.
  reqs.push_back({.arrival_s = 0.5e-3, .input_len = 10, .output_len = 1});
  auto r2 = simulate(m, options("vllm"), reqs);
  ASSERT_TRUE(r2.ok());
  EXPECT_NEAR(r2->requests[3].first_scheduled_s, 1.3e-3, 1e-12);
}

TEST(Simulator, SameSeedSameRunOtherSeedOtherNoise) {
  TestModel m;
  m.noisy = true;
  const auto reqs = poisson(80, 40, 2);
  SimOptions o = options("sarathi-serve");
  o.num_replicas = 2;
  auto a = simulate(m, o, reqs), b = simulate(m, o, reqs);
  ASSERT_TRUE(a.ok() && b.ok());
  for (size_t i = 0; i < reqs.size(); ++i)
    ASSERT_EQ(a->requests[i].token_times, b->requests[i].token_times) << "request " << i;
  EXPECT_EQ(a->num_steps, b->num_steps);
  o.seed = 99;
  auto c = simulate(m, o, reqs);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(a->duration_s, c->duration_s);  // other draws from the spread
  o.step_noise = false;
  auto d = simulate(m, o, reqs), e = simulate(m, o, reqs);
  EXPECT_EQ(d->duration_s, e->duration_s);
}

TEST(Simulator, RoutersSpreadTheRequests) {
  TestModel m;
  auto reqs = poisson(90, 200, 3);
  SimOptions o = options("sarathi-serve");
  o.num_replicas = 3;
  auto rr = simulate(m, o, reqs);
  ASSERT_TRUE(rr.ok());
  for (size_t i = 0; i < reqs.size(); ++i)
    EXPECT_EQ(rr->replica_of[i], static_cast<int32_t>(i % 3));
  // Every third request is huge: round-robin sends all of them to replica 0; least-outstanding
  // steers the rest away from it and finishes sooner.
  for (size_t i = 0; i < reqs.size(); i += 3) reqs[i].input_len = 900;
  rr = simulate(m, o, reqs);
  o.router = RoutePolicy::kLeastOutstanding;
  auto lo = simulate(m, o, reqs);
  ASSERT_TRUE(rr.ok() && lo.ok());
  int on_zero = 0;
  for (size_t i = 0; i < reqs.size(); ++i) on_zero += lo->replica_of[i] == 0 ? 1 : 0;
  EXPECT_LT(on_zero, 30);
  EXPECT_LT(lo->duration_s, rr->duration_s);
}

TEST(Simulator, SloDrivenChunkingPlansWithinTheTarget) {
  TestModel m;  // a one-decode step: 1 ms + 10 us + 0.17 us; strict SLO = 5x that
  const auto reqs = poisson(100, 30, 4, 600, 30);
  SimOptions o = options("sarathi-serve");
  o.sched.tbt_slo_s = -1;  // strict
  o.step_noise = false;
  o.record_replicas = 1;
  auto r = simulate(m, o, reqs);
  ASSERT_TRUE(r.ok()) << r.error().message;
  StepWork one;
  one.add(16, 1, true, true);
  EXPECT_NEAR(r->decode_step_s, m.predict(one).stage_s, 1e-15);
  EXPECT_NEAR(r->tbt_slo_s, 5 * r->decode_step_s, 1e-15);
  EXPECT_GE(r->plan_fraction, 0.5);
  EXPECT_LE(r->plan_fraction, 0.95);
  double max_step = 0;
  for (const StepRecord& s : r->steps) max_step = std::max(max_step, s.end_s - s.start_s);
  EXPECT_LE(max_step, r->tbt_slo_s);  // no step exceeds the SLO
  // Without the SLO, the 512-token budget makes steps far longer.
  o.sched.tbt_slo_s = 0;
  auto fixed = simulate(m, o, reqs);
  double max_fixed = 0;
  for (const StepRecord& s : fixed->steps) max_fixed = std::max(max_fixed, s.end_s - s.start_s);
  EXPECT_GT(max_fixed, r->tbt_slo_s);
}

TEST(Simulator, PipelineStagesShareTheWorkAndCountBubbles) {
  TestModel one, two;
  two.stages = 2;
  two.handoff = 1e-5;
  std::vector<workload::RequestSpec> reqs(64, {.arrival_s = 0, .input_len = 100, .output_len = 50});
  SimOptions o = options("sarathi-serve");
  auto r1 = simulate(one, o, reqs), r2 = simulate(two, o, reqs);
  ASSERT_TRUE(r1.ok() && r2.ok());
  ASSERT_EQ(r2->stages.size(), 1u);
  ASSERT_EQ(r2->stages[0].busy_s.size(), 2u);
  for (const auto& q : r2->requests) ASSERT_TRUE(q.ok);
  // Two micro-batches in flight, each stage doing half the layers: more throughput.
  EXPECT_LT(r2->duration_s, 0.8 * r1->duration_s);
  for (double b : r2->stages[0].busy_s) EXPECT_LE(b, r2->stages[0].active_s + 1e-12);
  EXPECT_LT(r2->stages[0].bubble_fraction(), 0.35);
  EXPECT_NEAR(r1->stages[0].bubble_fraction(), 0.0, 1e-9);  // one stage, always busy offline
}

TEST(Simulator, ImpossibleRequestsAreRejectedOthersFinish) {
  TestModel m;
  std::vector<workload::RequestSpec> reqs = {{.arrival_s = 0, .input_len = 50, .output_len = 5},
                                             {.arrival_s = 0, .input_len = 2000, .output_len = 5},
                                             {.arrival_s = 0.1, .input_len = 50, .output_len = 5}};
  auto r = simulate(m, options("sarathi-serve"), reqs);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->requests[0].ok);
  EXPECT_FALSE(r->requests[1].ok);
  EXPECT_TRUE(r->requests[2].ok);
  EXPECT_EQ(r->num_rejected, 1);
  std::swap(reqs[0], reqs[2]);
  EXPECT_FALSE(simulate(m, options("vllm"), reqs).ok());  // not in arrival order
  SimOptions bad = options("nope");
  EXPECT_FALSE(simulate(m, bad, reqs).ok());
}

}  // namespace
}  // namespace sarathi::sim
