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
#include "cli/serve_result.h"
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
  const ServeResultOptions opts{.endpoint = run.path,
                                .num_prompts = a.workload.num_prompts,
                                .num_turns = a.client.num_turns,
                                .request_rate = a.workload.request_rate,
                                .max_concurrency = a.client.max_concurrency,
                                .slo_ttft_ms = a.slo_ttft_ms,
                                .slo_tbt_ms = a.slo_tbt_ms,
                                .fluidity_slo_ms = a.fluidity_slo_ms};
  nlohmann::ordered_json j = serve_result(run.outcomes, *specs, run.duration_s, opts);
  const auto cache_after = scrape_prefix_cache(a.client);
  // The server's prefix cache over this run (where its /metrics has vLLM's counters).
  if (cache_before && cache_after) {
    const double queries = cache_after->queries - cache_before->queries;
    const double hits = cache_after->hits - cache_before->hits;
    j["prefix_cache_queries"] = queries;
    j["prefix_cache_hits"] = hits;
    j["prefix_cache_hit_rate"] = queries > 0 ? hits / queries : 0.0;
  }
  print_serve_result(j, opts);
  if (!a.json_path.empty()) {
    std::ofstream f(a.json_path);
    f << j.dump(2) << "\n";
    if (!f) {
      std::fprintf(stderr, "error: cannot write %s\n", a.json_path.c_str());
      return 1;
    }
  }
  return j.at("failed").get<int64_t>() == 0 ? 0 : 1;
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
