// `sarathi bench capacity`: Sarathi-Serve's capacity, the highest Poisson request rate at which
// P99 TBT stays within the TBT SLO and the median scheduling delay within a bound (2 s), found
// by probing rates (workload/capacity_search.h): each probe is a real-time run of the same
// number of requests at one rate. In process (-m MODEL --policies ...) every probe runs a fresh
// engine on the model, per policy; against a server (--base-url URL) every probe is a
// `bench serve` run (cli/serve_client.h), and TTFT stands in for the scheduling delay, which a
// client cannot see. Prints a table per policy/server, and optionally JSON and an SVG/HTML plot
// of P99 TBT and median TTFT against the rate.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "cli/capacity_report.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/serve_client.h"
#include "engine/engine.h"
#include "engine/model_executor.h"
#include "engine/step_cost.h"
#include "kernels/kernels.h"
#include "sched/registry.h"
#include "workload/capacity_search.h"
#include "workload/serving_metrics.h"
#include "workload/workload.h"

namespace sarathi::cli {
namespace {

struct CapacityArgs {
  ModelArgs model;
  SchedArgs sched;
  std::string policies = "vllm,sarathi-serve";
  std::string base_urls, labels;  // URL mode: comma-separated, one curve each
  ServeClientOptions client{.ignore_eos = true};
  workload::WorkloadOptions workload{.num_prompts = 12, .input_len = 256, .output_len = 32};
  double decode_step_ms = 0;
  double max_delay_s = 2.0;
  workload::CapacitySearchOptions search{.start_rate = 1.0, .rel_tolerance = 0.10, .max_probes = 6};
  std::string json_path, plot_path;
  // Options given on the command line, for the mode checks.
  CLI::Option* model_opt = nullptr;
  CLI::Option* url_opt = nullptr;
  std::vector<std::pair<std::string, CLI::Option*>> in_process_only, url_only;
};

using Curve = CapacityCurve;
using Run = CapacityRun;

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// --tbt-slo: "strict" (-1) or milliseconds > 0; nullopt when neither.
std::optional<double> parse_slo_ms(const std::string& s) {
  if (s == "strict") return -1.0;
  size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(s, &pos);
  } catch (...) {
    return std::nullopt;
  }
  if (pos != s.size() || !(v > 0) || !std::isfinite(v)) return std::nullopt;
  return v;
}

// ---- the table ----

void print_settings(const Run& run) {
  for (const std::string& s : run.settings) std::printf("%s\n", s.c_str());
  std::printf("\n");
  std::fflush(stdout);
}

void print_header() {
  std::printf("  %8s %9s %9s %10s %9s %9s %9s %8s  %s\n", "rate/s", "P99 TBT", "max TBT",
              "med delay", "TTFT p50", "TTFT p99", "tok/s", "fluidity", "result");
}

void print_row(double rate, const workload::ServingMetrics& m, bool pass, const std::string& why) {
  std::printf("  %8.3f %7.1fms %7.1fms %9.3fs %8.3fs %8.3fs %9.1f %8.4f  %s%s%s\n", rate,
              m.p99_tbt_s * 1e3, m.max_tbt_s * 1e3, m.median_delay_s, m.p50_ttft_s, m.p99_ttft_s,
              m.total_tokens_per_s, m.fluidity_index, pass ? "pass" : "FAIL",
              why.empty() ? "" : ": ", why.c_str());
  std::fflush(stdout);
}

void print_capacity(const Curve& c) {
  const auto& r = c.result;
  if (!r.error.empty()) std::fprintf(stderr, "error: %s: %s\n", c.label.c_str(), r.error.c_str());
  std::string what;
  if (r.capacity <= 0 && r.lowest_failing_rate > 0)
    what = fmt::format("0: below {:.3g} req/s, the lowest rate probed", r.lowest_failing_rate);
  else if (r.capacity <= 0)
    what = "unknown (no probe ran)";
  else if (r.lowest_failing_rate <= 0)
    what = fmt::format("at least {:.3g} req/s (no rate probed failed)", r.capacity);
  else
    what = fmt::format("{:.3g} req/s ({:.3g} fails)", r.capacity, r.lowest_failing_rate);
  std::printf("  capacity of %s: %s; %s\n\n", c.label.c_str(), what.c_str(), r.stop_reason.c_str());
  std::fflush(stdout);
}

// A probe function that prints its row once it ran.
workload::ProbeFn printing(std::function<core::Result<workload::ServingMetrics>(double)> fn,
                           const workload::CapacityCriteria& criteria) {
  return [fn = std::move(fn), criteria](double rate) -> core::Result<workload::ServingMetrics> {
    auto m = fn(rate);
    if (m.ok()) {
      std::string why;
      const bool pass = workload::meets_criteria(*m, criteria, &why);
      print_row(rate, *m, pass, why);
    }
    return m;
  };
}

// ---- in process ----

struct EngineProbe {
  const model::LlamaModel& model;
  engine::Executor& exec;
  sched::SchedulerConfig cfg;
  std::optional<engine::StepCostFitter> fitter;  // copied into each probe's engine
  workload::WorkloadOptions workload;
  const std::vector<std::vector<int32_t>>& prompts;
  double tbt_slo_s = 0;

  // One real-time run at `rate`: Poisson arrivals, a fresh engine; each request's arrival is
  // when it was due, so a request that came during a step waited for it, as on a server.
  core::Result<workload::ServingMetrics> operator()(double rate) const {
    workload::WorkloadOptions w = workload;
    w.request_rate = rate;
    SARATHI_ASSIGN_OR_RETURN(auto reqs, workload::make_workload(w));
    SARATHI_ASSIGN_OR_RETURN(
        auto eng,
        engine::Engine::create(exec, &model.tokenizer(),
                               {.sched = cfg, .keep_finished = true, .cost_fitter = fitter}));
    std::unordered_map<engine::RequestId, size_t> index;
    size_t next = 0;
    const double t0 = eng->now();
    while (next < reqs.size() || eng->has_work()) {
      const double t = eng->now() - t0;
      while (next < reqs.size() && reqs[next].arrival_s <= t) {
        engine::RequestParams p;
        p.max_tokens = reqs[next].output_len;
        p.ignore_eos = true;
        p.detokenize = false;
        p.sampling.seed = next;
        SARATHI_ASSIGN_OR_RETURN(const engine::RequestId id,
                                 eng->add_request(prompts[next], p, nullptr));
        index[id] = next++;
      }
      if (!eng->has_work()) {
        std::this_thread::sleep_for(std::chrono::duration<double>(reqs[next].arrival_s - t));
        continue;
      }
      SARATHI_RETURN_IF_ERROR(eng->step());
    }
    std::vector<workload::RequestTimeline> lines;
    double end = t0;
    for (const engine::RequestRecord& rec : eng->finished()) {
      end = std::max(end, rec.times.finish);
      lines.push_back({.arrival_s = t0 + reqs[index.at(rec.id)].arrival_s,
                       .first_scheduled_s = rec.times.first_scheduled,
                       .token_times = rec.times.token_times,
                       .num_prompt_tokens = rec.num_prompt_tokens,
                       .num_output_tokens = static_cast<int64_t>(rec.output.size()),
                       .ok = rec.finish != engine::FinishReason::kAbort});
    }
    return workload::summarize_serving(lines, end - t0, tbt_slo_s);
  }
};

bool chunked(const std::string& policy) { return policy == "sarathi" || policy == "sarathi-serve"; }

// Calibrates on the policy's executor and settles its chunking. `slo_s` is the run's SLO (-1:
// strict, not known yet: set from this calibration).
core::Result<std::optional<engine::StepCostFitter>> prepare_policy(engine::Executor& exec,
                                                                   sched::SchedulerConfig& cfg,
                                                                   bool fixed_budget, double& slo_s,
                                                                   Curve& curve) {
  SARATHI_ASSIGN_OR_RETURN(engine::Calibration cal, engine::calibrate_slo(exec, cfg, slo_s));
  if (slo_s < 0) slo_s = cfg.tbt_slo_s;
  if (chunked(cfg.policy) && !fixed_budget) {
    std::stringstream lines(engine::describe_slo(cal, cfg));
    for (std::string l; std::getline(lines, l);) curve.notes.push_back(l);
    curve.notes.push_back("chunking: SLO-driven (step-cost model refit from every step)");
    return std::optional<engine::StepCostFitter>(std::move(cal.fitter));
  }
  cfg.tbt_slo_s = 0;  // fixed chunking; the calibration only warmed the executor up
  curve.notes.push_back(fmt::format("one-sequence decode step {:.1f} ms (calibration {:.1f} s)",
                                    cal.decode_step_s * 1e3, cal.seconds));
  if (chunked(cfg.policy))
    curve.notes.push_back(
        fmt::format("chunking: fixed, {} tokens per step",
                    cfg.policy == "sarathi" ? cfg.chunk_size : sched::token_budget(cfg)));
  else
    curve.notes.push_back(fmt::format("whole prompts, token budget {}", sched::token_budget(cfg)));
  return std::optional<engine::StepCostFitter>();
}

core::Result<Curve> run_policy(const model::LlamaModel& m, sched::SchedulerConfig cfg,
                               const CapacityArgs& a, core::DType kv,
                               const std::vector<std::vector<int32_t>>& prompts, double& slo_s) {
  Curve curve{.label = cfg.policy};
  // A budget below the model length suits the chunked policies only (as bench throughput).
  if (!chunked(cfg.policy) && cfg.max_num_batched_tokens > 0 &&
      cfg.max_num_batched_tokens < cfg.max_model_len)
    cfg.max_num_batched_tokens = 0;
  SARATHI_RETURN_IF_ERROR(sched::validate(cfg));
  SARATHI_ASSIGN_OR_RETURN(
      auto exec,
      engine::ModelExecutor::create(
          m, {.num_blocks = cfg.num_kv_blocks, .block_size = cfg.block_size, .dtype = kv},
          a.model.threads));
  SARATHI_ASSIGN_OR_RETURN(auto fitter,
                           prepare_policy(*exec, cfg, a.sched.token_budget > 0, slo_s, curve));
  std::printf("policy %s | TBT SLO %.3g ms | delay bound %.2f s\n", cfg.policy.c_str(), slo_s * 1e3,
              a.max_delay_s);
  for (const std::string& n : curve.notes) std::printf("  %s\n", n.c_str());
  print_header();
  const workload::CapacityCriteria criteria{.tbt_slo_s = slo_s, .max_delay_s = a.max_delay_s};
  const EngineProbe probe{.model = m,
                          .exec = *exec,
                          .cfg = cfg,
                          .fitter = std::move(fitter),
                          .workload = a.workload,
                          .prompts = prompts,
                          .tbt_slo_s = slo_s};
  SARATHI_ASSIGN_OR_RETURN(
      curve.result, workload::search_capacity(printing(probe, criteria), criteria, a.search));
  print_capacity(curve);
  return curve;
}

int run_in_process(const CapacityArgs& a, Run& run) {
  const auto kv = kv_dtype(a.model);
  if (!kv) return 2;
  auto reqs = workload::make_workload(a.workload);  // lengths; the same at every rate
  if (!reqs.ok()) {
    std::fprintf(stderr, "error: %s\n", reqs.error().message.c_str());
    return 2;
  }
  double slo_s = *parse_slo_ms(a.sched.tbt_slo);
  if (slo_s > 0) slo_s /= 1e3;
  const auto m = load_model(a.model);
  if (!m) return 1;
  auto base = sched_config(a.sched, m->config(), *kv);
  if (!base) return 2;
  std::mt19937 rng(static_cast<uint32_t>(a.workload.seed));
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& r : *reqs) {
    if (r.input_len + r.output_len > base->max_model_len) {
      std::fprintf(stderr, "error: a request needs %d tokens; --max-model-len is %d\n",
                   r.input_len + r.output_len, base->max_model_len);
      return 2;
    }
    std::vector<int32_t> p(static_cast<size_t>(r.input_len));
    for (auto& t : p)
      t = 3 + static_cast<int32_t>(rng() % static_cast<uint32_t>(m->config().n_vocab - 3));
    prompts.push_back(std::move(p));
  }
  run.settings.push_back(fmt::format(
      "model {} | kernels {}, {} threads | KV {} blocks of {}", m->config().name,
      kernels::isa_name(kernels::active_isa()),
      a.model.threads > 0 ? a.model.threads : static_cast<int>(std::thread::hardware_concurrency()),
      base->num_kv_blocks, base->block_size));
  run.meta["model"] = m->config().name;
  print_settings(run);
  for (const std::string& p : split_list(a.policies)) {
    sched::SchedulerConfig cfg = *base;
    cfg.policy = p;
    auto c = run_policy(*m, cfg, a, *kv, prompts, slo_s);
    if (!c.ok()) {
      std::fprintf(stderr, "error: policy %s: %s\n", p.c_str(), c.error().message.c_str());
      return 1;
    }
    run.curves.push_back(std::move(*c));
    if (run.slo_text.empty())
      run.slo_text =
          a.sched.tbt_slo == "strict"
              ? fmt::format("strict: 5 x the one-sequence decode step, measured on {}", p)
              : "given";
  }
  run.tbt_slo_s = slo_s;
  return 0;
}

// ---- against a server ----

int run_url(CapacityArgs a, Run& run) {
  const auto urls = split_list(a.base_urls);
  auto labels = split_list(a.labels);
  if (!labels.empty() && labels.size() != urls.size()) {
    std::fprintf(stderr, "error: --label needs one label per --base-url (%zu vs %zu)\n",
                 labels.size(), urls.size());
    return 2;
  }
  if (labels.empty()) labels = urls;
  const std::string bad = validate_client_options(a.client);
  if (!bad.empty()) {
    std::fprintf(stderr, "error: %s\n", bad.c_str());
    return 2;
  }
  auto specs = workload::make_workload(a.workload);
  if (!specs.ok()) {
    std::fprintf(stderr, "error: %s\n", specs.error().message.c_str());
    return 2;
  }
  const double slo_ms = *parse_slo_ms(a.sched.tbt_slo);
  if (slo_ms < 0 && !(a.decode_step_ms > 0)) {
    std::fprintf(stderr,
                 "error: against a server the TBT SLO must be given: --tbt-slo MS, or "
                 "--decode-step-ms MS for the strict SLO (5 x that decode step)\n");
    return 2;
  }
  engine::Calibration given;
  given.decode_step_s = a.decode_step_ms / 1e3;
  run.tbt_slo_s = slo_ms > 0 ? slo_ms / 1e3 : engine::strict_tbt_slo_s(given);
  run.delay_is_ttft = true;
  run.slo_text = slo_ms > 0
                     ? "given"
                     : fmt::format("strict: 5 x the given {:g} ms decode step", a.decode_step_ms);
  a.client.seed = a.workload.seed;
  print_settings(run);
  const workload::CapacityCriteria criteria{.tbt_slo_s = run.tbt_slo_s,
                                            .max_delay_s = a.max_delay_s};
  for (size_t u = 0; u < urls.size(); ++u) {
    ServeClientOptions client = a.client;
    client.base_url = urls[u];
    // One request first: a server that is down or rejects the requests fails here, at once.
    const ServeRun check = run_serve_load(client, {(*specs)[0]});
    if (!check.outcomes[0].ok) {
      std::fprintf(stderr, "error: %s: %s\n", urls[u].c_str(), check.outcomes[0].error.c_str());
      return 1;
    }
    Curve curve{.label = labels[u]};
    curve.notes.push_back("scheduling delay: TTFT stands in (a client cannot see it)");
    std::printf("server %s (%s) | TBT SLO %.3g ms | delay bound %.2f s (on TTFT)\n",
                labels[u].c_str(), urls[u].c_str(), run.tbt_slo_s * 1e3, a.max_delay_s);
    print_header();
    uint64_t probe_idx = 0;
    auto probe = [&](double rate) -> core::Result<workload::ServingMetrics> {
      workload::WorkloadOptions w = a.workload;
      w.request_rate = rate;
      SARATHI_ASSIGN_OR_RETURN(auto reqs, workload::make_workload(w));
      // The same lengths and arrival pattern at every rate, but new prompt tokens each probe
      // (the check above included): a server's prefix or prompt cache (sarathi's, vLLM's,
      // llama-server's slots) would otherwise find every prompt of a probe cached.
      ServeClientOptions probe_client = client;
      probe_client.seed = client.seed + 0x9e3779b97f4a7c15ULL * ++probe_idx;
      const ServeRun r = run_serve_load(probe_client, reqs);
      const auto lines = timelines(r, reqs);
      const auto m = workload::summarize_serving(lines, r.duration_s, run.tbt_slo_s);
      int shown = 0;
      for (size_t i = 0; i < r.outcomes.size(); ++i)
        if (!r.outcomes[i].ok && shown++ < 2)
          std::fprintf(stderr, "request %zu failed: %s\n", i, r.outcomes[i].error.c_str());
      if (m.num_requests == 0)
        return core::make_error(core::ErrorCode::kIo, "every request failed");
      return m;
    };
    auto res = workload::search_capacity(printing(probe, criteria), criteria, a.search);
    if (!res.ok()) {
      std::fprintf(stderr, "error: %s\n", res.error().message.c_str());
      return 2;
    }
    curve.result = std::move(*res);
    print_capacity(curve);
    run.curves.push_back(std::move(curve));
  }
  run.meta["endpoint"] = a.client.endpoint;
  run.meta["base_urls"] = urls;
  return 0;
}

// ---- output files ----

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  if (!f) {
    std::fprintf(stderr, "error: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Mode and option checks before anything runs; an error message or empty.
std::string check_args(const CapacityArgs& a) {
  const bool in_process = a.model_opt->count() > 0, url = a.url_opt->count() > 0;
  if (in_process && url) return "give -m MODEL (in process) or --base-url URL (a server), not both";
  if (!in_process && !url) return "give -m MODEL (in process) or --base-url URL (a server)";
  for (const auto& [name, opt] : in_process ? a.url_only : a.in_process_only)
    if (opt->count() > 0)
      return fmt::format("{} applies only {}", name, in_process ? "with --base-url" : "with -m");
  if (!parse_slo_ms(a.sched.tbt_slo))
    return fmt::format("--tbt-slo must be 'strict' or milliseconds > 0, not '{}'", a.sched.tbt_slo);
  if (a.decode_step_ms > 0 && a.sched.tbt_slo != "strict")
    return "--decode-step-ms sets the strict SLO; it does not go with --tbt-slo MS";
  if (in_process && split_list(a.policies).empty()) return "--policies names no policy";
  if (in_process) {
    const auto known = sched::policy_names();
    std::string names;
    for (std::string_view k : known) names += (names.empty() ? "" : ", ") + std::string(k);
    for (const std::string& p : split_list(a.policies))
      if (std::find(known.begin(), known.end(), p) == known.end())
        return fmt::format("unknown policy '{}' in --policies; known: {}", p, names);
  }
  if (url && split_list(a.base_urls).empty()) return "--base-url names no URL";
  if (!a.plot_path.empty() && !ends_with(a.plot_path, ".svg") && !ends_with(a.plot_path, ".html"))
    return fmt::format("--plot writes FILE.svg or FILE.html, not '{}'", a.plot_path);
  if (a.search.min_rate > a.search.start_rate) return "--min-rate must not exceed --start-rate";
  return "";
}

int run(const CapacityArgs& a) {
  const std::string bad = check_args(a);
  if (!bad.empty()) {
    std::fprintf(stderr, "error: %s\n", bad.c_str());
    return 2;
  }
  const bool url = a.url_opt->count() > 0;
  CapacityArgs args = a;
  if (args.search.min_rate <= 0) args.search.min_rate = args.search.start_rate / 4;
  Run run;
  run.max_delay_s = a.max_delay_s;
  run.meta = {{"mode", url ? "server" : "in-process"},
              {"num_prompts", a.workload.num_prompts},
              {"input_len", a.workload.input_len},
              {"output_len", a.workload.output_len},
              {"range_ratio", a.workload.range_ratio},
              {"dataset", a.workload.dataset},
              {"seed", a.workload.seed},
              {"start_rate", a.search.start_rate},
              {"tolerance", a.search.rel_tolerance},
              {"max_probes", a.search.max_probes},
              {"min_rate", args.search.min_rate}};
  run.settings.push_back(fmt::format(
      "measured with: {} requests per probe, input {} output {} (range {:.2f}{}), seed {} | "
      "search from {:g} req/s (down to {:g}), tolerance {:g}%, at most {} probes | TBT SLO {} | "
      "median scheduling delay <= {:g} s{}",
      a.workload.num_prompts, a.workload.input_len, a.workload.output_len, a.workload.range_ratio,
      a.workload.dataset.empty() ? "" : ", dataset " + a.workload.dataset, a.workload.seed,
      a.search.start_rate, args.search.min_rate, a.search.rel_tolerance * 100, a.search.max_probes,
      a.sched.tbt_slo == "strict" ? "strict (5 x the one-sequence decode step)"
                                  : a.sched.tbt_slo + " ms",
      a.max_delay_s, url ? " (TTFT as the proxy)" : ""));
  const int rc = url ? run_url(args, run) : run_in_process(args, run);
  if (rc != 0 && run.curves.empty()) return rc;
  std::printf("TBT SLO %.3g ms (%s); capacity (req/s):", run.tbt_slo_s * 1e3, run.slo_text.c_str());
  for (const Curve& c : run.curves) {
    const auto& r = c.result;
    if (!r.error.empty())
      std::printf(" %s error", c.label.c_str());
    else if (r.capacity <= 0)
      std::printf(" %s <%.3g", c.label.c_str(), r.lowest_failing_rate);
    else  // "+": no probed rate failed, so the capacity is at least this
      std::printf(" %s %.3g%s", c.label.c_str(), r.capacity, r.lowest_failing_rate > 0 ? "" : "+");
  }
  std::printf("\n");
  bool ok = rc == 0;
  for (const Curve& c : run.curves) ok = ok && c.result.error.empty();
  if (!a.json_path.empty()) ok = write_file(a.json_path, report_json(run).dump(2) + "\n") && ok;
  if (!a.plot_path.empty()) {
    const std::string title = fmt::format("bench capacity: TBT SLO {:.3g} ms", run.tbt_slo_s * 1e3);
    const std::string svg = render_svg(run, title);
    ok = write_file(a.plot_path,
                    ends_with(a.plot_path, ".html") ? render_html(run, svg, title) : svg) &&
         ok;
  }
  return ok ? 0 : 1;
}

}  // namespace

Runner add_bench_capacity(CLI::App& bench) {
  auto a = std::make_shared<CapacityArgs>();
  CLI::App* cmd = bench.add_subcommand(
      "capacity",
      "Sarathi-Serve's capacity: the highest Poisson request rate at which P99 TBT <= the TBT "
      "SLO and the median scheduling delay (arrival to first scheduled) <= --max-delay. Each "
      "probe runs --num-prompts requests at one rate in real time; the rate doubles (or halves) "
      "from --start-rate until the outcome flips, then bisects to --tolerance. In process (-m "
      "MODEL): each policy of --policies on the same model, a fresh engine per probe. Against "
      "a server (--base-url URL): bench serve's streaming client, TTFT standing in for the "
      "scheduling delay. Output lengths are honoured exactly (ignore_eos; --no-ignore-eos against "
      "a "
      "server lets them end early).");
  a->model_opt = cmd->add_option("-m,--model", a->model.model,
                                 "In process: GGUF file or synthetic:<shape>[:<dtype>] (as bench "
                                 "throughput)");
  cmd->add_option("-t,--threads", a->model.threads, "Threads; 0 = all cores")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  cmd->add_option("-c,--ctx-size", a->model.ctx_size, "Context length; 0 = the model's")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 24));
  cmd->add_option("--kv-type", a->model.kv_type, "KV cache element type: f16, f32 or q8_0")
      ->capture_default_str();
  cmd->add_option("--dtype", a->model.dtype,
                  "Float weight matrices: auto, float32, float16 or bfloat16 (as bench throughput)")
      ->capture_default_str();
  a->sched.tbt_slo = "strict";
  add_sched_options(*cmd, a->sched, false);
  // The shared --tbt-slo, with what it means here (it is also the pass criterion, so never off).
  cmd->get_option("--tbt-slo")
      ->description(
          "TBT SLO: milliseconds, or strict = 5x the one-sequence decode step (Sarathi-Serve's; "
          "measured by calibration in process, --decode-step-ms against a server). A probe "
          "passes when its P99 TBT is within it. In process sarathi-serve and sarathi cut "
          "their chunks to it (from a step-cost model calibrated once per policy and refined "
          "from every step) unless --token-budget fixes the budget")
      ->capture_default_str();
  auto* policies = cmd->add_option("--policies", a->policies, "In process: policies to compare")
                       ->capture_default_str();
  a->url_opt = cmd->add_option("--base-url", a->base_urls,
                               "Against servers: OpenAI-compatible URL(s), comma-separated, one "
                               "curve each");
  auto* label = cmd->add_option("--label", a->labels,
                                "Against servers: curve label(s), one per URL (default the URL)");
  auto* endpoint = cmd->add_option("--endpoint", a->client.endpoint,
                                   "Against servers: completions, chat, or a path")
                       ->capture_default_str();
  auto* served = cmd->add_option("--served-model-name", a->client.model,
                                 "Against servers: the model name to send (default none)");
  auto* key = cmd->add_option("--api-key", a->client.api_key, "Against servers: bearer token");
  auto* format = cmd->add_option("--prompt-format", a->client.prompt_format,
                                 "Against servers: token-ids (completions default) or text");
  auto* conc = cmd->add_option("--max-concurrency", a->client.max_concurrency,
                               "Against servers: requests in flight at most (0: any)")
                   ->check(CLI::Range(0, 1 << 20));
  auto* eos = cmd->add_flag("!--no-ignore-eos", a->client.ignore_eos,
                            "Against servers: do not send ignore_eos (outputs may end early)");
  auto* step = cmd->add_option("--decode-step-ms", a->decode_step_ms,
                               "Against servers: the one-sequence decode step, for the strict "
                               "SLO (5 x this)")
                   ->check(CLI::PositiveNumber);
  cmd->add_option("--max-delay", a->max_delay_s,
                  "Bound on the median scheduling delay (s; TTFT against a server)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  auto& w = a->workload;
  cmd->add_option("--num-prompts", w.num_prompts, "Requests per probe")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--input-len", w.input_len, "Prompt tokens")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--output-len", w.output_len, "Output tokens")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--range-ratio", w.range_ratio, "Lengths uniform in len*(1 +- ratio)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.99));
  cmd->add_option("--dataset", w.dataset, "CSV of input_len,output_len pairs (overrides lengths)");
  cmd->add_option("--seed", w.seed,
                  "Workload and prompt seed (the same lengths and arrival pattern at every rate; "
                  "against servers, new prompt tokens at each probe so no cache finds them)")
      ->capture_default_str();
  auto& s = a->search;
  cmd->add_option("--start-rate", s.start_rate, "First probe's request rate (req/s)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--min-rate", s.min_rate,
                  "Halving gives up below this rate, capacity 0 (0: start rate / 4; a probe "
                  "lasts about num-prompts / rate seconds)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--tolerance", s.rel_tolerance,
                  "Relative gap between the passing and the failing rate to stop at")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 0.9));
  cmd->add_option("--max-probes", s.max_probes, "Probes per policy or server at most")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  cmd->add_option("--json", a->json_path, "Write every probe and the capacities as JSON");
  cmd->add_option("--plot", a->plot_path,
                  "Write FILE.svg (P99 TBT and median TTFT against the rate, one curve per "
                  "policy/server, the SLO line) or FILE.html (that plot and the tables)");
  a->in_process_only = {{"--policies", policies}};
  for (const char* name :
       {"--threads", "--ctx-size", "--kv-type", "--dtype", "--max-num-seqs", "--chunk-size",
        "--token-budget", "--min-chunk", "--tile-size", "--block-size", "--max-model-len",
        "--kv-cache-memory", "--num-kv-blocks", "--watermark"})
    a->in_process_only.emplace_back(name, cmd->get_option(name));
  a->url_only = {
      {"--label", label},       {"--endpoint", endpoint},    {"--served-model-name", served},
      {"--api-key", key},       {"--prompt-format", format}, {"--max-concurrency", conc},
      {"--no-ignore-eos", eos}, {"--decode-step-ms", step}};
  return [a] { return run(*a); };
}

}  // namespace sarathi::cli
