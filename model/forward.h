// model/forward.h: the batch forward pass. One call runs a mixed batch — prefill chunks of any
// length and single decode tokens from many sequences — over a paged KV cache: the linear layers
// run once over all tokens of the step, attention reads each sequence's KV through its block
// table, and logits come back only for the positions asked for. Depends on core/, kernels/ and
// model/llama.h; knows nothing of scheduling (the caller owns block allocation).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "core/big_buffer.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/llama.h"

namespace sarathi::model {

struct KvCacheOptions {
  int32_t num_blocks = 0;
  int32_t block_size = 16;
  core::DType dtype = core::DType::kF16;  // kF16 (llama.cpp's default), kF32 or kQ8_0
  // The layers whose KV the cache holds, [first_layer, end_layer) (end_layer 0: to the last
  // layer): a pipeline stage keeps only its own layers' KV, under the block ids all stages share.
  int32_t first_layer = 0;
  int32_t end_layer = 0;
};

/// The KV tensors of every layer, in fixed-size blocks of a shared pool. Block ids are handed
/// out by the caller (kv/ or a test); this class only stores.
class PagedKvCache {
 public:
  static core::Result<std::unique_ptr<PagedKvCache>> create(const LlamaConfig& config,
                                                            const KvCacheOptions& options);
  /// Bytes one block takes over num_layers layers (K and V; 0: all of the model's layers).
  static size_t bytes_per_block(const LlamaConfig& config, int32_t block_size, core::DType dtype,
                                int32_t num_layers = 0);
  /// Bytes of one (block, KV head) region of K (or V) (kernels/ops.h has the layouts).
  static size_t region_bytes(int32_t block_size, int32_t head_dim, core::DType dtype);

  /// Layer l's K and V (l is the model's layer number, within [first_layer(), end_layer())).
  kernels::PagedKvLayer layer(int32_t l) const;
  int32_t first_layer() const { return options_.first_layer; }
  int32_t end_layer() const { return options_.end_layer; }
  int32_t num_blocks() const { return options_.num_blocks; }
  int32_t block_size() const { return options_.block_size; }
  core::DType dtype() const { return options_.dtype; }
  size_t bytes() const { return storage_.size(); }

 private:
  PagedKvCache() = default;
  KvCacheOptions options_;  // end_layer resolved
  int32_t num_kv_heads_ = 0;
  int32_t head_dim_ = 0;
  size_t layer_bytes_ = 0;  // bytes of K (or V) per layer
  // [layer][k|v][num_blocks, kv_heads, region], mapped from the OS: pages are zeroed as they are
  // first touched, so a large cache costs nothing until used (never filled at creation).
  core::BigBuffer storage_;
};

/// One sequence's part of a step.
struct SeqInput {
  std::span<const int32_t> tokens;       // the tokens to process now (chunk or one decode)
  int32_t first_pos = 0;                 // position of tokens[0]; [0, first_pos) are cached
  std::span<const int32_t> block_table;  // block ids covering positions [0, first_pos + n)
  int32_t num_logits = 1;                // logits for the last num_logits tokens (0..n)
};

/// Wall time per operator, summed over the steps run while attached to a Forward
/// (`sarathi bench ops`). Timing adds two clock reads per op; unattached, it costs nothing.
struct OpProfile {
  enum Op {
    kEmbed,
    kNorm,
    kMatmulQkv,
    kRope,
    kKvStore,
    kAttention,
    kMatmulOut,
    kMatmulGateUp,
    kSwiglu,
    kMatmulDown,
    kResidual,
    kLogits,
    kNumOps
  };
  double seconds[kNumOps] = {};
  /// A short name for an op ("matmul_qkv", ...).
  static const char* name(int op);
};

/// The batch forward pass over the layers the model holds (all of them, or one pipeline
/// stage's range).
class Forward {
 public:
  /// The model, cache and pool must outlive this object. The cache must hold the KV of the
  /// model's layers.
  Forward(const LlamaModel& model, PagedKvCache& cache, core::ThreadPool& pool,
          const kernels::CpuOps& ops = kernels::cpu_ops());

  /// Runs one step through the model's layers. The first stage (or a whole model) embeds the
  /// batch's tokens; a later stage takes `hidden`, the previous stage's output for the same
  /// batch ([T, n_embd], T the batch's tokens). The last stage (or a whole model) returns the
  /// requested logits, [sum of num_logits, n_vocab] in batch order; any other stage its output
  /// hidden states, [T, n_embd]. Valid until the next call. Invalid input (token id out of
  /// range, position beyond the context, short block table, hidden states of the wrong size) is
  /// an error and leaves the cache unchanged.
  core::Result<std::span<const float>> run(std::span<const SeqInput> batch,
                                           std::span<const float> hidden = {});

  /// Attaches (or with null, detaches) a profile that run() adds its per-op times to.
  void set_profile(OpProfile* profile) { profile_ = profile; }

 private:
  core::Status validate(std::span<const SeqInput> batch, std::span<const float> hidden) const;
  void reserve(int64_t num_tokens, int64_t num_logits);
  void layer(int32_t l, int64_t num_tokens);

  const LlamaModel& model_;
  const LlamaWeights& weights_;  // model_.weights_for(ops_)
  PagedKvCache& cache_;
  core::ThreadPool& pool_;
  const kernels::CpuOps& ops_;

  // Step-sized buffers, grown to the largest step seen and then reused.
  std::vector<float> x_;            // [T, n_embd] residual stream
  std::vector<float> h_;            // [T, n_embd] normed
  std::vector<float> q_;            // [T, n_head*head_dim]
  std::vector<float> k_;            // [T, n_kv*head_dim]
  std::vector<float> v_;            // [T, n_kv*head_dim]
  std::vector<float> attn_;         // [T, n_head*head_dim]
  std::vector<float> gate_;         // [T, n_ff]
  std::vector<float> up_;           // [T, n_ff]
  std::vector<float> logits_;       // [L, n_vocab]
  std::vector<float> last_h_;       // [L, n_embd]
  std::vector<int32_t> tokens_;     // [T]
  std::vector<int32_t> positions_;  // [T]
  std::vector<kernels::AttnSeq> seqs_;
  kernels::MatmulScratch mm_scratch_;
  kernels::AttnScratch attn_scratch_;
  OpProfile* profile_ = nullptr;
};

}  // namespace sarathi::model
