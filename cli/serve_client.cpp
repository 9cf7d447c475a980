#include "cli/serve_client.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

namespace sarathi::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kWords[] = {
    "the",   "of",    "and",   "to",     "in",   "is",   "you",   "that",   "it",    "he",
    "was",   "for",   "on",    "are",    "as",   "with", "his",   "they",   "at",    "be",
    "this",  "from",  "have",  "or",     "one",  "had",  "by",    "word",   "but",   "not",
    "what",  "all",   "were",  "we",     "when", "your", "can",   "said",   "there", "use",
    "an",    "each",  "which", "she",    "do",   "how",  "their", "if",     "will",  "up",
    "other", "about", "out",   "many",   "then", "them", "these", "so",     "some",  "her",
    "would", "make",  "like",  "him",    "into", "time", "has",   "look",   "two",   "more",
    "write", "go",    "see",   "number", "no",   "way",  "could", "people", "my",    "than",
    "first", "water", "been",  "call",   "who",  "its",  "now",   "find",   "long",  "down",
    "day",   "did",   "get",   "come",   "made", "may",  "part"};

std::string random_words(int32_t n, std::mt19937_64& rng) {
  std::string text;
  for (int32_t i = 0; i < n; ++i) {
    if (i) text += ' ';
    text += kWords[rng() % std::size(kWords)];
  }
  return text;
}

// A conversation's prompt so far: token ids (completions), text (completions), or messages.
struct Prompt {
  std::vector<int32_t> ids;
  std::string text;
  nlohmann::json messages = nlohmann::json::array();
};

// The first turn's prompt: the shared prefix, then input_len tokens (words) of its own.
Prompt first_prompt(bool chat, bool token_ids, int32_t input_len, const Prompt& prefix,
                    std::mt19937_64& rng) {
  Prompt p;
  if (token_ids) {
    p.ids = prefix.ids;
    for (int32_t i = 0; i < input_len; ++i) p.ids.push_back(100 + static_cast<int32_t>(rng() % 150));
    return p;
  }
  p.text = prefix.text;
  if (!p.text.empty() && input_len > 0) p.text += ' ';
  p.text += random_words(input_len, rng);
  if (chat) p.messages.push_back({{"role", "user"}, {"content", p.text}});
  return p;
}

// The next turn: the history (prompt and reply) plus a new user message.
void next_turn(Prompt& p, bool chat, const std::string& reply, int32_t input_len,
               std::mt19937_64& rng) {
  const std::string user = random_words(input_len, rng);
  if (chat) {
    p.messages.push_back({{"role", "assistant"}, {"content", reply}});
    p.messages.push_back({{"role", "user"}, {"content", user}});
  } else {
    p.text += reply;
    p.text += ' ';
    p.text += user;
  }
}

std::string make_body(const ServeClientOptions& a, bool chat, bool token_ids, const Prompt& prompt,
                      int32_t output_len) {
  nlohmann::json body = {{"max_tokens", output_len},
                         {"stream", true},
                         {"stream_options", {{"include_usage", true}}},
                         {"temperature", 0.0}};
  if (!a.model.empty()) body["model"] = a.model;
  if (a.ignore_eos) body["ignore_eos"] = true;
  if (token_ids)
    body["prompt"] = prompt.ids;
  else if (chat)
    body["messages"] = prompt.messages;
  else
    body["prompt"] = prompt.text;
  // Replies may hold bytes that are not UTF-8 (random weights): replaced, not thrown on.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Splits a server-sent event stream into `data:` payloads.
class SseParser {
 public:
  template <typename Fn>
  void feed(const char* d, size_t n, Fn&& on_data) {
    buf_.append(d, n);
    for (;;) {
      size_t end = buf_.find('\n');
      if (end == std::string::npos) return;
      std::string line = buf_.substr(0, end);
      buf_.erase(0, end + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.rfind("data:", 0) != 0) continue;  // blank separators, comments, other fields
      size_t start = 5;
      if (start < line.size() && line[start] == ' ') ++start;
      on_data(line.substr(start));
    }
  }

 private:
  std::string buf_;
};

// The generated text of a chunk, if it carries generated tokens (not a chat role header nor a
// bare finish chunk).
std::optional<std::string> token_chunk_text(const nlohmann::json& j) {
  if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) return {};
  const auto& c = j["choices"][0];
  const nlohmann::json* text = nullptr;
  if (c.contains("text")) text = &c["text"];
  if (c.contains("delta") && c["delta"].contains("content")) text = &c["delta"]["content"];
  if (!text || !text->is_string()) return {};
  std::string s = text->get<std::string>();
  if (!s.empty()) return s;
  const bool role = c.contains("delta") && c["delta"].contains("role");
  const bool finish = c.contains("finish_reason") && !c["finish_reason"].is_null();
  if (role || finish) return {};
  return s;
}

ServeOutcome run_one(const ServeClientOptions& a, const std::string& path,
                     const std::string& body) {
  ServeOutcome o;
  httplib::Client cli(a.base_url);
  cli.set_connection_timeout(10);
  cli.set_read_timeout(3600);
  cli.set_write_timeout(60);
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body;
  req.set_header("Content-Type", "application/json");
  req.set_header("Accept", "text/event-stream");
  if (!a.api_key.empty()) req.set_header("Authorization", "Bearer " + a.api_key);
  int status = 0;
  std::string raw;
  SseParser sse;
  bool done = false;
  int64_t chunks = 0;
  const auto t0 = Clock::now();
  auto last = t0;
  req.response_handler = [&](const httplib::Response& r) {
    status = r.status;
    return true;
  };
  req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
    if (status != 200) {
      raw.append(d, std::min<size_t>(n, 4096));
      return true;
    }
    sse.feed(d, n, [&](const std::string& data) {
      if (data == "[DONE]") {
        done = true;
        return;
      }
      const auto j = nlohmann::json::parse(data, nullptr, false);
      if (j.is_discarded()) return;
      if (j.contains("usage") && j["usage"].is_object()) {
        o.prompt_tokens = j["usage"].value("prompt_tokens", int64_t{0});
        o.output_tokens = j["usage"].value("completion_tokens", int64_t{0});
      }
      const std::optional<std::string> text = token_chunk_text(j);
      if (!text) return;
      o.text += *text;
      const auto now = Clock::now();
      if (chunks == 0)
        o.ttft = std::chrono::duration<double>(now - t0).count();
      else
        o.itl.push_back(std::chrono::duration<double>(now - last).count());
      last = now;
      ++chunks;
    });
    return true;
  };
  auto res = cli.send(req);
  o.e2el = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!res) {
    o.error = res.error() == httplib::Error::Connection
                  ? "cannot connect to " + a.base_url
                  : "HTTP client: " + httplib::to_string(res.error());
  } else if (status != 200) {
    o.error = "HTTP " + std::to_string(status) + ": " + raw;
  } else if (chunks == 0) {
    o.error = "no tokens in the stream";
  } else {
    o.ok = true;
    if (o.output_tokens == 0) o.output_tokens = chunks;
    (void)done;
  }
  return o;
}

bool is_chat(const ServeClientOptions& o) {
  return o.endpoint == "chat" || o.endpoint == "/v1/chat/completions";
}

std::string path_of(const ServeClientOptions& o) {
  if (o.endpoint == "completions") return "/v1/completions";
  if (o.endpoint == "chat") return "/v1/chat/completions";
  return o.endpoint;
}

}  // namespace

std::string validate_client_options(ServeClientOptions& a) {
  const std::string path = path_of(a);
  if (path.empty() || path[0] != '/') return "--endpoint must be completions, chat or a path";
  const bool chat = is_chat(a);
  if (a.prompt_format.empty()) a.prompt_format = chat ? "text" : "token-ids";
  if (a.prompt_format != "text" && a.prompt_format != "token-ids")
    return "--prompt-format must be text or token-ids";
  if (chat && a.prompt_format == "token-ids") return "chat prompts are text";
  if (a.num_turns < 1) return "--multi-turn must be at least 1";
  if (a.num_turns > 1 && a.prompt_format == "token-ids")
    return "--multi-turn resends replies as text: use --endpoint chat or --prompt-format text";
  if (a.prefix_len < 0 || a.turn_input_len < 0) return "prefix and turn lengths must be >= 0";
  return "";
}

ServeRun run_serve_load(const ServeClientOptions& a,
                        const std::vector<workload::RequestSpec>& specs) {
  ServeRun run;
  run.path = path_of(a);
  const bool chat = is_chat(a);
  const bool token_ids = a.prompt_format == "token-ids";
  std::mt19937_64 rng(a.seed);
  const Prompt prefix = first_prompt(/*chat=*/false, token_ids, a.prefix_len, Prompt{}, rng);
  std::vector<Prompt> prompts;
  for (const auto& s : specs)
    prompts.push_back(first_prompt(chat, token_ids, s.input_len, prefix, rng));

  const auto turns = static_cast<size_t>(a.num_turns);
  run.outcomes.resize(specs.size() * turns);
  std::vector<std::thread> threads;
  std::mutex mu;
  std::condition_variable cv;
  int32_t in_flight = 0;
  const auto start = Clock::now();
  for (size_t i = 0; i < specs.size(); ++i) {
    std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(specs[i].arrival_s)));
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return a.max_concurrency <= 0 || in_flight < a.max_concurrency; });
      ++in_flight;
    }
    // One thread per conversation; its turns follow one another (each waits for the reply).
    threads.emplace_back([&, i] {
      std::mt19937_64 turn_rng(a.seed ^ (0x9e3779b97f4a7c15ULL * (i + 1)));
      Prompt& p = prompts[i];
      const int32_t turn_len = a.turn_input_len > 0 ? a.turn_input_len : specs[i].input_len;
      for (size_t k = 0; k < turns; ++k) {
        ServeOutcome& o = run.outcomes[i * turns + k];
        o = run_one(a, run.path, make_body(a, chat, token_ids, p, specs[i].output_len));
        o.spec_idx = static_cast<int32_t>(i);
        o.turn = static_cast<int32_t>(k);
        if (!o.ok) break;  // a conversation whose reply failed cannot go on
        if (k + 1 < turns) next_turn(p, chat, o.text, turn_len, turn_rng);
      }
      std::lock_guard<std::mutex> lock(mu);
      --in_flight;
      cv.notify_all();
    });
  }
  for (auto& t : threads) t.join();
  run.duration_s = std::chrono::duration<double>(Clock::now() - start).count();
  for (size_t i = 0; i < run.outcomes.size(); ++i) {  // turns never sent after a failure
    ServeOutcome& o = run.outcomes[i];
    if (!o.ok && o.error.empty()) {
      o.spec_idx = static_cast<int32_t>(i / turns);
      o.turn = static_cast<int32_t>(i % turns);
      o.error = "not sent: an earlier turn of its conversation failed";
    }
  }
  return run;
}

std::optional<PrefixCacheCounters> scrape_prefix_cache(const ServeClientOptions& a) {
  httplib::Client cli(a.base_url);
  cli.set_connection_timeout(5);
  cli.set_read_timeout(10);
  httplib::Headers h;
  if (!a.api_key.empty()) h.emplace("Authorization", "Bearer " + a.api_key);
  auto res = cli.Get("/metrics", h);
  if (!res || res->status != 200) return std::nullopt;
  PrefixCacheCounters c;
  bool queries = false, hits = false;
  std::istringstream in(res->body);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    // "name{labels} value" or "name value"; labelled series (per model) are summed.
    const size_t name_end = line.find_first_of("{ ");
    const size_t value_at = line.rfind(' ');
    if (name_end == std::string::npos || value_at == std::string::npos) continue;
    const std::string name = line.substr(0, name_end);
    double v = 0;
    try {
      v = std::stod(line.substr(value_at + 1));
    } catch (const std::exception&) {
      continue;
    }
    if (name == "vllm:prefix_cache_queries_total" || name == "vllm:prefix_cache_queries") {
      c.queries += v;
      queries = true;
    } else if (name == "vllm:prefix_cache_hits_total" || name == "vllm:prefix_cache_hits") {
      c.hits += v;
      hits = true;
    }
  }
  if (!queries || !hits) return std::nullopt;
  return c;
}

std::vector<workload::RequestTimeline> timelines(const ServeRun& run,
                                                 const std::vector<workload::RequestSpec>& specs) {
  std::vector<workload::RequestTimeline> out;
  for (size_t i = 0; i < run.outcomes.size(); ++i) {
    const ServeOutcome& o = run.outcomes[i];
    workload::RequestTimeline t;
    t.ok = o.ok;
    if (o.ok) {
      t.token_times.push_back(o.ttft);
      for (double gap : o.itl) t.token_times.push_back(t.token_times.back() + gap);
      t.num_prompt_tokens =
          o.prompt_tokens > 0 ? o.prompt_tokens : specs[static_cast<size_t>(o.spec_idx)].input_len;
      t.num_output_tokens = o.output_tokens;
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace sarathi::cli
