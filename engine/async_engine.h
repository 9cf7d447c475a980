// engine/async_engine.h: the engine on its own thread, for servers. Any thread submits
// requests and reads their token events from a per-request stream; the engine thread only
// appends to in-memory queues, so it never waits on a socket or a slow reader. Also keeps the
// serving metrics. Depends on engine/engine.h and engine/metrics.h.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/engine.h"
#include "engine/metrics.h"

namespace sarathi::engine {

class AsyncEngine;

/// One request's events, produced by the engine thread and consumed by one reader.
class RequestStream : public std::enable_shared_from_this<RequestStream> {
 public:
  /// Waits up to `timeout` for the next event; nullopt on timeout. After the final event
  /// (finish != kNone) there are no more.
  std::optional<TokenEvent> next(std::chrono::milliseconds timeout);
  /// Asks the engine to abort the request (idempotent, any thread). Its KV blocks are freed
  /// within one engine step; a final kAbort event follows unless it already finished.
  void cancel();
  /// Whether the final event has been produced.
  bool finished() const;

 private:
  friend class AsyncEngine;
  void push(const TokenEvent& ev);

  AsyncEngine* owner_ = nullptr;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<TokenEvent> events_;
  bool done_ = false;
  bool cancelled_ = false;
  RequestId id_ = 0;  // engine id; written and read on the engine thread only
};

struct AsyncOptions {
  int32_t max_queue = 0;     // waiting requests at most (0 = unlimited); beyond: kResourceExhausted
  std::string model_name = "sarathi";
};

class AsyncEngine {
 public:
  /// Starts the engine thread. The executor and tokenizer must outlive this object.
  static core::Result<std::unique_ptr<AsyncEngine>> create(Executor& executor,
                                                           const model::Tokenizer* tokenizer,
                                                           EngineOptions options,
                                                           AsyncOptions async_options);
  ~AsyncEngine();

  /// Thread-safe. Validates the request now (errors: bad prompt or length: kInvalidArgument /
  /// kOutOfRange; queue full or shutting down: kResourceExhausted) and queues it.
  core::Result<std::shared_ptr<RequestStream>> submit(std::vector<int32_t> prompt,
                                                      const RequestParams& params);
  /// Forgets every cached prefix block, on the engine thread between steps (thread-safe; waits
  /// until it is done or `timeout` passes). False on timeout or after shutdown.
  bool reset_prefix_cache(std::chrono::milliseconds timeout);
  /// The vocabulary grammars are compiled against (Engine::token_vocab; immutable, any thread).
  const std::shared_ptr<const grammar::TokenVocab>& token_vocab() const {
    return engine_->token_vocab();
  }
  /// Prometheus text of the serving metrics (thread-safe).
  std::string metrics_text();
  /// Running, waiting (incl. not yet admitted) and KV usage as of the last step (thread-safe).
  struct Snapshot {
    int32_t running = 0;
    int32_t waiting = 0;
    double kv_usage = 0;
  };
  Snapshot snapshot();
  /// Stops accepting, lets in-flight requests finish for up to `timeout`, aborts the rest and
  /// stops the engine thread. Returns true when everything finished in time.
  bool shutdown(std::chrono::milliseconds timeout);

 private:
  AsyncEngine(std::unique_ptr<Engine> engine, AsyncOptions options);
  void loop();
  void warn_over_slo(const StepStats& st);  // engine thread, at most every 10 s
  void cancel(std::shared_ptr<RequestStream> s);
  friend class RequestStream;

  std::unique_ptr<Engine> engine_;
  AsyncOptions options_;
  std::mutex mu_;                      // guards everything below
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  struct Submission {
    std::vector<int32_t> prompt;
    RequestParams params;
    std::shared_ptr<RequestStream> stream;
  };
  std::vector<Submission> pending_;
  std::vector<std::shared_ptr<RequestStream>> cancels_;
  bool accepting_ = true;
  bool abort_all_ = false;
  uint64_t resets_requested_ = 0, resets_done_ = 0;  // prefix cache resets
  bool stop_ = false;
  bool idle_ = true;                   // no work and nothing pending, as of the last loop turn
  int32_t sched_waiting_ = 0;          // scheduler's waiting count as of the last step
  Metrics metrics_;
  double last_slo_warning_ = -1e300;   // engine clock; engine thread only
  std::thread thread_;
};

}  // namespace sarathi::engine
