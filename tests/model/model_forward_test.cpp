// Properties of the batch forward pass that SARATHI relies on: chunking a prefill does not
// change the result, and a sequence's logits do not depend on what else shares its step.
#include <gtest/gtest.h>

#include <cstdio>

#include <algorithm>
#include <cmath>
#include <random>

#include "model/llama.h"
#include "tests/model/model_harness.h"
#include "tests/test_util.h"

namespace sarathi::model {
namespace {

using testing::ModelHarness;

std::unique_ptr<LlamaModel> load_or_skip(const std::string& spec) {
  std::string path = spec;
  if (spec.rfind("synthetic:", 0) != 0) {
    auto p = testing::shared_model(spec);
    if (!p) return nullptr;
    path = *p;
  }
  auto m = LlamaModel::load(path);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
  return m.ok() ? std::move(*m) : nullptr;
}

std::vector<int32_t> random_tokens(int n, int32_t n_vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (auto& x : t) x = static_cast<int32_t>(rng() % static_cast<uint32_t>(n_vocab));
  t[0] = 1;
  return t;
}

float max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float scale = 0.0f;
  for (float x : b) scale = std::max(scale, std::fabs(x));
  float worst = 0.0f;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst / std::max(scale, 1e-30f);
}

class ForwardProperties : public ::testing::TestWithParam<std::string> {};

// A prompt prefilled in chunks of 1, 7, 64 and all at once gives the same logits, then the
// same decode logits.
TEST_P(ForwardProperties, ChunkingInvariance) {
  auto m = load_or_skip(GetParam());
  if (!m) GTEST_SKIP() << "shared test data not found: set SARATHI_TEST_DATA";
  const auto prompt = random_tokens(100, m->config().n_vocab, 11);
  std::vector<float> ref_prefill, ref_decode;
  for (size_t chunk : {prompt.size(), size_t{1}, size_t{7}, size_t{64}}) {
    SCOPED_TRACE("chunk " + std::to_string(chunk));
    ModelHarness h(*m, kernels::active_isa(), core::DType::kF16);
    auto logits = h.prefill(0, prompt, chunk);
    auto next = h.decode(0, 5, static_cast<int32_t>(prompt.size()));
    if (ref_prefill.empty()) {
      ref_prefill = logits;
      ref_decode = next;
      continue;
    }
    EXPECT_LE(max_rel_diff(logits, ref_prefill), 1e-4f);
    EXPECT_LE(max_rel_diff(next, ref_decode), 1e-4f);
  }
}

// A step mixing several sequences' prefill chunks and decodes gives each sequence exactly the
// logits it gets when run alone.
TEST_P(ForwardProperties, MixedBatchEqualsAlone) {
  auto m = load_or_skip(GetParam());
  if (!m) GTEST_SKIP() << "shared test data not found: set SARATHI_TEST_DATA";
  const int32_t V = m->config().n_vocab;
  const auto a = random_tokens(40, V, 1);   // decodes at position 40
  const auto b = random_tokens(23, V, 2);   // decodes at position 23
  const auto c = random_tokens(50, V, 3);   // prefill chunk [20, 50) after 20 cached
  const auto d = random_tokens(9, V, 4);    // whole prompt in this step

  // Alone.
  ModelHarness alone(*m, kernels::active_isa(), core::DType::kF16);
  alone.prefill(0, a, a.size());
  const auto la = alone.decode(0, 7, 40);
  alone.prefill(1, b, b.size());
  const auto lb = alone.decode(1, 8, 23);
  alone.prefill(2, std::span(c).first(20), 20);
  alone.ensure(2, 50);
  std::vector<float> lc;
  {
    SeqInput in{std::span(c).subspan(20), 20, alone.table(2), 30};
    auto r = alone.forward().run(std::span(&in, 1));
    ASSERT_TRUE(r.ok());
    lc.assign(r->begin(), r->end());
  }
  const auto ld = alone.prefill(3, d, d.size());

  // Together, in one step.
  ModelHarness mixed(*m, kernels::active_isa(), core::DType::kF16);
  mixed.prefill(0, a, a.size());
  mixed.prefill(1, b, b.size());
  mixed.prefill(2, std::span(c).first(20), 20);
  mixed.ensure(0, 41);
  mixed.ensure(1, 24);
  mixed.ensure(2, 50);
  mixed.ensure(3, 9);
  const int32_t t7 = 7, t8 = 8;
  std::vector<SeqInput> batch = {
      {std::span(&t7, 1), 40, mixed.table(0), 1},
      {std::span(c).subspan(20), 20, mixed.table(2), 30},
      {std::span(&t8, 1), 23, mixed.table(1), 1},
      {d, 0, mixed.table(3), 1},
  };
  auto r = mixed.forward().run(batch);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const size_t n = static_cast<size_t>(V);
  std::vector<float> out(r->begin(), r->end());
  ASSERT_EQ(out.size(), n * (1 + 30 + 1 + 1));
  EXPECT_EQ(std::vector<float>(out.begin(), out.begin() + static_cast<long>(n)), la);
  EXPECT_EQ(std::vector<float>(out.begin() + static_cast<long>(n), out.begin() + static_cast<long>(31 * n)), lc);
  EXPECT_EQ(std::vector<float>(out.begin() + static_cast<long>(31 * n), out.begin() + static_cast<long>(32 * n)), lb);
  EXPECT_EQ(std::vector<float>(out.begin() + static_cast<long>(32 * n), out.end()), ld);
}

INSTANTIATE_TEST_SUITE_P(Models, ForwardProperties,
                         ::testing::Values("stories260K.gguf", "llama-2-tiny-random.gguf",
                                           "synthetic:tiny:f16", "synthetic:tiny:q4_K",
                                           "synthetic:tiny:q4_0", "synthetic:qwen2-tiny:q8_0",
                                           "synthetic:tiny:bf16", "synthetic:tiny:q6_K",
                                           // Types on the scalar oracle's vec_dot path:
                                           "synthetic:tiny:q5_K", "synthetic:tiny:q3_K",
                                           "synthetic:tiny:q5_0", "synthetic:tiny:iq4_nl",
                                           // Sliding windows (48, 32) the sequences cross,
                                           // in the middle of a chunk too:
                                           "synthetic:phi3-tiny:q8_0",
                                           "synthetic:gemma3-tiny:q4_0"),
                         [](const auto& param_info) {
                           std::string s = param_info.param;
                           for (char& ch : s)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

// Integer weights run the interleaved (packed) kernels from AVX2 up. Their logits for
// a 40-token prompt (two full AMX tiles and a tail) and a decode step stay close to the scalar
// GGML-layout path (random synthetic weights amplify single rounding flips of the q8
// activations to a few 1e-3 of the logit range between any two correct paths, AVX2's
// included; a layout error is of the order of the range itself), and AMX equals AVX-512 bit
// for bit (they share every other op).
struct PackedHarnessRun {
  std::vector<float> prefill;
  std::vector<float> decode;
};

PackedHarnessRun run_ops(const LlamaModel& m, const kernels::CpuOps& ops,
                         const std::vector<int32_t>& prompt) {
  core::ThreadPool pool(2);
  auto cache = PagedKvCache::create(m.config(), {.num_blocks = 16, .block_size = 16,
                                                 .dtype = core::DType::kF32});
  EXPECT_TRUE(cache.ok());
  Forward fwd(m, **cache, pool, ops);
  std::vector<int32_t> table = {0, 1, 2, 3};
  PackedHarnessRun out;
  SeqInput in{prompt, 0, table, 1};
  auto r = fwd.run(std::span(&in, 1));
  EXPECT_TRUE(r.ok());
  if (r.ok()) out.prefill.assign(r->begin(), r->end());
  const int32_t token = 5;
  SeqInput dec{std::span(&token, 1), static_cast<int32_t>(prompt.size()), table, 1};
  r = fwd.run(std::span(&dec, 1));
  EXPECT_TRUE(r.ok());
  if (r.ok()) out.decode.assign(r->begin(), r->end());
  return out;
}

// 40 tokens spread over the vocabulary.
std::vector<int32_t> spread_prompt(const LlamaModel& m) {
  std::vector<int32_t> prompt(40);
  for (size_t i = 0; i < prompt.size(); ++i)
    prompt[i] = static_cast<int32_t>((i * 37 + 11) % static_cast<size_t>(m.config().n_vocab));
  return prompt;
}

// got within rel x (the largest prefill logit, at least 1) of want, prefill and decode.
void expect_logits_close(const PackedHarnessRun& got, const PackedHarnessRun& want, float rel) {
  ASSERT_EQ(got.prefill.size(), want.prefill.size());
  ASSERT_EQ(got.decode.size(), want.decode.size());
  float scale = 1.0f;
  for (float v : want.prefill) scale = std::max(scale, std::fabs(v));
  for (size_t i = 0; i < want.prefill.size(); ++i) {
    ASSERT_NEAR(got.prefill[i], want.prefill[i], rel * scale) << "prefill logit " << i;
    ASSERT_NEAR(got.decode[i], want.decode[i], rel * scale) << "decode logit " << i;
  }
}

TEST(Forward, PackedWeightsAgreeWithGgmlLayout) {
  std::vector<kernels::Isa> isas;
  for (kernels::Isa isa : testing::supported_isas())
    if (kernels::cpu_ops_for(isa).q8_0.packed.run != nullptr) isas.push_back(isa);
  if (isas.empty()) GTEST_SKIP() << "no ISA with packed kernels on this CPU";
  for (const char* spec : {"synthetic:tiny:q8_0", "synthetic:tiny:q4_0", "synthetic:tiny:q4_K",
                           "synthetic:tiny:q6_K",
                           "synthetic:qwen2-tiny:q8_0"}) {
    SCOPED_TRACE(spec);
    auto m = LlamaModel::load(spec);
    ASSERT_TRUE(m.ok()) << m.error().message;
    const std::vector<int32_t> prompt = spread_prompt(**m);
    // AVX-512 and AMX share every other op too, so their logits are bit-equal; AVX2's norms,
    // RoPE and attention round differently.
    std::vector<PackedHarnessRun> wide_runs;
    std::vector<kernels::Isa> wide_isas;
    const PackedHarnessRun want = run_ops(**m, kernels::cpu_ops_for(kernels::Isa::kScalar), prompt);
    for (kernels::Isa isa : isas) {
      SCOPED_TRACE(std::string(kernels::isa_name(isa)));
      const kernels::CpuOps& ops = kernels::cpu_ops_for(isa);
      const PackedHarnessRun got = run_ops(**m, ops, prompt);
      expect_logits_close(got, want, 2e-2f);
      if (isa >= kernels::Isa::kAvx512) {
        wide_runs.push_back(got);
        wide_isas.push_back(isa);
      }
    }
    for (size_t i = 1; i < wide_runs.size(); ++i) {
      EXPECT_EQ(wide_runs[i].prefill, wide_runs[0].prefill) << kernels::isa_name(wide_isas[i]);
      EXPECT_EQ(wide_runs[i].decode, wide_runs[0].decode) << kernels::isa_name(wide_isas[i]);
    }
  }
}

// bf16 weights on the interleaved path (vdpbf16ps on AVX512-BF16, the tile unit on AMX; every
// matmul, decode included) against the scalar path.
TEST(Forward, PackedBf16WeightsAgreeWithScalar) {
  int tested = 0;
  for (kernels::Isa isa : {kernels::Isa::kAvx512, kernels::Isa::kAmx}) {
    if (!kernels::isa_supported(isa) || kernels::cpu_ops_for(isa).bf16.packed.run == nullptr)
      continue;
    ++tested;
    for (const char* spec : {"synthetic:tiny:bf16", "synthetic:qwen2-tiny:bf16"}) {
      SCOPED_TRACE(std::string(spec) + " on " + std::string(kernels::isa_name(isa)));
      auto m = LlamaModel::load(spec);
      ASSERT_TRUE(m.ok()) << m.error().message;
      const std::vector<int32_t> prompt = spread_prompt(**m);
      const kernels::CpuOps& scalar = kernels::cpu_ops_for(kernels::Isa::kScalar);
      const PackedHarnessRun want = run_ops(**m, scalar, prompt);
      const PackedHarnessRun got = run_ops(**m, kernels::cpu_ops_for(isa), prompt);
      expect_logits_close(got, want, 1e-2f);
    }
  }
  if (tested == 0) GTEST_SKIP() << "no packed bf16 path on this CPU (needs AVX512-BF16 or AMX)";
}

// LoadOptions::float_weights (--dtype): float matrices become the asked type (each element
// rounded once, to nearest even), interleaved where the op table has a path for it; quantized
// matrices and the file's views stay; logits stay close to the file's types.
TEST(Forward, FloatWeightsCastMatrices) {
  auto f16 = LlamaModel::load("synthetic:tiny:f16");
  ASSERT_TRUE(f16.ok()) << f16.error().message;
  for (core::DType t : {core::DType::kBF16, core::DType::kF32}) {
    SCOPED_TRACE(std::string(core::dtype_name(t)));
    auto m = LlamaModel::load("synthetic:tiny:f16", {.float_weights = t});
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_EQ((*m)->config().dtype, t);
    const kernels::CpuOps& scalar = kernels::cpu_ops_for(kernels::Isa::kScalar);
    const LlamaWeights& file = (*m)->weights();
    const LlamaWeights& cast = (*m)->weights_for(scalar);
    EXPECT_EQ(file.layers[0].wq.dtype, core::DType::kF16);  // the file's view stays
    const kernels::WeightView& wq = cast.layers[0].w_up;
    ASSERT_EQ(wq.dtype, t);
    ASSERT_FALSE(wq.packed);
    EXPECT_EQ(cast.output.dtype, t);
    // Element by element: the f16 value rounded to t.
    const kernels::WeightView& src = file.layers[0].w_up;
    std::vector<float> a(static_cast<size_t>(src.cols)), b(a.size()), rounded(a.size());
    for (int64_t r = 0; r < src.rows; r += 7) {
      const auto* from =
          static_cast<const uint8_t*>(src.data) + static_cast<size_t>(r) * src.row_bytes;
      scalar.f16.to_float(from, a.data(), src.cols);
      std::vector<uint8_t> tmp(wq.row_bytes);
      scalar.type(t).from_float(a.data(), tmp.data(), src.cols);
      scalar.type(t).to_float(tmp.data(), rounded.data(), src.cols);
      const auto* got =
          static_cast<const uint8_t*>(wq.data) + static_cast<size_t>(r) * wq.row_bytes;
      scalar.type(t).to_float(got, b.data(), src.cols);
      ASSERT_EQ(b, rounded) << "row " << r;
    }
    const uint64_t matrices = (*f16)->weight_bytes();
    if (t == core::DType::kBF16) {
      EXPECT_EQ((*m)->weight_bytes(), matrices);
    } else {
      EXPECT_GT((*m)->weight_bytes(), matrices);
    }
    const std::vector<int32_t> prompt = spread_prompt(**m);
    const PackedHarnessRun want = run_ops(**f16, scalar, prompt);
    expect_logits_close(run_ops(**m, scalar, prompt), want, 2e-2f);
    const kernels::CpuOps& best = kernels::cpu_ops();
    const LlamaWeights& fast = (*m)->weights_for(best);
    EXPECT_EQ(fast.layers[0].w_gate.dtype, t);
    EXPECT_EQ(fast.layers[0].w_gate.packed,
              kernels::packable(t) && best.type(t).packed.run != nullptr);
    expect_logits_close(run_ops(**m, best, prompt), want, 2e-2f);
  }
  // Quantized matrices keep their type; a non-float target is refused.
  auto q = LlamaModel::load("synthetic:tiny:q8_0", {.float_weights = core::DType::kBF16});
  ASSERT_TRUE(q.ok()) << q.error().message;
  EXPECT_EQ((*q)->weights_for(kernels::cpu_ops_for(kernels::Isa::kScalar)).layers[0].wq.dtype,
            core::DType::kQ8_0);
  auto bad = LlamaModel::load("synthetic:tiny:f16", {.float_weights = core::DType::kQ8_0});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("f32, f16 or bf16"), std::string::npos);
}

// An 8-bit (q8_0) KV cache: chunking and batch composition still never change the logits, and
// they stay close to the f16 cache's (the quantization error of K and V, each element within
// half a step of 1/127 of its group's largest). Models whose head size is not a multiple of 32
// (the golden ones: 8 and 4) are refused, as llama.cpp refuses them.
TEST(Forward, Q8KvCache) {
  for (const char* spec : {"synthetic:tiny:f16", "synthetic:qwen2-tiny:q8_0"}) {
    SCOPED_TRACE(spec);
    auto m = LlamaModel::load(spec);
    ASSERT_TRUE(m.ok()) << m.error().message;
    const auto prompt = random_tokens(100, (*m)->config().n_vocab, 11);
    std::vector<float> ref_prefill, ref_decode;
    for (size_t chunk : {prompt.size(), size_t{7}, size_t{64}}) {
      ModelHarness h(**m, kernels::active_isa(), core::DType::kQ8_0);
      const auto logits = h.prefill(0, prompt, chunk);
      const auto next = h.decode(0, 5, static_cast<int32_t>(prompt.size()));
      ASSERT_EQ(logits.size(), static_cast<size_t>((*m)->config().n_vocab));
      if (ref_prefill.empty()) {
        ref_prefill = logits;
        ref_decode = next;
        continue;
      }
      EXPECT_EQ(logits, ref_prefill) << "chunk " << chunk;
      EXPECT_EQ(next, ref_decode) << "chunk " << chunk;
    }
    ModelHarness f16(**m, kernels::active_isa(), core::DType::kF16);
    const auto logits16 = f16.prefill(0, prompt, prompt.size());
    const auto next16 = f16.decode(0, 5, static_cast<int32_t>(prompt.size()));
    const float err = std::max(max_rel_diff(ref_prefill, logits16), max_rel_diff(ref_decode, next16));
    std::printf("%s: q8_0 KV vs f16 KV, largest logit difference / largest |logit|: %.4f\n",
                spec, err);
    EXPECT_LT(err, 0.05f);
    EXPECT_GT(err, 0.0f) << "the q8_0 cache should not be the f16 one";
  }
  for (const char* file : {"stories260K.gguf", "llama-2-tiny-random.gguf"}) {
    auto m = load_or_skip(file);
    if (!m) continue;
    auto cache = PagedKvCache::create(m->config(), {.num_blocks = 4, .dtype = core::DType::kQ8_0});
    ASSERT_FALSE(cache.ok()) << file;
    EXPECT_NE(cache.error().message.find("multiple of 32"), std::string::npos);
  }
}

TEST(Forward, RejectsBadInput) {
  auto m = LlamaModel::load("synthetic:tiny:f32");
  ASSERT_TRUE(m.ok()) << m.error().message;
  ModelHarness h(**m, kernels::active_isa(), core::DType::kF16, 4, 16);
  h.ensure(0, 64);
  const std::vector<int32_t> ok_tokens = {1, 2, 3};
  const std::vector<int32_t> bad_token = {1, 99999};
  SeqInput in{bad_token, 0, h.table(0), 1};
  auto r = h.forward().run(std::span(&in, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("outside the vocabulary"), std::string::npos);
  in = {ok_tokens, 63, h.table(0), 1};  // needs 66 positions, table covers 64
  r = h.forward().run(std::span(&in, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("block table"), std::string::npos);
  in = {ok_tokens, (*m)->config().n_ctx - 1, h.table(0), 1};
  r = h.forward().run(std::span(&in, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("context"), std::string::npos);
}

TEST(Synthetic, DeterministicAndShaped) {
  auto a = LlamaModel::load("synthetic:tiny:q4_0", {.seed = 5});
  auto b = LlamaModel::load("synthetic:tiny:q4_0", {.seed = 5});
  auto c = LlamaModel::load("synthetic:tiny:q4_0", {.seed = 6});
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  const auto& wa = (*a)->weights().layers[1].w_down;
  const auto& wb = (*b)->weights().layers[1].w_down;
  const auto& wc = (*c)->weights().layers[1].w_down;
  const size_t bytes = wa.row_bytes * static_cast<size_t>(wa.rows);
  EXPECT_EQ(std::memcmp(wa.data, wb.data, bytes), 0);
  EXPECT_NE(std::memcmp(wa.data, wc.data, bytes), 0);
  EXPECT_EQ((*a)->config().n_vocab, 512);
  EXPECT_EQ((*a)->tokenizer().n_vocab(), 512);

  auto bad = LlamaModel::load("synthetic:nope");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("unknown synthetic shape"), std::string::npos);
  bad = LlamaModel::load("synthetic:tiny:iq2_xxs");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("unknown weight type"), std::string::npos);
}

TEST(Synthetic, RealShapes) {
  // Shapes only: building llama-2-7b here would take gigabytes.
  const auto shapes = synthetic_shapes();
  for (const char* s : {"llama-160m", "tinyllama-1.1b", "llama-2-7b"})
    EXPECT_NE(std::find(shapes.begin(), shapes.end(), s), shapes.end()) << s;
  auto m = LlamaModel::load("synthetic:llama-160m:q4_0");
  ASSERT_TRUE(m.ok()) << m.error().message;
  const LlamaConfig& c = (*m)->config();
  EXPECT_EQ(c.n_embd, 768);
  EXPECT_EQ(c.n_layer, 12);
  EXPECT_EQ(c.n_ff, 3072);
  EXPECT_EQ(c.n_head, 12);
  EXPECT_EQ(c.n_vocab, 32000);
}

}  // namespace
}  // namespace sarathi::model
