#include "server/openai_response.h"

#include <fmt/format.h>

#include <cmath>
#include <random>

namespace sarathi::server {
namespace {

/// JSON has no -inf: a token with probability 0 reports -9999.0 (as OpenAI and vLLM do).
double finite_logprob(float lp) {
  return std::isfinite(lp) && lp > -9999.0f ? static_cast<double>(lp) : -9999.0;
}

OrderedJson bytes_json(std::string_view token) {
  OrderedJson bytes = OrderedJson::array();
  for (char c : token) bytes.push_back(static_cast<unsigned char>(c));
  return bytes;
}

OrderedJson head(const ResponseMeta& meta, std::string_view object) {
  return OrderedJson{
      {"id", meta.id}, {"object", object}, {"created", meta.created}, {"model", meta.model}};
}

OrderedJson logprobs_or_null(const std::optional<std::vector<TokenLogprob>>& lp, bool chat) {
  if (!lp) return nullptr;
  return chat ? chat_logprobs_json(*lp) : completion_logprobs_json(*lp);
}

/// Chunks carry "usage": null when the stream will end with a usage chunk (OpenAI).
OrderedJson& with_null_usage(const ResponseMeta& meta, OrderedJson& chunk) {
  if (meta.stream_include_usage) chunk["usage"] = nullptr;
  return chunk;
}

}  // namespace

OrderedJson finish_reason_json(FinishReason r) {
  switch (r) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kToolCalls:
      return "tool_calls";
    case FinishReason::kNone:
      break;
  }
  return nullptr;
}

std::string make_response_id(std::string_view prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}{:016x}{:016x}", prefix, rng(), rng());
}

OrderedJson usage_json(const Usage& u) {
  return OrderedJson{{"prompt_tokens", u.prompt_tokens},
                     {"completion_tokens", u.completion_tokens},
                     {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

OrderedJson completion_logprobs_json(std::span<const TokenLogprob> tokens) {
  OrderedJson text = OrderedJson::array(), lps = OrderedJson::array(), tops = OrderedJson::array(),
              offsets = OrderedJson::array();
  for (const TokenLogprob& t : tokens) {
    text.push_back(t.token);
    offsets.push_back(t.text_offset);
    if (!t.logprob) {
      lps.push_back(nullptr);
      tops.push_back(nullptr);
      continue;
    }
    lps.push_back(finite_logprob(*t.logprob));
    OrderedJson top = OrderedJson::object();
    for (const TopLogprob& alt : t.top)
      if (!top.contains(alt.token)) top[alt.token] = finite_logprob(alt.logprob);
    tops.push_back(std::move(top));
  }
  return OrderedJson{{"tokens", std::move(text)},
                     {"token_logprobs", std::move(lps)},
                     {"top_logprobs", std::move(tops)},
                     {"text_offset", std::move(offsets)}};
}

OrderedJson chat_logprobs_json(std::span<const TokenLogprob> tokens) {
  OrderedJson content = OrderedJson::array();
  for (const TokenLogprob& t : tokens) {
    OrderedJson top = OrderedJson::array();
    for (const TopLogprob& alt : t.top)
      top.push_back(OrderedJson{{"token", alt.token},
                                {"logprob", finite_logprob(alt.logprob)},
                                {"bytes", bytes_json(alt.token)}});
    content.push_back(OrderedJson{{"token", t.token},
                                  {"logprob", finite_logprob(t.logprob.value_or(-9999.0f))},
                                  {"bytes", bytes_json(t.token)},
                                  {"top_logprobs", std::move(top)}});
  }
  return OrderedJson{{"content", std::move(content)}};
}

OrderedJson completion_response(const ResponseMeta& meta, std::span<const CompletionChoice> choices,
                                const Usage& usage) {
  OrderedJson out = head(meta, "text_completion");
  OrderedJson list = OrderedJson::array();
  for (const CompletionChoice& c : choices)
    list.push_back(OrderedJson{{"index", c.index},
                               {"text", c.text},
                               {"logprobs", logprobs_or_null(c.logprobs, false)},
                               {"finish_reason", finish_reason_json(c.finish_reason)}});
  out["choices"] = std::move(list);
  out["usage"] = usage_json(usage);
  return out;
}

OrderedJson completion_chunk(const ResponseMeta& meta, const CompletionChoice& choice) {
  OrderedJson out = head(meta, "text_completion");
  out["choices"] = OrderedJson::array(
      {OrderedJson{{"index", choice.index},
                   {"text", choice.text},
                   {"logprobs", logprobs_or_null(choice.logprobs, false)},
                   {"finish_reason", finish_reason_json(choice.finish_reason)}}});
  return with_null_usage(meta, out);
}

OrderedJson chat_response(const ResponseMeta& meta, std::span<const ChatChoice> choices,
                          const Usage& usage) {
  OrderedJson out = head(meta, "chat.completion");
  OrderedJson list = OrderedJson::array();
  for (const ChatChoice& c : choices) {
    OrderedJson message{{"role", "assistant"}, {"content", c.content}};
    if (!c.tool_calls.empty()) {
      if (c.content.empty()) message["content"] = nullptr;
      OrderedJson calls = OrderedJson::array();
      for (const ToolCallOut& t : c.tool_calls)
        calls.push_back(OrderedJson{{"id", t.id},
                                    {"type", "function"},
                                    {"function", {{"name", t.name}, {"arguments", t.arguments}}}});
      message["tool_calls"] = std::move(calls);
    }
    list.push_back(OrderedJson{{"index", c.index},
                               {"message", std::move(message)},
                               {"logprobs", logprobs_or_null(c.logprobs, true)},
                               {"finish_reason", finish_reason_json(c.finish_reason)}});
  }
  out["choices"] = std::move(list);
  out["usage"] = usage_json(usage);
  return out;
}

OrderedJson chat_chunk(const ResponseMeta& meta, const ChatDelta& delta) {
  OrderedJson d = OrderedJson::object();
  if (delta.role) d["role"] = "assistant";
  if (delta.content)
    d["content"] = *delta.content;
  else if (delta.role)
    d["content"] = "";
  if (delta.tool_call) {
    const ToolCallDelta& t = *delta.tool_call;
    OrderedJson call{{"index", t.index}};
    if (!t.id.empty()) {
      call["id"] = t.id;
      call["type"] = "function";
      call["function"] = {{"name", t.name}, {"arguments", t.arguments}};
    } else {
      call["function"] = {{"arguments", t.arguments}};
    }
    d["tool_calls"] = OrderedJson::array({std::move(call)});
  }
  OrderedJson out = head(meta, "chat.completion.chunk");
  out["choices"] =
      OrderedJson::array({OrderedJson{{"index", delta.index},
                                      {"delta", std::move(d)},
                                      {"logprobs", logprobs_or_null(delta.logprobs, true)},
                                      {"finish_reason", finish_reason_json(delta.finish_reason)}}});
  return with_null_usage(meta, out);
}

OrderedJson usage_chunk(const ResponseMeta& meta, std::string_view object, const Usage& usage) {
  OrderedJson out = head(meta, object);
  out["choices"] = OrderedJson::array();
  out["usage"] = usage_json(usage);
  return out;
}

OrderedJson models_response(std::span<const ModelCard> models) {
  OrderedJson data = OrderedJson::array();
  for (const ModelCard& m : models) {
    OrderedJson card{{"id", m.id},           {"object", "model"},
                     {"created", m.created}, {"owned_by", m.owned_by},
                     {"root", m.id},         {"parent", nullptr}};
    if (m.max_model_len > 0) card["max_model_len"] = m.max_model_len;
    data.push_back(std::move(card));
  }
  return OrderedJson{{"object", "list"}, {"data", std::move(data)}};
}

OrderedJson tokenize_response(std::span<const int32_t> tokens, int64_t max_model_len) {
  return OrderedJson{{"count", tokens.size()},
                     {"max_model_len", max_model_len},
                     {"tokens", std::vector<int32_t>(tokens.begin(), tokens.end())}};
}

OrderedJson detokenize_response(std::string_view text) { return OrderedJson{{"prompt", text}}; }

std::string dump_json(const OrderedJson& j) {
  return j.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

std::string sse_event(const OrderedJson& j) { return "data: " + dump_json(j) + "\n\n"; }

std::string sse_done() { return "data: [DONE]\n\n"; }

}  // namespace sarathi::server
