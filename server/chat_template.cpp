#include "server/chat_template.h"

namespace sarathi::server {

core::Result<ChatTemplate> ChatTemplate::parse(std::string_view source,
                                               const jinja::TemplateOptions& opts) {
  SARATHI_ASSIGN_OR_RETURN(jinja::Template t, jinja::Template::parse(source, opts));
  ChatTemplate ct;
  ct.template_ = std::move(t);
  ct.source_ = std::string(source);
  ct.uses_tools_ = source.find("tools") != std::string_view::npos;
  return ct;
}

namespace {

using OJson = nlohmann::ordered_json;

// Arguments as templates expect them: an object when the text is JSON (HF passes dicts).
OJson arguments_value(const std::string& args) {
  try {
    return OJson::parse(args);
  } catch (const OJson::exception&) {
    return args;
  }
}

// A template without tool support sees calls and results as text (Hermes style).
std::string calls_as_text(const ChatMessage& m) {
  std::string out = m.content;
  for (const ToolCall& c : m.tool_calls) {
    if (!out.empty()) out += "\n";
    out += "<tool_call>\n" +
           OJson{{"name", c.name}, {"arguments", arguments_value(c.arguments)}}.dump() +
           "\n</tool_call>";
  }
  return out;
}

std::string tools_system_prompt(const OJson& tools) {
  std::string out =
      "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are "
      "provided with function signatures within <tools></tools> XML tags:\n<tools>";
  for (const OJson& t : tools) out += "\n" + t.dump();
  out +=
      "\n</tools>\n\nFor each function call, return a json object with function name and "
      "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": "
      "<function-name>, \"arguments\": <args-json-object>}\n</tool_call>";
  return out;
}

}  // namespace

core::Result<std::string> ChatTemplate::render(std::span<const ChatMessage> messages,
                                               const ChatRenderOptions& opts) const {
  const bool has_tools = opts.tools.is_array() && !opts.tools.empty();
  const bool native = uses_tools_;
  nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
  if (has_tools && !native) {  // describe the tools in the system message
    const bool sys = !messages.empty() && messages[0].role == "system";
    const std::string prompt = tools_system_prompt(opts.tools);
    msgs.push_back(OJson{{"role", "system"},
                         {"content", sys ? messages[0].content + "\n\n" + prompt : prompt}});
    if (sys) messages = messages.subspan(1);
  }
  for (const ChatMessage& m : messages) {
    OJson j{{"role", m.role}, {"content", m.content}};
    if (!native && m.role == "tool") {  // as a user turn holding the result
      j = OJson{{"role", "user"},
                {"content", "<tool_response>\n" + m.content + "\n</tool_response>"}};
    } else if (!native && !m.tool_calls.empty()) {
      j["content"] = calls_as_text(m);
    } else if (!m.tool_calls.empty()) {
      OJson calls = OJson::array();
      for (const ToolCall& c : m.tool_calls)
        calls.push_back(OJson{{"id", c.id},
                              {"type", "function"},
                              {"function", {{"name", c.name}, {"arguments", arguments_value(c.arguments)}}}});
      j["tool_calls"] = std::move(calls);
    }
    if (native && m.role == "tool") {
      j["tool_call_id"] = m.tool_call_id;
      if (!m.name.empty()) j["name"] = m.name;
    }
    msgs.push_back(std::move(j));
  }
  // HF's apply_chat_template passes tools and documents as None when there are none, so
  // "tools is defined" holds and "tools is none" decides.
  nlohmann::ordered_json context = {
      {"messages", std::move(msgs)}, {"tools", has_tools && native ? opts.tools : OJson(nullptr)},
      {"documents", nullptr},        {"bos_token", opts.bos_token},
      {"eos_token", opts.eos_token}, {"add_generation_prompt", opts.add_generation_prompt},
  };
  return template_.render(context);
}

core::Result<std::string> render_chat(std::string_view chat_template,
                                      std::span<const ChatMessage> messages,
                                      const ChatRenderOptions& opts) {
  SARATHI_ASSIGN_OR_RETURN(ChatTemplate t, ChatTemplate::parse(chat_template));
  return t.render(messages, opts);
}

}  // namespace sarathi::server
