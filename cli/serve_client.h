// cli/serve_client.h: the streaming client of `bench serve` and `bench capacity --base-url`:
// sends a workload's requests to an OpenAI-compatible server at their arrival times (one thread
// per request, optionally at most N in flight), every one streaming (SSE), and times each
// token chunk on the client. Depends on workload/ and cpp-httplib.
#pragma once

#include <cstdint>
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
};

/// One request as the client saw it.
struct ServeOutcome {
  bool ok = false;
  std::string error;
  int64_t prompt_tokens = 0, output_tokens = 0;  // the usage chunk's, else chunks counted
  double ttft = 0, e2el = 0;                     // seconds from sending
  std::vector<double> itl;                       // seconds between successive token chunks
};

struct ServeRun {
  std::string path;                    // the endpoint's path
  std::vector<ServeOutcome> outcomes;  // in workload order
  double duration_s = 0;               // first send to last reply
};

/// Checks the endpoint and prompt format; an error message, or empty when valid. Fills in the
/// default prompt format.
std::string validate_client_options(ServeClientOptions& options);

/// Sends every request of `specs` at its arrival time and waits for all replies.
ServeRun run_serve_load(const ServeClientOptions& options,
                        const std::vector<workload::RequestSpec>& specs);

/// The run's requests as time lines (arrival 0, tokens at ttft, ttft + itl...), for
/// workload::summarize_serving; a request without usage counts its spec's input length.
std::vector<workload::RequestTimeline> timelines(const ServeRun& run,
                                                 const std::vector<workload::RequestSpec>& specs);

}  // namespace sarathi::cli
