#include "cli/serve_client.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
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

nlohmann::json make_body(const ServeClientOptions& a, bool chat, bool token_ids, int32_t input_len,
                         int32_t output_len, std::mt19937_64& rng) {
  nlohmann::json body = {{"max_tokens", output_len},
                         {"stream", true},
                         {"stream_options", {{"include_usage", true}}},
                         {"temperature", 0.0}};
  if (!a.model.empty()) body["model"] = a.model;
  if (a.ignore_eos) body["ignore_eos"] = true;
  if (token_ids) {
    std::vector<int32_t> ids(static_cast<size_t>(input_len));
    for (auto& t : ids) t = 100 + static_cast<int32_t>(rng() % 150);
    body["prompt"] = ids;
    return body;
  }
  std::string text;
  for (int32_t i = 0; i < input_len; ++i) {
    if (i) text += ' ';
    text += kWords[rng() % std::size(kWords)];
  }
  if (chat)
    body["messages"] = nlohmann::json::array({{{"role", "user"}, {"content", text}}});
  else
    body["prompt"] = text;
  return body;
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

// Whether a chunk carries generated tokens (not a chat role header nor a bare finish chunk).
bool is_token_chunk(const nlohmann::json& j) {
  if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) return false;
  const auto& c = j["choices"][0];
  const nlohmann::json* text = nullptr;
  if (c.contains("text")) text = &c["text"];
  if (c.contains("delta") && c["delta"].contains("content")) text = &c["delta"]["content"];
  if (!text || !text->is_string()) return false;
  if (!text->get<std::string>().empty()) return true;
  const bool role = c.contains("delta") && c["delta"].contains("role");
  const bool finish = c.contains("finish_reason") && !c["finish_reason"].is_null();
  return !role && !finish;
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
      if (!is_token_chunk(j)) return;
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
  return "";
}

ServeRun run_serve_load(const ServeClientOptions& a,
                        const std::vector<workload::RequestSpec>& specs) {
  ServeRun run;
  run.path = path_of(a);
  const bool chat = is_chat(a);
  std::mt19937_64 rng(a.seed);
  std::vector<std::string> bodies;
  for (const auto& s : specs)
    bodies.push_back(
        make_body(a, chat, a.prompt_format == "token-ids", s.input_len, s.output_len, rng).dump());

  run.outcomes.resize(specs.size());
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
    threads.emplace_back([&, i] {
      run.outcomes[i] = run_one(a, run.path, bodies[i]);
      std::lock_guard<std::mutex> lock(mu);
      --in_flight;
      cv.notify_all();
    });
  }
  for (auto& t : threads) t.join();
  run.duration_s = std::chrono::duration<double>(Clock::now() - start).count();
  return run;
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
      t.num_prompt_tokens = o.prompt_tokens > 0 ? o.prompt_tokens : specs[i].input_len;
      t.num_output_tokens = o.output_tokens;
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace sarathi::cli
