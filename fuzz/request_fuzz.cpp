// fuzz/request_fuzz.cpp: libFuzzer target for the server's protocol layer. The first byte picks
// the mode: even → the rest is a request body given to all four parsers (completions, chat,
// tokenize, detokenize); odd → the rest is Jinja template text, parsed and rendered with a
// chat-like context. Accepted requests' structured-output constraints and forced tool calls are
// compiled to grammars (the JSON Schema, regex and GBNF compilers). Any input must give a value
// or an error (never a crash, hang or leak), and
// what is accepted must satisfy the documented ranges. Built with the `fuzz` preset (clang,
// ASan+UBSan); run through scripts/fuzz.sh request.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/chat_template.h"
#include "server/jinja.h"
#include "server/openai_request.h"
#include "server/openai_response.h"
#include "server/openai_structured.h"
#include "server/openai_tools.h"

namespace {

using namespace sarathi::server;  // NOLINT(google-build-using-namespace)

[[noreturn]] void fail(const char* what, const std::string& detail = "") {
  std::fprintf(stderr, "request_fuzz: invariant violated: %s %s\n", what, detail.c_str());
  std::abort();
}

template <typename T>
void check_error(const ApiResult<T>& r) {
  if (r.ok()) return;
  if (r.error().http_status != 400 || r.error().message.empty())
    fail("error without status 400 or message:", r.error().message);
  (void)dump_json(to_json(r.error()));  // must serialize, whatever bytes the message holds
}

void check_sampling(const SamplingRequest& s) {
  if (s.n < 1 || s.n > kMaxN) fail("n out of range");
  if (!(s.temperature >= 0 && s.temperature <= 2)) fail("temperature out of range");
  if (!(s.top_p > 0 && s.top_p <= 1)) fail("top_p out of range");
  if (s.top_k < 0) fail("negative top_k");
  if (!(s.min_p >= 0 && s.min_p <= 1)) fail("min_p out of range");
  if (!(s.repetition_penalty > 0)) fail("repetition_penalty out of range");
  if (s.max_tokens && *s.max_tokens < 0) fail("negative max_tokens");
  if (s.logprobs && (*s.logprobs < 0 || *s.logprobs > kMaxLogprobs)) fail("logprobs out of range");
  if (s.stop.size() > kMaxStopStrings) fail("too many stop strings");
  for (const auto& stop : s.stop)
    if (stop.empty()) fail("empty stop string kept");
  for (const auto& [id, bias] : s.logit_bias)
    if (id < 0 || bias < -100 || bias > 100) fail("logit_bias out of range");
  if (s.include_usage && !s.stream) fail("include_usage without stream");
}

void fuzz_requests(std::string_view body) {
  auto completion = parse_completion_request(body);
  check_error(completion);
  if (completion.ok()) {
    check_sampling(completion->sampling);
    check_error(compile_constraint(completion->sampling.constraint));
    if (completion->prompts.empty() || completion->prompts.size() > kMaxPrompts)
      fail("prompt count out of range");
    if (static_cast<int64_t>(completion->prompts.size()) * completion->sampling.n > kMaxChoices)
      fail("too many choices");
    for (const auto& p : completion->prompts) {
      if (const auto* text = std::get_if<std::string>(&p); text && text->empty())
        fail("empty prompt");
      if (const auto* ids = std::get_if<std::vector<int32_t>>(&p); ids && ids->empty())
        fail("empty ids");
    }
  }
  auto chat = parse_chat_request(body);
  check_error(chat);
  if (chat.ok()) {
    check_sampling(chat->sampling);
    if (chat->messages.empty()) fail("empty messages accepted");
    for (const auto& m : chat->messages)
      if (m.role != "system" && m.role != "user" && m.role != "assistant" && m.role != "tool")
        fail("bad role", m.role);
    check_error(compile_constraint(chat->sampling.constraint));
    if (!chat->tools.empty())
      check_error(tool_call_gbnf(chat->tools, ToolChoice::kRequired, "", ToolFormat::kHermes));
    // The accepted conversation renders through the fallback template without failing.
    auto prompt = render_chat(kChatMlTemplate, chat->messages, {});
    if (!prompt.ok()) fail("ChatML render failed:", prompt.error().message);
  }
  auto tokenize = parse_tokenize_request(body);
  check_error(tokenize);
  auto detokenize = parse_detokenize_request(body);
  check_error(detokenize);
  if (detokenize.ok())
    for (int32_t t : detokenize->tokens)
      if (t < 0) fail("negative token id");
}

const nlohmann::ordered_json& context() {
  static const nlohmann::ordered_json kContext = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are helpful."},
      {"role": "user", "content": "Hi {{ there }}"},
      {"role": "assistant", "content": "  Hello.  "},
      {"role": "user", "content": "h\u00e9llo \ud83d\ude00"}
    ],
    "bos_token": "<s>", "eos_token": "</s>", "add_generation_prompt": true,
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"x": [1, 2.5, null]}}}],
    "n": -9223372036854775808, "big": 18446744073709551615, "f": 1e308
  })");
  return kContext;
}

void fuzz_template(std::string_view text) {
  // Small limits keep every input fast; the defaults are tested in jinja_test.cpp.
  const sarathi::server::jinja::TemplateOptions opts{.max_output_bytes = 1 << 16,
                                                     .max_value_bytes = 1 << 16,
                                                     .max_list_items = 10'000,
                                                     .max_steps = 200'000,
                                                     .max_alloc_bytes = 16 << 20};
  auto t = sarathi::server::jinja::Template::parse(text, opts);
  if (!t.ok()) {
    if (t.error().message.empty()) fail("parse error without a message");
    return;
  }
  auto out = t->render(context());
  if (out.ok() && out->size() > opts.max_output_bytes) fail("output limit exceeded");
  if (!out.ok() && out.error().message.empty()) fail("render error without a message");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    fuzz_requests(rest);
  } else {
    fuzz_template(rest);
  }
  return 0;
}
