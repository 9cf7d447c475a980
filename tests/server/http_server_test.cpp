// The HTTP server over loopback with a real HTTP client (cpp-httplib's), on the tiny synthetic
// model: the endpoints, streaming, every failure case of the issue (bad bodies, limits, keys,
// clients that vanish or read slowly, queue limits), and SIGTERM on the real binary.
#include "server/http_server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

namespace sarathi::server {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Config {
  int32_t max_num_seqs = 16;
  int32_t num_kv_blocks = 1024;
  int32_t max_model_len = 2048;
  int32_t max_queue = 0;
  std::string api_key;
  size_t max_request_bytes = 1 << 20;
};

std::unique_ptr<HttpServer> start_server(const Config& c) {
  auto m = model::LlamaModel::load("synthetic:tiny:q8_0");
  EXPECT_TRUE(m.ok());
  sched::SchedulerConfig sc;
  sc.max_num_seqs = c.max_num_seqs;
  sc.num_kv_blocks = c.num_kv_blocks;
  sc.max_model_len = c.max_model_len;
  auto served = make_served_model(
      std::move(*m),
      {.sched = sc, .num_threads = 1, .max_queue = c.max_queue, .model_name = "tiny"});
  EXPECT_TRUE(served.ok()) << (served.ok() ? "" : served.error().message);
  auto srv = std::make_unique<HttpServer>(HttpOptions{.port = 0,
                                                      .served_model_name = "tiny",
                                                      .api_key = c.api_key,
                                                      .max_request_bytes = c.max_request_bytes,
                                                      .shutdown_timeout = 5s});
  EXPECT_TRUE(srv->start().ok());
  srv->set_model(std::move(*served));
  return srv;
}

httplib::Client client(int port) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(60);
  return cli;
}

httplib::Result post(int port, const std::string& path, const json& body,
                     const std::string& key = "") {
  auto cli = client(port);
  httplib::Headers h;
  if (!key.empty()) h.emplace("Authorization", "Bearer " + key);
  return cli.Post(path.c_str(), h, body.dump(), "application/json");
}

// Reads a metric's value (first sample) from the Prometheus text.
double metric(int port, const std::string& name) {
  auto cli = client(port);
  auto res = cli.Get("/metrics");
  if (!res || res->status != 200) return -1;
  const std::string& t = res->body;
  for (size_t pos = 0; (pos = t.find(name, pos)) != std::string::npos; ++pos) {
    if (pos > 0 && t[pos - 1] != '\n') continue;
    const size_t eol = t.find('\n', pos);
    const std::string line = t.substr(pos, eol - pos);
    if (line.size() > name.size() && (line[name.size()] == '{' || line[name.size()] == ' '))
      return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

// Waits until nothing runs and no KV block is held.
bool wait_idle(int port, std::chrono::milliseconds limit) {
  const auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    if (metric(port, "vllm:num_requests_running") == 0 &&
        metric(port, "vllm:num_requests_waiting") == 0 &&
        metric(port, "vllm:kv_cache_usage_perc") == 0)
      return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

// A streamed request: the SSE data payloads as they arrive; `stop_after` chunks then the client
// hangs up (0: read all); `delay` sleeps before each read.
struct StreamResult {
  int status = 0;
  std::vector<std::string> data;
  bool ok = false;  // transfer completed
  std::string error;
};
StreamResult stream(int port, const std::string& path, const json& body, size_t stop_after = 0,
                    std::chrono::milliseconds delay = 0ms,
                    const std::atomic<bool>* quit = nullptr) {
  StreamResult r;
  auto cli = client(port);
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  std::string buf;
  req.response_handler = [&](const httplib::Response& res) {
    r.status = res.status;
    return true;
  };
  req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
    if (delay > 0ms) std::this_thread::sleep_for(delay);
    buf.append(d, n);
    for (size_t e; (e = buf.find("\n\n")) != std::string::npos; buf.erase(0, e + 2))
      if (buf.rfind("data: ", 0) == 0) r.data.push_back(buf.substr(6, e - 6));
    return (stop_after == 0 || r.data.size() < stop_after) && !(quit && *quit);
  };
  auto res = cli.send(req);
  r.ok = static_cast<bool>(res);
  if (!res && r.error.empty()) r.error = httplib::to_string(res.error());
  return r;
}

void expect_error(const httplib::Result& res, int status, const std::string& code = "") {
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, status) << res->body;
  const json j = json::parse(res->body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << res->body;
  ASSERT_TRUE(j.contains("error")) << res->body;
  for (const char* k : {"message", "type", "param", "code"}) {
    EXPECT_TRUE(j["error"].contains(k)) << k;
  }
  if (!code.empty()) {
    EXPECT_EQ(j["error"]["code"], code) << res->body;
  }
}

const json kShort = {{"prompt", "Hello"}, {"max_tokens", 4}, {"ignore_eos", true}};

TEST(HttpServer, SmallEndpoints) {
  auto srv = start_server({});
  auto cli = client(srv->port());
  auto h = cli.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  auto m = cli.Get("/v1/models");
  ASSERT_TRUE(m);
  EXPECT_EQ(json::parse(m->body)["data"][0]["id"], "tiny");
  auto met = cli.Get("/metrics");
  ASSERT_TRUE(met);
  EXPECT_NE(met->get_header_value("Content-Type").find("text/plain; version=0.0.4"),
            std::string::npos);
  EXPECT_NE(met->body.find("vllm:kv_cache_usage_perc"), std::string::npos);
  auto t = post(srv->port(), "/tokenize", {{"prompt", "abc"}});
  ASSERT_TRUE(t);
  ASSERT_EQ(t->status, 200) << t->body;
  const json tokens = json::parse(t->body)["tokens"];
  auto d = post(srv->port(), "/detokenize", {{"tokens", tokens}});
  ASSERT_TRUE(d);
  EXPECT_NE(json::parse(d->body)["prompt"].get<std::string>().find("abc"), std::string::npos);
  expect_error(cli.Get("/nope"), 404);
}

TEST(HttpServer, HealthIs503UntilTheModelIsSet) {
  HttpServer srv({.port = 0, .served_model_name = "tiny"});
  ASSERT_TRUE(srv.start().ok());
  auto cli = client(srv.port());
  expect_error(cli.Get("/health"), 503);
  expect_error(post(srv.port(), "/v1/completions", kShort), 503);
}

TEST(HttpServer, Completions) {
  auto srv = start_server({});
  json body = {{"prompt", json::array({"Hello", "World"})},
               {"n", 2},
               {"max_tokens", 5},
               {"ignore_eos", true},
               {"seed", 7},
               {"temperature", 0.8},
               {"logprobs", 2},
               {"model", "tiny"}};
  auto res = post(srv->port(), "/v1/completions", body);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json j = json::parse(res->body);
  EXPECT_EQ(j["object"], "text_completion");
  ASSERT_EQ(j["choices"].size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(j["choices"][i]["index"], i);
    EXPECT_EQ(j["choices"][i]["finish_reason"], "length");
    EXPECT_EQ(j["choices"][i]["logprobs"]["tokens"].size(), 5u);
  }
  EXPECT_EQ(j["usage"]["completion_tokens"], 20);
  // Same seed: same text; choice i of each prompt uses seed + i.
  auto again = post(srv->port(), "/v1/completions", body);
  ASSERT_TRUE(again);
  const json j2 = json::parse(again->body);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(j["choices"][i]["text"], j2["choices"][i]["text"]);
  // echo with max_tokens 0: the prompt back, nothing generated.
  auto echo = post(srv->port(), "/v1/completions",
                   {{"prompt", "Hello"}, {"max_tokens", 0}, {"echo", true}});
  ASSERT_TRUE(echo);
  ASSERT_EQ(echo->status, 200) << echo->body;
  EXPECT_EQ(json::parse(echo->body)["choices"][0]["text"], "Hello");
}

// Prefix caching through the API: a repeated prompt (and a request's n choices) reuse cached
// blocks (vLLM's counters), outputs do not change, POST /reset_prefix_cache forgets them.
TEST(HttpServer, PrefixCacheHitsAndReset) {
  auto srv = start_server({});
  const int port = srv->port();
  const std::string prompt(150, 'x');
  const json body = {{"prompt", prompt}, {"max_tokens", 6}, {"ignore_eos", true},
                     {"temperature", 0}};
  auto first = post(port, "/v1/completions", body);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200) << first->body;
  const double hits0 = metric(port, "vllm:prefix_cache_hits_total");
  const double queries0 = metric(port, "vllm:prefix_cache_queries_total");
  EXPECT_GT(queries0, 0);
  auto second = post(port, "/v1/completions", body);
  ASSERT_TRUE(second);
  const double hits1 = metric(port, "vllm:prefix_cache_hits_total");
  EXPECT_GE(hits1 - hits0, 144) << "the repeated prompt should find its 9 full blocks cached";
  EXPECT_EQ(json::parse(first->body)["choices"][0]["text"],
            json::parse(second->body)["choices"][0]["text"]);
  auto reset = post(port, "/reset_prefix_cache", json::object());
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->status, 200) << reset->body;
  auto third = post(port, "/v1/completions", body);
  ASSERT_TRUE(third);
  EXPECT_EQ(metric(port, "vllm:prefix_cache_hits_total"), hits1) << "reset kept cached blocks";
  EXPECT_EQ(json::parse(third->body)["choices"][0]["text"],
            json::parse(first->body)["choices"][0]["text"]);
  // n = 3 choices of a new prompt: the prompt is computed once and shared.
  json n3 = body;
  n3["prompt"] = std::string(150, 'y');
  n3["n"] = 3;
  auto shared = post(port, "/v1/completions", n3);
  ASSERT_TRUE(shared);
  ASSERT_EQ(shared->status, 200) << shared->body;
  EXPECT_GE(metric(port, "vllm:prefix_cache_hits_total") - hits1, 2 * 144);
  EXPECT_TRUE(wait_idle(port, 5s));
}

// A request priority needs --scheduling-policy priority (vLLM's rule); 0 is always fine.
TEST(HttpServer, PriorityUnderFcfsIs400) {
  auto srv = start_server({});
  json body = kShort;
  body["priority"] = 0;
  auto ok = post(srv->port(), "/v1/completions", body);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  body["priority"] = 3;
  expect_error(post(srv->port(), "/v1/completions", body), 400);
  body["priority"] = "high";
  expect_error(post(srv->port(), "/v1/completions", body), 400);
}

TEST(HttpServer, StreamedChatAndCompletion) {
  auto srv = start_server({});
  json chat = {
      {"messages",
       {{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "Hi"}}}},
      {"max_tokens", 6},
      {"ignore_eos", true},
      {"stream", true},
      {"stream_options", {{"include_usage", true}}}};
  auto r = stream(srv->port(), "/v1/chat/completions", chat);
  ASSERT_EQ(r.status, 200);
  ASSERT_GE(r.data.size(), 3u);
  EXPECT_EQ(r.data.back(), "[DONE]");
  const json first = json::parse(r.data.front());
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  const json usage = json::parse(r.data[r.data.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 6);
  const json last = json::parse(r.data[r.data.size() - 3]);
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length");

  auto whole = post(srv->port(), "/v1/chat/completions",
                    {{"messages", chat["messages"]}, {"max_tokens", 3}, {"ignore_eos", true}});
  ASSERT_TRUE(whole);
  ASSERT_EQ(whole->status, 200) << whole->body;
  EXPECT_EQ(json::parse(whole->body)["choices"][0]["message"]["role"], "assistant");

  auto c = stream(srv->port(), "/v1/completions",
                  {{"prompt", "Hi"}, {"max_tokens", 5}, {"ignore_eos", true}, {"stream", true}});
  ASSERT_EQ(c.status, 200);
  ASSERT_EQ(c.data.size(), 6u);  // one chunk per token, then [DONE]
  EXPECT_EQ(json::parse(c.data[4])["choices"][0]["finish_reason"], "length");
}

// Structured output over HTTP on the random-weight model: every choice of a JSON-schema chat
// (whole and streamed, n = 2) is a valid instance; bad schemas are 400s naming the field.
TEST(HttpServer, StructuredOutput) {
  auto srv = start_server({});
  const json schema = {{"type", "object"},
                       {"properties",
                        {{"name", {{"type", "string"}, {"maxLength", 6}}},
                         {"n", {{"type", "integer"}}},
                         {"tags", {{"type", "array"}, {"items", {{"enum", {"x", "y"}}}}, {"maxItems", 2}}}}},
                       {"required", {"name", "n", "tags"}}};
  json body = {{"messages", {{{"role", "user"}, {"content", "A JSON person"}}}},
               {"max_tokens", 120},
               {"n", 2},
               {"seed", 4},
               {"response_format",
                {{"type", "json_schema"}, {"json_schema", {{"name", "p"}, {"schema", schema}}}}}};
  auto check = [](const std::string& text) {
    const json x = json::parse(text);  // throws (fails the test) when it is not JSON
    EXPECT_TRUE(x["name"].is_string() && x["name"].get<std::string>().size() <= 6 * 4) << text;
    EXPECT_TRUE(x["n"].is_number_integer()) << text;
    EXPECT_LE(x["tags"].size(), 2u) << text;
    EXPECT_EQ(x.size(), 3u) << text;
  };
  auto whole = post(srv->port(), "/v1/chat/completions", body);
  ASSERT_TRUE(whole);
  ASSERT_EQ(whole->status, 200) << whole->body;
  const json reply = json::parse(whole->body);
  for (const json& c : reply["choices"]) {
    EXPECT_EQ(c["finish_reason"], "stop");
    check(c["message"]["content"].get<std::string>());
  }
  body["stream"] = true;
  auto r = stream(srv->port(), "/v1/chat/completions", body);
  ASSERT_EQ(r.status, 200);
  std::map<int, std::string> texts;
  for (const std::string& d : r.data) {
    if (d == "[DONE]") continue;
    const json chunk = json::parse(d);
    for (const json& c : chunk["choices"])
      if (c["delta"].contains("content"))
        texts[c["index"].get<int>()] += c["delta"]["content"].get<std::string>();
  }
  ASSERT_EQ(texts.size(), 2u);
  for (const auto& [i, t] : texts) check(t);

  auto bad = post(srv->port(), "/v1/completions",
                  {{"prompt", "x"}, {"guided_json", {{"type", "number"}, {"multipleOf", 2}}}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(json::parse(bad->body)["error"]["param"], "guided_json");
  auto choice = post(srv->port(), "/v1/completions",
                     {{"prompt", "x"}, {"guided_choice", {"up", "down"}}, {"max_tokens", 9}});
  ASSERT_TRUE(choice);
  const std::string t = json::parse(choice->body)["choices"][0]["text"];
  EXPECT_TRUE(t == "up" || t == "down") << t;
}

TEST(HttpServer, BadRequestsGet4xxAndTheServerKeepsServing) {
  auto srv = start_server({.max_model_len = 128});
  const int p = srv->port();
  auto cli = client(p);
  expect_error(cli.Post("/v1/completions", "{\"prompt\": ", "application/json"), 400);
  expect_error(cli.Post("/v1/completions", "[1, 2]", "application/json"), 400);
  expect_error(cli.Post("/v1/chat/completions", "\"hi\"", "application/json"), 400);
  expect_error(post(p, "/v1/completions", {{"prompt", "a"}, {"max_tokens", "5"}}), 400);
  expect_error(post(p, "/v1/completions", {{"prompt", 5}}), 400);
  expect_error(post(p, "/v1/completions", {{"prompt", "a"}, {"model", "gpt-9"}}), 404,
               "model_not_found");
  expect_error(post(p, "/v1/completions", {{"prompt", "a"}, {"max_tokens", -1}}), 400);
  expect_error(post(p, "/v1/completions", {{"prompt", "a"}, {"temperature", -0.5}}), 400);
  expect_error(post(p, "/v1/completions", {{"prompt", "a"}, {"n", 0}}), 400);
  expect_error(post(p, "/v1/completions", {{"prompt", "a"}, {"top_p", 0}}), 400);
  expect_error(post(p, "/v1/completions", {{"prompt", ""}}), 400);
  expect_error(post(p, "/v1/completions", {{"prompt", json::array({100000})}}), 400);
  expect_error(post(p, "/v1/chat/completions", {{"messages", json::array()}}), 400);
  expect_error(post(p, "/v1/completions", {{"prompt", std::string(200, 'a')}}), 400,
               "context_length_exceeded");
  expect_error(post(p, "/v1/completions", {{"prompt", "abc"}, {"max_tokens", 500}}), 400,
               "context_length_exceeded");
  auto res = post(p, "/v1/completions", kShort);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST(HttpServer, RequestLargerThanTheKvPoolIs400) {
  auto srv = start_server({.num_kv_blocks = 8});
  expect_error(post(srv->port(), "/v1/completions", {{"prompt", "abc"}, {"max_tokens", 500}}),
               400);
  auto res = post(srv->port(), "/v1/completions", kShort);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST(HttpServer, LimitsContentTypeAndApiKey) {
  auto srv = start_server({.api_key = "sekrit", .max_request_bytes = 4096});
  const int p = srv->port();
  auto cli = client(p);
  json big = kShort;
  big["prompt"] = std::string(10000, 'a');
  expect_error(post(p, "/v1/completions", big, "sekrit"), 413);
  httplib::Headers auth{{"Authorization", "Bearer sekrit"}};
  expect_error(cli.Post("/v1/completions", auth, kShort.dump(), "text/plain"), 400);
  expect_error(post(p, "/v1/completions", kShort), 401, "invalid_api_key");
  expect_error(post(p, "/v1/completions", kShort, "wrong"), 401, "invalid_api_key");
  expect_error(cli.Get("/v1/models"), 401);
  auto h = cli.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  auto ok = post(p, "/v1/completions", kShort, "sekrit");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
}

const json kLong = {
    {"prompt", "Tell me a story"}, {"max_tokens", 1500}, {"ignore_eos", true}, {"stream", true}};

TEST(HttpServer, ClientThatHangsUpMidStreamIsAborted) {
  auto srv = start_server({});
  const int p = srv->port();
  auto r = stream(p, "/v1/completions", kLong, 3);
  EXPECT_EQ(r.status, 200);
  ASSERT_GE(r.data.size(), 3u);
  EXPECT_NE(r.data.back(), "[DONE]");
  EXPECT_TRUE(wait_idle(p, 5s));
  EXPECT_LT(metric(p, "vllm:generation_tokens_total"), 1500);
  auto res = post(p, "/v1/completions", kShort);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(HttpServer, TwoHundredAbandonedStreamsThenAFreshRequest) {
  auto srv = start_server({.max_num_seqs = 64, .num_kv_blocks = 4096});
  const int p = srv->port();
  json body = kLong;
  body["max_tokens"] = 300;
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 200; ++i)
    clients.emplace_back([&] {
      auto r = stream(p, "/v1/completions", body, 1);
      if (r.status == 200)
        ++ok;
      else
        std::fprintf(stderr, "status %d error %s\n", r.status, r.error.c_str());
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 200);
  const auto t0 = Clock::now();
  auto res = post(p, "/v1/completions", kShort);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_LT(Clock::now() - t0, 10s);
  EXPECT_TRUE(wait_idle(p, 10s));
}

TEST(HttpServer, MoreRequestsThanTheEngineHoldsWait) {
  auto srv = start_server({.max_num_seqs = 2});
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i)
    clients.emplace_back([&] {
      auto res = post(srv->port(), "/v1/completions",
                      {{"prompt", "Hi"}, {"max_tokens", 20}, {"ignore_eos", true}});
      if (res && res->status == 200 && json::parse(res->body)["usage"]["completion_tokens"] == 20)
        ++ok;
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 8);
}

TEST(HttpServer, FullQueueGets503WithRetryAfter) {
  auto srv = start_server({.max_num_seqs = 1, .max_queue = 1});
  const int p = srv->port();
  std::atomic<bool> release{false};
  // Streams that read until released, then hang up.
  auto hold = [&] {
    auto cli = client(p);
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = kLong.dump();
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return !release.load(); };
    (void)cli.send(req);
  };
  // The runner takes the only slot, the waiter fills the queue, the third is refused.
  std::thread runner(hold);
  while (metric(p, "vllm:num_requests_running") != 1) std::this_thread::sleep_for(1ms);
  std::thread waiter(hold);
  while (metric(p, "vllm:num_requests_waiting") < 1) std::this_thread::sleep_for(1ms);
  auto c = post(p, "/v1/completions", kShort);
  expect_error(c, 503);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->get_header_value("Retry-After").empty());
  release = true;
  runner.join();
  waiter.join();
  EXPECT_TRUE(wait_idle(p, 10s));
}

TEST(HttpServer, SlowReaderDoesNotSlowOtherStreams) {
  auto srv = start_server({});
  const int p = srv->port();
  std::atomic<bool> slow_done{false}, quit{false};
  std::thread slow([&] {
    json body = kLong;
    body["logprobs"] = 5;
    (void)stream(p, "/v1/completions", body, 0, 100ms, &quit);
    slow_done = true;
  });
  std::this_thread::sleep_for(200ms);
  const auto t0 = Clock::now();
  json fast = kLong;
  fast["max_tokens"] = 200;
  auto r = stream(p, "/v1/completions", fast);
  const auto took = Clock::now() - t0;
  EXPECT_EQ(r.data.size(), 201u);
  EXPECT_FALSE(slow_done.load());  // the slow one reads for minutes; the fast one is done
  EXPECT_LT(took, 10s);
  quit = true;  // the slow client hangs up at its next read
  slow.join();
  EXPECT_TRUE(wait_idle(p, 5s));
}

// The real binary: SIGTERM lets an in-flight stream finish, refuses new work, exits 0.
int free_port() {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t n = sizeof(a);
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &n);
  close(s);
  return ntohs(a.sin_port);
}

TEST(HttpServer, SigtermDrainsAndExitsZero) {
  const char* env = std::getenv("SARATHI_BIN");
  const std::string bin = env ? env : SARATHI_BIN;
  const int port = free_port();
  const std::string port_s = std::to_string(port);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl(bin.c_str(), bin.c_str(), "serve", "-m", "synthetic:tiny:q8_0", "--port", port_s.c_str(),
          "--threads", "1", "--shutdown-timeout", "30", "--kv-cache-memory", "64MiB",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  auto cli = client(port);
  bool ready = false;
  for (int i = 0; i < 600 && !ready; ++i) {
    auto h = cli.Get("/health");
    ready = h && h->status == 200;
    if (!ready) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(ready);
  std::atomic<bool> started{false};
  StreamResult inflight;
  std::thread t([&] {
    json body = kLong;
    body["max_tokens"] = 1000;
    auto c = client(port);
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = body.dump();
    req.set_header("Content-Type", "application/json");
    std::string buf;
    req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
      started = true;
      buf.append(d, n);
      return true;
    };
    inflight.ok = static_cast<bool>(c.send(req));
    for (size_t e; (e = buf.find("\n\n")) != std::string::npos; buf.erase(0, e + 2))
      inflight.data.push_back(buf.substr(6, e - 6));
  });
  while (!started) std::this_thread::sleep_for(1ms);
  kill(pid, SIGTERM);
  std::this_thread::sleep_for(100ms);
  auto late = post(port, "/v1/completions", kShort);
  EXPECT_TRUE(!late || late->status == 503);
  t.join();
  ASSERT_TRUE(inflight.ok);
  ASSERT_GE(inflight.data.size(), 2u);
  EXPECT_EQ(inflight.data.back(), "[DONE]");
  EXPECT_EQ(json::parse(inflight.data[inflight.data.size() - 2])["choices"][0]["finish_reason"],
            "length");
  int status = 0;
  for (int i = 0; i < 300; ++i) {
    if (waitpid(pid, &status, WNOHANG) == pid) break;
    std::this_thread::sleep_for(100ms);
    if (i == 299) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      FAIL() << "serve did not exit after SIGTERM";
    }
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// `sarathi bench serve` against the in-process server: a short run and its JSON keys.
TEST(HttpServer, BenchServeReportsVllmKeys) {
  auto srv = start_server({});
  const char* env = std::getenv("SARATHI_BIN");
  const std::string bin = env ? env : SARATHI_BIN;
  const std::string out = ::testing::TempDir() + "bench_serve.json";
  for (const char* endpoint : {"completions", "chat"}) {
    const std::string cmd =
        bin + " bench serve --base-url http://127.0.0.1:" + std::to_string(srv->port()) +
        " --endpoint " + endpoint +
        " --num-prompts 6 --random-input-len 16 --random-output-len 8"
        " --request-rate 50 --ignore-eos --model tiny --json " +
        out + " > /dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::ifstream f(out);
    const json j = json::parse(f);
    EXPECT_EQ(j["completed"], 6);
    EXPECT_EQ(j["total_output_tokens"], 48);
    for (const char* k : {"request_throughput", "output_throughput", "total_token_throughput"})
      EXPECT_GT(j[k].get<double>(), 0) << k;
    for (const char* m : {"ttft", "tpot", "itl", "e2el"})
      for (const char* s : {"mean", "median", "p99"})
        EXPECT_TRUE(j.contains(std::string(s) + "_" + m + "_ms")) << s << m;
  }
}

// `bench serve --multi-turn`: conversations resend their history, TTFT per turn, and the
// server's prefix cache hit rate from its /metrics.
TEST(HttpServer, BenchServeMultiTurnReportsTurnsAndHitRate) {
  auto srv = start_server({});
  const char* env = std::getenv("SARATHI_BIN");
  const std::string bin = env ? env : SARATHI_BIN;
  const std::string out = ::testing::TempDir() + "bench_serve_turns.json";
  for (const char* endpoint : {"completions --prompt-format text", "chat"}) {
    const std::string cmd =
        bin + " bench serve --base-url http://127.0.0.1:" + std::to_string(srv->port()) +
        " --endpoint " + endpoint +
        " --num-prompts 3 --random-input-len 40 --random-output-len 8 --multi-turn 3"
        " --multi-turn-input-len 5 --random-prefix-len 30"
        " --request-rate inf --ignore-eos --model tiny --json " +
        out + " > /dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::ifstream f(out);
    const json j = json::parse(f);
    EXPECT_EQ(j["completed"], 9);
    EXPECT_EQ(j["num_turns"], 3);
    ASSERT_EQ(j["turns"].size(), 3u);
    for (int k = 0; k < 3; ++k) EXPECT_EQ(j["turns"][k]["completed"], 3);
    // Each turn resends the last: prompts grow, and most of them is found cached.
    EXPECT_GT(j["turns"][2]["mean_prompt_tokens"].get<double>(),
              j["turns"][0]["mean_prompt_tokens"].get<double>());
    EXPECT_GT(j["prefix_cache_hit_rate"].get<double>(), 0.3);
  }
  const std::string bad = bin + " bench serve --base-url http://127.0.0.1:" +
                          std::to_string(srv->port()) +
                          " --endpoint completions --multi-turn 2 > /dev/null 2>&1";
  EXPECT_NE(std::system(bad.c_str()), 0) << "token-id prompts cannot carry a history";
}

}  // namespace
}  // namespace sarathi::server
