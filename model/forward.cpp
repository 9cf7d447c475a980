#include "model/forward.h"

#include <chrono>
#include <cmath>

#include "core/check.h"

namespace sarathi::model {

using core::DType;
using core::ErrorCode;
using core::make_error;

core::Result<std::unique_ptr<PagedKvCache>> PagedKvCache::create(const LlamaConfig& config,
                                                                 const KvCacheOptions& options) {
  if (options.dtype != DType::kF16 && options.dtype != DType::kF32 && options.dtype != DType::kQ8_0)
    return make_error(ErrorCode::kInvalidArgument,
                      "KV cache type must be f16, f32 or q8_0, not {}",
                      core::dtype_name(options.dtype));
  if (options.dtype == DType::kQ8_0 && config.head_dim % core::kQK8_0 != 0)
    return make_error(ErrorCode::kInvalidArgument,
                      "a q8_0 KV cache needs a head size that is a multiple of {}; this model's "
                      "is {}",
                      core::kQK8_0, config.head_dim);
  if (options.block_size < 1 || options.block_size > 1024)
    return make_error(ErrorCode::kInvalidArgument, "KV block size {} is out of range [1, 1024]",
                      options.block_size);
  if (options.num_blocks < 1)
    return make_error(ErrorCode::kInvalidArgument, "KV cache needs at least one block, got {}",
                      options.num_blocks);
  const int32_t end = options.end_layer == 0 ? config.n_layer : options.end_layer;
  if (options.first_layer < 0 || options.first_layer >= end || end > config.n_layer)
    return make_error(ErrorCode::kInvalidArgument,
                      "KV cache layers [{}, {}) are not a range of the model's {} layers",
                      options.first_layer, end, config.n_layer);
  std::unique_ptr<PagedKvCache> c(new PagedKvCache());
  c->options_ = options;
  c->options_.end_layer = end;
  c->num_kv_heads_ = config.n_head_kv;
  c->head_dim_ = config.head_dim;
  // Bytes of K (or V) per layer: every (block, KV head) region.
  c->layer_bytes_ = static_cast<size_t>(options.num_blocks) *
                    static_cast<size_t>(config.n_head_kv) *
                    region_bytes(options.block_size, config.head_dim, options.dtype);
  const size_t total = c->layer_bytes_ * 2 * static_cast<size_t>(end - options.first_layer);
  c->storage_ = core::BigBuffer(total);
  if (c->storage_.data() == nullptr)
    return make_error(ErrorCode::kResourceExhausted, "cannot allocate {} MiB for the KV cache",
                      total / (1024 * 1024));
  return c;
}

size_t PagedKvCache::region_bytes(int32_t block_size, int32_t head_dim, core::DType dtype) {
  if (dtype == DType::kQ8_0) return kernels::kv_q8_region_bytes(block_size, head_dim);
  const size_t elem = dtype == DType::kF32 ? 4 : 2;
  return static_cast<size_t>(block_size) * static_cast<size_t>(head_dim) * elem;
}

size_t PagedKvCache::bytes_per_block(const LlamaConfig& config, int32_t block_size,
                                     core::DType dtype, int32_t num_layers) {
  return 2 * static_cast<size_t>(num_layers > 0 ? num_layers : config.n_layer) *
         static_cast<size_t>(config.n_head_kv) * region_bytes(block_size, config.head_dim, dtype);
}

kernels::PagedKvLayer PagedKvCache::layer(int32_t l) const {
  SARATHI_DCHECK(l >= options_.first_layer && l < options_.end_layer,
                 "layer {} is not in this cache's [{}, {})", l, options_.first_layer,
                 options_.end_layer);
  // The view hands out mutable pointers (kv_store writes through it) from a const cache handle.
  auto* base = const_cast<uint8_t*>(storage_.data()) +
               static_cast<size_t>(l - options_.first_layer) * 2 * layer_bytes_;
  kernels::PagedKvLayer v;
  v.k = base;
  v.v = base + layer_bytes_;
  v.dtype = options_.dtype;
  v.num_blocks = options_.num_blocks;
  v.block_size = options_.block_size;
  v.num_kv_heads = num_kv_heads_;
  v.head_dim = head_dim_;
  return v;
}

const char* OpProfile::name(int op) {
  static const char* const kNames[kNumOps] = {
      "embed",      "rms_norm",       "matmul_qkv", "rope",        "kv_store", "attention",
      "matmul_out", "matmul_gate_up", "swiglu",     "matmul_down", "residual", "logits"};
  return op >= 0 && op < kNumOps ? kNames[op] : "?";
}

Forward::Forward(const LlamaModel& model, PagedKvCache& cache, core::ThreadPool& pool,
                 const kernels::CpuOps& ops)
    : model_(model), weights_(model.weights_for(ops)), cache_(cache), pool_(pool), ops_(ops) {
  SARATHI_CHECK(cache.first_layer() <= model.first_layer() &&
                    cache.end_layer() >= model.end_layer(),
                "the KV cache holds layers [{}, {}), the model [{}, {})", cache.first_layer(),
                cache.end_layer(), model.first_layer(), model.end_layer());
}

core::Status Forward::validate(std::span<const SeqInput> batch,
                               std::span<const float> hidden) const {
  const LlamaConfig& c = model_.config();
  const int32_t bs = cache_.block_size();
  if (!model_.has_embedding()) {
    int64_t num_tokens = 0;
    for (const SeqInput& s : batch) num_tokens += static_cast<int64_t>(s.tokens.size());
    if (static_cast<int64_t>(hidden.size()) != num_tokens * c.n_embd)
      return make_error(ErrorCode::kInvalidArgument,
                        "layers [{}, {}) take the previous stage's hidden states: {} values for "
                        "{} tokens of {}, got {}",
                        model_.first_layer(), model_.end_layer(), num_tokens * c.n_embd,
                        num_tokens, c.n_embd, hidden.size());
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    const SeqInput& s = batch[i];
    const auto n = static_cast<int64_t>(s.tokens.size());
    if (n == 0) return make_error(ErrorCode::kInvalidArgument, "batch entry {} has no tokens", i);
    if (s.first_pos < 0 || s.first_pos + n > c.n_ctx)
      return make_error(ErrorCode::kOutOfRange,
                        "batch entry {}: positions [{}, {}) exceed the context of {} tokens", i,
                        s.first_pos, s.first_pos + n, c.n_ctx);
    if (s.num_logits < 0 || s.num_logits > n)
      return make_error(ErrorCode::kInvalidArgument, "batch entry {}: num_logits {} not in [0, {}]",
                        i, s.num_logits, n);
    const int64_t blocks_needed = (s.first_pos + n + bs - 1) / bs;
    if (static_cast<int64_t>(s.block_table.size()) < blocks_needed)
      return make_error(ErrorCode::kInvalidArgument,
                        "batch entry {}: block table has {} blocks, positions need {}", i,
                        s.block_table.size(), blocks_needed);
    for (int64_t b = 0; b < blocks_needed; ++b) {
      const int32_t id = s.block_table[static_cast<size_t>(b)];
      if (id < 0 || id >= cache_.num_blocks())
        return make_error(ErrorCode::kInvalidArgument, "batch entry {}: block id {} out of range",
                          i, id);
    }
    for (int32_t t : s.tokens)
      if (t < 0 || t >= c.n_vocab)
        return make_error(ErrorCode::kInvalidArgument,
                          "batch entry {}: token id {} is outside the vocabulary [0, {})", i, t,
                          c.n_vocab);
  }
  return core::ok_status();
}

namespace {

// Steps with at least this many tokens run their element-wise ops on the pool.
constexpr int64_t kParallelRowsMin = 8;

// fn(begin, end) over token rows [0, n): split over the pool for big steps. Every row's result
// is the same either way (row-independent ops), so this keeps batch invariance.
void for_rows(core::ThreadPool& pool, int64_t n, core::FunctionRef<void(int64_t, int64_t)> fn) {
  if (n < kParallelRowsMin) {
    fn(0, n);
    return;
  }
  pool.parallel_for(n, 1, [&](int, int64_t b, int64_t e) { fn(b, e); });
}

// Runs fn, adding its wall time to the profile's op when one is attached.
template <typename Fn>
void timed(OpProfile* profile, OpProfile::Op op, Fn&& fn) {
  if (profile == nullptr) {
    fn();
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  profile->seconds[op] +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

template <typename T>
void grow(std::vector<T>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
}
}  // namespace

void Forward::reserve(int64_t num_tokens, int64_t num_logits) {
  const LlamaConfig& c = model_.config();
  const int64_t q_dim = static_cast<int64_t>(c.n_head) * c.head_dim;
  const int64_t kv_dim = static_cast<int64_t>(c.n_head_kv) * c.head_dim;
  grow(x_, num_tokens * c.n_embd);
  grow(h_, num_tokens * c.n_embd);
  grow(q_, num_tokens * q_dim);
  grow(k_, num_tokens * kv_dim);
  grow(v_, num_tokens * kv_dim);
  grow(attn_, num_tokens * q_dim);
  grow(gate_, num_tokens * c.n_ff);
  grow(up_, num_tokens * c.n_ff);
  grow(logits_, num_logits * c.n_vocab);
  grow(last_h_, num_logits * c.n_embd);
  grow(tokens_, num_tokens);
  grow(positions_, num_tokens);
}

void Forward::layer(int32_t l, int64_t T) {
  const LlamaConfig& c = model_.config();
  const LayerWeights& w = weights_.layers[static_cast<size_t>(l)];
  const int64_t q_dim = static_cast<int64_t>(c.n_head) * c.head_dim;
  const int64_t kv_dim = static_cast<int64_t>(c.n_head_kv) * c.head_dim;

  const int64_t d = c.n_embd;
  const kernels::SwigluFn swiglu =
      c.gelu ? (ops_.gelu != nullptr ? ops_.gelu : kernels::gelu_mul)
             : (ops_.swiglu != nullptr ? ops_.swiglu : kernels::swiglu);
  const kernels::RmsNormFn rms_norm = ops_.rms_norm != nullptr ? ops_.rms_norm : kernels::rms_norm;
  auto norm = [&](const float* weight) {
    for_rows(pool_, T, [&](int64_t b, int64_t e) {
      rms_norm(x_.data() + b * d, weight, h_.data() + b * d, e - b, d, c.norm_eps);
    });
  };
  auto add_residual = [&] {
    for_rows(pool_, T, [&](int64_t b, int64_t e) {
      kernels::add_inplace(x_.data() + b * d, h_.data() + b * d, (e - b) * d);
    });
  };

  using P = OpProfile;
  // Attention block.
  timed(profile_, P::kNorm, [&] { norm(w.attn_norm); });
  timed(profile_, P::kMatmulQkv, [&] {
    kernels::matmul_shared_x(ops_, pool_,
                             {{&w.wq, q_.data()}, {&w.wk, k_.data()}, {&w.wv, v_.data()}},
                             h_.data(), T, mm_scratch_);
    if (w.bq) {
      for (int64_t t = 0; t < T; ++t) {
        kernels::add_inplace(q_.data() + t * q_dim, w.bq, q_dim);
        kernels::add_inplace(k_.data() + t * kv_dim, w.bk, kv_dim);
        kernels::add_inplace(v_.data() + t * kv_dim, w.bv, kv_dim);
      }
    }
  });
  if (w.q_norm != nullptr) {  // qwen3: each head of Q and K normed on its own
    timed(profile_, P::kNorm, [&] {
      for_rows(pool_, T, [&](int64_t b, int64_t e) {
        rms_norm(q_.data() + b * q_dim, w.q_norm, q_.data() + b * q_dim, (e - b) * c.n_head,
                 c.head_dim, c.norm_eps);
        rms_norm(k_.data() + b * kv_dim, w.k_norm, k_.data() + b * kv_dim, (e - b) * c.n_head_kv,
                 c.head_dim, c.norm_eps);
      });
    });
  }
  timed(profile_, P::kRope, [&] {
    for_rows(pool_, T, [&](int64_t b, int64_t e) {
      kernels::rope(q_.data() + b * q_dim, positions_.data() + b, e - b, c.n_head, c.head_dim,
                    c.rope_of(l));
      kernels::rope(k_.data() + b * kv_dim, positions_.data() + b, e - b, c.n_head_kv, c.head_dim,
                    c.rope_of(l));
    });
  });
  const kernels::PagedKvLayer kv = cache_.layer(l);
  timed(profile_, P::kKvStore, [&] {
    for (const kernels::AttnSeq& s : seqs_)
      kernels::kv_store(ops_, kv, s.block_table, s.first_pos, s.num_q,
                        k_.data() + s.q_begin * kv_dim, v_.data() + s.q_begin * kv_dim);
  });
  const float scale =
      c.attn_scale > 0.0f ? c.attn_scale : 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  timed(profile_, P::kAttention, [&] {
    kernels::attention(ops_, kv, seqs_, q_.data(), c.n_head, scale, attn_.data(), pool_,
                       attn_scratch_, c.window_of(l), c.attn_softcap);
  });
  timed(profile_, P::kMatmulOut,
        [&] { kernels::matmul(ops_, pool_, w.wo, attn_.data(), T, h_.data(), mm_scratch_); });
  auto post_norm = [&](const float* weight) {  // gemma: the block's output normed in place
    for_rows(pool_, T, [&](int64_t b, int64_t e) {
      rms_norm(h_.data() + b * d, weight, h_.data() + b * d, e - b, d, c.norm_eps);
    });
  };
  if (w.attn_post_norm != nullptr) timed(profile_, P::kNorm, [&] { post_norm(w.attn_post_norm); });
  timed(profile_, P::kResidual, add_residual);

  // Feed-forward block (SwiGLU).
  timed(profile_, P::kNorm, [&] { norm(w.ffn_norm); });
  timed(profile_, P::kMatmulGateUp, [&] {
    kernels::matmul_shared_x(ops_, pool_, {{&w.w_gate, gate_.data()}, {&w.w_up, up_.data()}},
                             h_.data(), T, mm_scratch_);
  });
  timed(profile_, P::kSwiglu, [&] {
    for_rows(pool_, T, [&](int64_t b, int64_t e) {
      swiglu(gate_.data() + b * c.n_ff, up_.data() + b * c.n_ff, gate_.data() + b * c.n_ff,
             (e - b) * c.n_ff);
    });
  });
  timed(profile_, P::kMatmulDown,
        [&] { kernels::matmul(ops_, pool_, w.w_down, gate_.data(), T, h_.data(), mm_scratch_); });
  if (w.ffn_post_norm != nullptr) timed(profile_, P::kNorm, [&] { post_norm(w.ffn_post_norm); });
  timed(profile_, P::kResidual, add_residual);
}

core::Result<std::span<const float>> Forward::run(std::span<const SeqInput> batch,
                                                  std::span<const float> hidden) {
  SARATHI_RETURN_IF_ERROR(validate(batch, hidden));
  const LlamaConfig& c = model_.config();
  const LlamaWeights& w = weights_;
  int64_t T = 0;
  int64_t L = 0;
  for (const SeqInput& s : batch) {
    T += static_cast<int64_t>(s.tokens.size());
    L += s.num_logits;
  }
  reserve(T, L);
  seqs_.clear();
  int64_t row = 0;
  for (const SeqInput& s : batch) {
    kernels::AttnSeq a;
    a.q_begin = static_cast<int32_t>(row);
    a.num_q = static_cast<int32_t>(s.tokens.size());
    a.first_pos = s.first_pos;
    a.block_table = s.block_table.data();
    seqs_.push_back(a);
    for (size_t i = 0; i < s.tokens.size(); ++i, ++row) {
      tokens_[static_cast<size_t>(row)] = s.tokens[i];
      positions_[static_cast<size_t>(row)] = s.first_pos + static_cast<int32_t>(i);
    }
  }

  if (model_.has_embedding()) {
    timed(profile_, OpProfile::kEmbed, [&] {
      kernels::get_rows(ops_, w.tok_embd.dtype, w.tok_embd.data, w.tok_embd.row_bytes, c.n_embd,
                        tokens_.data(), T, x_.data());
      if (c.embed_scale != 0.0f)
        for (int64_t i = 0; i < T * c.n_embd; ++i) x_[static_cast<size_t>(i)] *= c.embed_scale;
    });
  } else {
    std::copy(hidden.begin(), hidden.end(), x_.begin());
  }
  for (int32_t l = model_.first_layer(); l < model_.end_layer(); ++l) layer(l, T);
  if (!model_.has_head())
    return std::span<const float>(x_.data(), static_cast<size_t>(T * c.n_embd));

  // Gather the rows that want logits, then norm and project only those.
  int64_t out = 0;
  for (const kernels::AttnSeq& s : seqs_) {
    const SeqInput& in = batch[static_cast<size_t>(&s - seqs_.data())];
    for (int32_t i = s.num_q - in.num_logits; i < s.num_q; ++i, ++out) {
      const float* src = x_.data() + (s.q_begin + i) * static_cast<int64_t>(c.n_embd);
      std::copy(src, src + c.n_embd, last_h_.data() + out * c.n_embd);
    }
  }
  if (L > 0) {
    timed(profile_, OpProfile::kLogits, [&] {
      (ops_.rms_norm != nullptr ? ops_.rms_norm : kernels::rms_norm)(
          last_h_.data(), w.output_norm, last_h_.data(), L, c.n_embd, c.norm_eps);
      kernels::matmul(ops_, pool_, w.output, last_h_.data(), L, logits_.data(), mm_scratch_);
      if (c.final_softcap > 0.0f) kernels::softcap(logits_.data(), L * c.n_vocab, c.final_softcap);
    });
  }
  return std::span<const float>(logits_.data(), static_cast<size_t>(L * c.n_vocab));
}

}  // namespace sarathi::model
