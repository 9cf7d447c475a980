// Sim equals engine: the same trace through engine::Engine (over an executor that advances a
// virtual clock by a step-time model instead of running a model) and through sim::simulate (the
// same model) gives identical schedules: every request's first-scheduled time and token times,
// the preemptions and the step count, under every policy, with and without KV pressure.
#include <gtest/gtest.h>

#include "engine/engine.h"
#include "sim/simulator.h"
#include "workload/workload.h"

namespace sarathi {
namespace {

// t = 1 ms + 20 us per token + 50 us per sequence + 10 ns per position read. It depends only on
// what an executor sees (tokens, sequences, positions), so the engine's executor and the
// simulator compute the same time for a step.
class ShapeModel final : public sim::StepModel {
 public:
  sim::StepTime predict(const sim::StepWork& w) const override {
    sim::StepTime t;
    t.stage_s = 1e-3 + 2e-5 * w.num_tokens + 5e-5 * (w.num_decodes + w.num_prefill_chunks) +
                1e-8 * double(w.decode_context + w.prefill_context);
    return t;
  }
  std::string describe() const override { return "shape model"; }
};

// Advances the engine's virtual clock by the model's time for the batch; returns zero logits.
class ClockExecutor final : public engine::Executor {
 public:
  ClockExecutor(const sim::StepModel& m, double& clock) : model_(m), clock_(clock) {}
  int32_t n_vocab() const override { return 8; }
  core::Result<std::span<const float>> run(std::span<const engine::ExecSeq> batch) override {
    sim::StepWork w;
    size_t rows = 0;
    for (const engine::ExecSeq& s : batch) {
      // A one-token entry counts the same whether decode or prefill in this model.
      w.add(s.first_pos, static_cast<int32_t>(s.tokens.size()), s.tokens.size() == 1,
            s.want_logits);
      rows += s.want_logits ? 1 : 0;
    }
    clock_ += model_.predict(w).stage_s;
    logits_.assign(rows * 8, 0.0f);
    return std::span<const float>(logits_);
  }

 private:
  const sim::StepModel& model_;
  double& clock_;
  std::vector<float> logits_;
};

struct Schedule {
  std::vector<double> first_scheduled;
  std::vector<std::vector<double>> tokens;
  int64_t preemptions = 0, steps = 0;
};

Schedule run_engine(const sim::StepModel& m, const sched::SchedulerConfig& cfg,
                    const std::vector<workload::RequestSpec>& reqs) {
  double clock = 0;
  ClockExecutor exec(m, clock);
  auto eng = engine::Engine::create(
      exec, nullptr, {.sched = cfg, .clock = [&] { return clock; }, .keep_finished = true});
  EXPECT_TRUE(eng.ok());
  Schedule r;
  r.first_scheduled.resize(reqs.size());
  r.tokens.resize(reqs.size());
  size_t next = 0;
  while (next < reqs.size() || (*eng)->has_work()) {
    while (next < reqs.size() && reqs[next].arrival_s <= clock) {
      engine::RequestParams p;
      p.max_tokens = reqs[next].output_len;
      p.ignore_eos = true;
      p.detokenize = false;
      auto id = (*eng)->add_request(
          std::vector<int32_t>(static_cast<size_t>(reqs[next].input_len), 1), p, nullptr);
      EXPECT_TRUE(id.ok());
      EXPECT_EQ(*id, static_cast<engine::RequestId>(next + 1));
      ++next;
    }
    if (!(*eng)->has_work()) {
      clock = reqs[next].arrival_s;  // idle: jump to the next arrival
      continue;
    }
    auto st = (*eng)->step();
    EXPECT_TRUE(st.ok());
    r.steps += st->num_seqs > 0 ? 1 : 0;
  }
  for (const engine::RequestRecord& rec : (*eng)->finished()) {
    const auto i = static_cast<size_t>(rec.id - 1);
    r.first_scheduled[i] = rec.times.first_scheduled;
    r.tokens[i] = rec.times.token_times;
  }
  r.preemptions = (*eng)->scheduler().num_preemptions();
  return r;
}

Schedule run_sim(const sim::StepModel& m, const sched::SchedulerConfig& cfg,
                 const std::vector<workload::RequestSpec>& reqs) {
  auto res = sim::simulate(m, {.sched = cfg}, reqs);
  EXPECT_TRUE(res.ok()) << res.error().message;
  Schedule r;
  for (const auto& q : res->requests) {
    r.first_scheduled.push_back(q.first_scheduled_s);
    r.tokens.push_back(q.token_times);
  }
  r.preemptions = res->num_preemptions;
  r.steps = res->num_steps;
  return r;
}

TEST(SimEqualsEngine, IdenticalSchedulesAndTokenTimes) {
  const ShapeModel m;
  auto reqs = workload::make_workload({.num_prompts = 80,
                                       .input_len = 120,
                                       .output_len = 24,
                                       .range_ratio = 0.8,
                                       .request_rate = 1000,
                                       .seed = 11});
  ASSERT_TRUE(reqs.ok());
  for (const char* policy : {"static", "orca", "vllm", "sarathi", "sarathi-serve"})
    for (int32_t blocks : {1024, 64}) {  // 64 blocks: KV pressure, recompute preemptions
      sched::SchedulerConfig cfg;
      cfg.policy = policy;
      cfg.max_num_seqs = 16;
      cfg.num_kv_blocks = blocks;
      cfg.max_model_len = 512;
      cfg.chunk_size = 64;
      cfg.max_num_batched_tokens = std::string(policy) == "sarathi-serve" ? 128 : 0;
      cfg.enable_prefix_caching = false;
      SCOPED_TRACE(::testing::Message() << policy << ", " << blocks << " blocks");
      const Schedule e = run_engine(m, cfg, *reqs), s = run_sim(m, cfg, *reqs);
      EXPECT_EQ(e.steps, s.steps);
      EXPECT_EQ(e.preemptions, s.preemptions);
      if (blocks == 64 && std::string(policy) == "vllm") {
        EXPECT_GT(s.preemptions, 0);
      }
      for (size_t i = 0; i < reqs->size(); ++i) {
        ASSERT_EQ(e.tokens[i].size(), s.tokens[i].size()) << "request " << i;
        EXPECT_DOUBLE_EQ(e.first_scheduled[i], s.first_scheduled[i]) << "request " << i;
        for (size_t k = 0; k < e.tokens[i].size(); ++k)
          ASSERT_DOUBLE_EQ(e.tokens[i][k], s.tokens[i][k]) << "request " << i << " token " << k;
      }
    }
}

}  // namespace
}  // namespace sarathi
