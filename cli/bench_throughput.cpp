// `sarathi bench throughput`: the offline policy benchmark. The same requests run under each
// policy on the same model; one table compares prefill, decode and end-to-end throughput,
// TTFT, TBT, preemptions and steps, a second one each pipeline stage's busy time and bubbles
// (under mpirun with --pipeline-parallel-size N, one stage per rank).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/pipeline.h"
#include "engine/engine.h"
#include "kernels/kernels.h"
#include "workload/workload.h"

namespace sarathi::cli {
namespace {

struct ThroughputArgs {
  ModelArgs model;
  SchedArgs sched;
  std::string policies = "vllm,sarathi-serve";
  workload::WorkloadOptions workload;
  std::string json_path;
  std::string step_trace_path;
  int32_t prefix_len = 0;  // random tokens every prompt starts with (vLLM's --prefix-len)
};

// Cost of a prefill chunk run alone, interpolated from measured points (the "chunk alone" part
// of a hybrid step's time, as in the paper's accounting).
class PrefillCost {
 public:
  void measure(engine::Executor& exec, int32_t max_tokens, int32_t block_size) {
    std::mt19937 rng(9);
    for (int32_t c = 1;; c = std::min(c * 2, max_tokens)) {
      std::vector<int32_t> toks(static_cast<size_t>(c));
      for (auto& t : toks) t = 3 + static_cast<int32_t>(rng() % 200);
      std::vector<int32_t> table(static_cast<size_t>((c + block_size - 1) / block_size));
      for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>(i);
      const engine::ExecSeq s{toks, 0, table, true};
      std::vector<double> t;
      for (int r = 0; r < 3; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        (void)exec.run(std::span(&s, 1));
        t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      points_[c] = median(t);
      if (c >= max_tokens) break;
    }
  }
  double operator()(int32_t tokens) const {
    auto hi = points_.lower_bound(tokens);
    if (hi == points_.end()) return std::prev(hi)->second * tokens / std::prev(hi)->first;
    if (hi->first == tokens || hi == points_.begin()) return hi->second;
    auto lo = std::prev(hi);
    const double f = double(tokens - lo->first) / double(hi->first - lo->first);
    return lo->second + f * (hi->second - lo->second);
  }

 private:
  std::map<int32_t, double> points_;
};

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

// One pipeline stage's times over a run (sums over its micro-batches).
struct StageSum {
  double compute_s = 0, transfer_s = 0, idle_s = 0;
};

struct PolicyResult {
  std::vector<engine::StepStats> step_stats;
  std::vector<StageSum> stages;  // [stages]
  // 1 - compute / makespan: per stage, and over all stages together.
  std::vector<double> stage_bubble;
  double bubble = 0;
  std::string policy;
  double prefill_tps = 0, decode_tps = 0, e2e_tps = 0, makespan_s = 0;
  Summary ttft, tbt;
  int64_t preemptions = 0, steps = 0;
  int64_t prefill_tokens = 0;                           // prompt tokens computed
  int64_t prefix_queries = 0, prefix_hits = 0;          // prefix cache, in prompt tokens
};

core::Result<PolicyResult> run_policy(const model::LlamaModel& m, sched::SchedulerConfig cfg,
                                      const std::vector<workload::RequestSpec>& reqs,
                                      const std::vector<std::vector<int32_t>>& prompts,
                                      const ThroughputArgs& a, core::DType kv, double& slo_s) {
  // A session of the pipeline under pipeline parallelism (a fresh KV cache on every stage).
  SARATHI_ASSIGN_OR_RETURN(auto exec, make_executor(m, {.num_blocks = cfg.num_kv_blocks,
                                                        .block_size = cfg.block_size, .dtype = kv},
                                                    a.model.threads));
  engine::EngineOptions eo{.sched = cfg, .keep_finished = true};
  if (slo_s != 0 && (cfg.policy == "sarathi-serve" || cfg.policy == "sarathi")) {
    SARATHI_ASSIGN_OR_RETURN(engine::Calibration cal,
                             engine::calibrate_slo(*exec, eo.sched, slo_s));
    slo_s = eo.sched.tbt_slo_s;  // a strict SLO is resolved once, for every later policy
    std::printf("%s: %s\n", cfg.policy.c_str(), engine::describe_slo(cal, eo.sched).c_str());
    eo.cost_fitter = std::move(cal.fitter);
  }
  PrefillCost cost;
  // No step's chunk is longer than the longest prompt: measuring up to the budget alone would
  // time 40k-token prefills on a model with a long trained context (vllm's budget is
  // max(2048, max_model_len)).
  size_t longest = 1;
  for (const auto& p : prompts) longest = std::max(longest, p.size());
  const int32_t most = std::min({sched::token_budget(eo.sched), cfg.max_model_len,
                                 static_cast<int32_t>(longest)});
  cost.measure(*exec, eo.sched.tbt_slo_s > 0 ? std::min(most, 512) : most, cfg.block_size);
  SARATHI_ASSIGN_OR_RETURN(auto eng, engine::Engine::create(*exec, &m.tokenizer(), eo));
  std::vector<engine::StepStats> steps;
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
      SARATHI_RETURN_IF_ERROR(eng->add_request(prompts[next], p, nullptr));
      ++next;
    }
    if (!eng->has_work()) {
      std::this_thread::sleep_for(std::chrono::duration<double>(reqs[next].arrival_s - t));
      continue;
    }
    SARATHI_ASSIGN_OR_RETURN(engine::StepStats st, eng->step());
    if (st.num_seqs > 0) steps.push_back(std::move(st));
  }
  PolicyResult r;
  r.policy = cfg.policy;
  double prefill_s = 0, decode_s = 0, end = t0;
  int64_t prefill_tokens = 0, decode_tokens = 0;
  for (const auto& s : steps) {
    double chunk_alone = 0;
    for (int32_t c : s.prefill_chunk_lens) chunk_alone += cost(c);
    const double p = s.num_decode_tokens == 0 ? s.duration_s
                     : s.num_prefill_tokens == 0 ? 0.0 : std::min(s.duration_s, chunk_alone);
    prefill_s += p;
    decode_s += s.duration_s - p;
    prefill_tokens += s.num_prefill_tokens;
    decode_tokens += s.num_decode_tokens;
  }
  std::vector<double> ttft, tbt;
  int64_t all_tokens = 0;
  for (const auto& rec : eng->finished()) {
    end = std::max(end, rec.times.finish);
    ttft.push_back(rec.times.first_token - rec.times.arrival);
    for (size_t i = 1; i < rec.times.token_times.size(); ++i)
      tbt.push_back(rec.times.token_times[i] - rec.times.token_times[i - 1]);
    all_tokens += rec.num_prompt_tokens + static_cast<int64_t>(rec.output.size());
  }
  r.makespan_s = end - t0;
  r.prefill_tps = prefill_s > 0 ? double(prefill_tokens) / prefill_s : 0;
  r.decode_tps = decode_s > 0 ? double(decode_tokens) / decode_s : 0;
  r.e2e_tps = r.makespan_s > 0 ? double(all_tokens) / r.makespan_s : 0;
  r.ttft = summarize(ttft);
  r.tbt = summarize(tbt);
  r.preemptions = eng->scheduler().num_preemptions();
  r.steps = static_cast<int64_t>(steps.size());
  r.prefill_tokens = prefill_tokens;
  r.prefix_queries = eng->scheduler().prefix_cache_queries();
  r.prefix_hits = eng->scheduler().prefix_cache_hits();
  // Bubbles: the share of the makespan a stage did not compute (waiting for its inputs, the
  // pipeline filling and draining, and on stage 0 also scheduling and sampling).
  const size_t num_stages = static_cast<size_t>(exec->max_in_flight());
  r.stages.assign(num_stages, StageSum{});
  for (const auto& st : steps)
    for (size_t i = 0; i < std::min(num_stages, st.stages.size()); ++i) {
      r.stages[i].compute_s += st.stages[i].compute_s;
      r.stages[i].transfer_s += st.stages[i].transfer_s;
      r.stages[i].idle_s += st.stages[i].idle_s;
    }
  double all_compute = 0;
  for (const StageSum& sum : r.stages) {
    all_compute += sum.compute_s;
    r.stage_bubble.push_back(r.makespan_s > 0 ? 1.0 - sum.compute_s / r.makespan_s : 0.0);
  }
  r.bubble = r.makespan_s > 0
                 ? 1.0 - all_compute / (r.makespan_s * static_cast<double>(num_stages))
                 : 0.0;
  r.step_stats = std::move(steps);
  return r;
}

std::string join_times(const std::vector<engine::StageTime>& stages,
                       double engine::StageTime::*field) {
  std::string out;
  for (const engine::StageTime& t : stages) out += fmt::format("{}{:.6f}", out.empty() ? "" : ";", t.*field);
  return out;
}

nlohmann::json to_json(const Summary& s) {
  return {{"mean", s.mean}, {"p50", s.p50}, {"p99", s.p99}, {"max", s.max}};
}

// Each stage's compute time and bubble fraction, per policy (one stage without pipeline
// parallelism: then the bubble is the engine's own time, scheduling and sampling).
void print_stage_table(const std::vector<PolicyResult>& results) {
  if (results.empty()) return;
  const size_t n = results[0].stages.size();
  std::printf("\nstage times: bubble = 1 - compute / makespan (all stages: 1 - sum of compute / "
              "(%zu x makespan))\n",
              n);
  std::printf("%-14s %9s %10s %7s", "policy", "makespan", "e2e/s", "bubble");
  for (size_t i = 0; i < n; ++i) std::printf(" | s%zu compute  xfer  bubble", i);
  std::printf("\n");
  for (const PolicyResult& r : results) {
    std::printf("%-14s %8.2fs %10.1f %6.1f%%", r.policy.c_str(), r.makespan_s, r.e2e_tps,
                r.bubble * 100);
    for (size_t i = 0; i < r.stages.size(); ++i)
      std::printf(" | %9.2fs %5.2fs %6.1f%%", r.stages[i].compute_s, r.stages[i].transfer_s,
                  r.stage_bubble[i] * 100);
    std::printf("\n");
  }
  std::fflush(stdout);
}

int run(const ThroughputArgs& a) {
  const auto kv = kv_dtype(a.model);
  if (!kv) return 2;
  auto reqs = workload::make_workload(a.workload);
  if (!reqs.ok()) {
    std::fprintf(stderr, "error: %s\n", reqs.error().message.c_str());
    return 2;
  }
  const auto m = load_model(a.model);
  if (!m) return 1;
  auto base = sched_config(a.sched, m->config(), *kv);
  if (!base) return 2;
  const auto slo_request = tbt_slo_request(a.sched);
  if (!slo_request) return 2;
  double slo_s = *slo_request;
  // Random prompt tokens (vLLM's random dataset), the same for every policy: the shared prefix,
  // then each request's own input_len tokens.
  std::mt19937 rng(static_cast<uint32_t>(a.workload.seed));
  const auto random_token = [&] {
    return 3 + static_cast<int32_t>(rng() % static_cast<uint32_t>(m->config().n_vocab - 3));
  };
  std::vector<int32_t> prefix(static_cast<size_t>(a.prefix_len));
  for (auto& t : prefix) t = random_token();
  std::vector<std::vector<int32_t>> prompts;
  for (auto& r : *reqs) {
    r.input_len += a.prefix_len;
    if (r.input_len + r.output_len > base->max_model_len) {
      std::fprintf(stderr, "error: a request needs %d tokens; --max-model-len is %d\n",
                   r.input_len + r.output_len, base->max_model_len);
      return 2;
    }
    std::vector<int32_t> p = prefix;
    while (p.size() < static_cast<size_t>(r.input_len)) p.push_back(random_token());
    prompts.push_back(std::move(p));
  }
  std::vector<std::string> policies;
  std::stringstream ss(a.policies);
  for (std::string p; std::getline(ss, p, ',');)
    if (!p.empty()) policies.push_back(p);

  std::printf("model %s | %zu requests, input %s%d output %d (range %.2f), rate %s | KV %d "
              "blocks of %d, prefix caching %s | kernels %s\n",
              m->config().name.c_str(), reqs->size(),
              a.prefix_len > 0 ? fmt::format("{} shared + ", a.prefix_len).c_str() : "",
              a.workload.input_len, a.workload.output_len, a.workload.range_ratio,
              std::isfinite(a.workload.request_rate) ? fmt::format("{}/s", a.workload.request_rate).c_str() : "inf",
              base->num_kv_blocks, base->block_size, base->enable_prefix_caching ? "on" : "off",
              std::string(kernels::isa_name(kernels::active_isa())).c_str());
  std::printf("%-14s %10s %10s %10s | %8s %8s %8s | %8s %8s %8s %8s | %6s %6s | %9s %5s\n",
              "policy", "prefill/s", "decode/s", "e2e/s", "TTFT avg", "p50", "p99", "TBT avg",
              "p50", "p99", "max", "preempt", "steps", "prefilled", "hit%");
  nlohmann::json out = {{"model", m->config().name}, {"policies", nlohmann::json::array()}};
  std::ofstream trace;
  if (!a.step_trace_path.empty()) {
    trace.open(a.step_trace_path);
    trace << "policy,step,start_s,num_seqs,prefill_tokens,decode_tokens,predicted_s,duration_s,"
             "step_target_s,stage_compute_s,stage_idle_s\n";
  }
  std::vector<PolicyResult> results;
  for (const std::string& p : policies) {
    sched::SchedulerConfig cfg = *base;
    cfg.policy = p;
    // A budget below the model length suits the chunked policies only; the whole-prompt ones
    // (static, orca, vllm) then run with their own default.
    if (p != "sarathi" && p != "sarathi-serve" && cfg.max_num_batched_tokens > 0 &&
        cfg.max_num_batched_tokens < cfg.max_model_len)
      cfg.max_num_batched_tokens = 0;
    auto r = run_policy(*m, cfg, *reqs, prompts, a, *kv, slo_s);
    if (!r.ok()) {
      std::fprintf(stderr, "error: policy %s: %s\n", p.c_str(), r.error().message.c_str());
      return 1;
    }
    const double hit_rate =
        r->prefix_queries > 0 ? double(r->prefix_hits) / double(r->prefix_queries) : 0.0;
    std::printf("%-14s %10.1f %10.1f %10.1f | %7.3fs %7.3fs %7.3fs | %6.1fms %6.1fms %6.1fms "
                "%6.1fms | %6lld %6lld | %9lld %5.1f\n",
                p.c_str(), r->prefill_tps, r->decode_tps, r->e2e_tps, r->ttft.mean, r->ttft.p50,
                r->ttft.p99, r->tbt.mean * 1e3, r->tbt.p50 * 1e3, r->tbt.p99 * 1e3, r->tbt.max * 1e3,
                static_cast<long long>(r->preemptions), static_cast<long long>(r->steps),
                static_cast<long long>(r->prefill_tokens), hit_rate * 100);
    std::fflush(stdout);
    for (const engine::StepStats& st : r->step_stats)
      trace << fmt::format("{},{},{:.6f},{},{},{},{:.6f},{:.6f},{:.6f},{},{}\n", p, st.step,
                           st.start, st.num_seqs, st.num_prefill_tokens, st.num_decode_tokens,
                           st.predicted_s, st.duration_s, st.step_target_s,
                           join_times(st.stages, &engine::StageTime::compute_s),
                           join_times(st.stages, &engine::StageTime::idle_s));
    nlohmann::json stages = nlohmann::json::array();
    for (size_t i = 0; i < r->stages.size(); ++i)
      stages.push_back({{"stage", i}, {"compute_s", r->stages[i].compute_s},
                        {"transfer_s", r->stages[i].transfer_s},
                        {"idle_s", r->stages[i].idle_s},
                        {"bubble_fraction", r->stage_bubble[i]}});
    out["policies"].push_back({{"policy", p}, {"prefill_tokens_per_s", r->prefill_tps},
                               {"decode_tokens_per_s", r->decode_tps},
                               {"e2e_tokens_per_s", r->e2e_tps}, {"makespan_s", r->makespan_s},
                               {"ttft_s", to_json(r->ttft)}, {"tbt_s", to_json(r->tbt)},
                               {"preemptions", r->preemptions}, {"steps", r->steps},
                               {"prefill_tokens_computed", r->prefill_tokens},
                               {"prefix_cache_queries", r->prefix_queries},
                               {"prefix_cache_hits", r->prefix_hits},
                               {"prefix_cache_hit_rate", hit_rate},
                               {"pipeline_stages", r->stages.size()},
                               {"bubble_fraction", r->bubble},
                               {"stages", std::move(stages)}});
    r->step_stats.clear();
    results.push_back(std::move(*r));
  }
  print_stage_table(results);
  if (trace.is_open() && !trace.flush()) {
    std::fprintf(stderr, "error: cannot write %s\n", a.step_trace_path.c_str());
    return 1;
  }
  if (!a.json_path.empty()) {
    std::ofstream f(a.json_path);
    f << out.dump(2) << "\n";
    if (!f) {
      std::fprintf(stderr, "error: cannot write %s\n", a.json_path.c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace

Runner add_bench_throughput(CLI::App& bench) {
  auto args = std::make_shared<ThroughputArgs>();
  CLI::App* cmd = bench.add_subcommand(
      "throughput",
      "Offline policy benchmark: the same requests under each policy on the same model.\n"
      "Throughput accounting (as in the SARATHI paper): a prefill-only step counts as prefill "
      "time, a decode-only step as decode time; in a hybrid step the prefill part is charged "
      "what the same chunk(s) cost alone (measured before each run) and the decodes the rest. "
      "End-to-end throughput is all tokens (prompt + output) over the makespan. Output lengths "
      "are honoured exactly (ignore_eos).");
  add_model_options(*cmd, args->model);
  add_pipeline_option(*cmd, args->model.pipeline_parallel_size);
  add_sched_options(*cmd, args->sched, false);
  cmd->add_option("--policies", args->policies, "Comma-separated policies to compare")
      ->capture_default_str();
  auto& w = args->workload;
  cmd->add_option("--num-prompts", w.num_prompts, "Requests")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--input-len", w.input_len, "Prompt tokens")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--output-len", w.output_len, "Output tokens")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--range-ratio", w.range_ratio, "Lengths uniform in len*(1 +- ratio)")
      ->capture_default_str()->check(CLI::Range(0.0, 0.99));
  cmd->add_option("--prefix-len", args->prefix_len,
                  "Random tokens every prompt starts with, before its own input (a shared system "
                  "prompt, for prefix caching: the table's 'prefilled' column counts the prompt "
                  "tokens computed, 'hit%' the share found cached)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--dataset", w.dataset, "CSV of input_len,output_len pairs (overrides lengths)");
  cmd->add_option("--request-rate", w.request_rate,
                  "Poisson arrival rate in requests/s; inf = all at t=0")->capture_default_str();
  cmd->add_option("--seed", w.seed, "Workload and prompt seed")->capture_default_str();
  cmd->add_option("--json", args->json_path, "Also write the results as JSON to this path");
  cmd->add_option("--step-trace", args->step_trace_path,
                  "Write every step as CSV (policy, step, start, sequences, prefill and decode "
                  "tokens, predicted and measured seconds, SLO step target)");
  return [args] {
    return run_pipelined(args->model.pipeline_parallel_size, [&] { return run(*args); });
  };
}

}  // namespace sarathi::cli
