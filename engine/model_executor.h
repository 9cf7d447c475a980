// engine/model_executor.h: the Executor that runs a real model through model::Forward over a
// PagedKvCache it owns. Depends on model/ and engine/executor.h.
#pragma once

#include <memory>
#include <vector>

#include "core/thread_pool.h"
#include "engine/executor.h"
#include "model/forward.h"
#include "model/llama.h"

namespace sarathi::engine {

class ModelExecutor final : public Executor {
 public:
  /// The model must outlive the executor. num_threads 0 = all cores.
  static core::Result<std::unique_ptr<ModelExecutor>> create(const model::LlamaModel& model,
                                                             const model::KvCacheOptions& kv,
                                                             int num_threads);
  int32_t n_vocab() const override { return model_.config().n_vocab; }
  core::Result<std::span<const float>> run(std::span<const ExecSeq> batch) override;
  const model::PagedKvCache& cache() const { return *cache_; }

 private:
  ModelExecutor(const model::LlamaModel& model, int num_threads);
  const model::LlamaModel& model_;
  core::ThreadPool pool_;
  std::unique_ptr<model::PagedKvCache> cache_;
  std::unique_ptr<model::Forward> forward_;
  std::vector<model::SeqInput> inputs_;  // reused
};

}  // namespace sarathi::engine
