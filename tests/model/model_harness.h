// tests/model/model_harness.h: drives the batch forward pass for tests: a KV cache, a block
// pool and helpers to prefill in chunks, decode, and run mixed batches.
#pragma once

#include <map>
#include <memory>
#include <span>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/forward.h"
#include "model/llama.h"

namespace sarathi::testing {

class ModelHarness {
 public:
  ModelHarness(const model::LlamaModel& m, kernels::Isa isa, core::DType kv_dtype,
               int32_t num_blocks = 256, int32_t block_size = 16, int threads = 2)
      : m_(m), pool_(threads) {
    auto cache = model::PagedKvCache::create(
        m.config(), {.num_blocks = num_blocks, .block_size = block_size, .dtype = kv_dtype});
    cache_ = std::move(*cache);
    fwd_ = std::make_unique<model::Forward>(m, *cache_, pool_, kernels::cpu_ops_for(isa));
    for (int32_t i = num_blocks - 1; i >= 0; --i) free_.push_back(i);
  }

  std::vector<int32_t>& table(int seq) { return tables_[seq]; }

  void ensure(int seq, int64_t num_tokens) {
    auto& t = tables_[seq];
    const int64_t bs = cache_->block_size();
    while (static_cast<int64_t>(t.size()) * bs < num_tokens) {
      t.push_back(free_.back());
      free_.pop_back();
    }
  }

  /// Prefills tokens in chunks of `chunk`; returns the logits of the last token.
  std::vector<float> prefill(int seq, std::span<const int32_t> tokens, size_t chunk) {
    std::vector<float> out;
    for (size_t pos = 0; pos < tokens.size(); pos += chunk) {
      const size_t n = std::min(chunk, tokens.size() - pos);
      ensure(seq, static_cast<int64_t>(pos + n));
      const bool last = pos + n == tokens.size();
      model::SeqInput in{tokens.subspan(pos, n), static_cast<int32_t>(pos), tables_[seq],
                         last ? 1 : 0};
      auto r = fwd_->run(std::span(&in, 1));
      EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
      if (last && r.ok()) out.assign(r->begin(), r->end());
    }
    return out;
  }

  /// Feeds one token at `pos`; returns its logits.
  std::vector<float> decode(int seq, int32_t token, int32_t pos) {
    ensure(seq, pos + 1);
    model::SeqInput in{std::span(&token, 1), pos, tables_[seq], 1};
    auto r = fwd_->run(std::span(&in, 1));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::vector<float>(r->begin(), r->end()) : std::vector<float>{};
  }

  model::Forward& forward() { return *fwd_; }
  model::PagedKvCache& cache() { return *cache_; }

 private:
  const model::LlamaModel& m_;
  core::ThreadPool pool_;
  std::unique_ptr<model::PagedKvCache> cache_;
  std::unique_ptr<model::Forward> fwd_;
  std::vector<int32_t> free_;
  std::map<int, std::vector<int32_t>> tables_;
};

/// The SIMD levels this machine supports (scalar included).
inline std::vector<kernels::Isa> supported_isas() {
  std::vector<kernels::Isa> out;
  for (auto isa : {kernels::Isa::kScalar, kernels::Isa::kAvx2, kernels::Isa::kAvx512,
                   kernels::Isa::kAmx})
    if (kernels::isa_supported(isa)) out.push_back(isa);
  return out;
}

}  // namespace sarathi::testing
