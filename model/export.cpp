#include "model/export.h"

#include <fmt/format.h>

#include <cstring>

#include "model/gguf.h"

namespace sarathi::model {
namespace {

std::vector<uint8_t> bytes_of(const kernels::WeightView& w) {
  const auto* p = static_cast<const uint8_t*>(w.data);
  return std::vector<uint8_t>(p, p + w.row_bytes * static_cast<size_t>(w.rows));
}

std::vector<uint8_t> bytes_of(const float* v, int64_t n) {
  std::vector<uint8_t> out(static_cast<size_t>(n) * sizeof(float));
  std::memcpy(out.data(), v, out.size());
  return out;
}

void add_matrix(GgufWriter& w, const std::string& name, const kernels::WeightView& m) {
  w.add_tensor(name, m.dtype, {m.cols, m.rows}, bytes_of(m));
}

// The rows of matrices of one type and width, one after another (Phi-3's fused tensors).
void add_fused(GgufWriter& w, const std::string& name,
               std::initializer_list<const kernels::WeightView*> parts) {
  std::vector<uint8_t> bytes;
  int64_t rows = 0;
  for (const kernels::WeightView* m : parts) {
    const std::vector<uint8_t> b = bytes_of(*m);
    bytes.insert(bytes.end(), b.begin(), b.end());
    rows += m->rows;
  }
  const kernels::WeightView& first = **parts.begin();
  w.add_tensor(name, first.dtype, {first.cols, rows}, std::move(bytes));
}

void add_vector(GgufWriter& w, const std::string& name, const float* v, int64_t n) {
  w.add_tensor(name, core::DType::kF32, {n}, bytes_of(v, n));
}

void write_vocab(GgufWriter& w, const VocabData& v) {
  w.set_string("tokenizer.ggml.model", v.kind == VocabKind::kSpm ? "llama" : "gpt2");
  if (v.kind == VocabKind::kBpe) w.set_string("tokenizer.ggml.pre", v.pre);
  std::vector<std::string> tokens = v.tokens;
  std::vector<int32_t> types;
  for (TokenType t : v.types) types.push_back(static_cast<int32_t>(t));
  std::vector<float> scores = v.scores;
  if (!v.escape_whitespace && v.kind == VocabKind::kSpm) {
    // GGUF SPM vocabularies always escape spaces as U+2581: give the space its own token so a
    // byte-level vocabulary stays lossless after the round trip.
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (!types.empty() && types[i] == static_cast<int32_t>(TokenType::kUnused)) {
        tokens[i] = "\xe2\x96\x81";
        types[i] = static_cast<int32_t>(TokenType::kNormal);
        if (!scores.empty()) scores[i] = 0.0f;
        break;
      }
    }
  }
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  if (!scores.empty()) w.set_f32_array("tokenizer.ggml.scores", scores);
  if (!types.empty()) w.set_i32_array("tokenizer.ggml.token_type", types);
  if (!v.merges.empty()) w.set_string_array("tokenizer.ggml.merges", v.merges);
  auto set_id = [&](const char* key, TokenId id) {
    if (id >= 0) w.set_u32(key, static_cast<uint32_t>(id));
  };
  set_id("tokenizer.ggml.bos_token_id", v.bos_id);
  set_id("tokenizer.ggml.eos_token_id", v.eos_id);
  set_id("tokenizer.ggml.unknown_token_id", v.unk_id);
  set_id("tokenizer.ggml.padding_token_id", v.pad_id);
  w.set_bool("tokenizer.ggml.add_bos_token", v.add_bos);
  w.set_bool("tokenizer.ggml.add_eos_token", v.add_eos);
}

}  // namespace

core::Status export_gguf(const LlamaModel& model, const std::string& path) {
  const LlamaConfig& c = model.config();
  if (!model.is_whole())
    return core::make_error(core::ErrorCode::kInvalidArgument,
                            "only a whole model can be exported, not layers [{}, {}) of {}",
                            model.first_layer(), model.end_layer(), c.n_layer);
  // The GGML-layout views (the scalar table packs nothing), with LoadOptions::float_weights
  // applied.
  const LlamaWeights& wt = model.weights_for(kernels::cpu_ops_for(kernels::Isa::kScalar));
  GgufWriter w;
  w.set_string("general.architecture", c.arch);
  w.set_string("general.name", c.name);
  const std::string a = c.arch + ".";
  w.set_u32(a + "context_length", static_cast<uint32_t>(c.n_ctx_train));
  w.set_u32(a + "embedding_length", static_cast<uint32_t>(c.n_embd));
  w.set_u32(a + "block_count", static_cast<uint32_t>(c.n_layer));
  w.set_u32(a + "feed_forward_length", static_cast<uint32_t>(c.n_ff));
  w.set_u32(a + "attention.head_count", static_cast<uint32_t>(c.n_head));
  w.set_u32(a + "attention.head_count_kv", static_cast<uint32_t>(c.n_head_kv));
  if (c.head_dim * c.n_head != c.n_embd) {
    w.set_u32(a + "attention.key_length", static_cast<uint32_t>(c.head_dim));
    w.set_u32(a + "attention.value_length", static_cast<uint32_t>(c.head_dim));
  }
  if (c.sliding_window > 0)
    w.set_u32(a + "attention.sliding_window", static_cast<uint32_t>(c.sliding_window));
  if (c.attn_softcap > 0.0f) w.set_f32(a + "attn_logit_softcapping", c.attn_softcap);
  if (c.final_softcap > 0.0f) w.set_f32(a + "final_logit_softcapping", c.final_softcap);
  w.set_f32(a + "attention.layer_norm_rms_epsilon", c.norm_eps);
  w.set_u32(a + "rope.dimension_count", static_cast<uint32_t>(c.rope.n_rot));
  w.set_f32(a + "rope.freq_base", c.rope.freq_base);
  if (c.rope.freq_scale != 1.0f) {
    w.set_string(a + "rope.scaling.type", c.rope.ext_factor != 0.0f ? "yarn" : "linear");
    w.set_f32(a + "rope.scaling.factor", 1.0f / c.rope.freq_scale);
  }
  if (c.rope.ext_factor != 0.0f) {
    w.set_u32(a + "rope.scaling.original_context_length", static_cast<uint32_t>(c.rope.n_ctx_orig));
    if (c.rope.ext_factor != 1.0f) w.set_f32(a + "rope.scaling.yarn_ext_factor", c.rope.ext_factor);
    if (c.rope.beta_fast != 32.0f) w.set_f32(a + "rope.scaling.yarn_beta_fast", c.rope.beta_fast);
    if (c.rope.beta_slow != 1.0f) w.set_f32(a + "rope.scaling.yarn_beta_slow", c.rope.beta_slow);
  }
  if (c.rope.attn_factor != 1.0f) w.set_f32(a + "rope.scaling.attn_factor", c.rope.attn_factor);
  write_vocab(w, model.tokenizer().vocab());

  const int64_t q_dim = static_cast<int64_t>(c.n_head) * c.head_dim;
  const int64_t kv_dim = static_cast<int64_t>(c.n_head_kv) * c.head_dim;
  add_matrix(w, "token_embd.weight", wt.tok_embd);
  if (!c.rope.freq_factors.empty())
    add_vector(w, "rope_freqs.weight", c.rope.freq_factors.data(),
               static_cast<int64_t>(c.rope.freq_factors.size()));
  add_vector(w, "output_norm.weight", wt.output_norm, c.n_embd);
  if (!c.tied_output) add_matrix(w, "output.weight", wt.output);
  for (int32_t l = 0; l < c.n_layer; ++l) {
    const LayerWeights& L = wt.layers[static_cast<size_t>(l)];
    const std::string p = fmt::format("blk.{}.", l);
    add_vector(w, p + "attn_norm.weight", L.attn_norm, c.n_embd);
    if (c.fused) {
      add_fused(w, p + "attn_qkv.weight", {&L.wq, &L.wk, &L.wv});
    } else {
      add_matrix(w, p + "attn_q.weight", L.wq);
      add_matrix(w, p + "attn_k.weight", L.wk);
      add_matrix(w, p + "attn_v.weight", L.wv);
    }
    add_matrix(w, p + "attn_output.weight", L.wo);
    if (L.q_norm) {
      add_vector(w, p + "attn_q_norm.weight", L.q_norm, c.head_dim);
      add_vector(w, p + "attn_k_norm.weight", L.k_norm, c.head_dim);
    }
    if (L.attn_post_norm) {
      add_vector(w, p + "post_attention_norm.weight", L.attn_post_norm, c.n_embd);
      add_vector(w, p + "post_ffw_norm.weight", L.ffn_post_norm, c.n_embd);
    }
    if (L.bq) {
      add_vector(w, p + "attn_q.bias", L.bq, q_dim);
      add_vector(w, p + "attn_k.bias", L.bk, kv_dim);
      add_vector(w, p + "attn_v.bias", L.bv, kv_dim);
    }
    add_vector(w, p + "ffn_norm.weight", L.ffn_norm, c.n_embd);
    if (c.fused) {
      add_fused(w, p + "ffn_up.weight", {&L.w_gate, &L.w_up});
    } else {
      add_matrix(w, p + "ffn_gate.weight", L.w_gate);
      add_matrix(w, p + "ffn_up.weight", L.w_up);
    }
    add_matrix(w, p + "ffn_down.weight", L.w_down);
  }
  return w.write(path);
}

}  // namespace sarathi::model
