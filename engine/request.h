// engine/request.h: what a caller asks of the engine per request (sampling and stopping) and
// what it gets back (token events, finish reasons, timestamps). Plain data; depends on
// engine/sampler.h, engine/executor.h (StageTime) and grammar/matcher.h (the constraint a
// request may carry).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/executor.h"
#include "engine/sampler.h"
#include "grammar/matcher.h"

namespace sarathi::engine {

using RequestId = int64_t;

struct RequestParams {
  SamplingParams sampling;
  int32_t max_tokens = 16;                 // generated tokens at most (the engine clamps to the
                                           // context left after the prompt when 0)
  bool ignore_eos = false;                 // keep going past end-of-generation tokens
  std::vector<int32_t> stop_token_ids;     // extra tokens that end generation
  std::vector<std::string> stop;           // stop strings (never leak into the text)
  bool include_stop_str_in_output = false;
  bool detokenize = true;                  // produce text deltas
  int32_t priority = 0;                    // lower is served first (--scheduling-policy
                                           // priority; must be 0 under fcfs, as in vLLM)
  // Structured output: only tokens the grammar allows are sampled, EOS only where it may end,
  // and the request stops once nothing but the end can follow. Compiled for the engine's
  // token_vocab() (shared between requests; see grammar/matcher.h). Null: unconstrained.
  std::shared_ptr<grammar::CompiledGrammar> grammar;
};

enum class FinishReason {
  kNone,     // still running
  kStop,     // EOS / stop token / stop string
  kLength,   // max_tokens or the context limit
  kAbort,    // aborted by the caller
};

std::string_view finish_reason_name(FinishReason r);  // "stop", "length", "abort", ""

/// One generated token as it is streamed.
struct TokenEvent {
  RequestId id = 0;
  int32_t token = 0;
  int32_t index = 0;           // position in the output (0-based)
  std::string text;            // text that became final with this token (may be empty)
  float logprob = 0.0f;
  std::vector<std::pair<int32_t, float>> top_logprobs;
  FinishReason finish = FinishReason::kNone;  // set on the last event of the request
  std::string stop_reason;     // the matched stop string, if any
};

/// Per-request timestamps (seconds on the engine's clock).
struct RequestTimes {
  double arrival = 0;
  double first_scheduled = -1;
  double first_token = -1;
  double finish = -1;
  std::vector<double> token_times;  // when each output token was produced
  int32_t num_preemptions = 0;
};

/// A finished (or live) request's record.
struct RequestRecord {
  RequestId id = 0;
  int32_t num_prompt_tokens = 0;
  std::vector<int32_t> output;
  FinishReason finish = FinishReason::kNone;
  RequestTimes times;
};

/// Per-step statistics. Under pipeline parallelism a step is one micro-batch: from its
/// scheduling to the sampling of its tokens, with other micro-batches in flight meanwhile.
struct StepStats {
  int64_t step = 0;
  int32_t num_prefill_tokens = 0;
  int32_t num_decode_tokens = 0;
  int32_t num_seqs = 0;
  int32_t num_prefill_chunks = 0;
  std::vector<int32_t> prefill_chunk_lens;   // tokens of each prefill chunk
  double start = 0;              // engine clock at the start of the step
  double duration_s = 0;         // schedule + execute + sample
  double schedule_s = 0;         // scheduler time alone
  double predicted_s = 0;        // the cost model's prediction of duration_s (0: no model)
  bool decodes_over_slo = false; // the decodes alone were predicted beyond the TBT SLO target
  double step_target_s = 0;      // the step duration SLO-driven chunking planned to (0: none)
  int32_t num_masked = 0;        // rows sampled under a grammar
  double grammar_mask_s = 0;     // time computing their masks (while the forward pass runs,
                                 // with EngineOptions::overlap_grammar_masks)
  double grammar_wait_s = 0;     // time the step waited for the masks after the forward pass
  // What each stage of the model did for this step (one entry without pipeline parallelism:
  // the executor's run, with the idle time since the previous run).
  std::vector<StageTime> stages;
};

}  // namespace sarathi::engine
