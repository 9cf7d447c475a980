// `sarathi bench serve`: a load generator for any OpenAI-compatible server, in the style of
// `vllm bench serve`. Requests arrive as a Poisson process (or all at once), every one streams
// (SSE), and all figures are measured on the client: request and token throughput, goodput
// under TTFT/TBT SLOs, TTFT, TPOT, ITL and end-to-end latency (mean, median, p99).
//
// Prompts: for --endpoint completions, random token ids in [100, 250) (valid in every
// vocabulary; exact lengths on any server that takes token-id prompts: vLLM, llama-server,
// sarathi); with --prompt-format text, or for chat, random common English words, one per
// requested token (about one token each on BPE/SentencePiece vocabularies; a byte-level
// vocabulary counts characters instead). The server's usage chunk gives the exact counts.
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"
#include "workload/workload.h"

namespace sarathi::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchServeArgs {
  std::string base_url = "http://127.0.0.1:8000";
  std::string endpoint = "completions";
  std::string model;
  std::string api_key;
  std::string prompt_format;  // token-ids | text; default: token-ids for completions
  workload::WorkloadOptions workload{.num_prompts = 100, .input_len = 128, .output_len = 64};
  int32_t max_concurrency = 0;
  bool ignore_eos = false;
  double slo_ttft_ms = 0, slo_tbt_ms = 0;
  std::string json_path;
};

struct Outcome {
  bool ok = false;
  std::string error;
  int64_t prompt_tokens = 0, output_tokens = 0;
  double ttft = 0, e2el = 0;  // seconds
  std::vector<double> itl;    // seconds between successive token chunks
};

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

nlohmann::json make_body(const BenchServeArgs& a, bool chat, bool token_ids, int32_t input_len,
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

Outcome run_one(const BenchServeArgs& a, const std::string& path, const std::string& body) {
  Outcome o;
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
    o.error = "connection: " + httplib::to_string(res.error());
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

struct Stat {
  double mean = 0, median = 0, p99 = 0;
};
Stat stat_ms(const std::vector<double>& v) {
  Stat s;
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean = s.mean / static_cast<double>(v.size()) * 1000;
  s.median = median(v) * 1000;
  s.p99 = percentile(v, 99) * 1000;
  return s;
}

int run_bench_serve(BenchServeArgs a) {
  const bool chat = a.endpoint == "chat" || a.endpoint == "/v1/chat/completions";
  std::string path = a.endpoint;
  if (a.endpoint == "completions") path = "/v1/completions";
  if (a.endpoint == "chat") path = "/v1/chat/completions";
  if (path.empty() || path[0] != '/') {
    std::fprintf(stderr, "error: --endpoint must be completions, chat or a path\n");
    return 2;
  }
  if (a.prompt_format.empty()) a.prompt_format = chat ? "text" : "token-ids";
  if (a.prompt_format != "text" && a.prompt_format != "token-ids") {
    std::fprintf(stderr, "error: --prompt-format must be text or token-ids\n");
    return 2;
  }
  if (chat && a.prompt_format == "token-ids") {
    std::fprintf(stderr, "error: chat prompts are text\n");
    return 2;
  }
  auto specs = workload::make_workload(a.workload);
  if (!specs.ok()) {
    std::fprintf(stderr, "error: %s\n", specs.error().message.c_str());
    return 2;
  }
  std::mt19937_64 rng(a.workload.seed);
  std::vector<std::string> bodies;
  for (const auto& s : *specs)
    bodies.push_back(
        make_body(a, chat, a.prompt_format == "token-ids", s.input_len, s.output_len, rng).dump());

  std::vector<Outcome> outcomes(specs->size());
  std::vector<std::thread> threads;
  std::mutex mu;
  std::condition_variable cv;
  int32_t in_flight = 0;
  const auto start = Clock::now();
  for (size_t i = 0; i < specs->size(); ++i) {
    std::this_thread::sleep_until(start +
                                  std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>((*specs)[i].arrival_s)));
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return a.max_concurrency <= 0 || in_flight < a.max_concurrency; });
      ++in_flight;
    }
    threads.emplace_back([&, i] {
      outcomes[i] = run_one(a, path, bodies[i]);
      std::lock_guard<std::mutex> lock(mu);
      --in_flight;
      cv.notify_all();
    });
  }
  for (auto& t : threads) t.join();
  const double duration = std::chrono::duration<double>(Clock::now() - start).count();

  int64_t completed = 0, failed = 0, in_tokens = 0, out_tokens = 0, good = 0;
  std::vector<double> ttft, tpot, itl, e2el;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const Outcome& o = outcomes[i];
    if (!o.ok) {
      if (failed++ < 3) std::fprintf(stderr, "request %zu failed: %s\n", i, o.error.c_str());
      continue;
    }
    ++completed;
    in_tokens += o.prompt_tokens > 0 ? o.prompt_tokens : (*specs)[i].input_len;
    out_tokens += o.output_tokens;
    ttft.push_back(o.ttft);
    e2el.push_back(o.e2el);
    itl.insert(itl.end(), o.itl.begin(), o.itl.end());
    const double req_tpot =
        o.output_tokens > 1 ? (o.e2el - o.ttft) / static_cast<double>(o.output_tokens - 1) : 0;
    if (o.output_tokens > 1) tpot.push_back(req_tpot);
    const bool ttft_ok = a.slo_ttft_ms <= 0 || o.ttft * 1000 <= a.slo_ttft_ms;
    const bool tbt_ok = a.slo_tbt_ms <= 0 || req_tpot * 1000 <= a.slo_tbt_ms;
    if (ttft_ok && tbt_ok) ++good;
  }
  const auto per_s = [&](double x) { return duration > 0 ? x / duration : 0.0; };
  nlohmann::ordered_json j = {
      {"endpoint", path},
      {"num_prompts", a.workload.num_prompts},
      {"request_rate", std::isinf(a.workload.request_rate)
                           ? nlohmann::json("inf")
                           : nlohmann::json(a.workload.request_rate)},
      {"max_concurrency", a.max_concurrency},
      {"duration", duration},
      {"completed", completed},
      {"failed", failed},
      {"total_input_tokens", in_tokens},
      {"total_output_tokens", out_tokens},
      {"request_throughput", per_s(static_cast<double>(completed))},
      {"request_goodput", per_s(static_cast<double>(good))},
      {"output_throughput", per_s(static_cast<double>(out_tokens))},
      {"total_token_throughput", per_s(static_cast<double>(in_tokens + out_tokens))}};
  std::printf("============ Serving Benchmark Result ============\n");
  std::printf("%-40s %d\n", "Successful requests:", static_cast<int>(completed));
  std::printf("%-40s %d\n", "Failed requests:", static_cast<int>(failed));
  std::printf("%-40s %.2f\n", "Benchmark duration (s):", duration);
  std::printf("%-40s %lld\n", "Total input tokens:", static_cast<long long>(in_tokens));
  std::printf("%-40s %lld\n", "Total generated tokens:", static_cast<long long>(out_tokens));
  std::printf("%-40s %.2f\n", "Request throughput (req/s):", per_s(double(completed)));
  if (a.slo_ttft_ms > 0 || a.slo_tbt_ms > 0)
    std::printf("%-40s %.2f\n", "Request goodput (req/s):", per_s(double(good)));
  std::printf("%-40s %.2f\n", "Output token throughput (tok/s):", per_s(double(out_tokens)));
  std::printf("%-40s %.2f\n",
              "Total token throughput (tok/s):", per_s(double(in_tokens + out_tokens)));
  const std::pair<const char*, const std::vector<double>*> metrics[] = {
      {"ttft", &ttft}, {"tpot", &tpot}, {"itl", &itl}, {"e2el", &e2el}};
  for (const auto& [name, v] : metrics) {
    const Stat s = stat_ms(*v);
    j[fmt::format("mean_{}_ms", name)] = s.mean;
    j[fmt::format("median_{}_ms", name)] = s.median;
    j[fmt::format("p99_{}_ms", name)] = s.p99;
    std::printf("%-40s %.2f / %.2f / %.2f\n",
                fmt::format("{} mean / median / p99 (ms):", name).c_str(), s.mean, s.median, s.p99);
  }
  std::printf("==================================================\n");
  if (!a.json_path.empty()) {
    std::ofstream f(a.json_path);
    f << j.dump(2) << "\n";
    if (!f) {
      std::fprintf(stderr, "error: cannot write %s\n", a.json_path.c_str());
      return 1;
    }
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

Runner add_bench_serve(CLI::App& bench) {
  auto a = std::make_shared<BenchServeArgs>();
  CLI::App* cmd = bench.add_subcommand(
      "serve", "Load-test an OpenAI-compatible server (streaming; client-side figures)");
  cmd->add_option("--base-url", a->base_url, "Server URL")->capture_default_str();
  cmd->add_option("--endpoint", a->endpoint, "completions, chat, or a path")->capture_default_str();
  cmd->add_option("--model", a->model, "Model name to send (default: none; the server's)");
  cmd->add_option("--api-key", a->api_key, "Bearer token")->envname("OPENAI_API_KEY");
  cmd->add_option("--prompt-format", a->prompt_format,
                  "token-ids (completions default: exact lengths) or text (random common words)");
  cmd->add_option("--num-prompts", a->workload.num_prompts, "Requests to send")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--request-rate", a->workload.request_rate,
                  "Requests per second (Poisson arrivals); inf = all at once")
      ->capture_default_str();
  cmd->add_option("--max-concurrency", a->max_concurrency, "Requests in flight at most (0: any)")
      ->capture_default_str();
  cmd->add_option("--random-input-len", a->workload.input_len, "Prompt tokens")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--random-output-len", a->workload.output_len, "Tokens to generate (max_tokens)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--random-range-ratio", a->workload.range_ratio,
                  "Lengths uniform in [len*(1-r), len*(1+r)]")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--dataset", a->workload.dataset, "CSV of input_len,output_len rows");
  cmd->add_flag("--ignore-eos", a->ignore_eos, "Send ignore_eos (generate exactly max_tokens)");
  cmd->add_option("--seed", a->workload.seed, "Seed for arrivals, lengths and prompts")
      ->capture_default_str();
  cmd->add_option("--slo-ttft", a->slo_ttft_ms, "Goodput SLO on time to first token (ms)");
  cmd->add_option("--slo-tbt", a->slo_tbt_ms,
                  "Goodput SLO on time between tokens, per request mean (TPOT, ms)");
  cmd->add_option("--json", a->json_path, "Write the results as JSON (vLLM's keys)");
  return [a] { return run_bench_serve(*a); };
}

}  // namespace sarathi::cli
