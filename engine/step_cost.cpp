#include "engine/step_cost.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace sarathi::engine {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

core::Result<Calibration> calibrate(Executor& executor, const CalibrationOptions& o) {
  const auto t_start = Clock::now();
  const int32_t bs = std::max(1, o.block_size);
  const int32_t max_len = std::max(2, o.max_model_len);
  const int32_t max_chunk = std::clamp(std::min(o.max_chunk, max_len - 1), 1, max_len - 1);
  const int32_t max_batch = std::clamp(o.max_num_seqs, 1, 64);

  using Probe = sched::CalibrationProbe;
  const std::vector<Probe> probes =
      sched::calibration_probes({.num_blocks = o.num_blocks,
                                 .block_size = bs,
                                 .max_num_seqs = o.max_num_seqs,
                                 .max_model_len = max_len,
                                 .max_chunk = o.max_chunk});

  std::vector<int32_t> tokens(static_cast<size_t>(std::max(max_chunk, max_batch)) + 1, 1);
  std::vector<int32_t> table(static_cast<size_t>(o.num_blocks));
  for (int32_t i = 0; i < o.num_blocks; ++i) table[static_cast<size_t>(i)] = i;
  std::vector<ExecSeq> batch;
  auto run = [&](const Probe& p) -> core::Result<double> {
    batch.clear();
    size_t next_block = 0;
    auto take = [&](int64_t nb) {
      auto span = std::span<const int32_t>(table).subspan(next_block, static_cast<size_t>(nb));
      next_block += static_cast<size_t>(nb);
      return span;
    };
    for (int32_t d = 0; d < p.num_decodes; ++d)
      batch.push_back({std::span<const int32_t>(tokens).first(1), p.decode_ctx,
                       take((int64_t{p.decode_ctx} + 1 + bs - 1) / bs), true});
    if (p.chunk > 0)
      batch.push_back({std::span<const int32_t>(tokens).first(static_cast<size_t>(p.chunk)),
                       p.chunk_pos, take((int64_t{p.chunk_pos} + p.chunk + bs - 1) / bs), false});
    const auto t0 = Clock::now();
    SARATHI_RETURN_IF_ERROR(executor.run(batch));
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  auto shape = [](const Probe& p) { return p.shape(); };

  Calibration cal;
  // Warm-up: the largest step grows the executor's buffers once; the first decode pages in.
  SARATHI_RETURN_IF_ERROR(run(probes[7]));
  SARATHI_RETURN_IF_ERROR(run(probes[3]));
  for (int i = 0; i < 3; ++i) SARATHI_RETURN_IF_ERROR(run(probes[0]));
  std::vector<double> one_decode;
  std::vector<std::pair<sched::StepShape, double>> seen;
  for (int32_t r = 0; r < std::max(1, o.repeats); ++r) {
    for (size_t i = 0; i < probes.size(); ++i) {
      SARATHI_ASSIGN_OR_RETURN(const double t, run(probes[i]));
      cal.fitter.add_prior(shape(probes[i]), t);
      seen.emplace_back(shape(probes[i]), t);
      ++cal.num_probe_steps;
      if (i == 0) one_decode.push_back(t);
    }
  }
  // The spread of steps around the fit (it sets how far below the SLO steps are planned): more
  // runs of a one-sequence decode (whose median the strict SLO rests on), a decode batch and a
  // mixed step, compared with the fitted model, as are the probes above.
  for (int32_t r = 0; r < std::max(2, o.spread_runs); ++r) {
    const size_t i = sched::kSpreadProbes[static_cast<size_t>(r) % sched::kSpreadProbes.size()];
    SARATHI_ASSIGN_OR_RETURN(const double t, run(probes[i]));
    seen.emplace_back(shape(probes[i]), t);
    if (i == 0) one_decode.push_back(t);
  }
  std::sort(one_decode.begin(), one_decode.end());
  cal.decode_step_s = one_decode[(one_decode.size() - 1) / 4];
  for (const auto& [s, t] : seen) cal.fitter.observe(s, t);
  cal.model = cal.fitter.fit();
  cal.plan_fraction = cal.fitter.plan_fraction();
  cal.num_spread_steps = std::max(2, o.spread_runs);
  cal.max_chunk_probed = probes[7].chunk;
  cal.seconds = std::chrono::duration<double>(Clock::now() - t_start).count();
  return cal;
}

core::Result<Calibration> calibrate_slo(Executor& executor, sched::SchedulerConfig& config,
                                        double slo_s) {
  SARATHI_ASSIGN_OR_RETURN(
      Calibration cal,
      calibrate(executor, {.num_blocks = config.num_kv_blocks,
                           .block_size = config.block_size,
                           .max_num_seqs = config.max_num_seqs,
                           .max_model_len = config.max_model_len,
                           .max_chunk = std::min(256, sched::token_budget(config))}));
  config.tbt_slo_s = slo_s < 0 ? strict_tbt_slo_s(cal) : slo_s;
  if (config.min_chunk == 0)
    config.min_chunk = default_min_chunk(cal.model, config, config.tbt_slo_s * cal.plan_fraction);
  return cal;
}

std::string describe_slo(const Calibration& cal, const sched::SchedulerConfig& config) {
  const double target = config.tbt_slo_s * cal.plan_fraction;
  const int32_t cap = config.policy == "sarathi" ? config.chunk_size : sched::token_budget(config);
  const int32_t alone = sched::max_chunk_within(cal.model, {}, 0, cap, target);
  sched::StepShape busy;
  const int32_t ctx = std::min(512, config.max_model_len - 1);
  for (int32_t i = 0; i < config.max_num_seqs; ++i) busy.add_chunk(ctx, 1);
  const int32_t beside = sched::max_chunk_within(cal.model, busy, 0, cap, target);
  return fmt::format(
      "TBT SLO {:.1f} ms (one-sequence decode step {:.1f} ms); steps planned to {:.1f} ms, "
      "{:.0f}% of it (1 / the 99th percentile of measured / predicted; refit as steps run)\n"
      "step-cost model ({} probe steps and {} more for the spread, {:.1f} s): {}\n"
      "prefill chunk under the SLO: {} tokens alone, {} beside {} decodes at {} tokens of "
      "context{} (at least {} per step)",
      config.tbt_slo_s * 1e3, cal.decode_step_s * 1e3, target * 1e3, cal.plan_fraction * 100,
      cal.num_probe_steps, cal.num_spread_steps, cal.seconds, cal.model.describe(), alone, beside, config.max_num_seqs, ctx,
      cal.model.predict(busy) > target ? " (those decodes alone exceed the target)" : "",
      sched::slo_min_chunk(config));
}

}  // namespace sarathi::engine
