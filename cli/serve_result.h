// cli/serve_result.h: the figures `bench serve` reports for a run (vLLM's result keys: request
// and token throughput, goodput under TTFT/TBT SLOs, TTFT, TPOT, ITL and end-to-end latency
// mean/median/p99, Etalon's fluidity-index) and its printed table. `bench serve` computes them
// from what its client saw, `simulate` from its simulated requests, so both report alike.
// Depends on cli/serve_client.h and nlohmann/json.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/serve_client.h"
#include "workload/workload.h"

namespace sarathi::cli {

struct ServeResultOptions {
  std::string endpoint;  // the "endpoint" key
  int32_t num_prompts = 0;
  int32_t num_turns = 1;  // > 1: per-turn TTFT ("turns")
  double request_rate = 0;  // inf: all at once
  int32_t max_concurrency = 0;
  double slo_ttft_ms = 0, slo_tbt_ms = 0;  // goodput (0: none)
  double fluidity_slo_ms = 0;              // 0: slo_tbt_ms
};

/// vLLM's result keys for a run of `outcomes` (specs[o.spec_idx] is outcome o's request) over
/// duration_s; failed requests are counted, the first three printed to stderr.
nlohmann::ordered_json serve_result(const std::vector<ServeOutcome>& outcomes,
                                    const std::vector<workload::RequestSpec>& specs,
                                    double duration_s, const ServeResultOptions& options);

/// Prints serve_result's table ("Serving Benchmark Result").
void print_serve_result(const nlohmann::ordered_json& result, const ServeResultOptions& options);

}  // namespace sarathi::cli
