// sim/simulator.h: the engine's step loop at cluster scale under a virtual clock. Each replica
// runs the real sched::Scheduler (and through it kv/) exactly as engine::Engine does: schedule,
// run the plan (here: advance the clock by the step model's prediction instead of running a
// model), report the produced tokens with on_step_done. Output lengths come from the workload
// (every request generates exactly its output_len tokens, as benchmarks with ignore_eos do).
// With SLO-driven chunking the scheduler gets a step-cost model calibrated and refitted the way
// the engine does it (sched/cost_fit.h), from the step model's times.
//
// A cluster is N replicas behind a global router (sim/router.h). A replica with P pipeline
// stages runs P virtual engines (vLLM's design for pipeline parallelism): each is its own
// Scheduler over 1/P of the replica's KV blocks with at most one micro-batch in flight; a new
// request goes to the one with the fewest unfinished requests, and stage 0 takes the next
// micro-batch from the engines in turn (sim/pipeline.h keeps the stages' busy time).
//
// Depends on sched/, kv/ (through sched/), workload/ and sim/; never on model/ or kernels/.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "sched/config.h"
#include "sim/pipeline.h"
#include "sim/router.h"
#include "sim/step_model.h"
#include "workload/serving_metrics.h"
#include "workload/workload.h"

namespace sarathi::sim {

struct SimOptions {
  // One replica's scheduler. num_kv_blocks is the replica's pool (split among its virtual
  // engines with pipeline parallelism). tbt_slo_s: > 0 seconds, < 0 the strict SLO (5x the
  // one-sequence decode step of the calibration), 0 off; as in the engine, only sarathi and
  // sarathi-serve cut their chunks to it.
  sched::SchedulerConfig sched;
  int32_t num_replicas = 1;
  RoutePolicy router = RoutePolicy::kRoundRobin;
  // Draw each step's time factor from the step model's measured spread (deterministic from the
  // seed); off: every step takes exactly its prediction.
  bool step_noise = true;
  uint64_t seed = 0;
  // Keep every step (start, end, tokens) of the first record_replicas replicas, at most
  // max_recorded_steps in all, for plots and traces.
  int32_t record_replicas = 0;
  int64_t max_recorded_steps = 500000;
};

/// One step (micro-batch) as it ran.
struct StepRecord {
  double start_s = 0;  // issued (the scheduler planned it)
  double end_s = 0;    // its tokens were produced (left the last stage)
  int32_t replica = 0;
  int32_t engine = 0;  // virtual engine (pipeline parallelism)
  int32_t num_prefill_tokens = 0;
  int32_t num_decode_tokens = 0;
  int32_t num_seqs = 0;
  double predicted_s = 0;  // the scheduler's cost model (0 without one)
};

struct SimResult {
  std::vector<workload::RequestTimeline> requests;  // in workload order; rejected ones !ok
  std::vector<int32_t> replica_of;                  // the replica each request was routed to
  double duration_s = 0;  // time 0 (the run's start) to the last request's end
  int64_t num_steps = 0;  // micro-batches run, all replicas
  int64_t num_preemptions = 0;
  int64_t num_rejected = 0;        // requests that can never run (too long for the pool or model)
  std::vector<StageUsage> stages;  // per replica
  std::vector<StepRecord> steps;   // recorded steps, in issue order
  bool steps_truncated = false;    // max_recorded_steps was reached
  double tbt_slo_s = 0;            // the SLO in force (resolved when strict), 0 without one
  double decode_step_s = 0;        // calibration's one-sequence decode step (with an SLO)
  double plan_fraction = 0;        // of the SLO steps are planned to, at the start
};

/// The one-sequence decode step the simulated calibration measures (as engine::calibrate: the
/// 25th percentile of its one-decode probe runs); Sarathi-Serve's strict SLO is 5x this.
core::Result<double> calibrated_decode_step_s(const StepModel& model, const SimOptions& options);

/// Runs the workload on the cluster. Errors: an invalid scheduler config or options.
core::Result<SimResult> simulate(const StepModel& model, const SimOptions& options,
                                 std::span<const workload::RequestSpec> requests);

}  // namespace sarathi::sim
