// `sarathi simulate`: the engine's scheduler at cluster scale under a virtual clock
// (sim/simulator.h). The real sched::Scheduler and kv/ code plan every step; the step's time
// comes from a step-time model instead of running a model (--profile: measured on this machine
// with `bench profile`, or Vidur's A100/H100 operator profiles). Replicas behind a router,
// tensor and pipeline parallelism (GPU profiles), Poisson/gamma/trace arrivals and
// fixed/uniform/Zipf/trace lengths; per policy the figures and JSON keys of `bench serve` (and
// of `bench throughput` for TTFT/TBT summaries), with --capacity `bench capacity`'s search and
// JSON, and --report an HTML page of plots.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "cli/capacity_report.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/serve_result.h"
#include "cli/sim_report.h"
#include "sched/registry.h"
#include "sim/gpu_model.h"
#include "sim/measured_model.h"
#include "sim/simulator.h"
#include "workload/capacity_search.h"
#include "workload/serving_metrics.h"
#include "workload/workload.h"

namespace sarathi::cli {
namespace {

using nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

struct SimulateArgs {
  std::string profile;
  sim::GpuModelOptions gpu;
  double cpu_overhead_ms = 0, cpu_overhead_seq_ms = 0;
  int32_t replicas = 1;
  std::string router = "round-robin";
  SchedArgs sched;
  std::string policies = "vllm,sarathi-serve";
  workload::WorkloadOptions workload{.num_prompts = 1000, .input_len = 512, .output_len = 128};
  double slo_ttft_ms = 0, slo_tbt_ms = 0, fluidity_slo_ms = 0;
  bool capacity = false;
  double max_delay_s = 2.0;
  workload::CapacitySearchOptions search{
      .start_rate = 1.0, .rel_tolerance = 0.05, .max_probes = 12};
  bool step_noise = true;
  std::string json_path, report_path, step_trace_path;
  CLI::Option* kv_memory_opt = nullptr;
};

// The step model and what the scheduler config takes from it.
struct Loaded {
  std::unique_ptr<sim::StepModel> model;
  sim::ModelShape shape;
  int64_t kv_tokens = 0;  // GPU: the replica's KV capacity; 0: from --kv-cache-memory
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

core::Result<Loaded> load_profile(SimulateArgs& a) {
  Loaded l;
  const size_t colon = a.profile.find(':');
  const std::string kind = a.profile.substr(0, colon);
  const std::string rest = colon == std::string::npos ? "" : a.profile.substr(colon + 1);
  if (kind == "cpu" && !rest.empty()) {
    if (a.gpu.tensor_parallel > 1 || a.gpu.pipeline_parallel > 1)
      return core::make_error(core::ErrorCode::kInvalidArgument,
                              "--tensor-parallel-size and --pipeline-parallel-size need a GPU "
                              "profile (a100:MODEL or h100:MODEL)");
    SARATHI_ASSIGN_OR_RETURN(auto m, sim::MeasuredModel::read(rest));
    l.shape = m->shape();
    l.model = std::move(m);
    return l;
  }
  if ((kind == "a100" || kind == "h100") && !rest.empty()) {
    a.gpu.device = kind;
    a.gpu.model = rest;
    a.gpu.cpu_overhead_step_s = a.cpu_overhead_ms / 1e3;
    a.gpu.cpu_overhead_seq_s = a.cpu_overhead_seq_ms / 1e3;
    SARATHI_ASSIGN_OR_RETURN(auto m, sim::GpuModel::load(a.gpu));
    l.shape = m->shape();
    l.kv_tokens = m->kv_capacity_tokens();
    l.model = std::move(m);
    return l;
  }
  return core::make_error(core::ErrorCode::kInvalidArgument,
                          "--profile must be cpu:FILE (from `sarathi bench profile --json FILE`), "
                          "a100:MODEL or h100:MODEL (Vidur's profiles), not '{}'",
                          a.profile);
}

// The replica's scheduler config: the profile's model length; the KV pool from --num-kv-blocks,
// else the GPU's memory (or --kv-cache-memory when given), else --kv-cache-memory.
core::Result<sched::SchedulerConfig> base_config(const SimulateArgs& a, const Loaded& l) {
  sched::SchedulerConfig c;
  c.max_num_seqs = a.sched.max_num_seqs;
  c.chunk_size = a.sched.chunk_size;
  c.max_num_batched_tokens = a.sched.token_budget;
  c.tile_size = a.sched.tile_size;
  c.block_size = a.sched.block_size;
  c.watermark = a.sched.watermark;
  c.min_chunk = a.sched.min_chunk;
  c.enable_prefix_caching = false;
  c.max_model_len =
      a.sched.max_model_len > 0 ? std::min(a.sched.max_model_len, l.shape.n_ctx) : l.shape.n_ctx;
  int64_t blocks = a.sched.num_kv_blocks;
  if (blocks == 0 && l.kv_tokens > 0 && a.kv_memory_opt->count() == 0) {
    blocks = l.kv_tokens / c.block_size;
  } else if (blocks == 0) {
    const auto bytes = parse_bytes(a.sched.kv_cache_memory);
    if (!bytes)
      return core::make_error(core::ErrorCode::kInvalidArgument,
                              "--kv-cache-memory '{}' is not a size like 2GiB",
                              a.sched.kv_cache_memory);
    blocks = *bytes / (l.shape.kv_bytes_per_token * c.block_size);
  }
  c.num_kv_blocks = static_cast<int32_t>(std::min<int64_t>(blocks, 1 << 28));
  if (c.num_kv_blocks < 1)
    return core::make_error(core::ErrorCode::kInvalidArgument, "the KV pool holds no block");
  return c;
}

// The per-policy config: a budget below the model length suits the chunked policies only (as
// bench throughput); the SLO is applied by the simulator to sarathi and sarathi-serve only.
sched::SchedulerConfig policy_config(sched::SchedulerConfig c, const std::string& p, double slo_s) {
  c.policy = p;
  if (p != "sarathi" && p != "sarathi-serve" && c.max_num_batched_tokens > 0 &&
      c.max_num_batched_tokens < c.max_model_len)
    c.max_num_batched_tokens = 0;
  c.tbt_slo_s = slo_s;
  return c;
}

struct Summary {
  double mean = 0, p50 = 0, p99 = 0, max = 0;
};
Summary summarize(const std::vector<double>& v) {
  Summary s;
  if (v.empty()) return s;
  for (double x : v) {
    s.mean += x;
    s.max = std::max(s.max, x);
  }
  s.mean /= static_cast<double>(v.size());
  s.p50 = median(v);
  s.p99 = percentile(v, 99);
  return s;
}
ordered_json to_json(const Summary& s) {
  return {{"mean", s.mean}, {"p50", s.p50}, {"p99", s.p99}, {"max", s.max}};
}

struct PolicyRun {
  std::string policy;
  ordered_json json;
  SimPolicyReport report;
  sim::SimResult result;
};

// The run's figures: bench serve's keys, bench throughput's TTFT/TBT summaries and makespan
// throughput, the pipeline's bubbles, and the simulator's own speed.
PolicyRun summarize_run(const std::string& policy, sim::SimResult r,
                        const std::vector<workload::RequestSpec>& specs, const SimulateArgs& a,
                        double wall_s) {
  PolicyRun out;
  out.policy = policy;
  std::vector<ServeOutcome> outcomes(r.requests.size());
  std::vector<double> ttft, tbt;
  int64_t all_tokens = 0;
  for (size_t i = 0; i < r.requests.size(); ++i) {
    const workload::RequestTimeline& q = r.requests[i];
    ServeOutcome& o = outcomes[i];
    o.spec_idx = static_cast<int32_t>(i);
    o.ok = q.ok && !q.token_times.empty();
    if (!o.ok) {
      o.error = "not served (too long for the KV pool or the model)";
      continue;
    }
    o.prompt_tokens = q.num_prompt_tokens;
    o.output_tokens = static_cast<int64_t>(q.token_times.size());
    o.ttft = q.token_times.front() - q.arrival_s;
    o.e2el = q.token_times.back() - q.arrival_s;
    for (size_t k = 1; k < q.token_times.size(); ++k)
      o.itl.push_back(q.token_times[k] - q.token_times[k - 1]);
    ttft.push_back(o.ttft);
    tbt.insert(tbt.end(), o.itl.begin(), o.itl.end());
    all_tokens += o.prompt_tokens + o.output_tokens;
  }
  const ServeResultOptions opts{.endpoint = "simulated",
                                .num_prompts = a.workload.num_prompts,
                                .request_rate = a.workload.request_rate,
                                .slo_ttft_ms = a.slo_ttft_ms,
                                .slo_tbt_ms = a.slo_tbt_ms,
                                .fluidity_slo_ms = a.fluidity_slo_ms};
  out.json = {{"policy", policy}};
  const ordered_json served = serve_result(outcomes, specs, r.duration_s, opts);
  for (const auto& [k, v] : served.items()) out.json[k] = v;
  const Summary ttft_s = summarize(ttft), tbt_s = summarize(tbt);
  out.json["ttft_s"] = to_json(ttft_s);
  out.json["tbt_s"] = to_json(tbt_s);
  out.json["makespan_s"] = r.duration_s;
  out.json["e2e_tokens_per_s"] = r.duration_s > 0 ? double(all_tokens) / r.duration_s : 0.0;
  out.json["preemptions"] = r.num_preemptions;
  out.json["steps"] = r.num_steps;
  out.json["rejected"] = r.num_rejected;
  out.json["tbt_slo_ms"] = r.tbt_slo_s * 1e3;
  double bubble = 0;
  std::vector<double> per_stage;
  for (const sim::StageUsage& u : r.stages) {
    bubble += u.bubble_fraction() / double(r.stages.size());
    per_stage.resize(u.busy_s.size(), 0.0);
    for (size_t s = 0; s < u.busy_s.size(); ++s)
      per_stage[s] += (u.active_s > 0 ? u.bubble_s(s) / u.active_s : 0.0) / double(r.stages.size());
  }
  out.json["bubble_fraction"] = bubble;
  out.json["stage_bubble_fraction"] = per_stage;
  out.json["sim_wall_s"] = wall_s;
  out.json["sim_requests_per_s"] = wall_s > 0 ? double(r.requests.size()) / wall_s : 0.0;
  out.report.policy = policy;
  out.report.ttft_s = std::move(ttft);
  // A TBT sample for the CDF (every k-th gap) keeps the report small on large runs.
  const size_t k = std::max<size_t>(1, tbt.size() / 200000);
  for (size_t i = 0; i < tbt.size(); i += k) out.report.tbt_s.push_back(tbt[i]);
  for (const auto& st : r.steps)
    if (st.replica == 0) out.report.steps.push_back(st);
  out.report.stage_bubble = per_stage;
  const auto& j = out.json;
  auto f = [](const char* fmt_str, double v) { return fmt::format(fmt::runtime(fmt_str), v); };
  out.report.figures = {
      {"requests completed / failed",
       fmt::format("{} / {}", j["completed"].get<int64_t>(), j["failed"].get<int64_t>())},
      {"duration (s)", f("{:.2f}", r.duration_s)},
      {"request throughput (req/s)", f("{:.3f}", j["request_throughput"].get<double>())},
      {"tokens/s (all)", f("{:.1f}", j["total_token_throughput"].get<double>())},
      {"TTFT p50 / p99 (s)", fmt::format("{:.3f} / {:.3f}", ttft_s.p50, ttft_s.p99)},
      {"TBT p50 / p99 / max (ms)",
       fmt::format("{:.2f} / {:.2f} / {:.2f}", tbt_s.p50 * 1e3, tbt_s.p99 * 1e3, tbt_s.max * 1e3)},
      {"e2e latency p50 (s)", f("{:.2f}", j["median_e2el_ms"].get<double>() / 1e3)},
      {"preemptions", std::to_string(r.num_preemptions)},
      {"steps", std::to_string(r.num_steps)},
      {"pipeline bubble fraction", f("{:.3f}", bubble)},
      {"simulated in (s)", f("{:.2f}", wall_s)}};
  out.result = std::move(r);
  return out;
}

void print_header() {
  std::printf("%-14s %9s %8s %8s | %8s %8s | %8s %8s %8s | %8s %7s %7s %8s\n", "policy", "done",
              "req/s", "tok/s", "TTFT p50", "p99", "TBT p50", "p99", "max", "preempt", "steps",
              "bubble", "wall s");
}

void print_row(const PolicyRun& p) {
  const auto& j = p.json;
  std::printf(
      "%-14s %9lld %8.3f %8.1f | %7.3fs %7.3fs | %6.1fms %6.1fms %6.1fms | %8lld %7lld "
      "%6.1f%% %8.2f\n",
      p.policy.c_str(), static_cast<long long>(j["completed"].get<int64_t>()),
      j["request_throughput"].get<double>(), j["total_token_throughput"].get<double>(),
      j["ttft_s"]["p50"].get<double>(), j["ttft_s"]["p99"].get<double>(),
      j["tbt_s"]["p50"].get<double>() * 1e3, j["tbt_s"]["p99"].get<double>() * 1e3,
      j["tbt_s"]["max"].get<double>() * 1e3,
      static_cast<long long>(j["preemptions"].get<int64_t>()),
      static_cast<long long>(j["steps"].get<int64_t>()), j["bubble_fraction"].get<double>() * 100,
      j["sim_wall_s"].get<double>());
  std::fflush(stdout);
}

sim::SimOptions sim_options(const SimulateArgs& a, const sched::SchedulerConfig& cfg,
                            sim::RoutePolicy router, int32_t record) {
  return {.sched = cfg,
          .num_replicas = a.replicas,
          .router = router,
          .step_noise = a.step_noise,
          .seed = a.workload.seed,
          .record_replicas = record};
}

// One capacity curve: bench capacity's search, every probe a simulation of the workload at that
// rate (Poisson or gamma arrivals as asked; the same lengths at every rate).
core::Result<CapacityCurve> capacity_curve(const SimulateArgs& a, const sim::StepModel& model,
                                           const sched::SchedulerConfig& cfg,
                                           sim::RoutePolicy router, double slo_s) {
  CapacityCurve curve{.label = cfg.policy};
  const workload::CapacityCriteria criteria{.tbt_slo_s = slo_s, .max_delay_s = a.max_delay_s};
  std::printf("capacity of %s (P99 TBT <= %.3g ms, median scheduling delay <= %.2g s):\n",
              cfg.policy.c_str(), slo_s * 1e3, a.max_delay_s);
  auto probe = [&](double rate) -> core::Result<workload::ServingMetrics> {
    workload::WorkloadOptions w = a.workload;
    w.request_rate = rate;
    if (w.arrival == "trace") w.arrival = "poisson";
    SARATHI_ASSIGN_OR_RETURN(auto reqs, workload::make_workload(w));
    workload::clip_to_model_len(reqs, cfg.max_model_len);
    SARATHI_ASSIGN_OR_RETURN(auto r, sim::simulate(model, sim_options(a, cfg, router, 0), reqs));
    const auto m = workload::summarize_serving(r.requests, r.duration_s, slo_s);
    std::string why;
    const bool pass = workload::meets_criteria(m, criteria, &why);
    std::printf(
        "  %8.3f req/s: P99 TBT %7.2f ms, median delay %7.3f s, TTFT p50 %7.3f s, "
        "fluidity %.4f  %s%s%s\n",
        rate, m.p99_tbt_s * 1e3, m.median_delay_s, m.p50_ttft_s, m.fluidity_index,
        pass ? "pass" : "FAIL", why.empty() ? "" : ": ", why.c_str());
    std::fflush(stdout);
    return m;
  };
  SARATHI_ASSIGN_OR_RETURN(curve.result, workload::search_capacity(probe, criteria, a.search));
  std::printf("  capacity of %s: %.4g req/s (%s)\n\n", cfg.policy.c_str(), curve.result.capacity,
              curve.result.stop_reason.c_str());
  return curve;
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  if (!f) {
    std::fprintf(stderr, "error: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

std::string step_trace_csv(const std::vector<PolicyRun>& runs) {
  std::string s =
      "policy,replica,engine,start_s,end_s,num_seqs,prefill_tokens,decode_tokens,"
      "predicted_s\n";
  for (const PolicyRun& p : runs)
    for (const auto& st : p.result.steps)
      s += fmt::format("{},{},{},{:.6f},{:.6f},{},{},{},{:.6f}\n", p.policy, st.replica, st.engine,
                       st.start_s, st.end_s, st.num_seqs, st.num_prefill_tokens,
                       st.num_decode_tokens, st.predicted_s);
  return s;
}

// Everything a run needs once the arguments are checked and the profile is loaded.
struct Setup {
  Loaded loaded;
  sched::SchedulerConfig base;
  std::vector<workload::RequestSpec> reqs;
  sim::RoutePolicy router = sim::RoutePolicy::kRoundRobin;
  std::vector<std::string> policies;
  int64_t num_clipped = 0;
  double slo_s = 0;        // the TBT SLO reported and, with --capacity, judged (0: none)
  double chunk_slo_s = 0;  // the SLO sarathi and sarathi-serve cut their chunks to (0: fixed)
  std::vector<std::string> settings;
};

// Policies and the two uses of --tbt-slo: chunking (sarathi, sarathi-serve; off when
// --token-budget fixes the budget, as in bench throughput) and, with --capacity, the criterion.
core::Status check_args(const SimulateArgs& a, Setup& s, double& chunk_req, double& judged_req) {
  using core::ErrorCode;
  SARATHI_ASSIGN_OR_RETURN(s.router, sim::parse_route_policy(a.router));
  s.policies = split_list(a.policies);
  const auto known = sched::policy_names();
  for (const std::string& p : s.policies)
    if (std::find(known.begin(), known.end(), p) == known.end())
      return core::make_error(ErrorCode::kInvalidArgument, "unknown policy '{}' in --policies", p);
  if (s.policies.empty())
    return core::make_error(ErrorCode::kInvalidArgument, "--policies names no policy");
  const auto chunk = tbt_slo_request(a.sched);
  SchedArgs judged_args = a.sched;
  judged_args.token_budget = 0;
  const auto judged = tbt_slo_request(judged_args);
  if (!chunk || !judged)
    return core::make_error(ErrorCode::kInvalidArgument, "--tbt-slo: see above");
  if (a.capacity && *judged == 0)
    return core::make_error(ErrorCode::kInvalidArgument, "--capacity needs --tbt-slo MS or strict");
  chunk_req = *chunk;
  judged_req = a.capacity ? *judged : *chunk;
  return core::ok_status();
}

// The settings lines printed first and kept in the JSON and the report.
std::vector<std::string> describe_settings(const SimulateArgs& a, const Setup& s) {
  const sim::StepModel& m = *s.loaded.model;
  // Reference decode steps: one sequence (the engine's strict SLO is 5x it) and the Sarathi-Serve
  // paper's reference for its strict SLO, 32 sequences at 4K of context (within the model length).
  auto decode_ms = [&](int32_t n, int32_t pos) {
    sim::StepWork w;
    for (int32_t i = 0; i < n; ++i) w.add(pos, 1, true, true);
    return m.predict(w).total_s(m.num_stages()) * 1e3;
  };
  const int32_t ref_pos = std::min(4096, s.base.max_model_len - 1);
  const auto& w = a.workload;
  const std::string lengths = w.dataset.empty()
                                  ? fmt::format("input {} output {} ({} range {:.2f})", w.input_len,
                                                w.output_len, w.length_dist, w.range_ratio)
                                  : "lengths from " + w.dataset;
  const std::string arrivals =
      w.arrival == "trace"            ? fmt::format(" (time scale {:g})", w.trace_time_scale)
      : std::isfinite(w.request_rate) ? fmt::format(" at {:g} req/s", w.request_rate)
                                      : " (all at t=0)";
  return {
      m.describe(),
      fmt::format("predicted decode steps: 1 sequence at 16 tokens {:.3f} ms; 32 sequences at {} "
                  "tokens {:.3f} ms (the Sarathi-Serve paper's strict SLO is 5x this one)",
                  decode_ms(1, 16), ref_pos, decode_ms(32, ref_pos)),
      fmt::format("{} replica(s), router {}, KV {} blocks of {} per replica, max model len {}, "
                  "max {} sequences",
                  a.replicas, a.router, s.base.num_kv_blocks, s.base.block_size,
                  s.base.max_model_len, s.base.max_num_seqs),
      fmt::format(
          "workload: {} requests, {}{}, arrivals {}{}, seed {}{}", w.num_prompts, lengths,
          s.num_clipped > 0 ? fmt::format(" ({} cut to the model length)", s.num_clipped) : "",
          w.arrival, arrivals, w.seed,
          a.step_noise && m.has_spread() ? "; step times drawn from the profile's spread" : ""),
      s.slo_s > 0
          ? fmt::format("TBT SLO {:.3g} ms{}", s.slo_s * 1e3,
                        s.chunk_slo_s > 0 ? " (SLO-driven chunking for sarathi, sarathi-serve)"
                                          : " (fixed token budget)")
          : "no TBT SLO (fixed chunking)"};
}

core::Result<Setup> prepare(SimulateArgs& a) {
  Setup s;
  double chunk_req = 0, judged_req = 0;
  SARATHI_RETURN_IF_ERROR(check_args(a, s, chunk_req, judged_req));
  SARATHI_ASSIGN_OR_RETURN(s.loaded, load_profile(a));
  SARATHI_ASSIGN_OR_RETURN(s.base, base_config(a, s.loaded));
  SARATHI_ASSIGN_OR_RETURN(s.reqs, workload::make_workload(a.workload));
  s.num_clipped = workload::clip_to_model_len(s.reqs, s.base.max_model_len);
  // Strict (< 0) is resolved once, from the simulated calibration (as bench capacity resolves
  // it once, on its first policy).
  s.chunk_slo_s = chunk_req;
  s.slo_s = judged_req;
  if (s.chunk_slo_s < 0 || s.slo_s < 0) {
    SARATHI_ASSIGN_OR_RETURN(
        const double step,
        sim::calibrated_decode_step_s(
            *s.loaded.model,
            sim_options(a, policy_config(s.base, "sarathi-serve", -1), s.router, 0)));
    if (s.chunk_slo_s < 0) s.chunk_slo_s = 5.0 * step;
    if (s.slo_s < 0) s.slo_s = 5.0 * step;
  }
  s.settings = describe_settings(a, s);
  return s;
}

core::Result<std::vector<PolicyRun>> run_policies(const SimulateArgs& a, const Setup& s) {
  std::vector<PolicyRun> runs;
  const int32_t record = a.report_path.empty() && a.step_trace_path.empty() ? 0 : 1;
  print_header();
  for (const std::string& p : s.policies) {
    const sched::SchedulerConfig cfg = policy_config(s.base, p, s.chunk_slo_s);
    const auto t0 = Clock::now();
    SARATHI_ASSIGN_OR_RETURN(
        auto r, sim::simulate(*s.loaded.model, sim_options(a, cfg, s.router, record), s.reqs));
    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    runs.push_back(summarize_run(p, std::move(r), s.reqs, a, wall));
    print_row(runs.back());
  }
  std::printf("\n");
  return runs;
}

core::Result<CapacityRun> run_capacity(const SimulateArgs& a, const Setup& s) {
  CapacityRun cap;
  cap.tbt_slo_s = s.slo_s;
  cap.max_delay_s = a.max_delay_s;
  cap.slo_text =
      a.sched.tbt_slo == "strict" ? "strict: 5 x the simulated one-sequence decode step" : "given";
  cap.settings = s.settings;
  for (const std::string& p : s.policies) {
    SARATHI_ASSIGN_OR_RETURN(
        auto c, capacity_curve(a, *s.loaded.model, policy_config(s.base, p, s.chunk_slo_s),
                               s.router, s.slo_s));
    cap.curves.push_back(std::move(c));
  }
  std::printf("TBT SLO %.3g ms; capacity (req/s):", s.slo_s * 1e3);
  for (const auto& c : cap.curves) std::printf(" %s %.4g", c.label.c_str(), c.result.capacity);
  std::printf("\n");
  cap.meta = {{"mode", "simulated"},
              {"profile", a.profile},
              {"replicas", a.replicas},
              {"num_prompts", a.workload.num_prompts},
              {"seed", a.workload.seed}};
  return cap;
}

bool write_outputs(const SimulateArgs& a, const Setup& s, std::vector<PolicyRun>& runs,
                   const CapacityRun* cap) {
  bool ok = true;
  if (!a.json_path.empty()) {
    ordered_json j = {{"profile", a.profile},
                      {"profile_description", s.loaded.model->describe()},
                      {"replicas", a.replicas},
                      {"router", a.router},
                      {"tensor_parallel_size", a.gpu.tensor_parallel},
                      {"pipeline_parallel_size", a.gpu.pipeline_parallel},
                      {"num_kv_blocks", s.base.num_kv_blocks},
                      {"block_size", s.base.block_size},
                      {"max_model_len", s.base.max_model_len},
                      {"settings", s.settings},
                      {"policies", ordered_json::array()}};
    for (const PolicyRun& p : runs) j["policies"].push_back(p.json);
    if (cap != nullptr) j["capacity"] = report_json(*cap);
    ok = write_file(a.json_path, j.dump(2) + "\n") && ok;
  }
  if (!a.step_trace_path.empty()) ok = write_file(a.step_trace_path, step_trace_csv(runs)) && ok;
  if (!a.report_path.empty()) {
    SimReport rep{.title = "sarathi simulate: " + a.profile, .settings = s.settings};
    for (PolicyRun& p : runs) rep.policies.push_back(std::move(p.report));
    rep.capacity = cap;
    ok = write_file(a.report_path, render_sim_report(rep)) && ok;
  }
  return ok;
}

int run(SimulateArgs a) {
  auto fail = [](const core::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.message.c_str());
    return 2;
  };
  auto setup = prepare(a);
  if (!setup.ok()) return fail(setup.error());
  for (const std::string& line : setup->settings) std::printf("%s\n", line.c_str());
  std::printf("\n");
  auto runs = run_policies(a, *setup);
  if (!runs.ok()) return fail(runs.error());
  std::optional<CapacityRun> cap;
  if (a.capacity) {
    auto c = run_capacity(a, *setup);
    if (!c.ok()) return fail(c.error());
    cap = std::move(*c);
  }
  return write_outputs(a, *setup, *runs, cap ? &*cap : nullptr) ? 0 : 1;
}

}  // namespace

Runner add_simulate(CLI::App& app) {
  auto a = std::make_shared<SimulateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "simulate",
      "Simulate serving at cluster scale: the engine's own scheduler and KV code plan every "
      "step, a step-time model advances a virtual clock (no weights are loaded; output lengths "
      "come from the workload). --profile cpu:FILE uses a profile of this machine (`sarathi "
      "bench profile --json FILE`); a100:MODEL or h100:MODEL Vidur's operator profiles in "
      "--profile-dir (models: llama-2-7b, llama-2-70b, codellama-34b, meta-llama-3-8b and "
      "meta-llama-3-70b on A100) with attention from a roofline. Prints bench serve's figures "
      "per policy; --capacity searches each policy's capacity as bench capacity does");
  cmd->add_option("--profile", a->profile, "cpu:FILE, a100:MODEL or h100:MODEL")->required();
  cmd->add_option("--profile-dir", a->gpu.profile_dir, "Vidur's profiles (GPU profiles)")
      ->capture_default_str();
  cmd->add_option("--network", a->gpu.network,
                  "Network tables: a100_dgx, h100_dgx, a100_pairwise_nvlink, h100_pairwise_nvlink "
                  "(default: <gpu>_dgx)");
  cmd->add_option("--tensor-parallel-size,--tp", a->gpu.tensor_parallel,
                  "GPUs per stage (GPU profiles: 1, 2, 4 or 8 as profiled)")
      ->capture_default_str()
      ->check(CLI::Range(1, 8));
  cmd->add_option("--pipeline-parallel-size,--pp", a->gpu.pipeline_parallel,
                  "Pipeline stages per replica (GPU profiles); each stage's micro-batches come "
                  "from its own virtual engine (a Scheduler over 1/PP of the KV pool)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--attn-prefill-efficiency", a->gpu.attn_prefill_efficiency,
                  "GPU: fraction of the fp16 tensor peak prefill attention reaches")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 1.0));
  cmd->add_option("--attn-decode-efficiency", a->gpu.attn_decode_efficiency,
                  "GPU: fraction of the memory bandwidth decode attention reaches")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 1.0));
  cmd->add_option("--gpu-memory-utilization", a->gpu.gpu_memory_utilization,
                  "GPU: fraction of device memory for weights and KV")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 1.0));
  cmd->add_option("--cpu-overhead-ms", a->cpu_overhead_ms,
                  "GPU: the serving system's CPU time per step (not profiled; default 0)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--cpu-overhead-seq-ms", a->cpu_overhead_seq_ms,
                  "GPU: ... and per scheduled sequence")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--replicas", a->replicas, "Replicas behind the router")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--router", a->router, "round-robin or least-outstanding (fewest tokens left)")
      ->capture_default_str();
  cmd->add_option("--policies", a->policies, "Policies to simulate in turn")->capture_default_str();
  add_sched_options(*cmd, a->sched, false);
  // Simulated requests have lengths but no token ids (so no shared prefixes) and no priorities:
  // the engine options that act on those do not apply here.
  for (const char* name :
       {"--enable-prefix-caching", "--scheduling-policy", "--priority-aging-steps"})
    cmd->remove_option(cmd->get_option(name));
  a->kv_memory_opt = cmd->get_option("--kv-cache-memory");
  cmd->get_option("--kv-cache-memory")
      ->description(
          "KV pool per replica (cpu profiles; GPU: default from device memory minus "
          "weights)");
  auto& w = a->workload;
  cmd->add_option("--num-prompts", w.num_prompts, "Requests")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 26));
  cmd->add_option("--input-len", w.input_len, "Prompt tokens")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--output-len", w.output_len, "Output tokens")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--range-ratio", w.range_ratio, "Lengths in len*(1 +- ratio)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.99));
  cmd->add_option("--length-dist", w.length_dist,
                  "uniform (over the range; fixed when --range-ratio is 0) or zipf (over the "
                  "range, shortest most frequent)")
      ->capture_default_str();
  cmd->add_option("--zipf-theta", w.zipf_theta, "Zipf exponent")->capture_default_str();
  cmd->add_option("--dataset", w.dataset,
                  "Lengths from a CSV: input_len,output_len rows, or one of Vidur's processed "
                  "traces (num_prefill_tokens, num_decode_tokens[, arrived_at]); cycled. "
                  "Requests longer than the model are cut (prompt first), as Vidur does");
  cmd->add_option("--arrival", w.arrival,
                  "poisson, gamma (--arrival-cv) or trace (the dataset's arrived_at)")
      ->capture_default_str();
  cmd->add_option("--arrival-cv", w.arrival_cv,
                  "gamma: coefficient of variation of the gaps (1 = Poisson, > 1 bursty)")
      ->capture_default_str();
  cmd->add_option("--trace-time-scale", w.trace_time_scale,
                  "trace: arrival times divided by this (2 = twice the rate)")
      ->capture_default_str();
  cmd->add_option("--request-rate", w.request_rate, "Requests/s; inf = all at t=0")
      ->capture_default_str();
  cmd->add_option("--seed", w.seed, "Workload and step-time draw seed")->capture_default_str();
  cmd->add_option("--slo-ttft", a->slo_ttft_ms, "Goodput SLO on TTFT (ms), as bench serve");
  cmd->add_option("--slo-tbt", a->slo_tbt_ms,
                  "Goodput SLO on a request's TPOT (ms), as bench serve");
  cmd->add_option("--fluidity-slo-ms", a->fluidity_slo_ms,
                  "Fluidity-index deadline (ms; default --slo-tbt)");
  cmd->add_flag("--capacity", a->capacity,
                "Search each policy's capacity (bench capacity's criteria: P99 TBT within "
                "--tbt-slo, median scheduling delay within --max-delay), one simulation of "
                "--num-prompts requests per probe");
  cmd->add_option("--max-delay", a->max_delay_s, "Capacity: median scheduling delay bound (s)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  auto& s = a->search;
  cmd->add_option("--start-rate", s.start_rate, "Capacity: first probe's rate (req/s)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--min-rate", s.min_rate, "Capacity: halving gives up below this (0: start/16)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--tolerance", s.rel_tolerance, "Capacity: relative bisection tolerance")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 0.9));
  cmd->add_option("--max-probes", s.max_probes, "Capacity: probes per policy at most")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  cmd->add_flag("!--no-step-noise", a->step_noise,
                "Every step takes exactly its prediction (default: cpu profiles draw each "
                "step's factor from the measured spread)");
  cmd->add_option("--json", a->json_path,
                  "Write per policy bench serve's keys (plus ttft_s/tbt_s summaries, makespan, "
                  "bubbles) and with --capacity bench capacity's JSON");
  cmd->add_option("--report", a->report_path,
                  "Write a self-contained HTML report: latency CDFs, batch composition over "
                  "time, per-stage bubbles, capacity per policy");
  cmd->add_option("--step-trace", a->step_trace_path,
                  "Write the first replica's steps as CSV (start, end, tokens, predicted)");
  return [a] { return run(*a); };
}

}  // namespace sarathi::cli
