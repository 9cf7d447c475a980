// server/openai_tools.h: tool calling in /v1/chat/completions: the call format a chat template
// uses, the grammar that forces a call (tool_choice required or a named function), and reading
// calls back out of the model's text, whole or as it streams. Depends on grammar/ and
// openai_request.h; no HTTP, no engine.
//
// Formats (picked from the template's text; templates that do not read `tools` get the tools
// described in Hermes form, see chat_template.h):
//   kHermes   Hermes / Qwen2.5: <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>, one
//             block per call, text before the first block is content;
//   kLlama3   Llama 3.1: the whole reply is {"name": ..., "parameters": {...}} (after an optional
//             <|python_tag|>); several calls separated by ';';
//   kMistral  Mistral: [TOOL_CALLS] [{"name": ..., "arguments": {...}}, ...] (the marker is a
//             control token, so a forced call starts at the array).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "server/chat_template.h"
#include "server/openai_request.h"

namespace sarathi::server {

enum class ToolFormat { kHermes, kLlama3, kMistral };

/// The format a template's source text implies (kHermes unless it speaks another).
ToolFormat tool_format(const ChatTemplate& t);

/// GBNF that makes the reply a call in `format`: to one of `tools` (kRequired), or to `name`
/// (kNamed), its arguments valid for the function's parameters. 400 naming the tool when a
/// parameters schema is not supported.
ApiResult<std::string> tool_call_gbnf(const std::vector<ToolDef>& tools, ToolChoice choice,
                                      const std::string& name, ToolFormat format);

struct ParsedReply {
  std::string content;          // text outside the calls (trimmed when calls were found)
  std::vector<ToolCall> calls;  // ids assigned ("call_" + random hex)
};

/// The calls in a finished reply. A call that does not parse or names an unknown function
/// leaves the whole text as content.
ParsedReply parse_tool_calls(std::string_view text, ToolFormat format,
                             const std::vector<ToolDef>& tools);

/// For streaming: how much of `text` (the reply so far) is surely content, i.e. cannot be part
/// of a call (text before a call marker, minus a tail that may be the start of one).
size_t safe_content_prefix(std::string_view text, ToolFormat format);

}  // namespace sarathi::server
