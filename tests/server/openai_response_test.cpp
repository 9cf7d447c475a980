// Response builders: OpenAI's object shapes (keys, types, order), logprobs formats, streaming
// chunks, usage chunks and SSE framing.
#include "server/openai_response.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace sarathi::server {
namespace {

const ResponseMeta kMeta{.id = "cmpl-abc", .created = 1700000000, .model = "tiny"};

std::vector<std::string> keys(const OrderedJson& j) {
  std::vector<std::string> out;
  for (const auto& [k, v] : j.items()) out.push_back(k);
  return out;
}

TEST(Response, Completion) {
  const std::vector<CompletionChoice> choices = {
      {.index = 0, .text = "Hello", .finish_reason = FinishReason::kLength},
      {.index = 1, .text = " world", .finish_reason = FinishReason::kStop},
  };
  const OrderedJson j =
      completion_response(kMeta, choices, {.prompt_tokens = 5, .completion_tokens = 7});
  EXPECT_EQ(keys(j),
            (std::vector<std::string>{"id", "object", "created", "model", "choices", "usage"}));
  EXPECT_EQ(j["id"], "cmpl-abc");
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["created"], 1700000000);
  EXPECT_EQ(j["model"], "tiny");
  ASSERT_EQ(j["choices"].size(), 2u);
  const auto& c0 = j["choices"][0];
  EXPECT_EQ(keys(c0), (std::vector<std::string>{"index", "text", "logprobs", "finish_reason"}));
  EXPECT_EQ(c0["index"], 0);
  EXPECT_EQ(c0["text"], "Hello");
  EXPECT_TRUE(c0["logprobs"].is_null());
  EXPECT_EQ(c0["finish_reason"], "length");
  EXPECT_EQ(j["choices"][1]["finish_reason"], "stop");
  EXPECT_EQ(j["usage"],
            (OrderedJson{{"prompt_tokens", 5}, {"completion_tokens", 7}, {"total_tokens", 12}}));
}

TEST(Response, CompletionLogprobs) {
  const std::vector<TokenLogprob> lp = {
      {.token = "The", .logprob = std::nullopt, .top = {}, .text_offset = 0},  // echoed first token
      {.token = " cat",
       .logprob = -0.5f,
       .top = {{" cat", -0.5f}, {" dog", -1.25f}},
       .text_offset = 3},
      {.token = "!",
       .logprob = -std::numeric_limits<float>::infinity(),
       .top = {},
       .text_offset = 7},
  };
  const OrderedJson j = completion_logprobs_json(lp);
  EXPECT_EQ(keys(j),
            (std::vector<std::string>{"tokens", "token_logprobs", "top_logprobs", "text_offset"}));
  EXPECT_EQ(j["tokens"], (OrderedJson{"The", " cat", "!"}));
  EXPECT_TRUE(j["token_logprobs"][0].is_null());
  EXPECT_DOUBLE_EQ(j["token_logprobs"][1].get<double>(), -0.5);
  EXPECT_DOUBLE_EQ(j["token_logprobs"][2].get<double>(), -9999.0);  // -inf is not JSON
  EXPECT_TRUE(j["top_logprobs"][0].is_null());
  EXPECT_EQ(j["top_logprobs"][1], (OrderedJson{{" cat", -0.5}, {" dog", -1.25}}));
  EXPECT_EQ(j["text_offset"], (OrderedJson{0, 3, 7}));

  CompletionChoice c{
      .index = 0, .text = " cat!", .logprobs = lp, .finish_reason = FinishReason::kStop};
  const OrderedJson full = completion_response(kMeta, std::span(&c, 1), {});
  EXPECT_TRUE(full["choices"][0]["logprobs"].is_object());
}

TEST(Response, ChatCompletion) {
  const std::vector<TokenLogprob> lp = {
      {.token = "Hi", .logprob = -0.25f, .top = {{"Hi", -0.25f}, {"Hey", -2.0f}}}};
  const std::vector<ChatChoice> choices = {
      {.index = 0, .content = "Hi", .logprobs = lp, .finish_reason = FinishReason::kStop}};
  const ResponseMeta meta{.id = "chatcmpl-1", .created = 1, .model = "tiny"};
  const OrderedJson j = chat_response(meta, choices, {.prompt_tokens = 3, .completion_tokens = 1});
  EXPECT_EQ(keys(j),
            (std::vector<std::string>{"id", "object", "created", "model", "choices", "usage"}));
  EXPECT_EQ(j["object"], "chat.completion");
  const auto& c = j["choices"][0];
  EXPECT_EQ(keys(c), (std::vector<std::string>{"index", "message", "logprobs", "finish_reason"}));
  EXPECT_EQ(c["message"], (OrderedJson{{"role", "assistant"}, {"content", "Hi"}}));
  EXPECT_EQ(c["finish_reason"], "stop");
  const auto& content = c["logprobs"]["content"];
  ASSERT_EQ(content.size(), 1u);
  EXPECT_EQ(keys(content[0]),
            (std::vector<std::string>{"token", "logprob", "bytes", "top_logprobs"}));
  EXPECT_EQ(content[0]["token"], "Hi");
  EXPECT_DOUBLE_EQ(content[0]["logprob"].get<double>(), -0.25);
  EXPECT_EQ(content[0]["bytes"], (OrderedJson{72, 105}));
  ASSERT_EQ(content[0]["top_logprobs"].size(), 2u);
  EXPECT_EQ(content[0]["top_logprobs"][1]["token"], "Hey");
  EXPECT_EQ(content[0]["top_logprobs"][1]["bytes"], (OrderedJson{72, 101, 121}));
  EXPECT_EQ(j["usage"]["total_tokens"], 4);
}

TEST(Response, ChatStreamChunks) {
  const ResponseMeta meta{.id = "chatcmpl-2", .created = 5, .model = "tiny"};
  const OrderedJson first = chat_chunk(meta, {.index = 0, .role = true});
  EXPECT_EQ(keys(first), (std::vector<std::string>{"id", "object", "created", "model", "choices"}));
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"], (OrderedJson{{"role", "assistant"}, {"content", ""}}));
  EXPECT_TRUE(first["choices"][0]["finish_reason"].is_null());
  EXPECT_TRUE(first["choices"][0]["logprobs"].is_null());

  const OrderedJson mid = chat_chunk(meta, {.index = 1, .content = "Hel"});
  EXPECT_EQ(mid["choices"][0]["index"], 1);
  EXPECT_EQ(mid["choices"][0]["delta"], (OrderedJson{{"content", "Hel"}}));

  const OrderedJson last = chat_chunk(meta, {.index = 0, .finish_reason = FinishReason::kLength});
  EXPECT_TRUE(last["choices"][0]["delta"].is_object());
  EXPECT_TRUE(last["choices"][0]["delta"].empty());
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length");
  EXPECT_FALSE(last.contains("usage"));
}

TEST(Response, IncludeUsageChunks) {
  ResponseMeta meta{
      .id = "chatcmpl-3", .created = 5, .model = "tiny", .stream_include_usage = true};
  const OrderedJson chunk = chat_chunk(meta, {.index = 0, .content = "x"});
  ASSERT_TRUE(chunk.contains("usage"));
  EXPECT_TRUE(chunk["usage"].is_null());
  const OrderedJson tail =
      usage_chunk(meta, "chat.completion.chunk", {.prompt_tokens = 2, .completion_tokens = 3});
  EXPECT_EQ(tail["object"], "chat.completion.chunk");
  EXPECT_TRUE(tail["choices"].is_array());
  EXPECT_TRUE(tail["choices"].empty());
  EXPECT_EQ(tail["usage"]["total_tokens"], 5);

  meta.id = "cmpl-4";
  const OrderedJson text = completion_chunk(meta, {.index = 2, .text = "abc"});
  EXPECT_EQ(text["object"], "text_completion");
  EXPECT_EQ(keys(text["choices"][0]),
            (std::vector<std::string>{"index", "text", "logprobs", "finish_reason"}));
  EXPECT_EQ(text["choices"][0]["text"], "abc");
  EXPECT_TRUE(text["choices"][0]["finish_reason"].is_null());
  EXPECT_TRUE(text["usage"].is_null());
}

TEST(Response, SseFraming) {
  const OrderedJson j = chat_chunk(kMeta, {.index = 0, .content = "line1\nline2\r\n\"q\""});
  const std::string ev = sse_event(j);
  ASSERT_GT(ev.size(), 8u);
  EXPECT_EQ(ev.substr(0, 6), "data: ");
  EXPECT_EQ(ev.substr(ev.size() - 2), "\n\n");
  const std::string payload = ev.substr(6, ev.size() - 8);
  EXPECT_EQ(payload.find('\n'), std::string::npos);  // one event, one data line
  EXPECT_EQ(payload.find('\r'), std::string::npos);
  EXPECT_EQ(OrderedJson::parse(payload), j);
  EXPECT_EQ(sse_done(), "data: [DONE]\n\n");
}

TEST(Response, InvalidUtf8IsReplacedNotThrown) {
  // A token may end inside a multi-byte character.
  const OrderedJson j = chat_chunk(kMeta, {.index = 0, .content = std::string("caf\xc3")});
  std::string s;
  ASSERT_NO_THROW(s = dump_json(j));
  EXPECT_NE(s.find("caf\xef\xbf\xbd"), std::string::npos);  // U+FFFD
  EXPECT_NO_THROW(sse_event(j));
}

TEST(Response, ModelsTokenizeDetokenize) {
  const std::vector<ModelCard> models = {{.id = "tiny", .created = 9, .max_model_len = 2048}};
  const OrderedJson m = models_response(models);
  EXPECT_EQ(m["object"], "list");
  ASSERT_EQ(m["data"].size(), 1u);
  EXPECT_EQ(m["data"][0]["id"], "tiny");
  EXPECT_EQ(m["data"][0]["object"], "model");
  EXPECT_EQ(m["data"][0]["created"], 9);
  EXPECT_EQ(m["data"][0]["owned_by"], "sarathi");
  EXPECT_EQ(m["data"][0]["max_model_len"], 2048);

  const std::vector<int32_t> toks = {1, 2, 3};
  EXPECT_EQ(tokenize_response(toks, 4096),
            (OrderedJson{{"count", 3}, {"max_model_len", 4096}, {"tokens", {1, 2, 3}}}));
  EXPECT_EQ(detokenize_response("Hello"), (OrderedJson{{"prompt", "Hello"}}));
}

TEST(Response, Ids) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string id = make_response_id("chatcmpl-");
    EXPECT_EQ(id.rfind("chatcmpl-", 0), 0u);
    EXPECT_EQ(id.size(), 9u + 32u);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace sarathi::server
