// server/serve_model.h: what the HTTP server serves once the model is loaded: the model, its
// executor, the AsyncEngine on its own thread and the chat template. Built off the request path
// (in the background while /health says 503). Depends on model/, engine/ and chat_template.h;
// knows nothing of HTTP.
#pragma once

#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/dtype.h"
#include "core/status.h"
#include "engine/async_engine.h"
#include "engine/model_executor.h"
#include "model/llama.h"
#include "sched/config.h"
#include "server/chat_template.h"
#include "server/openai_structured.h"

namespace sarathi::server {

struct ServedModelOptions {
  sched::SchedulerConfig sched;  // KV pool size and max_model_len already set
  core::DType kv_dtype = core::DType::kF16;
  int num_threads = 0;                 // 0 = all cores
  std::string chat_template;           // override: a file path or inline Jinja text
  int32_t max_queue = 0;               // waiting requests at most (0 = unlimited)
  std::string model_name = "sarathi";  // for the metrics' model_name label
  // TBT SLO for SLO-driven chunking: 0 = off (fixed token budget), < 0 = the strict SLO (5x the
  // one-sequence decode step), else seconds. The engine calibrates its step-cost model at load.
  double tbt_slo_s = 0;
  std::function<void(const std::string&)> log;  // start-up lines (the SLO and the fitted model)
  // Builds the executor over the model (its KV cache from kv, num_threads threads); empty: an
  // engine::ModelExecutor. The CLI passes the pipeline's first stage here under pipeline
  // parallelism (dist/), which the server knows nothing of.
  std::function<core::Result<std::unique_ptr<engine::Executor>>(
      const model::LlamaModel&, const model::KvCacheOptions&, int num_threads)>
      make_executor;
};

/// Compiled grammars by their GBNF text, the most recently used `capacity` kept: requests that
/// repeat a schema (or a tool list) share the mask caches. Thread-safe; a new grammar is compiled
/// and its positions walked on the calling (HTTP) thread, never on the engine thread.
class GrammarCache {
 public:
  explicit GrammarCache(size_t capacity = 64) : capacity_(capacity) {}
  std::shared_ptr<grammar::CompiledGrammar> get(
      const ConstraintGrammar& g, const std::shared_ptr<const grammar::TokenVocab>& vocab);
  size_t size() const;

 private:
  size_t capacity_;
  mutable std::mutex mu_;
  std::list<std::string> order_;  // most recent first
  std::unordered_map<std::string, std::pair<std::shared_ptr<grammar::CompiledGrammar>,
                                            std::list<std::string>::iterator>>
      map_;
};

/// Everything a request needs; destroyed in reverse order (engine first, model last).
struct ServedModel {
  std::unique_ptr<model::LlamaModel> model;
  std::unique_ptr<engine::Executor> executor;
  std::unique_ptr<engine::AsyncEngine> engine;
  ChatTemplate chat_template;
  std::string bos_text, eos_text;  // the tokenizer's BOS/EOS text for templates
  sched::SchedulerConfig sched;
  GrammarCache grammars;

  ServedModel() = default;
  ServedModel(const ServedModel&) = delete;
  ServedModel& operator=(const ServedModel&) = delete;
  ~ServedModel();
};

/// Builds the executor and starts the engine over a loaded model. The chat template is, in
/// order: the override (read as a file when such a file exists, else used as template text), the
/// model's own, ChatML.
core::Result<std::unique_ptr<ServedModel>> make_served_model(
    std::unique_ptr<model::LlamaModel> model, const ServedModelOptions& options);

}  // namespace sarathi::server
