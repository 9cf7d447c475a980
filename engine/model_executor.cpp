#include "engine/model_executor.h"

namespace sarathi::engine {

ModelExecutor::ModelExecutor(const model::LlamaModel& model, int num_threads)
    : model_(model), pool_(num_threads > 0 ? num_threads : core::default_num_threads()) {}

core::Result<std::unique_ptr<ModelExecutor>> ModelExecutor::create(
    const model::LlamaModel& model, const model::KvCacheOptions& kv, int num_threads) {
  if (!model.is_whole())
    return core::make_error(core::ErrorCode::kInvalidArgument,
                            "the model holds layers [{}, {}) of {}: one pipeline stage, not a "
                            "model an executor can run alone",
                            model.first_layer(), model.end_layer(), model.config().n_layer);
  std::unique_ptr<ModelExecutor> e(new ModelExecutor(model, num_threads));
  SARATHI_ASSIGN_OR_RETURN(e->cache_, model::PagedKvCache::create(model.config(), kv));
  e->forward_ = std::make_unique<model::Forward>(model, *e->cache_, e->pool_);
  return e;
}

core::Result<std::span<const float>> ModelExecutor::run(std::span<const ExecSeq> batch) {
  inputs_.clear();
  for (const ExecSeq& s : batch)
    inputs_.push_back({s.tokens, s.first_pos, s.block_table, s.want_logits ? 1 : 0});
  return forward_->run(inputs_);
}

}  // namespace sarathi::engine
