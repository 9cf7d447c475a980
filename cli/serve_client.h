// cli/serve_client.h: the streaming client of `bench serve` and `bench capacity --base-url`:
// sends a workload's requests to an OpenAI-compatible server at their arrival times (one thread
// per request, optionally at most N in flight), every one streaming (SSE), and times each
// token chunk on the client. Multi-turn: each request opens a conversation whose later turns
// resend the whole history (previous prompts and replies) plus a new user message, each sent
// when the previous reply has ended. Depends on workload/ and cpp-httplib.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "workload/serving_metrics.h"
#include "workload/workload.h"

namespace sarathi::cli {

struct ServeClientOptions {
  std::string base_url = "http://127.0.0.1:8000";
  std::string endpoint = "completions";  // completions, chat, or a path
  std::string model;                     // "model" to send; empty: none (the server's)
  std::string api_key;
  std::string prompt_format;    // token-ids | text; empty: token-ids for completions, text for chat
  int32_t max_concurrency = 0;  // 0: any
  bool ignore_eos = false;
  uint64_t seed = 0;  // prompts
  int32_t prefix_len = 0;      // tokens (or words) every prompt starts with (a shared prefix)
  int32_t num_turns = 1;       // turns per conversation (> 1: multi-turn, text prompts only)
  int32_t turn_input_len = 0;  // new user tokens (words) of turns after the first; 0: input_len
};

/// One request as the client saw it.
struct ServeOutcome {
  bool ok = false;
  std::string error;
  int64_t prompt_tokens = 0, output_tokens = 0;  // the usage chunk's, else chunks counted
  double ttft = 0, e2el = 0;                     // seconds from sending
  std::vector<double> itl;                       // seconds between successive token chunks
  std::string text;                              // the reply (kept for multi-turn histories)
  int32_t spec_idx = 0, turn = 0;                // the workload request (conversation), turn
};

struct ServeRun {
  std::string path;                    // the endpoint's path
  std::vector<ServeOutcome> outcomes;  // in workload order (conversation by conversation)
  double duration_s = 0;               // first send to last reply
};

/// Checks the endpoint and prompt format; an error message, or empty when valid. Fills in the
/// default prompt format.
std::string validate_client_options(ServeClientOptions& options);

/// Sends every request of `specs` at its arrival time and waits for all replies (with
/// num_turns > 1, each spec opens a conversation whose turns follow one another).
ServeRun run_serve_load(const ServeClientOptions& options,
                        const std::vector<workload::RequestSpec>& specs);

/// The run's requests as time lines (arrival 0, tokens at ttft, ttft + itl...), for
/// workload::summarize_serving; a request without usage counts its spec's input length.
std::vector<workload::RequestTimeline> timelines(const ServeRun& run,
                                                 const std::vector<workload::RequestSpec>& specs);

/// The prefix cache counters of a server's Prometheus /metrics (vLLM's names, which sarathi
/// exports too), in prompt tokens; nullopt when the server has no such metrics.
struct PrefixCacheCounters {
  double queries = 0, hits = 0;
};
std::optional<PrefixCacheCounters> scrape_prefix_cache(const ServeClientOptions& options);

}  // namespace sarathi::cli
