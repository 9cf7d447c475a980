// Loading models from GGUF: a synthetic model exported to GGUF loads back to the same config
// and the same logits (llama and qwen2 paths), and broken model files give clear errors.
#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <filesystem>

#include "model/export.h"
#include "model/gguf.h"
#include "model/llama.h"
#include "tests/model/model_harness.h"
#include "tests/test_util.h"

namespace sarathi::model {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          (name + "-" + std::to_string(::getpid()) + ".gguf"))
      .string();
}

class ExportRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(ExportRoundTrip, SameConfigAndLogits) {
  auto mem = LlamaModel::load(GetParam());
  ASSERT_TRUE(mem.ok()) << mem.error().message;
  const std::string path = temp_path("sarathi-export");
  ASSERT_TRUE(export_gguf(**mem, path).ok());
  auto file = LlamaModel::load(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  const LlamaConfig& a = (*mem)->config();
  const LlamaConfig& b = (*file)->config();
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.n_layer, b.n_layer);
  EXPECT_EQ(a.n_head_kv, b.n_head_kv);
  EXPECT_EQ(a.rope.kind, b.rope.kind);
  EXPECT_EQ(a.rope.freq_base, b.rope.freq_base);
  EXPECT_EQ(a.qkv_bias, b.qkv_bias);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.qk_norm, b.qk_norm);
  EXPECT_EQ(a.fused, b.fused);
  EXPECT_EQ(a.sliding_window, b.sliding_window);
  EXPECT_EQ(a.rope.freq_factors, b.rope.freq_factors);
  EXPECT_EQ(a.rope.freq_scale, b.rope.freq_scale);
  EXPECT_EQ(a.rope.ext_factor, b.rope.ext_factor);
  EXPECT_EQ(a.rope.n_ctx_orig, b.rope.n_ctx_orig);
  EXPECT_EQ(a.swa_pattern, b.swa_pattern);
  EXPECT_EQ(a.rope_swa.has_value(), b.rope_swa.has_value());
  if (a.rope_swa && b.rope_swa) {
    EXPECT_EQ(a.rope_swa->freq_base, b.rope_swa->freq_base);
  }
  EXPECT_EQ(a.attn_softcap, b.attn_softcap);
  EXPECT_EQ(a.final_softcap, b.final_softcap);
  EXPECT_EQ(a.embed_scale, b.embed_scale);
  EXPECT_EQ(a.post_norms, b.post_norms);
  EXPECT_EQ(a.gelu, b.gelu);
  EXPECT_EQ(a.tied_output, b.tied_output);
  EXPECT_EQ((*mem)->weight_bytes(), (*file)->weight_bytes());

  const std::vector<int32_t> prompt = {1, 72, 101, 108, 108, 111, 33, 200, 17};
  testing::ModelHarness hm(**mem, kernels::active_isa(), core::DType::kF16);
  testing::ModelHarness hf(**file, kernels::active_isa(), core::DType::kF16);
  EXPECT_EQ(hm.prefill(0, prompt, 4), hf.prefill(0, prompt, 4));
  EXPECT_EQ(hm.decode(0, 5, 9), hf.decode(0, 5, 9));

  // The exported byte-level vocabulary still round-trips text (up to the SentencePiece
  // dummy-prefix space, which llama.cpp drops at the start of the text).
  const std::string text = "Hello, wörld\n\t";
  const auto ids = (*file)->tokenizer().encode(text, false, false);
  std::string back = (*file)->tokenizer().decode(ids, false, false);
  if (!back.empty() && back[0] == ' ') back.erase(0, 1);
  EXPECT_EQ(back, text);
}

INSTANTIATE_TEST_SUITE_P(Synthetic, ExportRoundTrip,
                         ::testing::Values("synthetic:tiny:f16", "synthetic:qwen2-tiny:q4_K",
                                           "synthetic:tiny:q5_K", "synthetic:tiny:iq4_xs",
                                           "synthetic:qwen3-tiny:q8_0", "synthetic:phi3-tiny:q4_K",
                                           "synthetic:llama3-tiny:f16",
                                           "synthetic:qwen2-yarn-tiny:q6_K",
                                           "synthetic:gemma2-tiny:q4_0", "synthetic:gemma3-tiny:f16"),
                         [](const auto& param_info) {
                           std::string s = param_info.param.substr(std::string("synthetic:").size());
                           for (char& ch : s)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

// Writes a copy of a synthetic model with one edit applied to the writer (and, with drop, one
// tensor left out).
std::string broken_model(const std::function<void(GgufWriter&)>& edit, bool drop_q0,
                         const std::string& spec = "synthetic:tiny:f32",
                         const std::string& drop = "blk.0.attn_q.weight") {
  auto m = LlamaModel::load(spec);
  const std::string path = temp_path("sarathi-broken");
  EXPECT_TRUE(export_gguf(**m, path).ok());
  auto f = GgufFile::open(path);
  GgufWriter w;
  for (const auto& [k, v] : (*f)->metadata()) w.set(k, v);
  for (const auto& t : (*f)->tensors()) {
    if (drop_q0 && t.name == drop) continue;
    w.add_tensor(t.name, t.dtype, t.shape, std::vector<uint8_t>(t.data, t.data + t.num_bytes));
  }
  edit(w);
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

void expect_load_error(const std::string& path, const std::string& needle) {
  auto m = LlamaModel::load(path);
  std::filesystem::remove(path);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find(needle), std::string::npos) << m.error().message;
}

TEST(ModelLoad, ClearErrors) {
  expect_load_error(broken_model([](GgufWriter&) {}, true), "missing tensor blk.0.attn_q.weight");
  expect_load_error(broken_model([](GgufWriter& w) { w.set_string("general.architecture", "mamba"); }, false),
                    "unsupported architecture 'mamba'");
  expect_load_error(broken_model([](GgufWriter& w) { w.set_u32("llama.attention.head_count", 7); }, false),
                    "does not divide evenly");
  expect_load_error(broken_model([](GgufWriter& w) {
                      w.add_tensor("blk.0.attn_q.weight", core::DType::kF32, {256, 128},
                                   std::vector<uint8_t>(256 * 128 * 4));
                    }, true),
                    "blk.0.attn_q.weight has shape [256, 128], expected [256, 256]");
  expect_load_error(broken_model([](GgufWriter& w) { w.set_string("llama.rope.scaling.type", "longrope"); w.set_f32("llama.rope.scaling.factor", 4.0f); }, false),
                    "rope scaling type 'longrope' is not supported");
  expect_load_error(broken_model([](GgufWriter&) {}, true, "synthetic:qwen3-tiny:f32", "blk.1.attn_k_norm.weight"),
                    "missing tensor blk.1.attn_k_norm.weight");
  expect_load_error(broken_model([](GgufWriter&) {}, true, "synthetic:phi3-tiny:f32", "blk.0.attn_qkv.weight"),
                    "missing tensor blk.0.attn_qkv.weight");
  expect_load_error(broken_model([](GgufWriter& w) {
                      w.add_tensor("rope_freqs.weight", core::DType::kF32, {8}, std::vector<uint8_t>(32));
                    }, true, "synthetic:llama3-tiny:f32", "rope_freqs.weight"),
                    "rope_freqs.weight must be 16 f32 values");
  expect_load_error(broken_model([](GgufWriter& w) { w.set_u32("phi3.attention.sliding_window", 0); }, false,
                                 "synthetic:phi3-tiny:f32"),
                    "attention.sliding_window = 0 is invalid");
  expect_load_error(broken_model([](GgufWriter&) {}, true, "synthetic:gemma2-tiny:f32", "blk.3.post_ffw_norm.weight"),
                    "missing tensor blk.3.post_ffw_norm.weight");
  auto missing = LlamaModel::load("/nonexistent/model.gguf");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/nonexistent/model.gguf"), std::string::npos);
}

// Phi-3.5's long and short RoPE factors: long when the context exceeds the original one, as
// llama.cpp chooses; the attention factor is read with them.
TEST(ModelLoad, Phi3LongRopeFactors) {
  std::vector<float> short_f(16, 1.0f), long_f(16, 2.0f);
  long_f[3] = 7.5f;
  auto bytes = [](const std::vector<float>& v) {
    std::vector<uint8_t> b(v.size() * sizeof(float));
    std::memcpy(b.data(), v.data(), b.size());
    return b;
  };
  const std::string path = broken_model(
      [&](GgufWriter& w) {
        w.add_tensor("rope_factors_short.weight", core::DType::kF32, {16}, bytes(short_f));
        w.add_tensor("rope_factors_long.weight", core::DType::kF32, {16}, bytes(long_f));
        w.set_u32("phi3.rope.scaling.original_context_length", 1024);
        w.set_f32("phi3.rope.scaling.attn_factor", 1.19f);
      },
      false, "synthetic:phi3-tiny:f32");
  auto small = LlamaModel::read_config(path, {.n_ctx = 1024});
  auto large = LlamaModel::read_config(path, {.n_ctx = 1025});
  std::filesystem::remove(path);
  ASSERT_TRUE(small.ok()) << small.error().message;
  ASSERT_TRUE(large.ok()) << large.error().message;
  EXPECT_EQ(small->rope.freq_factors, short_f);
  EXPECT_EQ(large->rope.freq_factors, long_f);
  EXPECT_FLOAT_EQ(large->rope.attn_factor, 1.19f);
  EXPECT_EQ(large->sliding_window, 48);
}

TEST(ModelLoad, VocabOnlyGpt2) {
  auto path = testing::shared_model("ggml-vocab-gpt-2.gguf");
  if (!path) GTEST_SKIP() << "shared test data not found: set SARATHI_TEST_DATA";
  auto full = LlamaModel::load(*path);
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.error().message.find("unsupported architecture 'gpt2'"), std::string::npos);
  auto vocab = LlamaModel::load_gguf(*path, {.vocab_only = true});
  ASSERT_TRUE(vocab.ok()) << vocab.error().message;
  EXPECT_EQ((*vocab)->tokenizer().n_vocab(), 50257);
}

}  // namespace
}  // namespace sarathi::model
