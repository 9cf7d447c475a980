// model/llama.h: LLaMA-family models (architectures `llama`, `qwen2`, `qwen3`, `phi3`, `gemma2`
// and `gemma3`): hyper-parameters,
// weights viewed in place in a mmapped GGUF file or generated in memory (synthetic models),
// and the tokenizer that comes with them. A model may be loaded as one pipeline stage: a
// contiguous range of layers (the first stage also the token embedding, the last the output
// norm and head), holding only those weights. Depends on core/, kernels/, model/gguf, tokenizer.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/packed.h"
#include "model/gguf.h"
#include "model/tokenizer.h"

namespace sarathi::model {

struct LlamaConfig {
  std::string arch = "llama";   // general.architecture: llama | qwen2 | qwen3 | phi3 | gemma2 | gemma3
  std::string name;             // general.name or the synthetic shape
  int32_t n_vocab = 0;
  int32_t n_embd = 0;
  int32_t n_layer = 0;
  int32_t n_head = 0;
  int32_t n_head_kv = 0;
  int32_t head_dim = 0;
  int32_t n_ff = 0;
  int32_t n_ctx_train = 0;      // <arch>.context_length
  int32_t n_ctx = 0;            // the context the engine runs with (n_ctx_train unless overridden)
  float norm_eps = 1e-5f;
  kernels::RopeParams rope;
  bool qkv_bias = false;        // qwen2
  bool qk_norm = false;         // qwen3: RMSNorm over each Q and K head before RoPE
  bool fused = false;           // phi3: attn_qkv holds Q, K and V's rows, ffn_up gate's and up's
  int32_t sliding_window = 0;   // phi3, gemma: a query sees only the last sliding_window positions (0: all)
  int32_t swa_pattern = 0;      // with a window: 0, every layer slides (phi3); n, layer l slides
                                // unless (l + 1) % n == 0 (gemma2: 2, gemma3: 6)
  std::optional<kernels::RopeParams> rope_swa;  // gemma3: RoPE of the sliding layers
  float attn_scale = 0.0f;      // attention score scale (0: 1 / sqrt(head_dim))
  float attn_softcap = 0.0f;    // gemma2: scores become c * tanh(s / c) (0: none)
  float final_softcap = 0.0f;   // gemma2: logits likewise
  float embed_scale = 0.0f;     // gemma: embeddings are multiplied by this (0: not scaled)
  bool post_norms = false;      // gemma: RMSNorm of the attention and FFN outputs before each add
  bool gelu = false;            // gemma: FFN gelu(gate) * up instead of silu(gate) * up
  bool tied_output = false;     // output head is token_embd (no output.weight)
  core::DType dtype = core::DType::kF32;  // the most common weight type (for display)

  /// "llama 5 layers, 64 wide, ..." one line for logs.
  std::string summary() const;
  /// The sliding window of layer l (0: none) and its RoPE.
  int32_t window_of(int32_t l) const {
    if (sliding_window <= 0) return 0;
    return swa_pattern == 0 || (l + 1) % swa_pattern != 0 ? sliding_window : 0;
  }
  const kernels::RopeParams& rope_of(int32_t l) const {
    return rope_swa && window_of(l) > 0 ? *rope_swa : rope;
  }
};

struct LayerWeights {
  const float* attn_norm = nullptr;  // [n_embd]
  kernels::WeightView wq;            // [n_head*head_dim, n_embd]
  kernels::WeightView wk;            // [n_head_kv*head_dim, n_embd]
  kernels::WeightView wv;            // [n_head_kv*head_dim, n_embd]
  kernels::WeightView wo;            // [n_embd, n_head*head_dim]
  const float* bq = nullptr;         // [n_head*head_dim]  (qwen2 only)
  const float* bk = nullptr;         // [n_head_kv*head_dim]
  const float* bv = nullptr;         // [n_head_kv*head_dim]
  const float* q_norm = nullptr;     // [head_dim]  (qwen3, gemma3)
  const float* k_norm = nullptr;     // [head_dim]
  const float* attn_post_norm = nullptr;  // [n_embd]  (gemma)
  const float* ffn_post_norm = nullptr;   // [n_embd]
  const float* ffn_norm = nullptr;   // [n_embd]
  kernels::WeightView w_gate;        // [n_ff, n_embd]
  kernels::WeightView w_up;          // [n_ff, n_embd]
  kernels::WeightView w_down;        // [n_embd, n_ff]
};

/// A model's weights. For a pipeline stage only its own parts are bound: layers outside the
/// stage's range are empty (null views), tok_embd is bound on the first stage only, output_norm
/// and output on the last only.
struct LlamaWeights {
  kernels::WeightView tok_embd;      // [n_vocab, n_embd]
  const float* output_norm = nullptr;  // [n_embd]
  kernels::WeightView output;        // [n_vocab, n_embd] (= tok_embd when tied)
  std::vector<LayerWeights> layers;  // [n_layer], indexed by the model's layer number
};

/// Reports loading progress: done out of total (bytes or tensors).
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

struct LoadOptions {
  int32_t n_ctx = 0;               // 0: the model's trained context
  uint64_t seed = 42;              // synthetic models only
  ProgressFn progress;             // may be empty
  bool vocab_only = false;         // load the tokenizer only (GGUF)
  /// Float type (f32, f16 or bf16) for the float weight matrices (attention, FFN and output
  /// projections stored as f32, f16 or bf16), as vLLM's --dtype; quantized matrices, norms and
  /// the embedding table keep their types. Unset: the file's types.
  std::optional<core::DType> float_weights;
  /// Pipeline stage: load only layers [first_layer, end_layer) (end_layer 0: to the last), plus
  /// the token embedding when first_layer is 0 and the output norm and head when the range ends
  /// at the last layer. Other layers' tensors are neither read nor converted nor repacked (a
  /// GGUF's stay mapped, untouched). Default: the whole model.
  int32_t first_layer = 0;
  int32_t end_layer = 0;
};

class LlamaModel {
 public:
  /// Loads `spec`: a GGUF path, or `synthetic:<shape>[:<dtype>]` (see synthetic_shapes()).
  static core::Result<std::unique_ptr<LlamaModel>> load(const std::string& spec,
                                                        const LoadOptions& options = {});
  static core::Result<std::unique_ptr<LlamaModel>> load_gguf(const std::string& path,
                                                             const LoadOptions& options = {});
  static core::Result<std::unique_ptr<LlamaModel>> synthetic(const std::string& spec,
                                                             const LoadOptions& options = {});
  /// The hyper-parameters of `spec` without loading any weight (a GGUF's metadata, or a
  /// synthetic shape), e.g. to split its layers over pipeline stages before loading.
  static core::Result<LlamaConfig> read_config(const std::string& spec,
                                               const LoadOptions& options = {});
  ~LlamaModel();

  const LlamaConfig& config() const { return config_; }
  /// The layers this model holds: [first_layer(), end_layer()) of config().n_layer.
  int32_t first_layer() const { return first_layer_; }
  int32_t end_layer() const { return end_layer_; }
  /// Whether it holds the token embedding (the first stage) / the output norm and head (the
  /// last stage); a whole model holds both.
  bool has_embedding() const { return first_layer_ == 0; }
  bool has_head() const { return end_layer_ == config_.n_layer; }
  /// Whether it is the whole model (not one stage of a pipeline).
  bool is_whole() const { return has_embedding() && has_head(); }
  const LlamaWeights& weights() const { return weights_; }
  /// The weights as the op table multiplies them fastest: matrices of the types it has an
  /// interleaved path for (kernels/packed.h: q8_0, q4_0, q4_K, q6_K from AVX2 up, bf16 with
  /// AVX512-BF16 or AMX) are repacked once, on first use, and kept with the
  /// model; float matrices are converted to LoadOptions::float_weights (in the same pass, so
  /// one copy); every other view is the one weights() has (the file's layout and types).
  /// Thread-safe.
  const LlamaWeights& weights_for(const kernels::CpuOps& ops) const;
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  /// Bytes of weight data (what a decode step streams from memory).
  uint64_t weight_bytes() const { return weight_bytes_; }
  /// The Jinja chat template from tokenizer.chat_template, or empty when the file has none.
  const std::string& chat_template() const { return chat_template_; }

 private:
  LlamaModel() = default;
  friend class LlamaLoader;
  friend class SyntheticBuilder;

  /// Sets what config.arch fixes (biases, norms, fused layout, Gemma's scale, norms, GeLU, soft
  /// caps, window pattern and local RoPE), given its hyper-parameters and RoPE; the GGUF
  /// loader then overrides what the file states.
  static void set_arch_features(LlamaConfig& config);
  /// Checks the stage range of options against config_ and stores it.
  core::Status set_stage(const LoadOptions& options);
  /// The configuration of a synthetic:<shape>[:<dtype>] spec (dtype in config.dtype).
  static core::Result<LlamaConfig> synthetic_config(const std::string& spec,
                                                    const LoadOptions& options);

  LlamaConfig config_;
  int32_t first_layer_ = 0;
  int32_t end_layer_ = 0;
  LlamaWeights weights_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<GgufFile> file_;               // keeps the mapping alive
  std::vector<std::vector<uint8_t>> owned_;      // converted/generated tensors
  uint64_t weight_bytes_ = 0;
  std::string chat_template_;
  std::optional<core::DType> float_weights_;  // LoadOptions::float_weights
  struct Packed {
    LlamaWeights weights;
    std::vector<kernels::AlignedBuffer> buffers;
  };
  mutable std::mutex packed_mu_;
  mutable std::map<uint32_t, std::unique_ptr<Packed>> packed_;  // by the set of packed types
};

/// Names of the built-in synthetic shapes, e.g. "llama-160m", "tinyllama-1.1b".
std::vector<std::string> synthetic_shapes();

}  // namespace sarathi::model
