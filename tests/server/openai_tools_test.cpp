// Tool calling: request fields, rendering tools and tool turns, the three call formats read back
// out of replies, the streaming content guard, and forced-call grammars whose every output
// parses back into a call.
#include "server/openai_tools.h"

#include <gtest/gtest.h>

#include <random>

#include "grammar/grammar.h"
#include "grammar/matcher.h"

namespace sarathi::server {
namespace {

using OJson = nlohmann::ordered_json;

std::vector<ToolDef> tools() {
  auto r = parse_chat_request(R"({"messages": [{"role": "user", "content": "x"}], "tools": [
      {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
       "properties": {"city": {"type": "string", "maxLength": 6}, "days": {"type": "integer"}},
       "required": ["city"]}}},
      {"type": "function", "function": {"name": "now"}}]})");
  EXPECT_TRUE(r.ok());
  return r.ok() ? r->tools : std::vector<ToolDef>{};
}

TEST(Tools, RequestFields) {
  auto r = parse_chat_request(R"({"messages": [
      {"role": "user", "content": "Weather?"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
       "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "cold"}],
      "tools": [{"type": "function", "function": {"name": "get_weather"}}],
      "tool_choice": {"type": "function", "function": {"name": "get_weather"}}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->tool_choice, ToolChoice::kNamed);
  EXPECT_EQ(r->tool_name, "get_weather");
  ASSERT_EQ(r->messages[1].tool_calls.size(), 1u);
  EXPECT_EQ(r->messages[1].tool_calls[0].arguments, "{\"city\": \"Oslo\"}");
  EXPECT_EQ(r->messages[2].tool_call_id, "c1");
  EXPECT_EQ(r->tools[0].parameters["type"], "object");  // absent parameters: no arguments
  auto with_tools = parse_chat_request(R"({"messages": [{"role": "user", "content": "x"}],
      "tools": [{"type": "function", "function": {"name": "f"}}]})");
  ASSERT_TRUE(with_tools.ok());
  EXPECT_EQ(with_tools->tool_choice, ToolChoice::kAuto);
  auto err = [](const std::string& extra) {
    auto q =
        parse_chat_request(R"({"messages": [{"role": "user", "content": "x"}], )" + extra + "}");
    return q.ok() ? std::string("(parsed)") : q.error().param + ": " + q.error().message;
  };
  EXPECT_EQ(err(R"("tool_choice": "required")"), "tool_choice: tool_choice needs 'tools'");
  EXPECT_EQ(err(R"("tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice":
      {"type": "function", "function": {"name": "g"}})"),
            "tool_choice: tool_choice names 'g', which is not in 'tools'");
  EXPECT_EQ(err(R"("tools": [{"type": "function", "function": {}}])"),
            "tools[0].function.name: 'tools[0].function.name' is required");
  EXPECT_EQ(
      err(R"("tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "any")"),
      "tool_choice: tool_choice 'any' is not one of none, auto, required");
  EXPECT_EQ(err(R"("tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice":
      "required", "guided_regex": "a")"),
            "tool_choice: a required tool call cannot be combined with a structured-output "
            "constraint");
}

TEST(Tools, TemplatesWithoutToolSupportGetThemInTheSystemMessage) {
  auto t = ChatTemplate::parse(kChatMlTemplate);
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->uses_tools());
  EXPECT_EQ(tool_format(*t), ToolFormat::kHermes);
  const std::vector<ChatMessage> msgs = {
      {.role = "user", .content = "Weather?"},
      {.role = "assistant",
       .tool_calls = {{.id = "c1", .name = "get_weather", .arguments = "{\"city\":\"Oslo\"}"}}},
      {.role = "tool", .content = "cold", .tool_call_id = "c1"}};
  OJson tools_json = OJson::array({tools()[0].raw});
  auto text = t->render(msgs, {.tools = tools_json});
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_NE(text->find("<|im_start|>system\n# Tools"), std::string::npos) << *text;
  EXPECT_NE(text->find("\"name\":\"get_weather\""), std::string::npos) << *text;
  EXPECT_NE(text->find("<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}}"
                       "\n</tool_call>"),
            std::string::npos)
      << *text;
  EXPECT_NE(text->find("<tool_response>\ncold\n</tool_response>"), std::string::npos) << *text;
  // A template that reads tools gets them (and the calls as objects) in its context.
  auto native = ChatTemplate::parse(
      "{% for t in tools %}[{{ t.function.name }}]{% endfor %}{% for m in messages %}{% if "
      "m.tool_calls %}{% for c in m.tool_calls %}<tool_call>{{ c.function.arguments.city }}"
      "{% endfor %}{% else %}{{ m.role }}:{{ m.content }};{% endif %}{% endfor %}");
  ASSERT_TRUE(native.ok());
  EXPECT_TRUE(native->uses_tools());
  auto n = native->render(msgs, {.tools = tools_json});
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, "[get_weather]user:Weather?;<tool_call>Oslotool:cold;");
}

TEST(Tools, FormatsFromTemplates) {
  auto fmt = [](const std::string& src) { return tool_format(*ChatTemplate::parse(src)); };
  EXPECT_EQ(fmt("{{ tools }}<tool_call>"), ToolFormat::kHermes);
  EXPECT_EQ(fmt("{{ tools }}[TOOL_CALLS]"), ToolFormat::kMistral);
  EXPECT_EQ(fmt("{{ tools }}<|python_tag|>"), ToolFormat::kLlama3);
  EXPECT_EQ(fmt("{{ tools }} ipython"), ToolFormat::kLlama3);
}

TEST(Tools, ParseReplies) {
  const auto t = tools();
  auto p = parse_tool_calls(
      "Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
      "\"Rome\"}}\n"
      "</tool_call>\n<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>",
      ToolFormat::kHermes, t);
  ASSERT_EQ(p.calls.size(), 2u);
  EXPECT_EQ(p.content, "Let me look.");
  EXPECT_EQ(p.calls[0].name, "get_weather");
  EXPECT_EQ(p.calls[0].arguments, "{\"city\":\"Rome\"}");
  EXPECT_EQ(p.calls[1].name, "now");
  EXPECT_NE(p.calls[0].id, p.calls[1].id);
  auto l = parse_tool_calls(
      "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"A\"}}",
      ToolFormat::kLlama3, t);
  ASSERT_EQ(l.calls.size(), 1u);
  EXPECT_EQ(l.calls[0].arguments, "{\"city\":\"A\"}");
  EXPECT_EQ(l.content, "");
  auto two = parse_tool_calls(
      "{\"name\": \"now\", \"parameters\": {}}; {\"name\": \"now\", \"parameters\": {}}",
      ToolFormat::kLlama3, t);
  EXPECT_EQ(two.calls.size(), 2u);
  auto m = parse_tool_calls("[TOOL_CALLS] [{\"name\": \"now\", \"arguments\": {}}]",
                            ToolFormat::kMistral, t);
  ASSERT_EQ(m.calls.size(), 1u);
  EXPECT_EQ(m.calls[0].name, "now");
  // Not calls: plain text, unknown functions, broken JSON, text after the call.
  for (const auto& [text, f] : std::vector<std::pair<std::string, ToolFormat>>{
           {"Hello there", ToolFormat::kHermes},
           {"<tool_call>{\"name\": \"rm_rf\", \"arguments\": {}}</tool_call>", ToolFormat::kHermes},
           {"<tool_call>{\"name\": \"now\", </tool_call>", ToolFormat::kHermes},
           {"<tool_call>{\"name\": \"now\"}</tool_call> and more", ToolFormat::kHermes},
           {"{not json", ToolFormat::kLlama3},
           {"The answer is 4", ToolFormat::kLlama3},
           {"[TOOL_CALLS] nope", ToolFormat::kMistral}}) {
    const ParsedReply r = parse_tool_calls(text, f, t);
    EXPECT_TRUE(r.calls.empty()) << text;
    EXPECT_EQ(r.content, text);
  }
}

TEST(Tools, StreamedContentStopsWhereACallMayStart) {
  EXPECT_EQ(safe_content_prefix("Hello", ToolFormat::kHermes), 5u);
  EXPECT_EQ(safe_content_prefix("Hello <tool", ToolFormat::kHermes), 6u);
  EXPECT_EQ(safe_content_prefix("Hi <tool_call>{", ToolFormat::kHermes), 3u);
  EXPECT_EQ(safe_content_prefix("a <b", ToolFormat::kHermes), 4u);
  EXPECT_EQ(safe_content_prefix(" {\"na", ToolFormat::kLlama3), 0u);
  EXPECT_EQ(safe_content_prefix("<|pyt", ToolFormat::kLlama3), 0u);
  EXPECT_EQ(safe_content_prefix("Sure", ToolFormat::kLlama3), 4u);
  EXPECT_EQ(safe_content_prefix("ok [TOOL", ToolFormat::kMistral), 3u);
  EXPECT_EQ(safe_content_prefix("[{\"name", ToolFormat::kMistral), 0u);
}

// Random texts from each forced-call grammar parse back into calls to the right functions with
// arguments valid for them.
TEST(Tools, ForcedCallsAlwaysParse) {
  const auto t = tools();
  std::vector<std::string> pieces;
  for (int b = 0; b < 256; ++b) pieces.emplace_back(1, static_cast<char>(b));
  pieces.emplace_back();
  auto vocab = grammar::TokenVocab::create(std::move(pieces), {256});
  for (ToolFormat f : {ToolFormat::kHermes, ToolFormat::kLlama3, ToolFormat::kMistral})
    for (ToolChoice choice : {ToolChoice::kRequired, ToolChoice::kNamed}) {
      auto gbnf = tool_call_gbnf(t, choice, "get_weather", f);
      ASSERT_TRUE(gbnf.ok()) << gbnf.error().message;
      auto g = grammar::parse_gbnf(*gbnf);
      ASSERT_TRUE(g.ok()) << g.error().message << "\n" << *gbnf;
      auto cg = std::make_shared<grammar::CompiledGrammar>(*g, vocab);
      std::mt19937 rng(static_cast<uint32_t>(f) * 7 + static_cast<uint32_t>(choice));
      for (int k = 0; k < 8; ++k) {
        grammar::Matcher m(cg);
        std::vector<uint64_t> mask(vocab->mask_words());
        std::string text;
        for (int step = 0; step < 3000 && !m.is_terminated(); ++step) {
          m.fill_mask(mask);
          std::vector<int32_t> allowed;
          for (int32_t id = 0; id <= 256; ++id)
            if ((mask[static_cast<size_t>(id) >> 6] >> (id & 63)) & 1) allowed.push_back(id);
          ASSERT_FALSE(allowed.empty());
          int32_t id = allowed[rng() % allowed.size()];
          if (std::count(allowed.begin(), allowed.end(), 256) && rng() % 2) id = 256;
          if (std::count(allowed.begin(), allowed.end(), '"') && allowed.size() > 50 &&
              rng() % 3 == 0)
            id = '"';
          ASSERT_TRUE(m.accept_token(id));
          if (id != 256) text += static_cast<char>(id);
        }
        ASSERT_TRUE(m.is_terminated()) << text;
        const ParsedReply p = parse_tool_calls(text, f, t);
        ASSERT_FALSE(p.calls.empty()) << text;
        for (const ToolCall& c : p.calls) {
          if (choice == ToolChoice::kNamed) {
            EXPECT_EQ(c.name, "get_weather") << text;
          }
          const OJson args = OJson::parse(c.arguments);
          if (c.name == "get_weather") {
            ASSERT_TRUE(args.contains("city")) << text;
            EXPECT_LE(args["city"].get<std::string>().size(), 6u * 4);
          }
        }
      }
    }
}

}  // namespace
}  // namespace sarathi::server
