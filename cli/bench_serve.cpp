// `sarathi bench serve`: a load generator for any OpenAI-compatible server, in the style of
// `vllm bench serve`. Requests arrive as a Poisson process (or all at once), every one streams
// (SSE), and all figures are measured on the client: request and token throughput, goodput
// under TTFT/TBT SLOs, TTFT, TPOT, ITL and end-to-end latency (mean, median, p99), and Etalon's
// fluidity-index under a TBT deadline (workload/serving_metrics.h). The client itself is
// cli/serve_client.h (shared with `bench capacity --base-url`).
//
// Prompts: for --endpoint completions, random token ids in [100, 250) (valid in every
// vocabulary; exact lengths on any server that takes token-id prompts: vLLM, llama-server,
// sarathi); with --prompt-format text, or for chat, random common English words, one per
// requested token (about one token each on BPE/SentencePiece vocabularies; a byte-level
// vocabulary counts characters instead). The server's usage chunk gives the exact counts.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/serve_client.h"
#include "workload/serving_metrics.h"
#include "workload/workload.h"

namespace sarathi::cli {
namespace {

struct BenchServeArgs {
  ServeClientOptions client;
  workload::WorkloadOptions workload{.num_prompts = 100, .input_len = 128, .output_len = 64};
  double slo_ttft_ms = 0, slo_tbt_ms = 0;
  double fluidity_slo_ms = 0;  // the fluidity-index's TBT deadline; 0: --slo-tbt's
  std::string json_path;
};

struct Stat {
  double mean = 0, median = 0, p99 = 0, max = 0;
};
Stat stat_ms(const std::vector<double>& v) {
  Stat s;
  if (v.empty()) return s;
  for (double x : v) {
    s.mean += x;
    s.max = std::max(s.max, x * 1000);
  }
  s.mean = s.mean / static_cast<double>(v.size()) * 1000;
  s.median = median(v) * 1000;
  s.p99 = percentile(v, 99) * 1000;
  return s;
}

int run_bench_serve(BenchServeArgs a) {
  const std::string bad = validate_client_options(a.client);
  if (!bad.empty()) {
    std::fprintf(stderr, "error: %s\n", bad.c_str());
    return 2;
  }
  if (a.slo_ttft_ms < 0 || a.slo_tbt_ms < 0 || a.fluidity_slo_ms < 0) {
    std::fprintf(stderr, "error: --slo-ttft, --slo-tbt and --fluidity-slo-ms must be >= 0\n");
    return 2;
  }
  auto specs = workload::make_workload(a.workload);
  if (!specs.ok()) {
    std::fprintf(stderr, "error: %s\n", specs.error().message.c_str());
    return 2;
  }
  a.client.seed = a.workload.seed;
  const auto cache_before = scrape_prefix_cache(a.client);
  const ServeRun run = run_serve_load(a.client, *specs);
  const auto cache_after = scrape_prefix_cache(a.client);
  const std::string& path = run.path;
  const std::vector<ServeOutcome>& outcomes = run.outcomes;
  const double duration = run.duration_s;
  const double fluidity_s = (a.fluidity_slo_ms > 0 ? a.fluidity_slo_ms : a.slo_tbt_ms) / 1e3;
  workload::DeadlineCount deadlines;

  int64_t completed = 0, failed = 0, in_tokens = 0, out_tokens = 0, good = 0;
  std::vector<double> ttft, tpot, itl, e2el;
  std::vector<std::vector<double>> turn_ttft(static_cast<size_t>(a.client.num_turns));
  std::vector<std::vector<double>> turn_prompt(static_cast<size_t>(a.client.num_turns));
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const ServeOutcome& o = outcomes[i];
    if (!o.ok) {
      if (failed++ < 3) std::fprintf(stderr, "request %zu failed: %s\n", i, o.error.c_str());
      continue;
    }
    ++completed;
    const int64_t prompt_tokens =
        o.prompt_tokens > 0 ? o.prompt_tokens : (*specs)[static_cast<size_t>(o.spec_idx)].input_len;
    in_tokens += prompt_tokens;
    turn_ttft[static_cast<size_t>(o.turn)].push_back(o.ttft);
    turn_prompt[static_cast<size_t>(o.turn)].push_back(static_cast<double>(prompt_tokens));
    out_tokens += o.output_tokens;
    ttft.push_back(o.ttft);
    e2el.push_back(o.e2el);
    itl.insert(itl.end(), o.itl.begin(), o.itl.end());
    if (fluidity_s > 0) deadlines += workload::count_deadlines_from_gaps(o.itl, fluidity_s);
    const double req_tpot =
        o.output_tokens > 1 ? (o.e2el - o.ttft) / static_cast<double>(o.output_tokens - 1) : 0;
    if (o.output_tokens > 1) tpot.push_back(req_tpot);
    const bool ttft_ok = a.slo_ttft_ms <= 0 || o.ttft * 1000 <= a.slo_ttft_ms;
    const bool tbt_ok = a.slo_tbt_ms <= 0 || req_tpot * 1000 <= a.slo_tbt_ms;
    if (ttft_ok && tbt_ok) ++good;
  }
  const auto per_s = [&](double x) { return duration > 0 ? x / duration : 0.0; };
  nlohmann::ordered_json j = {
      {"endpoint", path},
      {"num_prompts", a.workload.num_prompts},
      {"num_turns", a.client.num_turns},
      {"request_rate", std::isinf(a.workload.request_rate)
                           ? nlohmann::json("inf")
                           : nlohmann::json(a.workload.request_rate)},
      {"max_concurrency", a.client.max_concurrency},
      {"duration", duration},
      {"completed", completed},
      {"failed", failed},
      {"total_input_tokens", in_tokens},
      {"total_output_tokens", out_tokens},
      {"request_throughput", per_s(static_cast<double>(completed))},
      {"request_goodput", per_s(static_cast<double>(good))},
      {"output_throughput", per_s(static_cast<double>(out_tokens))},
      {"total_token_throughput", per_s(static_cast<double>(in_tokens + out_tokens))},
      {"fluidity_slo_ms", fluidity_s * 1e3},
      {"fluidity_index",
       fluidity_s > 0 ? nlohmann::json(deadlines.fluidity_index()) : nlohmann::json(nullptr)}};
  std::printf("============ Serving Benchmark Result ============\n");
  std::printf("%-40s %d\n", "Successful requests:", static_cast<int>(completed));
  std::printf("%-40s %d\n", "Failed requests:", static_cast<int>(failed));
  std::printf("%-40s %.2f\n", "Benchmark duration (s):", duration);
  std::printf("%-40s %lld\n", "Total input tokens:", static_cast<long long>(in_tokens));
  std::printf("%-40s %lld\n", "Total generated tokens:", static_cast<long long>(out_tokens));
  std::printf("%-40s %.2f\n", "Request throughput (req/s):", per_s(double(completed)));
  if (a.slo_ttft_ms > 0 || a.slo_tbt_ms > 0)
    std::printf("%-40s %.2f\n", "Request goodput (req/s):", per_s(double(good)));
  std::printf("%-40s %.2f\n", "Output token throughput (tok/s):", per_s(double(out_tokens)));
  std::printf("%-40s %.2f\n",
              "Total token throughput (tok/s):", per_s(double(in_tokens + out_tokens)));
  const std::pair<const char*, const std::vector<double>*> metrics[] = {
      {"ttft", &ttft}, {"tpot", &tpot}, {"itl", &itl}, {"e2el", &e2el}};
  for (const auto& [name, v] : metrics) {
    const Stat s = stat_ms(*v);
    j[fmt::format("mean_{}_ms", name)] = s.mean;
    j[fmt::format("median_{}_ms", name)] = s.median;
    j[fmt::format("p99_{}_ms", name)] = s.p99;
    j[fmt::format("max_{}_ms", name)] = s.max;
    std::printf("%-40s %.2f / %.2f / %.2f / %.2f\n",
                fmt::format("{} mean / median / p99 / max (ms):", name).c_str(), s.mean, s.median,
                s.p99, s.max);
  }
  if (fluidity_s > 0)
    std::printf("%-40s %.4f\n",
                fmt::format("Fluidity-index (deadline {:g} ms):", fluidity_s * 1e3).c_str(),
                deadlines.fluidity_index());
  // The server's prefix cache over this run (where its /metrics has vLLM's counters).
  if (cache_before && cache_after) {
    const double queries = cache_after->queries - cache_before->queries;
    const double hits = cache_after->hits - cache_before->hits;
    const double rate = queries > 0 ? hits / queries : 0.0;
    j["prefix_cache_queries"] = queries;
    j["prefix_cache_hits"] = hits;
    j["prefix_cache_hit_rate"] = rate;
    std::printf("%-40s %.4f (%.0f of %.0f prompt tokens)\n", "Prefix cache hit rate:", rate, hits,
                queries);
  }
  if (a.client.num_turns > 1) {
    nlohmann::ordered_json per_turn = nlohmann::json::array();
    std::printf("%-6s %10s %14s %14s %14s\n", "turn", "requests", "prompt tokens",
                "TTFT mean ms", "TTFT median ms");
    for (size_t k = 0; k < turn_ttft.size(); ++k) {
      const Stat s = stat_ms(turn_ttft[k]);
      double prompt_mean = 0;
      for (double n : turn_prompt[k]) prompt_mean += n / static_cast<double>(turn_prompt[k].size());
      std::printf("%-6zu %10zu %14.0f %14.2f %14.2f\n", k + 1, turn_ttft[k].size(), prompt_mean,
                  s.mean, s.median);
      per_turn.push_back({{"turn", k + 1},
                          {"completed", turn_ttft[k].size()},
                          {"mean_prompt_tokens", prompt_mean},
                          {"mean_ttft_ms", s.mean},
                          {"median_ttft_ms", s.median},
                          {"p99_ttft_ms", s.p99}});
    }
    j["turns"] = per_turn;
  }
  std::printf("==================================================\n");
  if (!a.json_path.empty()) {
    std::ofstream f(a.json_path);
    f << j.dump(2) << "\n";
    if (!f) {
      std::fprintf(stderr, "error: cannot write %s\n", a.json_path.c_str());
      return 1;
    }
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

Runner add_bench_serve(CLI::App& bench) {
  auto a = std::make_shared<BenchServeArgs>();
  CLI::App* cmd = bench.add_subcommand(
      "serve", "Load-test an OpenAI-compatible server (streaming; client-side figures)");
  cmd->add_option("--base-url", a->client.base_url, "Server URL")->capture_default_str();
  cmd->add_option("--endpoint", a->client.endpoint, "completions, chat, or a path")
      ->capture_default_str();
  cmd->add_option("--model", a->client.model, "Model name to send (default: none; the server's)");
  cmd->add_option("--api-key", a->client.api_key, "Bearer token")->envname("OPENAI_API_KEY");
  cmd->add_option("--prompt-format", a->client.prompt_format,
                  "token-ids (completions default: exact lengths) or text (random common words)");
  cmd->add_option("--num-prompts", a->workload.num_prompts, "Requests to send")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--request-rate", a->workload.request_rate,
                  "Requests per second (Poisson arrivals); inf = all at once")
      ->capture_default_str();
  cmd->add_option("--max-concurrency", a->client.max_concurrency,
                  "Requests in flight at most (0: any)")
      ->capture_default_str();
  cmd->add_option("--random-input-len", a->workload.input_len, "Prompt tokens")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--random-output-len", a->workload.output_len, "Tokens to generate (max_tokens)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--random-range-ratio", a->workload.range_ratio,
                  "Lengths uniform in [len*(1-r), len*(1+r)]")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--random-prefix-len", a->client.prefix_len,
                  "Tokens (words) every prompt starts with before its own random input, as "
                  "vLLM's: a shared system prompt for the server's prefix cache")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 24));
  cmd->add_option("--multi-turn", a->client.num_turns,
                  "Turns per conversation: each request opens a conversation whose later turns "
                  "resend the whole history (prompts and replies) plus a new user message, sent "
                  "when the previous reply ends; TTFT is reported per turn (text prompts only)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--multi-turn-input-len", a->client.turn_input_len,
                  "New user tokens (words) of each turn after the first (default: "
                  "--random-input-len)")
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--dataset", a->workload.dataset, "CSV of input_len,output_len rows");
  cmd->add_flag("--ignore-eos", a->client.ignore_eos,
                "Send ignore_eos (generate exactly max_tokens)");
  cmd->add_option("--seed", a->workload.seed, "Seed for arrivals, lengths and prompts")
      ->capture_default_str();
  cmd->add_option("--slo-ttft", a->slo_ttft_ms, "Goodput SLO on time to first token (ms)");
  cmd->add_option("--slo-tbt", a->slo_tbt_ms,
                  "Goodput SLO on time between tokens, per request mean (TPOT, ms); also the "
                  "fluidity-index's deadline unless --fluidity-slo-ms is given");
  cmd->add_option("--fluidity-slo-ms", a->fluidity_slo_ms,
                  "TBT deadline (ms) of Etalon's fluidity-index: the fraction of token deadlines "
                  "met: each token is due D after the previous one plus the slack earlier tokens "
                  "banked; a late token misses every deadline that passed during its stall and "
                  "the deadlines restart from it (the first token is not judged). Reported when "
                  "this or --slo-tbt is given");
  cmd->add_option("--json", a->json_path, "Write the results as JSON (vLLM's keys)");
  return [a] { return run_bench_serve(*a); };
}

}  // namespace sarathi::cli
