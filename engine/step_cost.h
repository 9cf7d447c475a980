// engine/step_cost.h: fitting the scheduler's StepCostModel from the engine's own measured
// steps. calibrate() runs a few probe steps on an idle executor (decodes of several batch sizes
// and contexts, prefill chunks of several lengths, a mixed step) and fits the model; the Engine
// then refines it from every step it runs (StepCostFitter::add, sched/cost_fit.h). Depends on
// sched/cost_fit.h and engine/executor.h.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/executor.h"
#include "sched/config.h"
#include "sched/cost_fit.h"
#include "sched/cost_model.h"
#include "sched/types.h"

namespace sarathi::engine {

// The step-cost fitting (StepCostFitter, SloMargin, shape_of) is pure arithmetic and lives in
// sched/cost_fit.h, so the simulator (sim/) fits the same way without linking engine/.
using sched::shape_of;
using sched::SloMargin;
using sched::StepCostFitter;

struct CalibrationOptions {
  int32_t num_blocks = 0;      // the executor's KV pool; probes use blocks [0, num_blocks)
  int32_t block_size = 16;
  int32_t max_num_seqs = 64;   // the largest decode batch probed is min(64, this)
  int32_t max_model_len = 4096;
  int32_t max_chunk = 256;     // the longest prefill chunk probed
  int32_t repeats = 2;         // timed runs per probe (after one warm-up of the largest)
  int32_t spread_runs = 36;    // further runs of a decode, a decode batch and a mixed probe,
                               // whose spread around the fit seeds the SLO's planning margin
};

struct Calibration {
  sched::StepCostModel model;
  StepCostFitter fitter;       // holds the probes as its prior
  double decode_step_s = 0;    // the one-sequence decode step (25th percentile of 14 runs: a
                               // busy host's slow runs do not move the strict SLO)
  double plan_fraction = 0;    // of the SLO, from the probes' spread around the fit
  double seconds = 0;          // calibration wall time
  int32_t num_probe_steps = 0;   // fitted
  int32_t num_spread_steps = 0;  // further runs that only measure the spread around the fit
  int32_t max_chunk_probed = 0;
};

/// Times probe steps on `executor`, which must have no live sequences: the probes write KV
/// blocks [0, num_blocks) that real sequences overwrite before reading. Errors from the
/// executor are returned.
core::Result<Calibration> calibrate(Executor& executor, const CalibrationOptions& options);

/// Sarathi-Serve's strict TBT SLO: 5x the one-sequence decode step.
inline double strict_tbt_slo_s(const Calibration& c) { return 5.0 * c.decode_step_s; }

/// sched::default_min_chunk (sched/cost_fit.h), shared with the simulator.
using sched::default_min_chunk;

/// --tbt-slo: calibrates on `executor` (idle, with config's KV pool) and sets config.tbt_slo_s
/// to the SLO in force: slo_s seconds, or the strict SLO when slo_s < 0, and, when
/// config.min_chunk is 0, the minimum chunk (default_min_chunk). Pass the result's fitter as
/// EngineOptions::cost_fitter.
core::Result<Calibration> calibrate_slo(Executor& executor, sched::SchedulerConfig& config,
                                        double slo_s);

/// Start-up lines for an SLO-driven engine: the SLO, the fitted model, and the chunk the SLO
/// allows with no decodes and beside max_num_seqs decodes at 512 tokens of context.
std::string describe_slo(const Calibration& cal, const sched::SchedulerConfig& config);

}  // namespace sarathi::engine
