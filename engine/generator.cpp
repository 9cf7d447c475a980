#include "engine/generator.h"

#include <algorithm>
#include <chrono>

namespace sarathi::engine {

using core::ErrorCode;
using core::make_error;

Generator::Generator(const model::LlamaModel& model, int num_threads)
    : model_(model), pool_(num_threads > 0 ? num_threads : core::default_num_threads()) {}

core::Result<std::unique_ptr<Generator>> Generator::create(const model::LlamaModel& model,
                                                           const Options& options) {
  std::unique_ptr<Generator> g(new Generator(model, options.num_threads));
  model::KvCacheOptions kv = options.kv;
  if (kv.num_blocks == 0)
    kv.num_blocks = (model.config().n_ctx + kv.block_size - 1) / std::max(1, kv.block_size);
  SARATHI_ASSIGN_OR_RETURN(g->cache_, model::PagedKvCache::create(model.config(), kv));
  g->blocks_ = std::make_unique<kv::BlockPool>(kv.num_blocks, kv.block_size);
  g->forward_ = std::make_unique<model::Forward>(model, *g->cache_, g->pool_);
  return g;
}

core::Result<GenerateStats> Generator::generate(std::span<const int32_t> prompt,
                                                const GenerateOptions& options,
                                                const TokenFn& on_token) {
  using Clock = std::chrono::steady_clock;
  const model::LlamaConfig& c = model_.config();
  if (prompt.empty())
    return make_error(ErrorCode::kInvalidArgument, "the prompt has no tokens");
  if (static_cast<int64_t>(prompt.size()) >= c.n_ctx)
    return make_error(ErrorCode::kOutOfRange,
                      "the prompt has {} tokens, but the context holds {} (leave room for output)",
                      prompt.size(), c.n_ctx);
  std::vector<int32_t> table;
  struct Release {
    kv::BlockPool& pool;
    std::vector<int32_t>& table;
    ~Release() { pool.release(table); }
  } release{*blocks_, table};

  GenerateStats stats;
  stats.num_prompt_tokens = static_cast<int32_t>(prompt.size());
  Sampler sampler(options.sampling);
  const auto t0 = Clock::now();
  const int32_t chunk = std::max(1, options.prefill_chunk);
  std::span<const float> logits;
  for (size_t pos = 0; pos < prompt.size(); pos += static_cast<size_t>(chunk)) {
    const size_t n = std::min(prompt.size() - pos, static_cast<size_t>(chunk));
    if (!blocks_->ensure(table, static_cast<int64_t>(pos + n)))
      return make_error(ErrorCode::kResourceExhausted, "KV cache full after {} tokens", pos);
    const bool last = pos + n == prompt.size();
    model::SeqInput in{prompt.subspan(pos, n), static_cast<int32_t>(pos), table, last ? 1 : 0};
    SARATHI_ASSIGN_OR_RETURN(logits, forward_->run(std::span(&in, 1)));
  }
  auto t1 = Clock::now();
  stats.prompt_seconds = std::chrono::duration<double>(t1 - t0).count();

  int32_t pos = static_cast<int32_t>(prompt.size());
  std::vector<int32_t> output;
  for (int32_t i = 0; i < options.max_tokens; ++i) {
    const int32_t token = sampler.sample(logits, prompt, output).token;
    output.push_back(token);
    ++stats.num_generated_tokens;
    const bool stop = !on_token(token) || (!options.ignore_eos && model_.tokenizer().is_eog(token));
    if (stop || i + 1 == options.max_tokens || pos >= c.n_ctx) break;
    if (!blocks_->ensure(table, pos + 1))
      return make_error(ErrorCode::kResourceExhausted, "KV cache full after {} tokens", pos);
    model::SeqInput in{std::span(&token, 1), pos, table, 1};
    SARATHI_ASSIGN_OR_RETURN(logits, forward_->run(std::span(&in, 1)));
    ++pos;
    ++stats.num_decode_steps;
  }
  stats.generate_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  return stats;
}

}  // namespace sarathi::engine
