#include "engine/step_cost.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace sarathi::engine {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kN = sched::StepCostModel::kNumTerms;

using Mat = std::array<double, kN * kN>;
using Vec = std::array<double, kN>;

// Solves the k x k system a x = b (row-major, stride k, partial pivoting); false when singular.
bool solve_linear(Mat a, Vec b, int k, Vec& x) {
  for (int col = 0; col < k; ++col) {
    int piv = col;
    for (int r = col + 1; r < k; ++r)
      if (std::abs(a[r * k + col]) > std::abs(a[piv * k + col])) piv = r;
    if (std::abs(a[piv * k + col]) < 1e-300) return false;
    if (piv != col) {
      for (int c = 0; c < k; ++c) std::swap(a[col * k + c], a[piv * k + c]);
      std::swap(b[col], b[piv]);
    }
    for (int r = col + 1; r < k; ++r) {
      const double f = a[r * k + col] / a[col * k + col];
      for (int c = col; c < k; ++c) a[r * k + c] -= f * a[col * k + c];
      b[r] -= f * b[col];
    }
  }
  x = {};
  for (int r = k - 1; r >= 0; --r) {
    double s = b[r];
    for (int c = r + 1; c < k; ++c) s -= a[r * k + c] * x[c];
    x[r] = s / a[r * k + r];
  }
  return true;
}

}  // namespace

sched::StepShape shape_of(const sched::BatchPlan& plan) {
  sched::StepShape s;
  for (const sched::SeqChunk& c : plan.chunks) s.add_chunk(c.first_token, c.num_tokens);
  return s;
}

void StepCostFitter::Sums::add(const sched::StepShape& shape, double seconds, double weight) {
  const auto x = sched::StepCostModel::features(shape);
  for (int i = 0; i < kN; ++i) {
    for (int j = 0; j < kN; ++j) xx[i * kN + j] += weight * x[i] * x[j];
    xy[i] += weight * x[i] * seconds;
  }
  yy += weight * seconds * seconds;
}

void StepCostFitter::Sums::scale(double f) {
  for (double& v : xx) v *= f;
  for (double& v : xy) v *= f;
  yy *= f;
}

void StepCostFitter::add_prior(const sched::StepShape& shape, double seconds) {
  if (!(seconds > 0) || !std::isfinite(seconds)) return;
  prior_.add(shape, seconds, 1.0 / (seconds * seconds));
  ++num_samples_;
  fit_ = solve();
}

void StepCostFitter::add(const sched::StepShape& shape, double seconds) {
  if (!(seconds > 0) || !std::isfinite(seconds)) return;
  margin_.add(fit_.predict(shape), seconds);
  steps_.scale(forget_);
  steps_.add(shape, seconds, 1.0 / (seconds * seconds));
  prior_weight_ = std::max(kPriorFloor, prior_weight_ * forget_);
  fit_ = solve();
  ++num_samples_;
}

sched::StepCostModel StepCostFitter::solve() const {
  Sums s = prior_;
  s.scale(prior_weight_);
  for (int i = 0; i < kN * kN; ++i) s.xx[i] += steps_.xx[i];
  for (int i = 0; i < kN; ++i) s.xy[i] += steps_.xy[i];
  s.yy += steps_.yy;
  // Every subset of terms: the unconstrained least squares on it; keep the non-negative fit
  // with the smallest residual (exact NNLS for 4 terms).
  double best_sse = std::numeric_limits<double>::infinity();
  sched::StepCostModel::Coefs best{};
  for (int mask = 1; mask < (1 << kN); ++mask) {
    std::array<int, kN> idx{};
    int k = 0;
    for (int i = 0; i < kN; ++i)
      if (mask & (1 << i)) idx[k++] = i;
    Mat a{};
    Vec b{}, x{}, d{};
    // Columns scaled to unit diagonal for conditioning (tokens are ~1e3, pairs/1e6 ~1).
    bool empty = false;
    for (int r = 0; r < k; ++r) {
      d[r] = std::sqrt(s.xx[idx[r] * kN + idx[r]]);
      if (!(d[r] > 0)) empty = true;
    }
    if (empty) continue;
    for (int r = 0; r < k; ++r) {
      for (int c = 0; c < k; ++c) a[r * k + c] = s.xx[idx[r] * kN + idx[c]] / (d[r] * d[c]);
      a[r * k + r] *= 1.0 + 1e-9;  // a whisker of ridge: collinear terms stay solvable
      b[r] = s.xy[idx[r]] / d[r];
    }
    if (!solve_linear(a, b, k, x)) continue;
    sched::StepCostModel::Coefs c{};
    bool nonneg = true;
    for (int r = 0; r < k; ++r) {
      c[idx[r]] = x[r] / d[r];
      if (c[idx[r]] < 0) nonneg = false;
    }
    if (!nonneg) continue;
    double sse = s.yy;
    for (int i = 0; i < kN; ++i) {
      sse -= 2 * c[i] * s.xy[i];
      for (int j = 0; j < kN; ++j) sse += c[i] * s.xx[i * kN + j] * c[j];
    }
    if (sse < best_sse - 1e-15 * std::abs(s.yy)) {
      best_sse = sse;
      best = c;
    }
  }
  return sched::StepCostModel(best);
}

void SloMargin::add(double predicted_s, double measured_s) {
  if (!(predicted_s > 0) || !(measured_s > 0) || !std::isfinite(measured_s / predicted_s)) return;
  const double r = measured_s / predicted_s;
  if (ratios_.size() < kWindow) {
    ratios_.push_back(r);
  } else {
    ratios_[next_] = r;
    next_ = (next_ + 1) % kWindow;
  }
  if (ratios_.size() < kMinSamples) return;
  scratch_.assign(ratios_.begin(), ratios_.end());
  const auto k = static_cast<size_t>(kQuantile * static_cast<double>(scratch_.size() - 1));
  std::nth_element(scratch_.begin(), scratch_.begin() + static_cast<std::ptrdiff_t>(k),
                   scratch_.end());
  fraction_ = std::clamp(1.0 / scratch_[k], kMinFraction, kMaxFraction);
}

core::Result<Calibration> calibrate(Executor& executor, const CalibrationOptions& o) {
  const auto t_start = Clock::now();
  const int32_t bs = std::max(1, o.block_size);
  const int32_t max_len = std::max(2, o.max_model_len);
  const int32_t max_chunk = std::clamp(std::min(o.max_chunk, max_len - 1), 1, max_len - 1);
  const int32_t max_batch = std::clamp(o.max_num_seqs, 1, 64);

  struct Probe {
    int32_t num_decodes = 0, decode_ctx = 0;  // decodes, each at position decode_ctx
    int32_t chunk = 0, chunk_pos = 0;         // one prefill chunk [chunk_pos, +chunk), no logits
  };
  auto blocks_of = [&](const Probe& p) {
    const int64_t per_decode = (int64_t{p.decode_ctx} + 1 + bs - 1) / bs;
    const int64_t chunk = p.chunk > 0 ? (int64_t{p.chunk_pos} + p.chunk + bs - 1) / bs : 0;
    return per_decode * p.num_decodes + chunk;
  };
  // Fits the pool: halve the batch, then the context, until it does.
  auto fit_pool = [&](Probe p) {
    while (blocks_of(p) > o.num_blocks && p.num_decodes > 1) p.num_decodes /= 2;
    while (blocks_of(p) > o.num_blocks && p.decode_ctx > bs) p.decode_ctx /= 2;
    while (blocks_of(p) > o.num_blocks && p.chunk_pos > 0) p.chunk_pos /= 2;
    while (blocks_of(p) > o.num_blocks && p.chunk > 1) p.chunk /= 2;
    p.decode_ctx = std::min(p.decode_ctx, max_len - 1);
    p.chunk_pos = std::min(p.chunk_pos, max_len - 1 - p.chunk);
    return p;
  };
  const int32_t ctx_hi = std::min(1024, max_len - 1);
  const int32_t ctx_lo = std::min(128, max_len - 1);
  std::vector<Probe> probes = {
      {.num_decodes = 1, .decode_ctx = std::min(16, max_len - 1)},
      {.num_decodes = std::min(4, max_batch), .decode_ctx = ctx_lo},
      {.num_decodes = std::min(16, max_batch), .decode_ctx = ctx_lo},
      {.num_decodes = max_batch, .decode_ctx = ctx_lo},
      {.num_decodes = std::min(16, max_batch), .decode_ctx = ctx_hi},
      {.chunk = std::min(32, max_chunk)},
      {.chunk = std::max(1, max_chunk / 4)},
      {.chunk = max_chunk},
      {.chunk = std::max(1, max_chunk / 4), .chunk_pos = std::max(0, ctx_hi - max_chunk / 4)},
      {.num_decodes = std::min(16, max_batch), .decode_ctx = ctx_lo,
       .chunk = std::max(1, max_chunk / 4)},
  };
  for (Probe& p : probes) p = fit_pool(p);

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
  auto shape = [](const Probe& p) {
    sched::StepShape s;
    for (int32_t d = 0; d < p.num_decodes; ++d) s.add_chunk(p.decode_ctx, 1);
    if (p.chunk > 0) s.add_chunk(p.chunk_pos, p.chunk);
    return s;
  };

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
    const size_t i = std::array<size_t, 3>{0, 2, 9}[static_cast<size_t>(r) % 3];
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

int32_t default_min_chunk(const sched::StepCostModel& model, const sched::SchedulerConfig& config,
                          double target_s) {
  sched::StepShape one_decode;
  one_decode.add_chunk(std::max(0, std::min(512, config.max_model_len - 2)), 1);
  return std::max(1, sched::max_chunk_within(model, one_decode, 0, config.block_size, target_s));
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
