// `sarathi serve`: the OpenAI-compatible HTTP server. Listens at once (GET /health is 503 while
// the model loads), serves until SIGTERM or SIGINT, then drains: new requests get 503,
// in-flight ones may finish for --shutdown-timeout seconds, the rest are aborted; exit 0.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <sstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/pipeline.h"
#include "server/http_server.h"

namespace sarathi::cli {
namespace {

struct ServeArgs {
  ModelArgs model;
  SchedArgs sched;
  std::string host = "127.0.0.1";
  int port = 8000;
  std::string served_model_name;
  std::string api_key;
  std::string chat_template;
  std::string max_request_bytes = "1MiB";
  int32_t max_queue = 0;
  double shutdown_timeout_s = 30;
  int32_t http_threads = 512;
};

core::Result<std::unique_ptr<server::ServedModel>> load(const ServeArgs& a,
                                                        const std::string& name) {
  auto m = load_model(a.model);
  if (!m)
    return core::make_error(core::ErrorCode::kInvalidArgument, "cannot load {}", a.model.model);
  const auto kv = kv_dtype(a.model);
  if (!kv) return core::make_error(core::ErrorCode::kInvalidArgument, "bad --kv-type");
  const auto cfg = sched_config(a.sched, m->config(), *kv);
  if (!cfg) return core::make_error(core::ErrorCode::kInvalidArgument, "bad scheduler options");
  const auto slo = tbt_slo_request(a.sched);
  if (!slo) return core::make_error(core::ErrorCode::kInvalidArgument, "bad --tbt-slo");
  const bool chunked = cfg->policy == "sarathi-serve" || cfg->policy == "sarathi";
  if (a.sched.token_budget > 0 && !a.sched.tbt_slo.empty() && chunked)
    std::fprintf(stderr, "serve: --token-budget %d fixes the budget (no SLO-driven chunking)\n",
                 a.sched.token_budget);
  auto served = server::make_served_model(std::move(m), {.sched = *cfg,
                                                         .kv_dtype = *kv,
                                                         .num_threads = a.model.threads,
                                                         .chat_template = a.chat_template,
                                                         .max_queue = a.max_queue,
                                                         .model_name = name,
                                                         .tbt_slo_s = chunked ? *slo : 0.0,
                                                         .log = [](const std::string& text) {
                                                           std::string line;
                                                           std::istringstream in(text);
                                                           while (std::getline(in, line))
                                                             std::fprintf(stderr, "serve: %s\n",
                                                                          line.c_str());
                                                         },
                                                         .make_executor = make_executor});
  if (served.ok())
    std::fprintf(stderr, "serve: model ready (policy %s, %d KV blocks, max model len %d%s)\n",
                 cfg->policy.c_str(), cfg->num_kv_blocks, cfg->max_model_len,
                 pipeline_stages() > 1
                     ? fmt::format(", {} pipeline stages", pipeline_stages()).c_str()
                     : "");
  return served;
}

int run_serve(const ServeArgs& a) {
  const auto max_bytes = parse_bytes(a.max_request_bytes);
  if (!max_bytes || *max_bytes <= 0) {
    std::fprintf(stderr, "error: --max-request-bytes '%s' is not a size\n",
                 a.max_request_bytes.c_str());
    return 2;
  }
  // Signals go to this thread's sigwait only: block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);  // the model failed to load
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const std::string name = a.served_model_name.empty() ? a.model.model : a.served_model_name;
  server::HttpServer srv({.host = a.host,
                          .port = a.port,
                          .served_model_name = name,
                          .api_key = a.api_key,
                          .max_request_bytes = static_cast<size_t>(*max_bytes),
                          .num_http_threads = a.http_threads,
                          .shutdown_timeout = std::chrono::milliseconds(
                              static_cast<int64_t>(a.shutdown_timeout_s * 1000))});
  if (auto st = srv.start(); !st.ok()) {
    std::fprintf(stderr, "error: %s\n", st.error().message.c_str());
    return 1;
  }
  std::fprintf(stderr, "serve: listening on http://%s:%d (model %s loading)\n", a.host.c_str(),
               srv.port(), name.c_str());
  srv.load_async([&a, name] { return load(a, name); }, [] { kill(getpid(), SIGUSR1); });
  int sig = 0;
  sigwait(&signals, &sig);
  if (sig == SIGUSR1) {
    srv.shutdown();
    srv.wait();
    return 1;
  }
  std::fprintf(stderr, "serve: %s: draining (up to %.0f s)\n",
               sig == SIGTERM ? "SIGTERM" : "SIGINT", a.shutdown_timeout_s);
  const bool drained = srv.shutdown();
  srv.wait();
  std::fprintf(stderr, "serve: stopped%s\n", drained ? "" : " (unfinished requests aborted)");
  return 0;
}

}  // namespace

Runner add_serve(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server");
  add_model_options(*cmd, a->model);
  a->sched.tbt_slo = "strict";  // Sarathi-Serve's strict SLO unless told otherwise
  add_sched_options(*cmd, a->sched, /*with_policy=*/true);
  cmd->add_option("--host", a->host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", a->port, "Port (0: any free port)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--served-model-name", a->served_model_name,
                  "Model name in the API (default: the -m value)");
  cmd->add_option("--api-key", a->api_key, "Require 'Authorization: Bearer KEY' on /v1/*")
      ->envname("SARATHI_API_KEY");
  cmd->add_option("--chat-template", a->chat_template,
                  "Chat template: a file or inline Jinja text (default: the model's, or ChatML)");
  cmd->add_option("--max-request-bytes", a->max_request_bytes,
                  "Largest request body (e.g. 1MiB); larger ones get 413")
      ->capture_default_str();
  cmd->add_option("--max-queue", a->max_queue,
                  "Waiting requests at most; beyond it 503 with Retry-After (0: unlimited)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 30));
  cmd->add_option("--shutdown-timeout", a->shutdown_timeout_s,
                  "Seconds in-flight requests may run after SIGTERM")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 86400.0));
  cmd->add_option("--http-threads", a->http_threads,
                  "HTTP worker threads (connections served at once)")
      ->capture_default_str()
      ->check(CLI::Range(4, 65536));
  add_pipeline_option(*cmd, a->model.pipeline_parallel_size);
  return [a] {
    return run_pipelined(a->model.pipeline_parallel_size, [&] { return run_serve(*a); });
  };
}

}  // namespace sarathi::cli
