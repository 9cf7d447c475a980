// server/openai_request.h: parses and validates the JSON bodies of POST /v1/completions,
// /v1/chat/completions, /tokenize and /detokenize into plain structs, or an ApiError (400).
// Depends on core/, nlohmann_json and chat_template.h (ChatMessage); knows nothing of HTTP,
// tokenizers or the engine: the model name, prompt length and token ids are checked later.
//
// Decisions (vLLM's behaviour unless noted):
//  - unknown fields are ignored (SDKs send extras); null means "not given";
//  - integer fields accept integral JSON floats (5.0, as pydantic does) but not strings;
//  - "model" is optional (empty: the served model); "user" is ignored;
//  - chat roles: system, user, assistant, tool; "developer" (OpenAI's newer name) is read as
//    system; "function" (the legacy form) and non-text content parts are refused; text parts
//    are joined with "\n"; an assistant message may have null content and tool_calls;
//  - tools: functions with a name and optional parameters (a JSON schema, compiled only when
//    the call is constrained); tool_choice none | auto (the default with tools) | required |
//    {"type": "function", "function": {"name"}} naming one of them;
//  - structured output (both endpoints): response_format {"type": "text" | "json_object" |
//    "json_schema"}, vLLM's guided_json / guided_regex / guided_choice / guided_grammar and
//    structured_outputs {json, regex, choice, grammar, json_object}, llama.cpp's grammar and
//    json_schema; at most one of them (400 otherwise); compiled by openai_structured.h;
//  - functions and suffix are refused rather than silently ignored; best_of must be absent or 1;
//  - stop: a string or a list of up to kMaxStopStrings (OpenAI allows 4; vLLM any); empty
//    strings are dropped;
//  - completions' max_tokens defaults to 16 (OpenAI's legacy default, as in vLLM) and may be 0
//    only with echo; chat's defaults to "until the context is full";
//  - stream_options is only allowed with stream=true (OpenAI and vLLM refuse it otherwise).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/chat_template.h"
#include "server/openai_error.h"

namespace sarathi::server {

inline constexpr int32_t kMaxN = 128;        // choices per prompt (OpenAI's chat limit)
inline constexpr int32_t kMaxChoices = 256;  // prompts × n in one request
inline constexpr size_t kMaxPrompts = 128;   // prompts in one completions request
inline constexpr int32_t kMaxLogprobs = 20;  // top alternatives per token (vLLM default)
inline constexpr size_t kMaxStopStrings = 32;
inline constexpr size_t kMaxStopStringBytes = 1024;
inline constexpr size_t kMaxStopTokenIds = 256;
inline constexpr size_t kMaxLogitBias = 1024;  // logit_bias entries
inline constexpr int32_t kDefaultCompletionMaxTokens = 16;

/// One prompt as the client gave it: text to tokenize, or token ids.
using PromptInput = std::variant<std::string, std::vector<int32_t>>;

/// A structured-output constraint as the client gave it (compiled by openai_structured.h).
struct OutputConstraint {
  enum class Kind { kNone, kJsonObject, kJsonSchema, kRegex, kChoice, kGrammar };
  Kind kind = Kind::kNone;
  nlohmann::ordered_json schema;     // kJsonSchema (properties in the client's order)
  std::string text;                  // kRegex: the pattern; kGrammar: GBNF
  std::vector<std::string> choices;  // kChoice
  std::string param;                 // the field it came from, for errors ("response_format")
};

/// The generation fields shared by both endpoints, validated (ranges as in OpenAI's API).
struct SamplingRequest {
  std::optional<int32_t> max_tokens;  // nullopt: until EOS or the context is full
  int32_t n = 1;
  float temperature = 1.0f;         // [0, 2]; 0 is greedy
  float top_p = 1.0f;               // (0, 1]
  int32_t top_k = 0;                // 0 = off (-1 is read as 0)
  float min_p = 0.0f;               // [0, 1]
  float presence_penalty = 0.0f;    // [-2, 2]
  float frequency_penalty = 0.0f;   // [-2, 2]
  float repetition_penalty = 1.0f;  // > 0
  std::optional<int64_t> seed;
  std::vector<std::string> stop;
  std::vector<int32_t> stop_token_ids;
  std::vector<std::pair<int32_t, float>> logit_bias;  // token id, bias in [-100, 100]
  std::optional<int32_t> logprobs;  // when set: return logprobs with this many alternatives
  bool ignore_eos = false;
  int32_t priority = 0;  // vLLM's: lower is served first (needs --scheduling-policy priority)
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  OutputConstraint constraint;
};

struct CompletionRequest {
  std::string model;
  std::vector<PromptInput> prompts;  // at least one; choice index = prompt_idx * n + sample_idx
  SamplingRequest sampling;
  bool echo = false;  // prepend the prompt to each choice's text
};

/// A function the model may call.
struct ToolDef {
  std::string name;
  nlohmann::ordered_json parameters;  // JSON schema; an object with no properties when absent
  nlohmann::ordered_json raw;         // the tool object as given (for the chat template)
};

enum class ToolChoice { kNone, kAuto, kRequired, kNamed };

struct ChatRequest {
  std::string model;
  std::vector<ChatMessage> messages;  // at least one
  SamplingRequest sampling;
  bool add_generation_prompt = true;  // vLLM extension
  std::vector<ToolDef> tools;
  ToolChoice tool_choice = ToolChoice::kNone;  // kAuto by default when tools are given
  std::string tool_name;                       // kNamed: the function to call
};

/// vLLM's /tokenize: {"prompt": str} (llama.cpp's "content" too) or {"messages": [...]}.
struct TokenizeRequest {
  std::string model;
  std::variant<std::string, std::vector<ChatMessage>> input;
  bool add_special_tokens = true;  // default true for text, false for messages (vLLM)
  bool add_generation_prompt = true;
};

/// vLLM's /detokenize: {"tokens": [int]}.
struct DetokenizeRequest {
  std::string model;
  std::vector<int32_t> tokens;
};

/// Parses a POST /v1/completions body.
ApiResult<CompletionRequest> parse_completion_request(std::string_view body);
/// Parses a POST /v1/chat/completions body.
ApiResult<ChatRequest> parse_chat_request(std::string_view body);
/// Parses a POST /tokenize body.
ApiResult<TokenizeRequest> parse_tokenize_request(std::string_view body);
/// Parses a POST /detokenize body.
ApiResult<DetokenizeRequest> parse_detokenize_request(std::string_view body);

}  // namespace sarathi::server
