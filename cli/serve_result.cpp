#include "cli/serve_result.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli/common.h"
#include "workload/serving_metrics.h"

namespace sarathi::cli {
namespace {

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

double fluidity_deadline_s(const ServeResultOptions& o) {
  return (o.fluidity_slo_ms > 0 ? o.fluidity_slo_ms : o.slo_tbt_ms) / 1e3;
}

constexpr const char* kLatencies[] = {"ttft", "tpot", "itl", "e2el"};

}  // namespace

nlohmann::ordered_json serve_result(const std::vector<ServeOutcome>& outcomes,
                                    const std::vector<workload::RequestSpec>& specs,
                                    double duration, const ServeResultOptions& a) {
  const double fluidity_s = fluidity_deadline_s(a);
  workload::DeadlineCount deadlines;
  int64_t completed = 0, failed = 0, in_tokens = 0, out_tokens = 0, good = 0;
  std::vector<double> ttft, tpot, itl, e2el;
  const size_t turns = static_cast<size_t>(std::max(1, a.num_turns));
  std::vector<std::vector<double>> turn_ttft(turns), turn_prompt(turns);
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const ServeOutcome& o = outcomes[i];
    if (!o.ok) {
      if (failed++ < 3) std::fprintf(stderr, "request %zu failed: %s\n", i, o.error.c_str());
      continue;
    }
    ++completed;
    const int64_t prompt_tokens =
        o.prompt_tokens > 0 ? o.prompt_tokens : specs[static_cast<size_t>(o.spec_idx)].input_len;
    in_tokens += prompt_tokens;
    const size_t turn = std::min(turns - 1, static_cast<size_t>(std::max(0, o.turn)));
    turn_ttft[turn].push_back(o.ttft);
    turn_prompt[turn].push_back(static_cast<double>(prompt_tokens));
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
      {"endpoint", a.endpoint},
      {"num_prompts", a.num_prompts},
      {"num_turns", a.num_turns},
      {"request_rate",
       std::isinf(a.request_rate) ? nlohmann::json("inf") : nlohmann::json(a.request_rate)},
      {"max_concurrency", a.max_concurrency},
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
  const std::vector<double>* values[] = {&ttft, &tpot, &itl, &e2el};
  for (size_t k = 0; k < std::size(kLatencies); ++k) {
    const Stat s = stat_ms(*values[k]);
    j[fmt::format("mean_{}_ms", kLatencies[k])] = s.mean;
    j[fmt::format("median_{}_ms", kLatencies[k])] = s.median;
    j[fmt::format("p99_{}_ms", kLatencies[k])] = s.p99;
    j[fmt::format("max_{}_ms", kLatencies[k])] = s.max;
  }
  if (a.num_turns > 1) {
    nlohmann::ordered_json per_turn = nlohmann::json::array();
    for (size_t k = 0; k < turn_ttft.size(); ++k) {
      const Stat s = stat_ms(turn_ttft[k]);
      double prompt_mean = 0;
      for (double n : turn_prompt[k]) prompt_mean += n / static_cast<double>(turn_prompt[k].size());
      per_turn.push_back({{"turn", k + 1},
                          {"completed", turn_ttft[k].size()},
                          {"mean_prompt_tokens", prompt_mean},
                          {"mean_ttft_ms", s.mean},
                          {"median_ttft_ms", s.median},
                          {"p99_ttft_ms", s.p99}});
    }
    j["turns"] = per_turn;
  }
  return j;
}

void print_serve_result(const nlohmann::ordered_json& j, const ServeResultOptions& a) {
  const auto num = [&](const char* key) { return j.at(key).get<double>(); };
  std::printf("============ Serving Benchmark Result ============\n");
  std::printf("%-40s %d\n", "Successful requests:", static_cast<int>(num("completed")));
  std::printf("%-40s %d\n", "Failed requests:", static_cast<int>(num("failed")));
  std::printf("%-40s %.2f\n", "Benchmark duration (s):", num("duration"));
  std::printf("%-40s %lld\n",
              "Total input tokens:", static_cast<long long>(num("total_input_tokens")));
  std::printf("%-40s %lld\n",
              "Total generated tokens:", static_cast<long long>(num("total_output_tokens")));
  std::printf("%-40s %.2f\n", "Request throughput (req/s):", num("request_throughput"));
  if (a.slo_ttft_ms > 0 || a.slo_tbt_ms > 0)
    std::printf("%-40s %.2f\n", "Request goodput (req/s):", num("request_goodput"));
  std::printf("%-40s %.2f\n", "Output token throughput (tok/s):", num("output_throughput"));
  std::printf("%-40s %.2f\n", "Total token throughput (tok/s):", num("total_token_throughput"));
  for (const char* name : kLatencies)
    std::printf("%-40s %.2f / %.2f / %.2f / %.2f\n",
                fmt::format("{} mean / median / p99 / max (ms):", name).c_str(),
                num(fmt::format("mean_{}_ms", name).c_str()),
                num(fmt::format("median_{}_ms", name).c_str()),
                num(fmt::format("p99_{}_ms", name).c_str()),
                num(fmt::format("max_{}_ms", name).c_str()));
  const double fluidity_s = fluidity_deadline_s(a);
  if (fluidity_s > 0)
    std::printf("%-40s %.4f\n",
                fmt::format("Fluidity-index (deadline {:g} ms):", fluidity_s * 1e3).c_str(),
                num("fluidity_index"));
  // The server's prefix cache over the run (bench serve adds these where /metrics has them).
  if (j.contains("prefix_cache_hit_rate"))
    std::printf("%-40s %.4f (%.0f of %.0f prompt tokens)\n", "Prefix cache hit rate:",
                num("prefix_cache_hit_rate"), num("prefix_cache_hits"),
                num("prefix_cache_queries"));
  if (j.contains("turns")) {
    std::printf("%-6s %10s %14s %14s %14s\n", "turn", "requests", "prompt tokens", "TTFT mean ms",
                "TTFT median ms");
    for (const auto& t : j.at("turns"))
      std::printf("%-6d %10d %14.0f %14.2f %14.2f\n", t.at("turn").get<int>(),
                  t.at("completed").get<int>(), t.at("mean_prompt_tokens").get<double>(),
                  t.at("mean_ttft_ms").get<double>(), t.at("median_ttft_ms").get<double>());
  }
  std::printf("==================================================\n");
}

}  // namespace sarathi::cli
