// server/openai_response.h: builders for the OpenAI response objects: completions and chat
// completions (whole and as stream chunks), logprobs in both endpoints' formats, usage, the
// model list, tokenize/detokenize results, response ids and server-sent-event framing.
// Depends on nlohmann_json only: callers pass plain values, nothing here touches the engine.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sarathi::server {

/// Response bodies keep OpenAI's key order (id, object, created, model, choices, usage).
using OrderedJson = nlohmann::ordered_json;

enum class FinishReason { kNone, kStop, kLength, kToolCalls };  // kNone: not finished

/// "stop", "length", "tool_calls", or null for kNone.
OrderedJson finish_reason_json(FinishReason r);

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

/// What every object of one response shares (every chunk of a stream carries the same).
struct ResponseMeta {
  std::string id;       // make_response_id("cmpl-") or make_response_id("chatcmpl-")
  int64_t created = 0;  // Unix seconds
  std::string model;
  // Streaming with stream_options.include_usage: every chunk carries "usage": null, and
  // usage_chunk() sends the totals last.
  bool stream_include_usage = false;
};

struct TopLogprob {
  std::string token;  // the token's text (bytes; may be a partial UTF-8 sequence)
  float logprob = 0.0f;
};

struct TokenLogprob {
  std::string token;
  std::optional<float> logprob;  // nullopt: none (the first echoed prompt token)
  std::vector<TopLogprob> top;   // most likely first
  int64_t text_offset = 0;       // completions only: offset of the token in the choice text
};

struct CompletionChoice {
  int32_t index = 0;
  std::string text;
  std::optional<std::vector<TokenLogprob>> logprobs;  // set when the request asked for them
  FinishReason finish_reason = FinishReason::kNone;
};

/// A function call in a response (OpenAI's tool_calls entry).
struct ToolCallOut {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text
};

struct ChatChoice {
  int32_t index = 0;
  std::string content;                  // null in the message when empty and tool_calls are set
  std::vector<ToolCallOut> tool_calls;  // message.tool_calls (left out when empty)
  std::optional<std::vector<TokenLogprob>> logprobs;
  FinishReason finish_reason = FinishReason::kNone;
};

/// One streamed piece of a tool call: the first for a call carries id and name (arguments ""),
/// later ones a fragment of the arguments (OpenAI's chunked form).
struct ToolCallDelta {
  int32_t index = 0;  // the call's position in message.tool_calls
  std::string id;     // first piece only
  std::string name;   // first piece only
  std::string arguments;
};

/// One streamed chat delta. The first chunk of a choice sets `role` (and content ""), the
/// following ones carry content, the last one only finish_reason (delta {}).
struct ChatDelta {
  int32_t index = 0;
  bool role = false;
  std::optional<std::string> content;
  std::optional<ToolCallDelta> tool_call;
  std::optional<std::vector<TokenLogprob>> logprobs;
  FinishReason finish_reason = FinishReason::kNone;
};

struct ModelCard {
  std::string id;
  int64_t created = 0;
  std::string owned_by = "sarathi";
  int64_t max_model_len = 0;  // vLLM's extra field; 0 leaves it out
};

/// A fresh id: prefix + 32 random hex digits ("cmpl-9f...", "chatcmpl-3a...").
std::string make_response_id(std::string_view prefix);

/// {"prompt_tokens", "completion_tokens", "total_tokens"}.
OrderedJson usage_json(const Usage& u);
/// Completions logprobs: {"tokens", "token_logprobs", "top_logprobs", "text_offset"}.
OrderedJson completion_logprobs_json(std::span<const TokenLogprob> tokens);
/// Chat logprobs: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}.
OrderedJson chat_logprobs_json(std::span<const TokenLogprob> tokens);

/// A whole /v1/completions response (object "text_completion").
OrderedJson completion_response(const ResponseMeta& meta, std::span<const CompletionChoice> choices,
                                const Usage& usage);
/// One /v1/completions stream chunk for one choice (object "text_completion", as OpenAI).
OrderedJson completion_chunk(const ResponseMeta& meta, const CompletionChoice& choice);
/// A whole /v1/chat/completions response (object "chat.completion").
OrderedJson chat_response(const ResponseMeta& meta, std::span<const ChatChoice> choices,
                          const Usage& usage);
/// One /v1/chat/completions stream chunk (object "chat.completion.chunk").
OrderedJson chat_chunk(const ResponseMeta& meta, const ChatDelta& delta);
/// The last chunk with stream_options.include_usage: empty choices and the usage totals.
/// `object` is "text_completion" or "chat.completion.chunk".
OrderedJson usage_chunk(const ResponseMeta& meta, std::string_view object, const Usage& usage);

/// GET /v1/models: {"object": "list", "data": [...]}.
OrderedJson models_response(std::span<const ModelCard> models);
/// POST /tokenize: {"count", "max_model_len", "tokens"} (vLLM).
OrderedJson tokenize_response(std::span<const int32_t> tokens, int64_t max_model_len);
/// POST /detokenize: {"prompt"} (vLLM).
OrderedJson detokenize_response(std::string_view text);

/// Serializes a body; invalid UTF-8 (partial tokens) becomes U+FFFD instead of throwing.
std::string dump_json(const OrderedJson& j);
/// A server-sent event: "data: <json>\n\n".
std::string sse_event(const OrderedJson& j);
/// The stream terminator: "data: [DONE]\n\n".
std::string sse_done();

}  // namespace sarathi::server
