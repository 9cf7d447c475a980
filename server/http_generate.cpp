// server/http_generate.cpp: the generation endpoints. A request becomes one engine request per
// choice (prompt × n); the handler (an HTTP worker thread) pulls each choice's token events
// from its RequestStream with a timeout, so a slow or vanished client never blocks the engine.
// Streams go out as server-sent events from a chunked content provider; a failed write (the
// client left) or the response's release cancels every unfinished choice.
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "server/http_handlers.h"
#include "server/openai_request.h"
#include "server/openai_response.h"
#include "server/openai_structured.h"
#include "server/openai_tools.h"

namespace sarathi::server {
namespace {

using std::chrono::milliseconds;
constexpr milliseconds kPollInterval{50};

struct Choice {
  int32_t index = 0;
  std::string prefix;                             // echoed prompt text (completions with echo)
  std::shared_ptr<engine::RequestStream> stream;  // null: nothing to generate (echo only)
  std::string text;
  std::vector<TokenLogprob> logprobs;
  int64_t num_tokens = 0;
  FinishReason finish = FinishReason::kNone;
  bool done = false;
  bool aborted = false;
  size_t streamed = 0;  // chat with tools: bytes of text already sent as content
};

// One HTTP request's engine requests. Destroying it cancels whatever has not finished, so every
// way a response ends (written, failed, dropped) frees the KV blocks.
struct Job {
  bool chat = false;
  bool want_logprobs = false;
  bool include_usage = false;
  ResponseMeta meta;
  std::vector<Choice> choices;
  int64_t prompt_tokens = 0;
  std::shared_ptr<ServedModel> model;
  std::shared_ptr<HttpServer::State> state;
  bool started = false;  // streaming: first chunks sent
  bool closed = false;   // streaming: [DONE] sent
  // Chat with tools (tool_choice other than none): replies are read for calls in this format.
  bool tools_active = false;
  ToolFormat tool_format = ToolFormat::kHermes;
  std::vector<ToolDef> tools;

  explicit Job(std::shared_ptr<HttpServer::State> s) : state(std::move(s)) { ++state->num_active; }
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;
  ~Job() {
    cancel_all();
    --state->num_active;
  }
  void cancel_all() {
    for (Choice& c : choices)
      if (c.stream && !c.done) c.stream->cancel();
  }
  bool all_done() const {
    for (const Choice& c : choices)
      if (!c.done) return false;
    return true;
  }
  Usage usage() const {
    Usage u{.prompt_tokens = prompt_tokens};
    for (const Choice& c : choices) u.completion_tokens += c.num_tokens;
    return u;
  }
};

uint64_t random_seed() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return rng();
}

ApiError from_engine_error(const core::Error& e, const std::string& param) {
  // kResourceExhausted is a full queue or a shutdown (retry later: 503) or a request larger than
  // the whole KV pool (never fits: 400).
  const bool later = e.message.find("queue") != std::string::npos ||
                     e.message.find("shutting down") != std::string::npos;
  if (e.code == core::ErrorCode::kResourceExhausted && later) return unavailable(e.message);
  return invalid_request(param, e.message);
}

// Checks one prompt against the vocabulary and the context before anything is submitted.
ApiStatus check_prompt(const ServedModel& m, const std::vector<int32_t>& prompt,
                       const std::optional<int32_t>& max_tokens, const std::string& param) {
  if (prompt.empty()) return invalid_request(param, "The prompt is empty.");
  const int32_t vocab = m.model->tokenizer().n_vocab();
  for (int32_t t : prompt)
    if (t < 0 || t >= vocab)
      return invalid_request(param,
                             fmt::format("Token id {} is out of vocabulary [0, {}).", t, vocab));
  const auto n = static_cast<int64_t>(prompt.size());
  const int64_t max_len = m.sched.max_model_len;
  const int64_t want = max_tokens.value_or(0);
  if (n >= max_len || n + want > max_len)
    return context_length_exceeded(param, n, std::max<int64_t>(want, 1), max_len);
  return core::Ok{};
}

ApiStatus check_token_ids(const ServedModel& m, const SamplingRequest& s) {
  const int32_t vocab = m.model->tokenizer().n_vocab();
  for (const auto& [t, b] : s.logit_bias)
    if (t < 0 || t >= vocab)
      return invalid_request("logit_bias", fmt::format("Token id {} is out of vocabulary.", t));
  for (int32_t t : s.stop_token_ids)
    if (t < 0 || t >= vocab)
      return invalid_request("stop_token_ids", fmt::format("Token id {} is out of vocabulary.", t));
  return core::Ok{};
}

engine::RequestParams request_params(const SamplingRequest& s, int32_t sample_idx,
                                     const std::shared_ptr<grammar::CompiledGrammar>& grammar) {
  engine::RequestParams p;
  p.grammar = grammar;
  p.sampling.temperature = s.temperature;
  p.sampling.top_k = s.top_k;
  p.sampling.top_p = s.top_p;
  p.sampling.min_p = s.min_p;
  p.sampling.repetition_penalty = s.repetition_penalty;
  p.sampling.presence_penalty = s.presence_penalty;
  p.sampling.frequency_penalty = s.frequency_penalty;
  p.sampling.logit_bias = s.logit_bias;
  p.sampling.seed =
      s.seed ? static_cast<uint64_t>(*s.seed) + static_cast<uint64_t>(sample_idx) : random_seed();
  p.sampling.num_logprobs = s.logprobs.value_or(0);
  p.max_tokens = s.max_tokens.value_or(0);  // 0: the rest of the context
  p.ignore_eos = s.ignore_eos;
  p.priority = s.priority;
  p.stop_token_ids = s.stop_token_ids;
  p.stop = s.stop;
  return p;
}

// Submits every choice: choice index = prompt_idx * n + sample_idx.
ApiStatus submit_all(Job& job, const std::vector<std::vector<int32_t>>& prompts,
                     const std::vector<std::string>& prefixes, const SamplingRequest& s,
                     const std::string& param, const ConstraintGrammar& constraint) {
  if (job.state->draining) return unavailable("The server is shutting down.");
  SARATHI_RETURN_IF_ERROR(check_token_ids(*job.model, s));
  for (const auto& p : prompts)
    SARATHI_RETURN_IF_ERROR(check_prompt(*job.model, p, s.max_tokens, param));
  // Structured output: compiled (or found in the cache) here, on the HTTP thread; every choice
  // shares the compiled grammar, each with its own matcher.
  std::shared_ptr<grammar::CompiledGrammar> grammar;
  if (!constraint.gbnf.empty())
    grammar = job.model->grammars.get(constraint, job.model->engine->token_vocab());
  for (size_t p = 0; p < prompts.size(); ++p) {
    job.prompt_tokens += static_cast<int64_t>(prompts[p].size());
    for (int32_t i = 0; i < s.n; ++i) {
      Choice c;
      c.index = static_cast<int32_t>(p) * s.n + i;
      c.prefix = prefixes.empty() ? std::string() : prefixes[p];
      c.text = c.prefix;
      if (s.max_tokens && *s.max_tokens == 0) {  // echo only
        c.done = true;
        c.finish = FinishReason::kLength;
      } else {
        auto stream = job.model->engine->submit(prompts[p], request_params(s, i, grammar));
        if (!stream.ok()) return from_engine_error(stream.error(), param);
        c.stream = std::move(*stream);
      }
      job.choices.push_back(std::move(c));
    }
  }
  return core::Ok{};
}

TokenLogprob token_logprob(const model::Tokenizer& tok, const engine::TokenEvent& ev,
                           int64_t text_offset) {
  TokenLogprob t{.token = tok.token_to_piece(ev.token, false),
                 .logprob = ev.logprob,
                 .text_offset = text_offset};
  for (const auto& [id, lp] : ev.top_logprobs)
    t.top.push_back({.token = tok.token_to_piece(id, false), .logprob = lp});
  return t;
}

// Applies one event to its choice; returns the event's logprob entry when asked for.
std::optional<TokenLogprob> apply(Job& job, Choice& c, const engine::TokenEvent& ev) {
  std::optional<TokenLogprob> lp;
  if (ev.token >= 0) {
    ++c.num_tokens;
    if (job.want_logprobs) {
      lp = token_logprob(job.model->model->tokenizer(), ev, static_cast<int64_t>(c.text.size()));
      c.logprobs.push_back(*lp);
    }
    c.text += ev.text;
  }
  if (ev.finish != engine::FinishReason::kNone) {
    c.done = true;
    c.aborted = ev.finish == engine::FinishReason::kAbort;
    c.finish = ev.finish == engine::FinishReason::kLength ? FinishReason::kLength
               : ev.finish == engine::FinishReason::kStop ? FinishReason::kStop
                                                          : FinishReason::kNone;
  }
  return lp;
}

std::vector<ToolCallOut> calls_out(const std::vector<ToolCall>& calls) {
  std::vector<ToolCallOut> out;
  for (const ToolCall& c : calls) out.push_back({.id = c.id, .name = c.name, .arguments = c.arguments});
  return out;
}

std::string json_response(const Job& job) {
  if (job.chat) {
    std::vector<ChatChoice> out;
    for (const Choice& c : job.choices) {
      ChatChoice cc{.index = c.index,
                    .content = c.text,
                    .logprobs = job.want_logprobs ? std::optional(c.logprobs) : std::nullopt,
                    .finish_reason = c.finish};
      if (job.tools_active) {
        ParsedReply p = parse_tool_calls(c.text, job.tool_format, job.tools);
        if (!p.calls.empty()) {
          cc.content = p.content;
          cc.tool_calls = calls_out(p.calls);
          cc.finish_reason = FinishReason::kToolCalls;
        }
      }
      out.push_back(std::move(cc));
    }
    return dump_json(chat_response(job.meta, out, job.usage()));
  }
  std::vector<CompletionChoice> out;
  for (const Choice& c : job.choices)
    out.push_back({.index = c.index,
                   .text = c.text,
                   .logprobs = job.want_logprobs ? std::optional(c.logprobs) : std::nullopt,
                   .finish_reason = c.finish});
  return dump_json(completion_response(job.meta, out, job.usage()));
}

// Waits for every choice to finish, then answers with the whole response.
void respond_whole(Job& job, httplib::Response& res) {
  for (Choice& c : job.choices)
    while (!c.done)
      if (auto ev = c.stream->next(milliseconds(1000))) apply(job, c, *ev);
  for (const Choice& c : job.choices)
    if (c.aborted)
      return send_error(res, unavailable("The request was aborted: the server is shutting down."));
  res.status = 200;
  res.set_content(json_response(job), "application/json");
}

// Streaming a chat with tools: content goes out as long as it cannot be the start of a call;
// the rest waits for the end, when the calls (if the reply holds any) go out as OpenAI's
// tool_calls deltas: id and name first, then the arguments in fragments.
void stream_tool_event(Job& job, Choice& c, const engine::TokenEvent& ev,
                       std::optional<std::vector<TokenLogprob>> lps, std::string& out) {
  const size_t safe = safe_content_prefix(c.text, job.tool_format);
  if (safe > c.streamed || (ev.token >= 0 && lps)) {
    const std::string text = safe > c.streamed ? c.text.substr(c.streamed, safe - c.streamed) : "";
    c.streamed = std::max(c.streamed, safe);
    out += sse_event(chat_chunk(job.meta, {.index = c.index, .content = text, .logprobs = lps}));
  }
  if (!c.done) return;
  ParsedReply p = parse_tool_calls(c.text, job.tool_format, job.tools);
  FinishReason finish = c.finish;
  if (p.calls.empty()) {
    if (c.streamed < c.text.size())
      out += sse_event(chat_chunk(job.meta, {.index = c.index, .content = c.text.substr(c.streamed)}));
  } else {
    if (p.content.size() > c.streamed)
      out += sse_event(chat_chunk(job.meta, {.index = c.index, .content = p.content.substr(c.streamed)}));
    constexpr size_t kFragment = 16;
    for (size_t k = 0; k < p.calls.size(); ++k) {
      const ToolCall& call = p.calls[k];
      const auto idx = static_cast<int32_t>(k);
      out += sse_event(chat_chunk(
          job.meta, {.index = c.index,
                     .tool_call = ToolCallDelta{.index = idx, .id = call.id, .name = call.name}}));
      for (size_t a = 0, len; a < call.arguments.size(); a += len) {
        len = std::min(kFragment, call.arguments.size() - a);
        while (a + len < call.arguments.size() &&  // never split a UTF-8 character
               (static_cast<unsigned char>(call.arguments[a + len]) & 0xC0) == 0x80)
          ++len;
        out += sse_event(chat_chunk(
            job.meta, {.index = c.index,
                       .tool_call = ToolCallDelta{.index = idx,
                                                  .arguments = call.arguments.substr(a, len)}}));
      }
    }
    finish = FinishReason::kToolCalls;
  }
  c.streamed = c.text.size();
  out += sse_event(chat_chunk(job.meta, {.index = c.index, .finish_reason = finish}));
}

// SSE chunks for one event of choice c.
void stream_event(Job& job, Choice& c, const engine::TokenEvent& ev, std::string& out) {
  auto lp = apply(job, c, ev);
  std::optional<std::vector<TokenLogprob>> lps;
  if (lp) lps = std::vector<TokenLogprob>{*lp};
  if (job.chat && job.tools_active) return stream_tool_event(job, c, ev, std::move(lps), out);
  if (job.chat) {
    if (ev.token >= 0)
      out +=
          sse_event(chat_chunk(job.meta, {.index = c.index, .content = ev.text, .logprobs = lps}));
    if (c.done)
      out += sse_event(chat_chunk(job.meta, {.index = c.index, .finish_reason = c.finish}));
    return;
  }
  if (ev.token >= 0 || c.done)
    out += sse_event(completion_chunk(job.meta, {.index = c.index,
                                                 .text = ev.token >= 0 ? ev.text : std::string(),
                                                 .logprobs = lps,
                                                 .finish_reason = c.finish}));
}

// The first chunks of a stream: chat roles, echoed prompts, echo-only choices.
void stream_start(Job& job, std::string& out) {
  for (const Choice& c : job.choices) {
    if (job.chat) {
      out += sse_event(chat_chunk(job.meta, {.index = c.index, .role = true}));
    } else if (!c.prefix.empty() || c.done) {
      out += sse_event(completion_chunk(
          job.meta, {.index = c.index, .text = c.prefix, .finish_reason = c.finish}));
    }
  }
}

// One call of the chunked content provider: sends whatever is ready (waiting at most
// kPollInterval), and the end of the stream once every choice is done.
bool stream_step(Job& job, httplib::DataSink& sink) {
  if (!sink.is_writable()) {
    job.cancel_all();
    return false;
  }
  std::string out;
  if (!job.started) {
    stream_start(job, out);
    job.started = true;
  }
  for (Choice& c : job.choices)
    while (!c.done)
      if (auto ev = c.stream->next(milliseconds(0)))
        stream_event(job, c, *ev, out);
      else
        break;
  if (out.empty())
    for (Choice& c : job.choices)
      if (!c.done) {
        if (auto ev = c.stream->next(kPollInterval)) stream_event(job, c, *ev, out);
        break;
      }
  const bool finished = job.all_done();
  if (finished) {
    if (job.include_usage)
      out += sse_event(usage_chunk(job.meta, job.chat ? "chat.completion.chunk" : "text_completion",
                                   job.usage()));
    out += sse_done();
  }
  // An empty write would end httplib's provider loop: only write when there is data.
  if (!out.empty() && !sink.write(out.data(), out.size())) {
    job.cancel_all();
    return false;
  }
  if (finished) sink.done();
  return true;
}

void respond(std::shared_ptr<Job> job, bool stream, httplib::Response& res) {
  if (!stream) return respond_whole(*job, res);
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [job](size_t /*offset*/, httplib::DataSink& sink) { return stream_step(*job, sink); },
      [job](bool /*success*/) { job->cancel_all(); });
}

std::shared_ptr<Job> new_job(const std::shared_ptr<HttpServer::State>& state,
                             std::shared_ptr<ServedModel> model, bool chat,
                             const SamplingRequest& s) {
  auto job = std::make_shared<Job>(state);
  job->chat = chat;
  job->model = std::move(model);
  job->want_logprobs = s.logprobs.has_value();
  job->include_usage = s.stream && s.include_usage;
  job->meta = {.id = make_response_id(chat ? "chatcmpl-" : "cmpl-"),
               .created = static_cast<int64_t>(std::time(nullptr)),
               .model = state->options.served_model_name,
               .stream_include_usage = job->include_usage};
  return job;
}

ApiStatus check_model_name(const HttpServer::State& state, const std::string& model) {
  if (!model.empty() && model != state.options.served_model_name) return model_not_found(model);
  return core::Ok{};
}

}  // namespace

void handle_completions(const std::shared_ptr<HttpServer::State>& state,
                        std::shared_ptr<ServedModel> model, const httplib::Request& req,
                        httplib::Response& res) {
  auto parsed = parse_completion_request(req.body);
  if (!parsed.ok()) return send_error(res, parsed.error());
  const CompletionRequest& r = *parsed;
  if (auto st = check_model_name(*state, r.model); !st.ok()) return send_error(res, st.error());
  const model::Tokenizer& tok = model->model->tokenizer();
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::string> prefixes;
  for (const PromptInput& p : r.prompts) {
    if (const auto* text = std::get_if<std::string>(&p)) {
      prompts.push_back(tok.encode(*text, true, true));
      if (r.echo) prefixes.push_back(*text);
    } else {
      prompts.push_back(std::get<std::vector<int32_t>>(p));
      if (r.echo) prefixes.push_back(std::string());  // filled after the vocabulary check
    }
  }
  auto constraint = compile_constraint(r.sampling.constraint);
  if (!constraint.ok()) return send_error(res, constraint.error());
  auto job = new_job(state, std::move(model), false, r.sampling);
  if (auto st = submit_all(*job, prompts, prefixes, r.sampling, "prompt", *constraint); !st.ok())
    return send_error(res, st.error());
  if (r.echo)  // token-id prompts echo as their decoded text (ids are valid now)
    for (Choice& c : job->choices) {
      const size_t p = static_cast<size_t>(c.index / r.sampling.n);
      if (std::holds_alternative<std::vector<int32_t>>(r.prompts[p])) {
        c.prefix = tok.decode(prompts[p], false, false);
        c.text = c.prefix;
      }
    }
  respond(job, r.sampling.stream, res);
}

void handle_chat(const std::shared_ptr<HttpServer::State>& state,
                 std::shared_ptr<ServedModel> model, const httplib::Request& req,
                 httplib::Response& res) {
  auto parsed = parse_chat_request(req.body);
  if (!parsed.ok()) return send_error(res, parsed.error());
  const ChatRequest& r = *parsed;
  if (auto st = check_model_name(*state, r.model); !st.ok()) return send_error(res, st.error());
  const bool tools_active = r.tool_choice != ToolChoice::kNone;
  nlohmann::ordered_json tools_json = nlohmann::ordered_json::array();
  if (tools_active)
    for (const ToolDef& t : r.tools) tools_json.push_back(t.raw);
  auto rendered =
      model->chat_template.render(r.messages, {.bos_token = model->bos_text,
                                               .eos_token = model->eos_text,
                                               .add_generation_prompt = r.add_generation_prompt,
                                               .tools = tools_json});
  if (!rendered.ok()) return send_error(res, invalid_request("messages", rendered.error().message));
  const ToolFormat format = tool_format(model->chat_template);
  // The template already holds the special tokens (BOS...): add none.
  std::vector<std::vector<int32_t>> prompts{
      model->model->tokenizer().encode(*rendered, false, true)};
  auto constraint = compile_constraint(r.sampling.constraint);
  if (!constraint.ok()) return send_error(res, constraint.error());
  if (r.tool_choice == ToolChoice::kRequired || r.tool_choice == ToolChoice::kNamed) {
    // A forced call: the reply is grammar-constrained to a call, so it always parses.
    auto gbnf = tool_call_gbnf(r.tools, r.tool_choice, r.tool_name, format);
    if (!gbnf.ok()) return send_error(res, gbnf.error());
    auto g = grammar::parse_gbnf(*gbnf);
    if (!g.ok())
      return send_error(res, invalid_request("tools", "tool call grammar: " + g.error().message));
    *constraint = ConstraintGrammar{.gbnf = std::move(*gbnf), .grammar = std::move(*g)};
  }
  auto job = new_job(state, std::move(model), true, r.sampling);
  job->tools_active = tools_active;
  job->tool_format = format;
  job->tools = r.tools;
  if (auto st = submit_all(*job, prompts, {}, r.sampling, "messages", *constraint); !st.ok())
    return send_error(res, st.error());
  respond(job, r.sampling.stream, res);
}

}  // namespace sarathi::server
