#include "model/llama.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"

namespace sarathi::model {

using core::DType;
using core::ErrorCode;
using core::make_error;

std::string LlamaConfig::summary() const {
  return fmt::format(
      "{} ({}): {} layers, {} wide, ff {}, {} heads / {} kv heads x {}, vocab {}, ctx {} "
      "(trained {}), rope {} base {} scale {}{}{}{}, weights {}",
      name, arch, n_layer, n_embd, n_ff, n_head, n_head_kv, head_dim, n_vocab, n_ctx,
      n_ctx_train, rope.kind == kernels::RopeKind::kNorm ? "norm" : "neox", rope.freq_base,
      rope.freq_scale, rope.ext_factor != 0.0f ? fmt::format(" yarn (from {})", rope.n_ctx_orig) : "",
      rope.freq_factors.empty() ? "" : " with freq factors",
      sliding_window > 0 ? fmt::format(", sliding window {}", sliding_window) : "",
      core::dtype_name(dtype));
}

LlamaModel::~LlamaModel() = default;

namespace {

bool is_float(DType t) { return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16; }

// w as type t (a float type; w a float matrix of another type), interleaved if `pack`: 16 rows
// at a time through a small buffer into the packed layout, so the result is the only copy.
// Returns w itself if the memory cannot be had.
kernels::WeightView convert_matrix(const kernels::WeightView& w, DType t, bool pack,
                                   kernels::AlignedBuffer& storage) {
  const kernels::CpuOps& ops = kernels::cpu_ops();
  const size_t rb = core::dtype_row_bytes(t, w.cols).value();
  std::vector<float> row(static_cast<size_t>(w.cols));
  auto convert_rows = [&](int64_t r0, int64_t r1, uint8_t* dst) {
    for (int64_t r = r0; r < r1; ++r) {
      const auto* src = static_cast<const uint8_t*>(w.data) + static_cast<size_t>(r) * w.row_bytes;
      ops.type(w.dtype).to_float(src, row.data(), w.cols);
      ops.type(t).from_float(row.data(), dst + static_cast<size_t>(r - r0) * rb, w.cols);
    }
  };
  kernels::WeightView out{t, nullptr, w.rows, w.cols, rb};
  if (!pack) {
    storage = kernels::AlignedBuffer(rb * static_cast<size_t>(w.rows));
    if (storage.data() == nullptr) return w;
    convert_rows(0, w.rows, storage.data());
    out.data = storage.data();
    return out;
  }
  const int64_t groups = kernels::packed_groups(w.rows);
  const size_t gbytes = kernels::packed_group_bytes(t, w.cols);
  storage = kernels::AlignedBuffer(static_cast<size_t>(groups) * gbytes);
  if (storage.data() == nullptr) return w;
  std::vector<uint8_t> rows(rb * kernels::kPackRows);
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t r0 = g * kernels::kPackRows;
    const int64_t r1 = std::min(w.rows, r0 + kernels::kPackRows);
    convert_rows(r0, r1, rows.data());
    const kernels::WeightView part{t, rows.data(), r1 - r0, w.cols, rb};
    kernels::pack_weight_groups(part, 0, 1, storage.data() + static_cast<size_t>(g) * gbytes);
  }
  out.data = storage.data();
  out.packed = true;
  return out;
}

}  // namespace

const LlamaWeights& LlamaModel::weights_for(const kernels::CpuOps& ops) const {
  auto target = [&](const kernels::WeightView& w) {
    return float_weights_ && is_float(w.dtype) ? *float_weights_ : w.dtype;
  };
  auto packs = [&](DType t) { return kernels::packable(t) && ops.type(t).packed.run != nullptr; };
  uint32_t key = 0;
  for (core::DType t : kernels::kPackableTypes)
    if (ops.type(t).packed.run != nullptr) key |= 1u << static_cast<uint32_t>(t);
  if (key == 0 && !float_weights_) return weights_;
  std::lock_guard<std::mutex> lock(packed_mu_);
  std::unique_ptr<Packed>& slot = packed_[key];
  if (slot == nullptr) {
    auto p = std::make_unique<Packed>();
    p->weights = weights_;
    std::vector<kernels::WeightView*> todo;
    auto wanted = [&](const kernels::WeightView& w) {  // a stage's other layers stay empty
      return w.data != nullptr && (target(w) != w.dtype || packs(w.dtype));
    };
    for (LayerWeights& l : p->weights.layers) {
      for (kernels::WeightView* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
        if (wanted(*w)) todo.push_back(w);
    }
    if (wanted(p->weights.output)) todo.push_back(&p->weights.output);
    // One matrix per task on every core (packing a 7B model on one thread takes ~20 s).
    p->buffers.resize(todo.size());
    core::ThreadPool pool(core::default_num_threads());
    pool.parallel_for(static_cast<int64_t>(todo.size()), 1, [&](int, int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const auto k = static_cast<size_t>(i);
        const kernels::WeightView w = *todo[k];
        const DType t = target(w);
        *todo[k] = t == w.dtype ? kernels::pack_weight(w, p->buffers[k])
                                : convert_matrix(w, t, packs(t), p->buffers[k]);
      }
    });
    slot = std::move(p);
  }
  return slot->weights;
}

core::Result<std::unique_ptr<LlamaModel>> LlamaModel::load(const std::string& spec,
                                                           const LoadOptions& options) {
  if (options.float_weights && !is_float(*options.float_weights))
    return make_error(ErrorCode::kInvalidArgument, "float weights must be f32, f16 or bf16, not {}",
                      core::dtype_name(*options.float_weights));
  auto m = spec.rfind("synthetic:", 0) == 0 ? synthetic(spec, options) : load_gguf(spec, options);
  if (!m.ok() || !options.float_weights) return m;
  LlamaModel& model = **m;
  model.float_weights_ = options.float_weights;
  // What a decode step streams changes with the matrices' element size.
  auto resize = [&](const kernels::WeightView& w) {
    if (w.data == nullptr || !is_float(w.dtype)) return;
    const uint64_t now = static_cast<uint64_t>(w.rows) * w.row_bytes;
    const uint64_t cast = static_cast<uint64_t>(w.rows) *
                          core::dtype_row_bytes(*options.float_weights, w.cols).value();
    model.weight_bytes_ = model.weight_bytes_ - now + cast;
  };
  for (const LayerWeights& l : model.weights_.layers)
    for (const kernels::WeightView* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
      resize(*w);
  if (model.weights_.output.data != model.weights_.tok_embd.data || !model.has_embedding())
    resize(model.weights_.output);
  if (is_float(model.config_.dtype)) model.config_.dtype = *options.float_weights;
  return m;
}

void LlamaModel::set_arch_features(LlamaConfig& c) {
  c.qkv_bias = c.arch == "qwen2";
  c.qk_norm = c.arch == "qwen3" || c.arch == "gemma3";
  c.fused = c.arch == "phi3";  // attn_qkv and a double ffn_up, as llama.cpp's converter writes
  if (c.arch != "gemma2" && c.arch != "gemma3") return;
  // Gemma, as llama.cpp runs it: embeddings scaled by sqrt(n_embd), post-attention and
  // post-FFN norms, GeLU; gemma2: every other layer slides from the first, scores and logits
  // soft-capped at 50 and 30; gemma3: five of six layers slide, with RoPE base 10000 and no
  // scaling; the 27B sizes scale scores by 1 / sqrt(n_embd / n_head), not the head size.
  const bool v2 = c.arch == "gemma2";
  c.embed_scale = std::sqrt(static_cast<float>(c.n_embd));
  c.post_norms = true;
  c.gelu = true;
  c.swa_pattern = v2 ? 2 : 6;
  if (v2) {
    c.attn_softcap = 50.0f;
    c.final_softcap = 30.0f;
  } else {
    kernels::RopeParams local = c.rope;
    local.freq_base = 10000.0f;
    local.freq_scale = 1.0f;
    c.rope_swa = local;
  }
  if ((v2 && c.n_layer == 46) || (!v2 && c.n_layer == 62))
    c.attn_scale = 1.0f / std::sqrt(static_cast<float>(c.n_embd / c.n_head));
}

core::Status LlamaModel::set_stage(const LoadOptions& options) {
  const int32_t n = config_.n_layer;
  const int32_t end = options.end_layer == 0 ? n : options.end_layer;
  if (options.first_layer < 0 || options.first_layer >= end || end > n)
    return make_error(ErrorCode::kInvalidArgument,
                      "layers [{}, {}) are not a non-empty range of this model's {} layers",
                      options.first_layer, end, n);
  first_layer_ = options.first_layer;
  end_layer_ = end;
  return core::ok_status();
}

// Reads hyper-parameters and binds tensors of a GGUF file.
class LlamaLoader {
 public:
  LlamaLoader(const GgufFile& f, LlamaModel& m) : f_(f), m_(m) {}

  core::Status read_config(const LoadOptions& options) {
    LlamaConfig& c = m_.config_;
    SARATHI_ASSIGN_OR_RETURN(c.arch, f_.get_string("general.architecture"));
    if (c.arch != "llama" && c.arch != "qwen2" && c.arch != "qwen3" && c.arch != "phi3" &&
        c.arch != "gemma2" && c.arch != "gemma3")
      return make_error(ErrorCode::kUnsupported,
                        "{}: unsupported architecture '{}' (supported: llama, qwen2, qwen3, phi3, "
                        "gemma2, gemma3)",
                        f_.name(), c.arch);
    auto name = f_.get_string("general.name");
    c.name = name.ok() ? *name : c.arch;
    const std::string a = c.arch + ".";
    SARATHI_ASSIGN_OR_RETURN(int64_t n_embd, f_.get_int(a + "embedding_length"));
    SARATHI_ASSIGN_OR_RETURN(int64_t n_layer, f_.get_int(a + "block_count"));
    SARATHI_ASSIGN_OR_RETURN(int64_t n_ff, f_.get_int(a + "feed_forward_length"));
    SARATHI_ASSIGN_OR_RETURN(int64_t n_head, f_.get_int(a + "attention.head_count"));
    SARATHI_ASSIGN_OR_RETURN(int64_t n_ctx_train, f_.get_int(a + "context_length"));
    int64_t n_head_kv = n_head;
    if (f_.find(a + "attention.head_count_kv")) {
      SARATHI_ASSIGN_OR_RETURN(n_head_kv, f_.get_int(a + "attention.head_count_kv"));
    }
    auto in_range = [&](std::string_view what, int64_t v, int64_t lo, int64_t hi) -> core::Status {
      if (v < lo || v > hi)
        return make_error(ErrorCode::kInvalidFormat, "{}: {} = {} is out of range [{}, {}]",
                          f_.name(), what, v, lo, hi);
      return core::ok_status();
    };
    SARATHI_RETURN_IF_ERROR(in_range("embedding_length", n_embd, 1, 1 << 16));
    SARATHI_RETURN_IF_ERROR(in_range("block_count", n_layer, 1, 1024));
    SARATHI_RETURN_IF_ERROR(in_range("feed_forward_length", n_ff, 1, 1 << 20));
    SARATHI_RETURN_IF_ERROR(in_range("attention.head_count", n_head, 1, 1024));
    SARATHI_RETURN_IF_ERROR(in_range("attention.head_count_kv", n_head_kv, 1, n_head));
    SARATHI_RETURN_IF_ERROR(in_range("context_length", n_ctx_train, 1, 1 << 24));
    if (n_embd % n_head != 0 || n_head % n_head_kv != 0)
      return make_error(ErrorCode::kInvalidFormat,
                        "{}: {} wide with {} heads / {} kv heads does not divide evenly", f_.name(),
                        n_embd, n_head, n_head_kv);
    c.n_embd = static_cast<int32_t>(n_embd);
    c.n_layer = static_cast<int32_t>(n_layer);
    c.n_ff = static_cast<int32_t>(n_ff);
    c.n_head = static_cast<int32_t>(n_head);
    c.n_head_kv = static_cast<int32_t>(n_head_kv);
    c.head_dim = static_cast<int32_t>(n_embd / n_head);
    if (f_.find(a + "attention.key_length")) {
      SARATHI_ASSIGN_OR_RETURN(int64_t kl, f_.get_int(a + "attention.key_length"));
      SARATHI_RETURN_IF_ERROR(in_range("attention.key_length", kl, 2, 1024));
      c.head_dim = static_cast<int32_t>(kl);
    }
    c.n_ctx_train = static_cast<int32_t>(n_ctx_train);
    c.n_ctx = options.n_ctx > 0 ? options.n_ctx : c.n_ctx_train;
    if (f_.find(a + "attention.layer_norm_rms_epsilon")) {
      SARATHI_ASSIGN_OR_RETURN(double eps, f_.get_float(a + "attention.layer_norm_rms_epsilon"));
      c.norm_eps = static_cast<float>(eps);
    }
    c.rope.kind = c.arch == "llama" ? kernels::RopeKind::kNorm : kernels::RopeKind::kNeox;  // as llama.cpp
    c.rope.n_rot = c.head_dim;
    if (f_.find(a + "rope.dimension_count")) {
      SARATHI_ASSIGN_OR_RETURN(int64_t n_rot, f_.get_int(a + "rope.dimension_count"));
      if (n_rot < 2 || n_rot > c.head_dim || n_rot % 2 != 0)
        return make_error(ErrorCode::kInvalidFormat, "{}: rope.dimension_count = {} is invalid",
                          f_.name(), n_rot);
      c.rope.n_rot = static_cast<int32_t>(n_rot);
    }
    if (f_.find(a + "rope.freq_base")) {
      SARATHI_ASSIGN_OR_RETURN(double base, f_.get_float(a + "rope.freq_base"));
      if (!(base > 1.0))
        return make_error(ErrorCode::kInvalidFormat, "{}: rope.freq_base = {} is invalid",
                          f_.name(), base);
      c.rope.freq_base = static_cast<float>(base);
    }
    SARATHI_RETURN_IF_ERROR(read_rope_scaling(a));
    SARATHI_RETURN_IF_ERROR(read_rope_factors(a));
    LlamaModel::set_arch_features(c);
    if (c.arch == "phi3") SARATHI_RETURN_IF_ERROR(read_phi3_window(a));
    if (c.arch == "gemma2" || c.arch == "gemma3") SARATHI_RETURN_IF_ERROR(read_gemma(a));
    return core::ok_status();
  }

  // A sliding window read from the file (or defaulted), checked.
  core::Status set_window(int64_t window) {
    if (window < 1 || window > (int64_t{1} << 24))
      return make_error(ErrorCode::kInvalidFormat, "{}: attention.sliding_window = {} is invalid",
                        f_.name(), window);
    m_.config_.sliding_window = static_cast<int32_t>(window);  // covering the context, it masks nothing
    return core::ok_status();
  }

  // Gemma 2 and 3's window (gemma2: 4096 by default; gemma3: required) and gemma2's soft caps
  // where the file states them.
  core::Status read_gemma(const std::string& a) {
    LlamaConfig& c = m_.config_;
    const bool v2 = c.arch == "gemma2";
    int64_t window = v2 ? 4096 : 0;
    if (f_.find(a + "attention.sliding_window")) {
      SARATHI_ASSIGN_OR_RETURN(window, f_.get_int(a + "attention.sliding_window"));
    } else if (!v2) {
      return make_error(ErrorCode::kInvalidFormat, "{}: gemma3 model without {}attention.sliding_window",
                        f_.name(), a);
    }
    SARATHI_RETURN_IF_ERROR(set_window(window));
    if (!v2) return core::ok_status();
    for (auto [key, out] : {std::pair{"attn_logit_softcapping", &c.attn_softcap},
                            std::pair{"final_logit_softcapping", &c.final_softcap}}) {
      if (!f_.find(a + key)) continue;
      SARATHI_ASSIGN_OR_RETURN(double v, f_.get_float(a + key));
      if (!(v > 0.0) || !std::isfinite(v))
        return make_error(ErrorCode::kInvalidFormat, "{}: {}{} = {} is invalid", f_.name(), a, key,
                          v);
      *out = static_cast<float>(v);
    }
    return core::ok_status();
  }

  // Phi-3's sliding window, with llama.cpp's defaults for files from before the key existed.
  core::Status read_phi3_window(const std::string& a) {
    LlamaConfig& c = m_.config_;
    int64_t window = 0;
    if (f_.find(a + "attention.sliding_window")) {
      SARATHI_ASSIGN_OR_RETURN(window, f_.get_int(a + "attention.sliding_window"));
    } else if ((c.n_layer == 32 || c.n_layer == 40) && c.n_ctx_train == 4096) {
      window = 2047;  // Phi-3-mini-4k, Phi-3-medium-4k
    } else if (c.n_layer == 32 && c.n_head_kv == 32 && c.n_ctx_train == 131072) {
      window = 262144;  // Phi-3-mini-128k
    } else if (c.n_layer == 40 && c.n_ctx_train == 131072) {
      window = 131072;  // Phi-3-medium-128k
    } else {
      return make_error(ErrorCode::kInvalidFormat, "{}: phi3 model without {}attention.sliding_window",
                        f_.name(), a);
    }
    return set_window(window);
  }

  // Per-pair RoPE frequency divisors: Llama 3.1's rope_freqs, or Phi-3's long / short factors
  // (long when the context exceeds the original one, as llama.cpp chooses).
  core::Status read_rope_factors(const std::string& a) {
    LlamaConfig& c = m_.config_;
    std::string name = "rope_freqs.weight";
    if (f_.find_tensor("rope_factors_long.weight") != nullptr) {
      int64_t orig = c.n_ctx_train;
      if (f_.find(a + "rope.scaling.original_context_length")) {
        SARATHI_ASSIGN_OR_RETURN(orig, f_.get_int(a + "rope.scaling.original_context_length"));
      }
      name = c.n_ctx > orig ? "rope_factors_long.weight" : "rope_factors_short.weight";
    }
    const GgufTensorInfo* t = f_.find_tensor(name);
    if (t == nullptr) {
      if (name != "rope_freqs.weight")
        return make_error(ErrorCode::kNotFound, "{}: missing tensor {}", f_.name(), name);
      return core::ok_status();
    }
    const int64_t n = c.rope.n_rot / 2;
    if (t->shape.size() != 1 || t->num_elements != n || t->dtype != DType::kF32)
      return make_error(ErrorCode::kInvalidFormat,
                        "{}: tensor {} must be {} f32 values (rotated dims / 2), has shape {} of {}",
                        f_.name(), name, n, shape_str(t->shape), core::dtype_name(t->dtype));
    c.rope.freq_factors.resize(static_cast<size_t>(n));
    std::memcpy(c.rope.freq_factors.data(), t->data, static_cast<size_t>(n) * sizeof(float));
    for (float v : c.rope.freq_factors)
      if (!(v > 0.0f) || !std::isfinite(v))
        return make_error(ErrorCode::kInvalidFormat, "{}: tensor {} holds a factor {} that is not "
                          "positive", f_.name(), name, v);
    return core::ok_status();
  }

  core::Status read_rope_scaling(const std::string& a) {
    LlamaConfig& c = m_.config_;
    auto get_float = [&](const std::string& key, float& out) -> core::Status {
      if (!f_.find(a + key)) return core::ok_status();
      SARATHI_ASSIGN_OR_RETURN(double v, f_.get_float(a + key));
      if (!std::isfinite(v))
        return make_error(ErrorCode::kInvalidFormat, "{}: {}{} = {} is invalid", f_.name(), a, key, v);
      out = static_cast<float>(v);
      return core::ok_status();
    };
    // Phi-3.5's (and others') magnitude scale applies with any scaling type.
    SARATHI_RETURN_IF_ERROR(get_float("rope.scaling.attn_factor", c.rope.attn_factor));
    std::string type = "none";
    if (f_.find(a + "rope.scaling.type")) {
      SARATHI_ASSIGN_OR_RETURN(type, f_.get_string(a + "rope.scaling.type"));
    }
    double factor = 0.0;
    if (f_.find(a + "rope.scaling.factor")) {
      SARATHI_ASSIGN_OR_RETURN(factor, f_.get_float(a + "rope.scaling.factor"));
    } else if (f_.find(a + "rope.scale_linear")) {
      SARATHI_ASSIGN_OR_RETURN(factor, f_.get_float(a + "rope.scale_linear"));
      if (type == "none") type = "linear";
    }
    if (type == "none" || factor == 0.0 || factor == 1.0) return core::ok_status();
    if (type != "linear" && type != "yarn")
      return make_error(ErrorCode::kUnsupported,
                        "{}: rope scaling type '{}' is not supported (supported: linear, yarn)",
                        f_.name(), type);
    if (!(factor > 0.0) || !std::isfinite(factor))
      return make_error(ErrorCode::kInvalidFormat, "{}: rope scaling factor {} is invalid",
                        f_.name(), factor);
    c.rope.freq_scale = static_cast<float>(1.0 / factor);
    if (type == "yarn") {
      // llama.cpp's defaults: extrapolation mix 1, betas 32 and 1, the trained context as the
      // original one.
      c.rope.ext_factor = 1.0f;
      float yarn_attn = 1.0f;
      SARATHI_RETURN_IF_ERROR(get_float("rope.scaling.yarn_ext_factor", c.rope.ext_factor));
      SARATHI_RETURN_IF_ERROR(get_float("rope.scaling.yarn_attn_factor", yarn_attn));
      SARATHI_RETURN_IF_ERROR(get_float("rope.scaling.yarn_beta_fast", c.rope.beta_fast));
      SARATHI_RETURN_IF_ERROR(get_float("rope.scaling.yarn_beta_slow", c.rope.beta_slow));
      c.rope.attn_factor *= yarn_attn;
      int64_t orig = c.n_ctx_train;
      if (f_.find(a + "rope.scaling.original_context_length")) {
        SARATHI_ASSIGN_OR_RETURN(orig, f_.get_int(a + "rope.scaling.original_context_length"));
      }
      if (orig < 1 || orig > (int64_t{1} << 24))
        return make_error(ErrorCode::kInvalidFormat,
                          "{}: rope.scaling.original_context_length = {} is invalid", f_.name(), orig);
      c.rope.n_ctx_orig = static_cast<int32_t>(orig);
    }
    return core::ok_status();
  }

  // A weight matrix [rows, cols] (GGML shape [cols, rows]).
  core::Result<kernels::WeightView> matrix(const std::string& name, int64_t rows, int64_t cols) {
    const GgufTensorInfo* t = f_.find_tensor(name);
    if (!t) return make_error(ErrorCode::kNotFound, "{}: missing tensor {}", f_.name(), name);
    if (t->shape.size() != 2 || t->shape[0] != cols || t->shape[1] != rows)
      return make_error(ErrorCode::kInvalidFormat, "{}: tensor {} has shape {}, expected [{}, {}]",
                        f_.name(), name, shape_str(t->shape), cols, rows);
    if (t->dtype == DType::kQ8_K)
      return make_error(ErrorCode::kUnsupported, "{}: unsupported tensor type q8_K in tensor {}",
                        f_.name(), name);
    m_.weight_bytes_ += t->num_bytes;
    kernels::WeightView w;
    w.dtype = t->dtype;
    w.data = t->data;
    w.rows = rows;
    w.cols = cols;
    w.row_bytes = *core::dtype_row_bytes(t->dtype, cols);
    return w;
  }

  // A vector of n floats, converted to f32 when stored otherwise.
  core::Result<const float*> vector(const std::string& name, int64_t n) {
    const GgufTensorInfo* t = f_.find_tensor(name);
    if (!t) return make_error(ErrorCode::kNotFound, "{}: missing tensor {}", f_.name(), name);
    if (t->num_elements != n || t->shape.size() != 1)
      return make_error(ErrorCode::kInvalidFormat, "{}: tensor {} has shape {}, expected [{}]",
                        f_.name(), name, shape_str(t->shape), n);
    m_.weight_bytes_ += t->num_bytes;
    if (t->dtype == DType::kF32) return reinterpret_cast<const float*>(t->data);
    std::vector<uint8_t> buf(static_cast<size_t>(n) * sizeof(float));
    auto* out = reinterpret_cast<float*>(buf.data());
    if (core::dtype_block_size(t->dtype) != 1 && n % core::dtype_block_size(t->dtype) != 0)
      return make_error(ErrorCode::kInvalidFormat, "{}: tensor {} size {} is not whole blocks",
                        f_.name(), name, n);
    kernels::cpu_ops().type(t->dtype).to_float(t->data, out, n);
    m_.owned_.push_back(std::move(buf));
    return static_cast<const float*>(out);
  }

  // Binds the tensors of the model's stage (all of them for a whole model); other layers'
  // tensors are not looked at.
  core::Status bind_weights(const ProgressFn& progress) {
    const LlamaConfig& c = m_.config_;
    LlamaWeights& w = m_.weights_;
    const int64_t q_dim = static_cast<int64_t>(c.n_head) * c.head_dim;
    const int64_t kv_dim = static_cast<int64_t>(c.n_head_kv) * c.head_dim;
    m_.config_.tied_output = f_.find_tensor("output.weight") == nullptr;
    if (m_.has_embedding()) {
      SARATHI_ASSIGN_OR_RETURN(w.tok_embd, matrix("token_embd.weight", c.n_vocab, c.n_embd));
    }
    if (m_.has_head()) {
      SARATHI_ASSIGN_OR_RETURN(w.output_norm, vector("output_norm.weight", c.n_embd));
      if (!c.tied_output) {
        SARATHI_ASSIGN_OR_RETURN(w.output, matrix("output.weight", c.n_vocab, c.n_embd));
      } else if (m_.has_embedding()) {
        w.output = w.tok_embd;
      } else {  // the last stage multiplies by the embedding table too
        SARATHI_ASSIGN_OR_RETURN(w.output, matrix("token_embd.weight", c.n_vocab, c.n_embd));
      }
    }
    w.layers.resize(static_cast<size_t>(c.n_layer));
    for (int32_t l = m_.first_layer(); l < m_.end_layer(); ++l) {
      LayerWeights& L = w.layers[static_cast<size_t>(l)];
      const std::string p = fmt::format("blk.{}.", l);
      SARATHI_ASSIGN_OR_RETURN(L.attn_norm, vector(p + "attn_norm.weight", c.n_embd));
      if (c.fused) {  // phi3: Q, K and V are row ranges of one matrix
        SARATHI_ASSIGN_OR_RETURN(auto qkv, matrix(p + "attn_qkv.weight", q_dim + 2 * kv_dim, c.n_embd));
        L.wq = rows_of(qkv, 0, q_dim);
        L.wk = rows_of(qkv, q_dim, kv_dim);
        L.wv = rows_of(qkv, q_dim + kv_dim, kv_dim);
      } else {
        SARATHI_ASSIGN_OR_RETURN(L.wq, matrix(p + "attn_q.weight", q_dim, c.n_embd));
        SARATHI_ASSIGN_OR_RETURN(L.wk, matrix(p + "attn_k.weight", kv_dim, c.n_embd));
        SARATHI_ASSIGN_OR_RETURN(L.wv, matrix(p + "attn_v.weight", kv_dim, c.n_embd));
      }
      SARATHI_ASSIGN_OR_RETURN(L.wo, matrix(p + "attn_output.weight", c.n_embd, q_dim));
      if (c.qk_norm) {
        SARATHI_ASSIGN_OR_RETURN(L.q_norm, vector(p + "attn_q_norm.weight", c.head_dim));
        SARATHI_ASSIGN_OR_RETURN(L.k_norm, vector(p + "attn_k_norm.weight", c.head_dim));
      }
      if (c.post_norms) {
        SARATHI_ASSIGN_OR_RETURN(L.attn_post_norm, vector(p + "post_attention_norm.weight", c.n_embd));
        SARATHI_ASSIGN_OR_RETURN(L.ffn_post_norm, vector(p + "post_ffw_norm.weight", c.n_embd));
      }
      if (c.qkv_bias) {
        SARATHI_ASSIGN_OR_RETURN(L.bq, vector(p + "attn_q.bias", q_dim));
        SARATHI_ASSIGN_OR_RETURN(L.bk, vector(p + "attn_k.bias", kv_dim));
        SARATHI_ASSIGN_OR_RETURN(L.bv, vector(p + "attn_v.bias", kv_dim));
      }
      SARATHI_ASSIGN_OR_RETURN(L.ffn_norm, vector(p + "ffn_norm.weight", c.n_embd));
      if (c.fused) {  // phi3: gate and up are the two halves of ffn_up's rows
        SARATHI_ASSIGN_OR_RETURN(auto up, matrix(p + "ffn_up.weight", 2 * int64_t{c.n_ff}, c.n_embd));
        L.w_gate = rows_of(up, 0, c.n_ff);
        L.w_up = rows_of(up, c.n_ff, c.n_ff);
      } else {
        SARATHI_ASSIGN_OR_RETURN(L.w_gate, matrix(p + "ffn_gate.weight", c.n_ff, c.n_embd));
        SARATHI_ASSIGN_OR_RETURN(L.w_up, matrix(p + "ffn_up.weight", c.n_ff, c.n_embd));
      }
      SARATHI_ASSIGN_OR_RETURN(L.w_down, matrix(p + "ffn_down.weight", c.n_embd, c.n_ff));
      if (progress)
        progress(static_cast<uint64_t>(l + 1 - m_.first_layer()),
                 static_cast<uint64_t>(m_.end_layer() - m_.first_layer()));
    }
    m_.config_.dtype = w.layers[static_cast<size_t>(m_.first_layer())].w_gate.dtype;
    return core::ok_status();
  }

 private:
  // Rows [r0, r0 + n) of a matrix.
  static kernels::WeightView rows_of(const kernels::WeightView& w, int64_t r0, int64_t n) {
    kernels::WeightView v = w;
    v.data = static_cast<const uint8_t*>(w.data) + static_cast<size_t>(r0) * w.row_bytes;
    v.rows = n;
    return v;
  }

  static std::string shape_str(const std::vector<int64_t>& s) {
    return fmt::format("[{}]", fmt::join(s, ", "));
  }

  const GgufFile& f_;
  LlamaModel& m_;
};

core::Result<std::unique_ptr<LlamaModel>> LlamaModel::load_gguf(const std::string& path,
                                                                const LoadOptions& options) {
  SARATHI_ASSIGN_OR_RETURN(auto file, GgufFile::open(path));
  std::unique_ptr<LlamaModel> m(new LlamaModel());
  SARATHI_ASSIGN_OR_RETURN(m->tokenizer_, Tokenizer::from_gguf(*file));
  m->config_.n_vocab = m->tokenizer_->n_vocab();
  if (file->find("tokenizer.chat_template")) {
    SARATHI_ASSIGN_OR_RETURN(m->chat_template_, file->get_string("tokenizer.chat_template"));
  }
  if (!options.vocab_only) {
    LlamaLoader loader(*file, *m);
    SARATHI_RETURN_IF_ERROR(loader.read_config(options));
    SARATHI_RETURN_IF_ERROR(m->set_stage(options));
    SARATHI_RETURN_IF_ERROR(loader.bind_weights(options.progress));
  } else {
    auto arch = file->get_string("general.architecture");
    m->config_.arch = arch.ok() ? *arch : "unknown";
    m->config_.name = m->config_.arch;
  }
  m->file_ = std::move(file);
  return m;
}

core::Result<LlamaConfig> LlamaModel::read_config(const std::string& spec,
                                                  const LoadOptions& options) {
  if (spec.rfind("synthetic:", 0) == 0) return synthetic_config(spec, options);
  SARATHI_ASSIGN_OR_RETURN(auto file, GgufFile::open(spec));
  LlamaModel m;
  LlamaLoader loader(*file, m);
  SARATHI_RETURN_IF_ERROR(loader.read_config(options));
  if (const GgufValue* tokens = file->find("tokenizer.ggml.tokens"))
    m.config_.n_vocab = static_cast<int32_t>(tokens->array.size());
  return m.config_;
}

}  // namespace sarathi::model
