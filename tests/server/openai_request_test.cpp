// Request parsing and validation: every prompt form, every field, and each invalid case's status,
// param and code.
#include "server/openai_request.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sarathi::server {
namespace {

using nlohmann::json;

struct BadCase {
  std::string body;
  std::string param;  // expected ApiError::param
  std::string code;   // expected ApiError::code
};

template <typename T>
void expect_rejected(const ApiResult<T>& r, const BadCase& c) {
  ASSERT_FALSE(r.ok()) << "accepted: " << c.body;
  EXPECT_EQ(r.error().http_status, 400) << c.body;
  EXPECT_EQ(r.error().type, "invalid_request_error") << c.body;
  EXPECT_EQ(r.error().param, c.param) << c.body << " -> " << r.error().message;
  EXPECT_EQ(r.error().code, c.code) << c.body << " -> " << r.error().message;
  EXPECT_FALSE(r.error().message.empty());
}

TEST(CompletionRequest, PromptForms) {
  auto one = parse_completion_request(R"({"model": "m", "prompt": "Hello"})");
  ASSERT_TRUE(one.ok()) << one.error().message;
  EXPECT_EQ(one->model, "m");
  ASSERT_EQ(one->prompts.size(), 1u);
  EXPECT_EQ(std::get<std::string>(one->prompts[0]), "Hello");

  auto strings = parse_completion_request(R"({"prompt": ["a", "b", "c"], "n": 2})");
  ASSERT_TRUE(strings.ok());
  ASSERT_EQ(strings->prompts.size(), 3u);
  EXPECT_EQ(std::get<std::string>(strings->prompts[2]), "c");
  EXPECT_EQ(strings->sampling.n, 2);

  auto ids = parse_completion_request(R"({"prompt": [1, 2, 3]})");
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(ids->prompts.size(), 1u);
  EXPECT_EQ(std::get<std::vector<int32_t>>(ids->prompts[0]), (std::vector<int32_t>{1, 2, 3}));

  auto lists = parse_completion_request(R"({"prompt": [[1, 2], [3]]})");
  ASSERT_TRUE(lists.ok());
  ASSERT_EQ(lists->prompts.size(), 2u);
  EXPECT_EQ(std::get<std::vector<int32_t>>(lists->prompts[1]), (std::vector<int32_t>{3}));
}

TEST(CompletionRequest, DefaultsFollowOpenAI) {
  auto r = parse_completion_request(R"({"prompt": "x"})");
  ASSERT_TRUE(r.ok());
  const SamplingRequest& s = r->sampling;
  EXPECT_EQ(r->model, "");
  EXPECT_EQ(s.max_tokens, kDefaultCompletionMaxTokens);
  EXPECT_EQ(s.n, 1);
  EXPECT_FLOAT_EQ(s.temperature, 1.0f);
  EXPECT_FLOAT_EQ(s.top_p, 1.0f);
  EXPECT_EQ(s.top_k, 0);
  EXPECT_FLOAT_EQ(s.repetition_penalty, 1.0f);
  EXPECT_FALSE(s.seed.has_value());
  EXPECT_FALSE(s.logprobs.has_value());
  EXPECT_FALSE(s.stream);
  EXPECT_FALSE(s.include_usage);
  EXPECT_FALSE(r->echo);
  EXPECT_TRUE(s.stop.empty());
}

TEST(CompletionRequest, AllFields) {
  auto r = parse_completion_request(R"({
      "model": "tiny", "prompt": "x", "max_tokens": 32, "temperature": 0.7, "top_p": 0.9,
      "top_k": 40, "min_p": 0.05, "n": 3, "seed": -7, "stop": ["\n", "", "END"],
      "stop_token_ids": [2, 3], "presence_penalty": 0.5, "frequency_penalty": -0.5,
      "repetition_penalty": 1.1, "logit_bias": {"15": -100, "7": 2.5}, "logprobs": 5,
      "echo": true, "ignore_eos": true, "stream": true,
      "stream_options": {"include_usage": true, "continuous_usage_stats": false},
      "user": "someone", "some_future_field": {"x": 1}, "suffix": null, "best_of": 1})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const SamplingRequest& s = r->sampling;
  EXPECT_EQ(s.max_tokens, 32);
  EXPECT_FLOAT_EQ(s.temperature, 0.7f);
  EXPECT_FLOAT_EQ(s.top_p, 0.9f);
  EXPECT_EQ(s.top_k, 40);
  EXPECT_FLOAT_EQ(s.min_p, 0.05f);
  EXPECT_EQ(s.n, 3);
  EXPECT_EQ(s.seed, -7);
  EXPECT_EQ(s.stop, (std::vector<std::string>{"\n", "END"}));  // empty strings dropped
  EXPECT_EQ(s.stop_token_ids, (std::vector<int32_t>{2, 3}));
  EXPECT_FLOAT_EQ(s.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(s.frequency_penalty, -0.5f);
  EXPECT_FLOAT_EQ(s.repetition_penalty, 1.1f);
  ASSERT_EQ(s.logit_bias.size(), 2u);
  EXPECT_EQ(s.logit_bias[0], (std::pair<int32_t, float>{15, -100.0f}));
  EXPECT_EQ(s.logit_bias[1], (std::pair<int32_t, float>{7, 2.5f}));
  EXPECT_EQ(s.logprobs, 5);
  EXPECT_TRUE(r->echo);
  EXPECT_TRUE(s.ignore_eos);
  EXPECT_TRUE(s.stream);
  EXPECT_TRUE(s.include_usage);
}

TEST(CompletionRequest, LenientWhereVllmIs) {
  auto r = parse_completion_request(
      R"({"prompt": "x", "n": 2.0, "max_tokens": 8.0, "top_k": -1, "stop": "###",
          "temperature": 0, "stream_options": null, "logprobs": null, "seed": null})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->sampling.n, 2);
  EXPECT_EQ(r->sampling.max_tokens, 8);
  EXPECT_EQ(r->sampling.top_k, 0);  // -1 means off
  EXPECT_EQ(r->sampling.stop, std::vector<std::string>{"###"});
  EXPECT_FLOAT_EQ(r->sampling.temperature, 0.0f);
  EXPECT_TRUE(parse_completion_request(R"({"prompt": "x", "max_tokens": 0, "echo": true})").ok());
  EXPECT_TRUE(parse_completion_request(R"({"prompt": "x", "stop": []})").ok());
}

TEST(CompletionRequest, RejectsMalformedBodies) {
  const std::vector<BadCase> cases = {
      {"", "", "invalid_json"},
      {"{\"prompt\": ", "", "invalid_json"},
      {"not json", "", "invalid_json"},
      {"[1, 2]", "", "invalid_json"},
      {"\"prompt\"", "", "invalid_json"},
      {"null", "", "invalid_json"},
      {"{\"prompt\": \"\xff\"}", "", "invalid_json"},                    // invalid UTF-8
      {R"({"prompt": "x", "temperature": 1e999})", "", "invalid_json"},  // number overflow
      {"{\"prompt\": " + std::string(100, '[') + std::string(100, ']') + "}", "", "invalid_json"},
  };
  for (const auto& c : cases) expect_rejected(parse_completion_request(c.body), c);
}

TEST(CompletionRequest, RejectsBadPrompts) {
  std::string many = R"({"prompt": [)";
  for (size_t i = 0; i <= kMaxPrompts; ++i) many += (i ? ",\"p\"" : "\"p\"");
  many += "]}";
  std::string too_many_choices = R"({"n": 3, "prompt": [)";
  for (int i = 0; i < 100; ++i) too_many_choices += (i ? ",\"p\"" : "\"p\"");
  too_many_choices += "]}";
  const std::vector<BadCase> cases = {
      {R"({"model": "m"})", "prompt", "missing_required_parameter"},
      {R"({"prompt": null})", "prompt", "missing_required_parameter"},
      {R"({"prompt": ""})", "prompt", "invalid_value"},
      {R"({"prompt": []})", "prompt", "invalid_value"},
      {R"({"prompt": [""]})", "prompt", "invalid_value"},
      {R"({"prompt": ["a", 1]})", "prompt", "invalid_type"},
      {R"({"prompt": [1, "a"]})", "prompt", "invalid_type"},
      {R"({"prompt": [1, 2.5]})", "prompt", "invalid_value"},
      {R"({"prompt": [-1]})", "prompt", "invalid_value"},
      {R"({"prompt": [4294967296]})", "prompt", "invalid_value"},
      {R"({"prompt": [[1], []]})", "prompt", "invalid_value"},
      {R"({"prompt": [[1], 2]})", "prompt", "invalid_type"},
      {R"({"prompt": [{"a": 1}]})", "prompt", "invalid_type"},
      {R"({"prompt": 5})", "prompt", "invalid_type"},
      {R"({"prompt": {}})", "prompt", "invalid_type"},
      {many, "prompt", "invalid_value"},
      {too_many_choices, "n", "invalid_value"},
  };
  for (const auto& c : cases) expect_rejected(parse_completion_request(c.body), c);
}

TEST(CompletionRequest, RejectsBadFields) {
  std::string many_stops = R"({"prompt": "x", "stop": [)";
  for (size_t i = 0; i <= kMaxStopStrings; ++i) many_stops += (i ? ",\"s\"" : "\"s\"");
  many_stops += "]}";
  const std::vector<BadCase> cases = {
      {R"({"prompt": "x", "model": 5})", "model", "invalid_type"},
      {R"({"prompt": "x", "max_tokens": "5"})", "max_tokens", "invalid_type"},
      {R"({"prompt": "x", "max_tokens": -1})", "max_tokens", "invalid_value"},
      {R"({"prompt": "x", "max_tokens": 1.5})", "max_tokens", "invalid_type"},
      {R"({"prompt": "x", "max_tokens": 0})", "max_tokens", "invalid_value"},
      {R"({"prompt": "x", "max_tokens": 3000000000})", "max_tokens", "invalid_value"},
      {R"({"prompt": "x", "n": 1.5})", "n", "invalid_type"},
      {R"({"prompt": "x", "n": 0})", "n", "invalid_value"},
      {R"({"prompt": "x", "n": 129})", "n", "invalid_value"},
      {R"({"prompt": "x", "n": true})", "n", "invalid_type"},
      {R"({"prompt": "x", "temperature": -0.1})", "temperature", "invalid_value"},
      {R"({"prompt": "x", "temperature": 2.5})", "temperature", "invalid_value"},
      {R"({"prompt": "x", "temperature": "hot"})", "temperature", "invalid_type"},
      {R"({"prompt": "x", "top_p": 0})", "top_p", "invalid_value"},
      {R"({"prompt": "x", "top_p": 1.5})", "top_p", "invalid_value"},
      {R"({"prompt": "x", "top_k": -2})", "top_k", "invalid_value"},
      {R"({"prompt": "x", "top_k": 2.5})", "top_k", "invalid_type"},
      {R"({"prompt": "x", "min_p": 1.5})", "min_p", "invalid_value"},
      {R"({"prompt": "x", "presence_penalty": 3})", "presence_penalty", "invalid_value"},
      {R"({"prompt": "x", "frequency_penalty": -2.01})", "frequency_penalty", "invalid_value"},
      {R"({"prompt": "x", "repetition_penalty": 0})", "repetition_penalty", "invalid_value"},
      {R"({"prompt": "x", "seed": "42"})", "seed", "invalid_type"},
      {R"({"prompt": "x", "seed": 1.5})", "seed", "invalid_type"},
      {R"({"prompt": "x", "stop": 5})", "stop", "invalid_type"},
      {R"({"prompt": "x", "stop": [1]})", "stop", "invalid_type"},
      {many_stops, "stop", "invalid_value"},
      {R"({"prompt": "x", "stop_token_ids": [-1]})", "stop_token_ids", "invalid_value"},
      {R"({"prompt": "x", "stop_token_ids": "2"})", "stop_token_ids", "invalid_type"},
      {R"({"prompt": "x", "logit_bias": {"abc": 1}})", "logit_bias", "invalid_value"},
      {R"({"prompt": "x", "logit_bias": {"-3": 1}})", "logit_bias", "invalid_value"},
      {R"({"prompt": "x", "logit_bias": {"5": 200}})", "logit_bias", "invalid_value"},
      {R"({"prompt": "x", "logit_bias": {"5": "1"}})", "logit_bias", "invalid_type"},
      {R"({"prompt": "x", "logit_bias": [1]})", "logit_bias", "invalid_type"},
      {R"({"prompt": "x", "logprobs": 21})", "logprobs", "invalid_value"},
      {R"({"prompt": "x", "logprobs": -1})", "logprobs", "invalid_value"},
      {R"({"prompt": "x", "logprobs": true})", "logprobs", "invalid_type"},
      {R"({"prompt": "x", "echo": "yes"})", "echo", "invalid_type"},
      {R"({"prompt": "x", "ignore_eos": 1})", "ignore_eos", "invalid_type"},
      {R"({"prompt": "x", "stream": "true"})", "stream", "invalid_type"},
      {R"({"prompt": "x", "stream_options": {"include_usage": true}})", "stream_options",
       "invalid_value"},
      {R"({"prompt": "x", "stream": true, "stream_options": 1})", "stream_options", "invalid_type"},
      {R"({"prompt": "x", "stream": true, "stream_options": {"include_usage": "yes"}})",
       "stream_options.include_usage", "invalid_type"},
      {R"({"prompt": "x", "suffix": "tail"})", "suffix", "unsupported_parameter"},
      {R"({"prompt": "x", "best_of": 2})", "best_of", "unsupported_parameter"},
  };
  for (const auto& c : cases) expect_rejected(parse_completion_request(c.body), c);
}

TEST(ChatRequest, MessagesAndFields) {
  auto r = parse_chat_request(R"({
      "model": "tiny",
      "messages": [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "name": "u",
         "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}]},
        {"role": "assistant", "content": null},
        {"role": "assistant", "content": "Hello", "tool_calls": []},
        {"role": "user", "content": ""}
      ],
      "max_tokens": 10, "max_completion_tokens": 20, "logprobs": true, "top_logprobs": 3,
      "tools": [], "tool_choice": "none", "response_format": {"type": "text"},
      "add_generation_prompt": false, "stream": true,
      "stream_options": {"include_usage": false}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->model, "tiny");
  ASSERT_EQ(r->messages.size(), 5u);
  EXPECT_EQ(r->messages[0].role, "system");  // developer is read as system
  EXPECT_EQ(r->messages[0].content, "Be brief.");
  EXPECT_EQ(r->messages[1].content, "Hi\nthere");  // text parts joined with \n (vLLM)
  EXPECT_EQ(r->messages[2].content, "");
  EXPECT_EQ(r->messages[3].content, "Hello");
  EXPECT_EQ(r->sampling.max_tokens, 20);  // max_completion_tokens wins
  EXPECT_EQ(r->sampling.logprobs, 3);
  EXPECT_FALSE(r->add_generation_prompt);
  EXPECT_TRUE(r->sampling.stream);

  auto plain =
      parse_chat_request(R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 7})");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->sampling.max_tokens, 7);
  EXPECT_FALSE(plain->sampling.logprobs.has_value());
  EXPECT_TRUE(plain->add_generation_prompt);
  auto unlimited = parse_chat_request(R"({"messages": [{"role": "user", "content": "x"}]})");
  ASSERT_TRUE(unlimited.ok());
  EXPECT_FALSE(unlimited->sampling.max_tokens.has_value());  // until the context is full
  auto lp =
      parse_chat_request(R"({"messages": [{"role": "user", "content": "x"}], "logprobs": true})");
  ASSERT_TRUE(lp.ok());
  EXPECT_EQ(lp->sampling.logprobs, 0);
}

TEST(ChatRequest, RejectsBadMessagesAndFields) {
  const std::string user = R"({"role": "user", "content": "x"})";
  auto with = [&](const std::string& extra) {
    return R"({"messages": [)" + user + "]" + (extra.empty() ? "" : ", " + extra) + "}";
  };
  const std::vector<BadCase> cases = {
      {R"({"model": "m"})", "messages", "missing_required_parameter"},
      {R"({"messages": "hi"})", "messages", "invalid_type"},
      {R"({"messages": []})", "messages", "invalid_value"},
      {R"({"messages": ["hi"]})", "messages[0]", "invalid_type"},
      {R"({"messages": [{"content": "x"}]})", "messages[0].role", "missing_required_parameter"},
      {R"({"messages": [{"role": 1, "content": "x"}]})", "messages[0].role", "invalid_type"},
      {R"({"messages": [{"role": "wizard", "content": "x"}]})", "messages[0].role",
       "invalid_value"},
      {R"({"messages": [{"role": "function", "content": "x"}]})", "messages[0].role",
       "unsupported_parameter"},
      {R"({"messages": [{"role": "user", "content": "x", "tool_calls": []}]})",
       "messages[0].tool_calls", "invalid_value"},
      {R"({"messages": [{"role": "user"}]})", "messages[0].content", "missing_required_parameter"},
      {R"({"messages": [{"role": "user", "content": 5}]})", "messages[0].content", "invalid_type"},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]})",
       "messages[0].content[0].type", "unsupported_parameter"},
      {R"({"messages": [{"role": "user", "content": [{"type": "text"}]}]})",
       "messages[0].content[0].text", "missing_required_parameter"},
      {R"({"messages": [{"role": "user", "content": ["x"]}]})", "messages[0].content[0]",
       "invalid_type"},
      {R"({"messages": [{"role": "assistant", "content": "x", "tool_calls": [{"id": "1"}]}]})",
       "messages[0].tool_calls[0].function", "missing_required_parameter"},
      {with(R"("tools": [{"type": "function"}])"), "tools[0].function",
       "missing_required_parameter"},
      {with(R"("tools": [{"type": "retrieval"}])"), "tools[0].type", "unsupported_parameter"},
      {with(R"("tool_choice": "auto")"), "tool_choice", "invalid_value"},
      {with(R"("response_format": {"type": "yaml"})"), "response_format.type",
       "unsupported_parameter"},
      {with(R"("response_format": {"type": "json_schema"})"), "response_format.json_schema",
       "missing_required_parameter"},
      {with(R"("response_format": {"type": "json_schema", "json_schema": {"name": "x"}})"),
       "response_format.json_schema.schema", "missing_required_parameter"},
      {with(R"("guided_choice": [])"), "guided_choice", "invalid_type"},
      {with(R"("guided_choice": ["a", 1])"), "guided_choice", "invalid_type"},
      {with(R"("guided_json": "{bad")"), "guided_json", "invalid_value"},
      {with(R"("guided_regex": 5)"), "guided_regex", "invalid_type"},
      {with(R"("structured_outputs": {"json_object": false})"), "structured_outputs.json_object",
       "invalid_value"},
      {with(R"("grammar": "root ::= \"a\"", "guided_regex": "a")"), "grammar", "invalid_value"},
      {with(R"("top_logprobs": 5)"), "top_logprobs", "invalid_value"},
      {with(R"("logprobs": true, "top_logprobs": 21)"), "top_logprobs", "invalid_value"},
      {with(R"("logprobs": 1)"), "logprobs", "invalid_type"},
      {with(R"("max_completion_tokens": 0)"), "max_completion_tokens", "invalid_value"},
      {with(R"("max_tokens": -5)"), "max_tokens", "invalid_value"},
      {with(R"("temperature": -1)"), "temperature", "invalid_value"},
      {with(R"("n": 0)"), "n", "invalid_value"},
      {with(R"("add_generation_prompt": "no")"), "add_generation_prompt", "invalid_type"},
      {"[]", "", "invalid_json"},
  };
  for (const auto& c : cases) expect_rejected(parse_chat_request(c.body), c);
}

TEST(TokenizeRequest, TextOrMessages) {
  auto p = parse_tokenize_request(R"({"model": "m", "prompt": "Hello"})");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(std::get<std::string>(p->input), "Hello");
  EXPECT_TRUE(p->add_special_tokens);
  auto c = parse_tokenize_request(R"({"content": "", "add_special_tokens": false})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(std::get<std::string>(c->input), "");
  EXPECT_FALSE(c->add_special_tokens);
  auto m = parse_tokenize_request(R"({"messages": [{"role": "user", "content": "x"}]})");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(std::get<std::vector<ChatMessage>>(m->input).size(), 1u);
  EXPECT_FALSE(m->add_special_tokens);  // the chat template already adds them
  EXPECT_TRUE(m->add_generation_prompt);

  expect_rejected(parse_tokenize_request("{}"), {"{}", "prompt", "missing_required_parameter"});
  expect_rejected(parse_tokenize_request(R"({"prompt": 5})"),
                  {"prompt 5", "prompt", "invalid_type"});
  expect_rejected(parse_tokenize_request(R"({"prompt": "a", "messages": []})"),
                  {"both", "messages", "invalid_value"});
  expect_rejected(parse_tokenize_request(R"({"prompt": "a", "add_special_tokens": "y"})"),
                  {"flag", "add_special_tokens", "invalid_type"});
}

TEST(DetokenizeRequest, Tokens) {
  auto d = parse_detokenize_request(R"({"model": "m", "tokens": [1, 15043, 0]})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->tokens, (std::vector<int32_t>{1, 15043, 0}));
  EXPECT_TRUE(parse_detokenize_request(R"({"tokens": []})").ok());
  expect_rejected(parse_detokenize_request("{}"), {"{}", "tokens", "missing_required_parameter"});
  expect_rejected(parse_detokenize_request(R"({"tokens": [-1]})"),
                  {"-1", "tokens", "invalid_value"});
  expect_rejected(parse_detokenize_request(R"({"tokens": "1"})"),
                  {"str", "tokens", "invalid_type"});
  expect_rejected(parse_detokenize_request(R"({"tokens": ["1"]})"),
                  {"[str]", "tokens", "invalid_type"});
}

TEST(ApiError, JsonShape) {
  auto r = parse_completion_request(R"({"prompt": "x", "temperature": -1})");
  ASSERT_FALSE(r.ok());
  const auto j = to_json(r.error());
  ASSERT_TRUE(j.contains("error"));
  const auto& e = j["error"];
  EXPECT_EQ(e.size(), 4u);
  EXPECT_TRUE(e["message"].is_string());
  EXPECT_EQ(e["type"], "invalid_request_error");
  EXPECT_EQ(e["param"], "temperature");
  EXPECT_EQ(e["code"], "invalid_value");
  const auto none =
      to_json(ApiError{.http_status = 500, .message = "boom", .type = "internal_error"});
  EXPECT_TRUE(none["error"]["param"].is_null());
  EXPECT_TRUE(none["error"]["code"].is_null());
  EXPECT_EQ(none.dump(),
            R"({"error":{"message":"boom","type":"internal_error","param":null,"code":null}})");
}

TEST(ApiError, ReadyMadeErrors) {
  const ApiError nf = model_not_found("gpt-4");
  EXPECT_EQ(nf.http_status, 404);
  EXPECT_EQ(nf.param, "model");
  EXPECT_EQ(nf.code, "model_not_found");
  EXPECT_NE(nf.message.find("gpt-4"), std::string::npos);
  const ApiError ctx = context_length_exceeded("messages", 4000, 200, 4096);
  EXPECT_EQ(ctx.http_status, 400);
  EXPECT_EQ(ctx.param, "messages");
  EXPECT_EQ(ctx.code, "context_length_exceeded");
  EXPECT_NE(ctx.message.find("4096"), std::string::npos);
  EXPECT_NE(ctx.message.find("4200"), std::string::npos);
  const ApiError key = invalid_api_key();
  EXPECT_EQ(key.http_status, 401);
  EXPECT_TRUE(to_json(key)["error"]["param"].is_null());
}

}  // namespace
}  // namespace sarathi::server
