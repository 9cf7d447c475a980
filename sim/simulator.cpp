#include "sim/simulator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <random>

#include "core/check.h"
#include "sched/cost_fit.h"
#include "sched/scheduler.h"

namespace sarathi::sim {
namespace {

using core::ErrorCode;
using core::make_error;

constexpr double kNever = std::numeric_limits<double>::infinity();

bool slo_driven(const sched::SchedulerConfig& c) {
  return c.tbt_slo_s != 0 && (c.policy == "sarathi" || c.policy == "sarathi-serve");
}

// A virtual engine: one Scheduler with at most one micro-batch in flight (with one pipeline
// stage, the replica's engine itself).
struct VirtualEngine {
  sched::Scheduler sched;
  std::optional<sched::StepCostFitter> fitter;
  bool in_flight = false;
  bool blocked = false;  // planned nothing although it has work: waits for an arrival
  double start_at = 0, done_at = kNever;
  sched::BatchPlan plan;
  std::vector<uint8_t> produces;  // [plan.chunks.size()]
  int32_t num_unfinished = 0;
};

struct Replica {
  std::vector<VirtualEngine> engines;
  Pipeline pipe{1};
  ActiveClock active;
  int32_t num_unfinished = 0;
  size_t next_engine = 0;  // where stage 0 looks first for the next micro-batch
  double now = 0;
};

// What calibration gives every engine: the fitted cost model and the strict SLO's base.
struct SimCalibration {
  sched::StepCostFitter fitter;
  double decode_step_s = 0;
};

// A draw from the model's step-time spread for a step of predicted_s (1 without one, or with
// noise off).
double draw_noise(const StepModel& model, bool on, double predicted_s, std::mt19937_64& rng) {
  if (!on || !model.has_spread()) return 1.0;
  return model.step_factor(predicted_s, rng());
}

// engine::calibrate's sequence on the step model: every probe twice as the fit's prior, then
// runs of the spread probes that set the planning margin; the one-decode runs give the strict
// SLO's decode step (their 25th percentile). A probe takes the model's compute through every
// stage (the engine times executor runs, without its own scheduling and sampling), times a draw
// from the spread.
SimCalibration calibrate(const StepModel& model, const sched::SchedulerConfig& cfg, bool noise,
                         std::mt19937_64& rng) {
  const int32_t stages = std::max(1, model.num_stages());
  const auto probes =
      sched::calibration_probes({.num_blocks = cfg.num_kv_blocks,
                                 .block_size = cfg.block_size,
                                 .max_num_seqs = cfg.max_num_seqs,
                                 .max_model_len = cfg.max_model_len,
                                 .max_chunk = std::min(256, sched::token_budget(cfg))});
  auto probe_s = [&](const sched::CalibrationProbe& p) {
    StepWork w;
    for (int32_t d = 0; d < p.num_decodes; ++d) w.add(p.decode_ctx, 1, true, true);
    if (p.chunk > 0) w.add(p.chunk_pos, p.chunk, false, false);
    const StepTime t = model.predict(w);
    const double s = t.total_s(stages) - t.overhead_s;
    return s * draw_noise(model, noise, s, rng);
  };
  SimCalibration cal;
  std::vector<double> one_decode;
  std::vector<std::pair<sched::StepShape, double>> seen;
  constexpr int kRepeats = 2, kSpreadRuns = 36;
  for (int r = 0; r < kRepeats; ++r)
    for (size_t i = 0; i < probes.size(); ++i) {
      const double t = probe_s(probes[i]);
      cal.fitter.add_prior(probes[i].shape(), t);
      seen.emplace_back(probes[i].shape(), t);
      if (i == 0) one_decode.push_back(t);
    }
  for (int r = 0; r < kSpreadRuns; ++r) {
    const size_t i = sched::kSpreadProbes[static_cast<size_t>(r) % sched::kSpreadProbes.size()];
    const double t = probe_s(probes[i]);
    seen.emplace_back(probes[i].shape(), t);
    if (i == 0) one_decode.push_back(t);
  }
  std::sort(one_decode.begin(), one_decode.end());
  cal.decode_step_s = one_decode[(one_decode.size() - 1) / 4];
  for (const auto& [s, t] : seen) cal.fitter.observe(s, t);
  return cal;
}

// The scheduler config of one virtual engine: its share of the replica's KV pool; prefix caching
// off (simulated requests carry lengths, not tokens).
sched::SchedulerConfig engine_config(const StepModel& model, const sched::SchedulerConfig& c) {
  sched::SchedulerConfig e = c;
  e.num_kv_blocks = c.num_kv_blocks / std::max(1, model.num_stages());
  e.enable_prefix_caching = false;
  return e;
}

class Cluster {
 public:
  Cluster(const StepModel& model, const SimOptions& o, std::span<const workload::RequestSpec> reqs,
          SimResult& out)
      : model_(model), o_(o), reqs_(reqs), out_(out), rng_(o.seed) {}

  core::Status init();
  void run();

 private:
  double noise(double predicted_s);
  void arrive(size_t i);
  double next_event(const Replica& r) const;
  void process(int32_t ri, double t);
  bool launch(int32_t ri, size_t ei, double t);
  void complete(int32_t ri, size_t ei);
  void finish_request(Replica& r, VirtualEngine& e, size_t req, double t, bool ok);

  const StepModel& model_;
  const SimOptions& o_;
  std::span<const workload::RequestSpec> reqs_;
  SimResult& out_;
  std::mt19937_64 rng_;
  sched::SchedulerConfig engine_cfg_;
  std::vector<Replica> replicas_;
  std::vector<int64_t> outstanding_;  // per replica: tokens still to process (router)
  std::vector<int64_t> remaining_;    // per request
  std::vector<int32_t> replica_of_;   // per request
  std::optional<Router> router_;
  std::vector<sched::StepResult> results_;  // reused per step
  int32_t num_stages_ = 1;
};

double Cluster::noise(double predicted_s) {
  return draw_noise(model_, o_.step_noise, predicted_s, rng_);
}

core::Status Cluster::init() {
  if (o_.num_replicas < 1)
    return make_error(ErrorCode::kInvalidArgument, "need at least one replica");
  num_stages_ = std::max(1, model_.num_stages());
  engine_cfg_ = engine_config(model_, o_.sched);
  if (engine_cfg_.num_kv_blocks < 1)
    return make_error(ErrorCode::kInvalidArgument, "{} KV blocks do not split into {} stages",
                      o_.sched.num_kv_blocks, num_stages_);
  std::optional<SimCalibration> cal;
  if (slo_driven(engine_cfg_)) {
    cal = calibrate(model_, engine_cfg_, o_.step_noise, rng_);
    out_.decode_step_s = cal->decode_step_s;
    engine_cfg_.tbt_slo_s =
        engine_cfg_.tbt_slo_s < 0 ? 5.0 * cal->decode_step_s : engine_cfg_.tbt_slo_s;
    out_.tbt_slo_s = engine_cfg_.tbt_slo_s;
    out_.plan_fraction = cal->fitter.plan_fraction();
    // As engine::calibrate_slo: the least chunk that fits beside one decode within the target.
    if (engine_cfg_.min_chunk == 0)
      engine_cfg_.min_chunk = sched::default_min_chunk(
          cal->fitter.fit(), engine_cfg_, engine_cfg_.tbt_slo_s * cal->fitter.plan_fraction());
  } else {
    engine_cfg_.tbt_slo_s = 0;
  }
  SARATHI_RETURN_IF_ERROR(sched::validate(engine_cfg_));
  replicas_.resize(static_cast<size_t>(o_.num_replicas));
  for (Replica& r : replicas_) {
    r.pipe = Pipeline(num_stages_);
    for (int32_t s = 0; s < num_stages_; ++s) {
      SARATHI_ASSIGN_OR_RETURN(sched::Scheduler sc, sched::Scheduler::create(engine_cfg_));
      r.engines.push_back(VirtualEngine{.sched = std::move(sc)});
      VirtualEngine& e = r.engines.back();
      if (cal) {
        e.fitter = cal->fitter;
        e.sched.set_cost_model(e.fitter->fit(), engine_cfg_.tbt_slo_s * e.fitter->plan_fraction());
      }
    }
  }
  router_.emplace(o_.router, o_.num_replicas);
  outstanding_.assign(replicas_.size(), 0);
  remaining_.assign(reqs_.size(), 0);
  replica_of_.assign(reqs_.size(), -1);
  out_.requests.assign(reqs_.size(), {});
  out_.stages.assign(replicas_.size(), {});
  return core::ok_status();
}

void Cluster::arrive(size_t i) {
  const workload::RequestSpec& q = reqs_[i];
  workload::RequestTimeline& line = out_.requests[i];
  line.arrival_s = q.arrival_s;
  line.num_prompt_tokens = q.input_len;
  line.ok = false;  // until it finishes
  line.token_times.reserve(static_cast<size_t>(std::max(0, q.output_len)));
  const int32_t ri = router_->route(outstanding_);
  Replica& r = replicas_[static_cast<size_t>(ri)];
  // vLLM's virtual engines: the one with the fewest unfinished requests.
  size_t ei = 0;
  for (size_t k = 1; k < r.engines.size(); ++k)
    if (r.engines[k].num_unfinished < r.engines[ei].num_unfinished) ei = k;
  VirtualEngine& e = r.engines[ei];
  e.sched.add(static_cast<sched::SeqId>(i), q.input_len, q.output_len);
  e.blocked = false;
  ++e.num_unfinished;
  if (r.num_unfinished++ == 0) r.active.begin(q.arrival_s);
  replica_of_[i] = ri;
  remaining_[i] = int64_t{q.input_len} + q.output_len;
  outstanding_[static_cast<size_t>(ri)] += remaining_[i];
  r.now = std::max(r.now, q.arrival_s);
}

double Cluster::next_event(const Replica& r) const {
  double t = kNever;
  bool can_launch = false;
  for (const VirtualEngine& e : r.engines) {
    if (e.in_flight)
      t = std::min(t, e.done_at);
    else if (!e.blocked && !e.sched.idle())
      can_launch = true;
  }
  if (can_launch) t = std::min(t, std::max(r.now, r.pipe.free_at(0)));
  return t;
}

void Cluster::finish_request(Replica& r, VirtualEngine& e, size_t req, double t, bool ok) {
  workload::RequestTimeline& line = out_.requests[req];
  line.ok = ok;
  line.num_output_tokens = static_cast<int64_t>(line.token_times.size());
  const size_t ri = static_cast<size_t>(replica_of_[req]);
  outstanding_[ri] -= remaining_[req];
  remaining_[req] = 0;
  --e.num_unfinished;
  if (--r.num_unfinished == 0) r.active.end(t);
}

// Plans and issues engine ei's next micro-batch at time t; false when it planned nothing.
bool Cluster::launch(int32_t ri, size_t ei, double t) {
  Replica& r = replicas_[static_cast<size_t>(ri)];
  VirtualEngine& e = r.engines[ei];
  e.plan = e.sched.schedule();
  for (sched::SeqId id : e.plan.rejected) {
    ++out_.num_rejected;
    finish_request(r, e, static_cast<size_t>(id), t, false);
  }
  out_.num_preemptions += static_cast<int64_t>(e.plan.preempted.size());
  if (e.plan.empty()) {
    e.blocked = !e.sched.idle();
    return false;
  }
  StepWork w;
  e.produces.resize(e.plan.chunks.size());
  for (size_t i = 0; i < e.plan.chunks.size(); ++i) {
    const sched::SeqChunk& c = e.plan.chunks[i];
    const sched::SeqState* s = e.sched.find(c.seq);
    const bool decode = !s->is_prefilling();
    const bool produces = e.sched.produces_token(c);
    e.produces[i] = produces ? 1 : 0;
    w.add(c.first_token, c.num_tokens, decode, produces);
    workload::RequestTimeline& line = out_.requests[static_cast<size_t>(c.seq)];
    if (line.first_scheduled_s < 0) line.first_scheduled_s = t;
  }
  const StepTime st = model_.predict(w);
  const double f = noise(st.total_s(num_stages_));
  e.start_at = t;
  e.done_at = r.pipe.launch(t, st.overhead_s + st.stage_s * f, st.stage_s * f, st.handoff_s);
  e.in_flight = true;
  ++out_.num_steps;
  if (ri < o_.record_replicas) {
    if (static_cast<int64_t>(out_.steps.size()) < o_.max_recorded_steps)
      out_.steps.push_back({.start_s = t,
                            .end_s = e.done_at,
                            .replica = ri,
                            .engine = static_cast<int32_t>(ei),
                            .num_prefill_tokens = e.plan.num_prefill_tokens,
                            .num_decode_tokens = e.plan.num_decode_tokens,
                            .num_seqs = static_cast<int32_t>(e.plan.chunks.size()),
                            .predicted_s = e.plan.predicted_s});
    else
      out_.steps_truncated = true;
  }
  return true;
}

// The micro-batch of engine ei left the last stage: its tokens are out.
void Cluster::complete(int32_t ri, size_t ei) {
  Replica& r = replicas_[static_cast<size_t>(ri)];
  VirtualEngine& e = r.engines[ei];
  const double t = e.done_at;
  results_.assign(e.plan.chunks.size(), {});
  for (size_t i = 0; i < e.plan.chunks.size(); ++i) {
    const sched::SeqChunk& c = e.plan.chunks[i];
    const auto req = static_cast<size_t>(c.seq);
    sched::StepResult& res = results_[i];
    res.seq = c.seq;
    const sched::SeqState* s = e.sched.find(c.seq);
    const bool prefill = s != nullptr && s->is_prefilling();
    const int64_t progress = (prefill ? c.num_tokens : 0) + e.produces[i];
    const int64_t done = std::min(progress, remaining_[req]);
    remaining_[req] -= done;
    outstanding_[static_cast<size_t>(ri)] -= done;
    if (!e.produces[i]) continue;
    workload::RequestTimeline& line = out_.requests[req];
    line.token_times.push_back(t);
    res.produced_token = true;
    res.token = 0;
    res.finished = static_cast<int32_t>(line.token_times.size()) >= reqs_[req].output_len;
  }
  e.in_flight = false;
  e.done_at = kNever;
  e.sched.on_step_done(e.plan, results_);
  for (const sched::StepResult& res : results_)
    if (res.finished) finish_request(r, e, static_cast<size_t>(res.seq), t, true);
  if (e.fitter) {
    e.fitter->add(sched::shape_of(e.plan), t - e.start_at);
    e.sched.set_cost_model(e.fitter->fit(), engine_cfg_.tbt_slo_s * e.fitter->plan_fraction());
  }
}

void Cluster::process(int32_t ri, double t) {
  Replica& r = replicas_[static_cast<size_t>(ri)];
  r.now = t;
  for (;;) {  // micro-batches done by t, earliest first
    size_t best = r.engines.size();
    for (size_t k = 0; k < r.engines.size(); ++k)
      if (r.engines[k].in_flight && r.engines[k].done_at <= t &&
          (best == r.engines.size() || r.engines[k].done_at < r.engines[best].done_at))
        best = k;
    if (best == r.engines.size()) break;
    complete(ri, best);
  }
  // Stage 0 takes the next micro-batch from the engines in turn.
  const size_t n = r.engines.size();
  for (size_t k = 0; k < n && r.pipe.free_at(0) <= t; ++k) {
    const size_t ei = (r.next_engine + k) % n;
    VirtualEngine& e = r.engines[ei];
    if (e.in_flight || e.blocked || e.sched.idle()) continue;
    if (launch(ri, ei, t)) r.next_engine = (ei + 1) % n;
  }
}

void Cluster::run() {
  size_t next = 0;
  std::vector<double> next_at(replicas_.size(), kNever);
  for (;;) {
    const double t_arrival = next < reqs_.size() ? reqs_[next].arrival_s : kNever;
    int32_t ri = -1;
    double t_rep = kNever;
    for (size_t k = 0; k < replicas_.size(); ++k)
      if (next_at[k] < t_rep) {
        t_rep = next_at[k];
        ri = static_cast<int32_t>(k);
      }
    if (t_arrival == kNever && ri < 0) break;
    if (t_arrival <= t_rep) {
      arrive(next);
      const auto k = static_cast<size_t>(replica_of_[next]);
      next_at[k] = next_event(replicas_[k]);
      ++next;
      continue;
    }
    process(ri, t_rep);
    next_at[static_cast<size_t>(ri)] = next_event(replicas_[static_cast<size_t>(ri)]);
  }
  double end = 0;
  for (const workload::RequestTimeline& line : out_.requests)  // unfinished ones stay !ok
    if (!line.token_times.empty()) end = std::max(end, line.token_times.back());
  out_.duration_s = end;
  out_.replica_of = replica_of_;
  for (size_t k = 0; k < replicas_.size(); ++k) {
    const Replica& r = replicas_[k];
    StageUsage& u = out_.stages[k];
    for (int32_t s = 0; s < r.pipe.num_stages(); ++s) u.busy_s.push_back(r.pipe.busy_s(s));
    u.active_s = r.active.total_s();
  }
}

}  // namespace

core::Result<double> calibrated_decode_step_s(const StepModel& model, const SimOptions& options) {
  const sched::SchedulerConfig cfg = engine_config(model, options.sched);
  if (cfg.num_kv_blocks < 1)
    return make_error(ErrorCode::kInvalidArgument, "the KV pool holds no block per stage");
  std::mt19937_64 rng(options.seed);
  return calibrate(model, cfg, options.step_noise, rng).decode_step_s;
}

core::Result<SimResult> simulate(const StepModel& model, const SimOptions& options,
                                 std::span<const workload::RequestSpec> requests) {
  for (size_t i = 1; i < requests.size(); ++i)
    if (requests[i].arrival_s < requests[i - 1].arrival_s)
      return make_error(ErrorCode::kInvalidArgument, "requests must come in arrival order");
  SimResult out;
  Cluster c(model, options, requests, out);
  SARATHI_RETURN_IF_ERROR(c.init());
  c.run();
  return out;
}

}  // namespace sarathi::sim
