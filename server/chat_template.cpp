#include "server/chat_template.h"

namespace sarathi::server {

core::Result<ChatTemplate> ChatTemplate::parse(std::string_view source,
                                               const jinja::TemplateOptions& opts) {
  SARATHI_ASSIGN_OR_RETURN(jinja::Template t, jinja::Template::parse(source, opts));
  ChatTemplate ct;
  ct.template_ = std::move(t);
  return ct;
}

core::Result<std::string> ChatTemplate::render(std::span<const ChatMessage> messages,
                                               const ChatRenderOptions& opts) const {
  nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
  for (const ChatMessage& m : messages)
    msgs.push_back(nlohmann::ordered_json{{"role", m.role}, {"content", m.content}});
  // HF's apply_chat_template passes tools and documents as None when there are none, so
  // "tools is defined" holds and "tools is none" decides.
  nlohmann::ordered_json context = {
      {"messages", std::move(msgs)}, {"tools", nullptr},
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
