// server/chat_template.h: renders a chat conversation into a prompt with the model's Jinja chat
// template (tokenizer.chat_template in GGUF, or --chat-template), as HF's apply_chat_template
// does. Depends on core/ and server/jinja.h only: no tokenizer, no engine, no HTTP.
#pragma once

#include <span>
#include <vector>
#include <string>
#include <string_view>

#include "core/status.h"
#include "server/jinja.h"

namespace sarathi::server {

/// A function call an assistant message made.
struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text, as OpenAI sends it
};

/// One chat turn. Content is plain text: the request parser joins text parts with "\n".
struct ChatMessage {
  std::string role;  // system, user, assistant or tool
  std::string content;
  std::vector<ToolCall> tool_calls;  // assistant
  std::string tool_call_id;          // tool: the call this answers
  std::string name;                  // tool: the function's name, when given
};

struct ChatRenderOptions {
  std::string bos_token;  // the tokenizer's BOS/EOS text, visible to the template
  std::string eos_token;
  bool add_generation_prompt = true;  // end with the assistant header
  // OpenAI tool objects ({"type": "function", "function": {...}}); null or empty: none. A
  // template that never mentions `tools` gets them described in a system message instead
  // (Hermes style, the format parse_tool_calls reads back).
  nlohmann::ordered_json tools;
};

/// ChatML, for models whose file carries no template (llama.cpp's fallback).
inline constexpr std::string_view kChatMlTemplate =
    "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>\\n' }}{%- endfor %}{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}{%- endif %}";

/// A parsed chat template; cheap to copy, render() is thread-safe.
class ChatTemplate {
 public:
  /// Parses the template text; kInvalidFormat on a syntax error.
  static core::Result<ChatTemplate> parse(std::string_view source,
                                          const jinja::TemplateOptions& opts = {});

  /// Renders with the variables HF passes: messages, tools and documents (none), bos_token,
  /// eos_token, add_generation_prompt. kInvalidArgument when the template rejects the conversation
  /// (raise_exception), kOutOfRange or kInvalidFormat when the template itself fails.
  core::Result<std::string> render(std::span<const ChatMessage> messages,
                                   const ChatRenderOptions& opts) const;
  /// Whether the template reads `tools` (else render() describes them in a system message).
  bool uses_tools() const { return uses_tools_; }
  /// The template's source text.
  const std::string& source() const { return source_; }

 private:
  jinja::Template template_;
  std::string source_;
  bool uses_tools_ = false;
};

/// Parses and renders in one call (ChatTemplate::parse + render).
core::Result<std::string> render_chat(std::string_view chat_template,
                                      std::span<const ChatMessage> messages,
                                      const ChatRenderOptions& opts);

}  // namespace sarathi::server
