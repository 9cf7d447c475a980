// The simulator against the real engine on this CPU, small: profile a synthetic model with
// bench profile's measurement (engine/step_profile.h, a reduced grid), run an offline workload on
// the engine under vllm and sarathi-serve, and check (1) the profile's prediction of every step
// the engine ran against the step's measured duration (median ratio), and (2) the simulated
// makespan and median TTFT against the measured ones. The bounds are generous: CI shares its
// two cores with other tests and a short run sees their bursts (scripts/sim_vs_real.sh gives
// the real figures on a quiet machine).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "engine/engine.h"
#include "engine/model_executor.h"
#include "engine/step_profile.h"
#include "model/forward.h"
#include "model/llama.h"
#include "sim/measured_model.h"
#include "sim/simulator.h"
#include "workload/workload.h"

namespace sarathi {
namespace {

constexpr int kThreads = 1;

struct Figures {
  double makespan_s = 0, median_ttft_s = 0;
  std::vector<double> step_ratios;  // real runs: predicted / measured, per step
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The engine's executor, timed: every step's work (as the simulator sees it) and duration.
class TimedExecutor final : public engine::Executor {
 public:
  TimedExecutor(engine::Executor& inner, const sim::StepModel& profile)
      : inner_(inner), profile_(profile) {}
  int32_t n_vocab() const override { return inner_.n_vocab(); }
  core::Result<std::span<const float>> run(std::span<const engine::ExecSeq> batch) override {
    sim::StepWork w;
    for (const engine::ExecSeq& s : batch)  // one token with logits: a decode in this workload
      w.add(s.first_pos, static_cast<int32_t>(s.tokens.size()),
            s.tokens.size() == 1 && s.want_logits, s.want_logits);
    const auto t0 = std::chrono::steady_clock::now();
    auto out = inner_.run(batch);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ratios.push_back(profile_.predict(w).stage_s / dt);
    return out;
  }
  std::vector<double> ratios;  // predicted / measured, per step

 private:
  engine::Executor& inner_;
  const sim::StepModel& profile_;
};

Figures run_real(const model::LlamaModel& m, const sched::SchedulerConfig& cfg,
                 const std::vector<workload::RequestSpec>& reqs, const sim::StepModel& profile) {
  auto exec = engine::ModelExecutor::create(
      m, {.num_blocks = cfg.num_kv_blocks, .block_size = cfg.block_size}, kThreads);
  EXPECT_TRUE(exec.ok());
  TimedExecutor timed(**exec, profile);
  auto eng = engine::Engine::create(timed, nullptr, {.sched = cfg, .keep_finished = true});
  EXPECT_TRUE(eng.ok());
  const double t0 = (*eng)->now();
  for (const auto& r : reqs) {
    engine::RequestParams p;
    p.max_tokens = r.output_len;
    p.ignore_eos = true;
    p.detokenize = false;
    EXPECT_TRUE((*eng)->add_request(std::vector<int32_t>(static_cast<size_t>(r.input_len), 7), p,
                                    nullptr)
                    .ok());
  }
  while ((*eng)->has_work()) EXPECT_TRUE((*eng)->step().ok());
  Figures f;
  std::vector<double> ttft;
  for (const auto& rec : (*eng)->finished()) {
    f.makespan_s = std::max(f.makespan_s, rec.times.finish - t0);
    ttft.push_back(rec.times.first_token - rec.times.arrival);
  }
  f.median_ttft_s = median(ttft);
  f.step_ratios = std::move(timed.ratios);
  return f;
}

Figures run_sim(const sim::StepModel& m, const sched::SchedulerConfig& cfg,
                const std::vector<workload::RequestSpec>& reqs) {
  auto r = sim::simulate(m, {.sched = cfg, .step_noise = false}, reqs);
  EXPECT_TRUE(r.ok()) << r.error().message;
  Figures f;
  f.makespan_s = r->duration_s;
  std::vector<double> ttft;
  for (const auto& q : r->requests) ttft.push_back(q.token_times.front() - q.arrival_s);
  f.median_ttft_s = median(ttft);
  return f;
}

TEST(SimVsReal, OfflineMakespanAndTtftAgreeOnThisCpu) {
  auto m = model::LlamaModel::load("synthetic:tiny:q8_0", {.n_ctx = 1024});
  ASSERT_TRUE(m.ok()) << m.error().message;
  const auto& c = (*m)->config();
  sched::SchedulerConfig cfg;
  cfg.max_num_seqs = 16;
  cfg.num_kv_blocks = 512;
  cfg.max_model_len = 1024;
  cfg.enable_prefix_caching = false;
  cfg.max_num_batched_tokens = 0;
  // The profile, measured on the engine's executor with a grid covering this workload.
  auto exec = engine::ModelExecutor::create(**m, {.num_blocks = cfg.num_kv_blocks}, kThreads);
  ASSERT_TRUE(exec.ok());
  engine::StepProfileOptions po;
  po.chunk_tokens = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
  po.position_chunk = 64;
  po.chunk_positions = {128, 320};
  po.decode_batches = {1, 2, 4, 8, 16};
  po.decode_contexts = {16, 128, 320};
  po.hybrid = {{7, 128, 64}};
  po.repeats = 3;
  po.spread_runs = 4;
  po.num_blocks = cfg.num_kv_blocks;
  po.kv_bytes_per_token =
      static_cast<int32_t>(model::PagedKvCache::bytes_per_block(c, 16, core::DType::kF16) / 16);
  auto text = engine::measure_step_profile(**exec, c, po);
  ASSERT_TRUE(text.ok()) << text.error().message;
  auto profile = sim::MeasuredModel::parse(*text, "in-memory profile");
  ASSERT_TRUE(profile.ok()) << profile.error().message;
  std::printf("%s\n", (*profile)->describe().c_str());

  auto reqs = workload::make_workload(
      {.num_prompts = 16, .input_len = 160, .output_len = 24, .range_ratio = 0.5, .seed = 5});
  ASSERT_TRUE(reqs.ok());
  for (const char* policy : {"vllm", "sarathi-serve"}) {
    cfg.policy = policy;
    cfg.max_num_batched_tokens = std::string(policy) == "sarathi-serve" ? 256 : 1024;
    const Figures real = run_real(**m, cfg, *reqs, **profile);
    const Figures sim = run_sim(**profile, cfg, *reqs);
    const double step_ratio = median(real.step_ratios);
    std::printf("%-14s %zu steps: predicted / measured median %.3f | makespan real %.4f s sim "
                "%.4f s (%+.1f%%) | median TTFT real %.4f s sim %.4f s (%+.1f%%)\n",
                policy, real.step_ratios.size(), step_ratio, real.makespan_s, sim.makespan_s,
                (sim.makespan_s / real.makespan_s - 1) * 100, real.median_ttft_s,
                sim.median_ttft_s, (sim.median_ttft_s / real.median_ttft_s - 1) * 100);
    // Per step, median of predicted / measured: 0.60..1.49 in the same six runs.
    EXPECT_GT(step_ratio, 0.5) << policy;
    EXPECT_LT(step_ratio, 2.0) << policy;
    // Within 3x either way: six runs on the shared 2-core Zen 3 (2026-12-07, steps of a few ms,
    // so one profile's noise moves every prediction) gave makespan -46..+21% and median TTFT
    // -59..+24% for vllm, -19..+43% and -11..+57% for sarathi-serve; a factor of 2 failed 1 of 6.
    EXPECT_GT(sim.makespan_s / real.makespan_s, 1.0 / 3) << policy;
    EXPECT_LT(sim.makespan_s / real.makespan_s, 3.0) << policy;
    EXPECT_GT(sim.median_ttft_s / real.median_ttft_s, 1.0 / 3) << policy;
    EXPECT_LT(sim.median_ttft_s / real.median_ttft_s, 3.0) << policy;
  }
}

}  // namespace
}  // namespace sarathi
