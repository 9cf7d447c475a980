// Synthetic models: random weights of a real model's shape, generated in memory from a seed,
// with a byte-level tokenizer. Deterministic: every row comes from its own counter-based
// stream, so the thread count does not change the weights.
#include <fmt/format.h>

#include <array>
#include <cmath>

#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "kernels/ref/type_ops.h"
#include "model/llama.h"

namespace sarathi::model {

using core::DType;
using core::ErrorCode;
using core::make_error;

namespace {

enum class Scaling { kNone, kLlama3, kYarn, kLinear8 };

struct Shape {
  std::string_view name;
  std::string_view arch;
  int32_t n_embd, n_layer, n_ff, n_head, n_head_kv, n_vocab, n_ctx;
  float rope_base;
  int32_t head_dim = 0;  // 0: n_embd / n_head
  int32_t window = 0;    // phi3's sliding window
  Scaling scaling = Scaling::kNone;
};

constexpr std::array<Shape, 16> kShapes = {{
    {"tiny", "llama", 256, 2, 512, 8, 4, 512, 2048, 10000.0f},
    {"tiny-4l", "llama", 256, 4, 512, 8, 4, 512, 2048, 10000.0f},  // pipeline tests: 3+ stages
    {"qwen2-tiny", "qwen2", 256, 2, 512, 8, 2, 512, 4096, 1000000.0f},
    // The architectures' features at a size llama.cpp's reference runs in a moment: Qwen3's
    // per-head Q/K norms with a head wider than n_embd / n_head, Phi-3's fused matrices and a
    // sliding window short prompts cross, Llama 3.1's rope_freqs, Qwen2.5's YaRN.
    {"qwen3-tiny", "qwen3", 256, 2, 512, 8, 2, 512, 4096, 1000000.0f, 64},
    {"phi3-tiny", "phi3", 256, 2, 512, 8, 8, 512, 4096, 10000.0f, 0, 48},
    {"llama3-tiny", "llama", 256, 2, 512, 8, 2, 512, 8192, 500000.0f, 0, 0, Scaling::kLlama3},
    {"qwen2-yarn-tiny", "qwen2", 256, 2, 512, 8, 2, 512, 4096, 1000000.0f, 0, 0, Scaling::kYarn},
    // Gemma 2 and 3 with 26 layers (llama.cpp picks the query scale by layer count and knows no
    // 2-layer Gemma), windows short prompts cross, gemma3's linear RoPE scaling of its 4B+ sizes
    // (global layers only).
    {"gemma2-tiny", "gemma2", 256, 26, 512, 8, 4, 512, 8192, 10000.0f, 64, 32},
    {"gemma3-tiny", "gemma3", 256, 26, 512, 8, 4, 512, 8192, 1000000.0f, 64, 32, Scaling::kLinear8},
    {"llama-160m", "llama", 768, 12, 3072, 12, 12, 32000, 2048, 10000.0f},
    {"tinyllama-1.1b", "llama", 2048, 22, 5632, 32, 4, 32000, 2048, 10000.0f},
    {"llama-2-7b", "llama", 4096, 32, 11008, 32, 32, 32000, 4096, 10000.0f},
    {"qwen3-0.6b", "qwen3", 1024, 28, 3072, 16, 8, 151936, 40960, 1000000.0f, 128},
    {"phi3-mini-3.8b", "phi3", 3072, 32, 8192, 32, 32, 32064, 4096, 10000.0f, 0, 2047},
    {"gemma2-2b", "gemma2", 2304, 26, 9216, 8, 4, 256000, 8192, 10000.0f, 256, 4096},
    {"gemma3-1b", "gemma3", 1152, 26, 6912, 4, 1, 262144, 32768, 1000000.0f, 256, 512},
}};

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Llama 3.1's rope_freqs, as llama.cpp's converter derives them from rope_scaling (factor 8,
// low / high frequency factors 1 and 4, original context 8192).
std::vector<float> llama3_freq_factors(int32_t n_rot, float base) {
  constexpr double kFactor = 8.0, kLow = 1.0, kHigh = 4.0, kOld = 8192.0;
  std::vector<float> out;
  for (int32_t i = 0; i < n_rot; i += 2) {
    const double freq = 1.0 / std::pow(static_cast<double>(base), static_cast<double>(i) / n_rot);
    const double wavelen = 2.0 * M_PI / freq;
    if (wavelen < kOld / kHigh) {
      out.push_back(1.0f);
    } else if (wavelen > kOld / kLow) {
      out.push_back(static_cast<float>(kFactor));
    } else {
      const double smooth = (kOld / wavelen - kLow) / (kHigh - kLow);
      out.push_back(static_cast<float>(1.0 / ((1.0 - smooth) / kFactor + smooth)));
    }
  }
  return out;
}

uint64_t hash_name(std::string_view s, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (char ch : s) h = (h ^ static_cast<uint8_t>(ch)) * 1099511628211ull;
  return h;
}

// Uniform in [-amp, amp) from a stream.
void fill_uniform(float* out, int64_t n, uint64_t stream, float amp) {
  uint64_t state = stream;
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t r = splitmix64(state);
    const float u = static_cast<float>(r >> 40) * (1.0f / 16777216.0f);  // [0, 1)
    out[i] = (2.0f * u - 1.0f) * amp;
  }
}

}  // namespace

std::vector<std::string> synthetic_shapes() {
  std::vector<std::string> out;
  for (const Shape& s : kShapes) out.emplace_back(s.name);
  return out;
}

class SyntheticBuilder {
 public:
  SyntheticBuilder(LlamaModel& m, DType dtype, uint64_t seed, core::ThreadPool& pool,
                   const ProgressFn& progress, uint64_t total_bytes)
      : m_(m), dtype_(dtype), seed_(seed), pool_(pool), progress_(progress),
        total_bytes_(total_bytes) {}

  core::Result<kernels::WeightView> matrix(const std::string& name, int64_t rows, int64_t cols,
                                           float amp, DType dtype) {
    const auto row_bytes = core::dtype_row_bytes(dtype, cols);
    if (!row_bytes)
      return make_error(ErrorCode::kInvalidArgument,
                        "synthetic tensor {}: {} columns is not a multiple of {}'s block size {}",
                        name, cols, core::dtype_name(dtype), core::dtype_block_size(dtype));
    std::vector<uint8_t> data(*row_bytes * static_cast<size_t>(rows));
    const uint64_t base = hash_name(name, seed_);
    // K-quants without GGML's scale search: ~10x faster, and random weights need no fidelity.
    const kernels::FromFloatFn convert =
        dtype == DType::kQ4_K   ? kernels::ref::from_float_q4_k_quick
        : dtype == DType::kQ6_K ? kernels::ref::from_float_q6_k_quick
                                : kernels::cpu_ops().type(dtype).from_float;
    pool_.parallel_for(rows, 16, [&](int, int64_t r0, int64_t r1) {
      std::vector<float> row(static_cast<size_t>(cols));
      for (int64_t r = r0; r < r1; ++r) {
        fill_uniform(row.data(), cols, base + static_cast<uint64_t>(r) * 0x632be59bd9b4e019ull, amp);
        convert(row.data(), data.data() + static_cast<size_t>(r) * *row_bytes, cols);
      }
    });
    kernels::WeightView w{dtype, data.data(), rows, cols, *row_bytes};
    done_bytes_ += data.size();
    m_.weight_bytes_ += data.size();
    m_.owned_.push_back(std::move(data));
    if (progress_) progress_(done_bytes_, total_bytes_);
    return w;
  }

  const float* vector(const std::string& name, int64_t n, float center, float amp) {
    std::vector<uint8_t> data(static_cast<size_t>(n) * sizeof(float));
    auto* f = reinterpret_cast<float*>(data.data());
    fill_uniform(f, n, hash_name(name, seed_), amp);
    for (int64_t i = 0; i < n; ++i) f[i] += center;
    m_.weight_bytes_ += data.size();
    m_.owned_.push_back(std::move(data));
    return f;
  }

  core::Status build() {
    const LlamaConfig& c = m_.config_;
    LlamaWeights& w = m_.weights_;
    const int64_t q_dim = static_cast<int64_t>(c.n_head) * c.head_dim;
    const int64_t kv_dim = static_cast<int64_t>(c.n_head_kv) * c.head_dim;
    auto amp = [](int64_t fan_in) { return std::sqrt(3.0f / static_cast<float>(fan_in)); };
    // Every tensor comes from its own name-seeded stream: a stage generates only its own and
    // gets the same values as the whole model.
    if (m_.has_embedding()) {
      SARATHI_ASSIGN_OR_RETURN(w.tok_embd, matrix("token_embd.weight", c.n_vocab, c.n_embd,
                                                  std::sqrt(3.0f), dtype_));
    }
    if (m_.has_head()) {
      w.output_norm = vector("output_norm.weight", c.n_embd, 1.0f, 0.1f);
      if (!c.tied_output) {
        SARATHI_ASSIGN_OR_RETURN(w.output, matrix("output.weight", c.n_vocab, c.n_embd,
                                                  amp(c.n_embd) * 4.0f, dtype_));
      } else if (m_.has_embedding()) {
        w.output = w.tok_embd;
      } else {  // a last stage multiplies by its own copy of the embedding table
        SARATHI_ASSIGN_OR_RETURN(w.output, matrix("token_embd.weight", c.n_vocab, c.n_embd,
                                                  std::sqrt(3.0f), dtype_));
      }
    }
    w.layers.resize(static_cast<size_t>(c.n_layer));
    for (int32_t l = m_.first_layer(); l < m_.end_layer(); ++l) {
      LayerWeights& L = w.layers[static_cast<size_t>(l)];
      const std::string p = fmt::format("blk.{}.", l);
      L.attn_norm = vector(p + "attn_norm.weight", c.n_embd, 1.0f, 0.1f);
      SARATHI_ASSIGN_OR_RETURN(L.wq, matrix(p + "attn_q.weight", q_dim, c.n_embd, amp(c.n_embd) * 2.0f, dtype_));
      SARATHI_ASSIGN_OR_RETURN(L.wk, matrix(p + "attn_k.weight", kv_dim, c.n_embd, amp(c.n_embd) * 2.0f, dtype_));
      SARATHI_ASSIGN_OR_RETURN(L.wv, matrix(p + "attn_v.weight", kv_dim, c.n_embd, amp(c.n_embd), dtype_));
      SARATHI_ASSIGN_OR_RETURN(L.wo, matrix(p + "attn_output.weight", c.n_embd, q_dim, amp(q_dim), dtype_));
      if (c.qkv_bias) {
        L.bq = vector(p + "attn_q.bias", q_dim, 0.0f, 0.1f);
        L.bk = vector(p + "attn_k.bias", kv_dim, 0.0f, 0.1f);
        L.bv = vector(p + "attn_v.bias", kv_dim, 0.0f, 0.1f);
      }
      if (c.qk_norm) {
        L.q_norm = vector(p + "attn_q_norm.weight", c.head_dim, 1.0f, 0.1f);
        L.k_norm = vector(p + "attn_k_norm.weight", c.head_dim, 1.0f, 0.1f);
      }
      if (c.post_norms) {
        L.attn_post_norm = vector(p + "post_attention_norm.weight", c.n_embd, 1.0f, 0.1f);
        L.ffn_post_norm = vector(p + "post_ffw_norm.weight", c.n_embd, 1.0f, 0.1f);
      }
      L.ffn_norm = vector(p + "ffn_norm.weight", c.n_embd, 1.0f, 0.1f);
      SARATHI_ASSIGN_OR_RETURN(L.w_gate, matrix(p + "ffn_gate.weight", c.n_ff, c.n_embd, amp(c.n_embd), dtype_));
      SARATHI_ASSIGN_OR_RETURN(L.w_up, matrix(p + "ffn_up.weight", c.n_ff, c.n_embd, amp(c.n_embd), dtype_));
      SARATHI_ASSIGN_OR_RETURN(L.w_down, matrix(p + "ffn_down.weight", c.n_embd, c.n_ff, amp(c.n_ff), dtype_));
    }
    return core::ok_status();
  }

 private:
  LlamaModel& m_;
  DType dtype_;
  uint64_t seed_;
  core::ThreadPool& pool_;
  const ProgressFn& progress_;
  uint64_t total_bytes_;
  uint64_t done_bytes_ = 0;
};

core::Result<LlamaConfig> LlamaModel::synthetic_config(const std::string& spec,
                                                       const LoadOptions& options) {
  // synthetic:<shape>[:<dtype>]
  std::string rest = spec.rfind("synthetic:", 0) == 0 ? spec.substr(10) : spec;
  std::string shape_name = rest;
  DType dtype = DType::kF16;
  if (const size_t colon = rest.find(':'); colon != std::string::npos) {
    shape_name = rest.substr(0, colon);
    const std::string dname = rest.substr(colon + 1);
    auto d = core::dtype_from_name(dname);
    if (!d || *d == DType::kQ8_K)
      return make_error(ErrorCode::kInvalidArgument,
                        "{}: unknown weight type '{}' (use f32, f16, bf16, q8_0, q4_0, q4_K, q5_K, "
                        "q6_K, q4_1, q5_0, q5_1, q2_K, q3_K, iq4_nl or iq4_xs)",
                        spec, dname);
    dtype = *d;
  }
  const Shape* shape = nullptr;
  for (const Shape& s : kShapes)
    if (s.name == shape_name) shape = &s;
  if (!shape)
    return make_error(ErrorCode::kInvalidArgument, "{}: unknown synthetic shape '{}' (known: {})",
                      spec, shape_name, fmt::join(synthetic_shapes(), ", "));

  LlamaConfig c;
  c.arch = std::string(shape->arch);
  c.name = fmt::format("synthetic:{}:{}", shape->name, core::dtype_name(dtype));
  c.n_vocab = shape->n_vocab;
  c.n_embd = shape->n_embd;
  c.n_layer = shape->n_layer;
  c.n_ff = shape->n_ff;
  c.n_head = shape->n_head;
  c.n_head_kv = shape->n_head_kv;
  c.head_dim = shape->head_dim > 0 ? shape->head_dim : shape->n_embd / shape->n_head;
  c.n_ctx_train = shape->n_ctx;
  c.n_ctx = options.n_ctx > 0 ? options.n_ctx : c.n_ctx_train;
  c.norm_eps = 1e-5f;
  c.rope.kind = c.arch == "llama" ? kernels::RopeKind::kNorm : kernels::RopeKind::kNeox;
  c.rope.n_rot = c.head_dim;
  c.rope.freq_base = shape->rope_base;
  if (shape->scaling == Scaling::kLlama3) c.rope.freq_factors = llama3_freq_factors(c.rope.n_rot, c.rope.freq_base);
  if (shape->scaling == Scaling::kYarn) {  // Qwen2.5's recipe: factor 4 over a quarter
    c.rope.freq_scale = 0.25f;
    c.rope.ext_factor = 1.0f;
    c.rope.n_ctx_orig = c.n_ctx_train / 4;
  }
  if (shape->scaling == Scaling::kLinear8) c.rope.freq_scale = 0.125f;
  set_arch_features(c);
  c.sliding_window = shape->window;
  c.tied_output = c.arch == "gemma2" || c.arch == "gemma3";  // as Gemma's files
  c.dtype = dtype;
  return c;
}

core::Result<std::unique_ptr<LlamaModel>> LlamaModel::synthetic(const std::string& spec,
                                                                const LoadOptions& options) {
  std::unique_ptr<LlamaModel> m(new LlamaModel());
  SARATHI_ASSIGN_OR_RETURN(m->config_, synthetic_config(spec, options));
  SARATHI_RETURN_IF_ERROR(m->set_stage(options));
  const LlamaConfig& c = m->config_;
  const DType dtype = c.dtype;
  SARATHI_ASSIGN_OR_RETURN(m->tokenizer_, Tokenizer::create(byte_level_vocab(c.n_vocab)));

  const int64_t q_dim = static_cast<int64_t>(c.n_head) * c.head_dim;
  const int64_t kv_dim = static_cast<int64_t>(c.n_head_kv) * c.head_dim;
  const int64_t per_layer = 2 * q_dim * c.n_embd + 2 * kv_dim * c.n_embd +
                            3 * static_cast<int64_t>(c.n_ff) * c.n_embd;
  const int64_t elems =
      per_layer * (m->end_layer() - m->first_layer()) +
      (int64_t{m->has_embedding()} + int64_t{m->has_head()}) * c.n_vocab * c.n_embd;
  const uint64_t total_bytes = static_cast<uint64_t>(
      static_cast<double>(elems) * static_cast<double>(core::dtype_block_bytes(dtype)) /
      static_cast<double>(core::dtype_block_size(dtype)));

  core::ThreadPool pool(core::default_num_threads());
  SyntheticBuilder builder(*m, dtype, options.seed, pool, options.progress, total_bytes);
  SARATHI_RETURN_IF_ERROR(builder.build());
  return m;
}

}  // namespace sarathi::model
