// The architectures beyond Llama 2 against llama.cpp: Qwen3's per-head Q/K norms, Phi-3's fused
// matrices and sliding window, Llama 3.1's rope_freqs and YaRN, Gemma 2's soft caps and
// alternating windows, Gemma 3's local RoPE and 5:1 windows, on the synthetic shapes whose
// logits tests/data/arch_ref.txt holds (its header says how they were made). Every ISA, one
// prefill of 80 tokens and the same in chunks of 16 (the sliding window of 48 is crossed inside
// and across chunks), and the GGUF the reference was made from, written here again.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "model/export.h"
#include "model/forward.h"
#include "model/llama.h"
#include "tests/model/model_harness.h"
#include "tests/test_util.h"

namespace sarathi::model {
namespace {

struct RefCase {
  std::string shape;
  std::map<int32_t, std::vector<float>> logits;  // by position
};

struct RefData {
  std::vector<int32_t> tokens;
  std::vector<RefCase> cases;
};

RefData read_ref() {
  RefData d;
  std::istringstream in(testing::read_file(testing::test_data("arch_ref.txt")));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string tag;
    ls >> tag;
    if (tag == "tokens") {
      std::string list;
      ls >> list;
      std::istringstream ts(list);
      for (std::string t; std::getline(ts, t, ',');) d.tokens.push_back(std::stoi(t));
    } else if (tag == "model") {
      d.cases.emplace_back();
      ls >> d.cases.back().shape;
    } else if (tag == "pos") {
      int32_t p = 0;
      ls >> p;
      std::vector<float>& v = d.cases.back().logits[p];
      for (float x; ls >> x;) v.push_back(x);
    }
  }
  return d;
}

// The logits at every position of `tokens`, prefilled in chunks of `chunk`.
std::vector<std::vector<float>> all_logits(const LlamaModel& m, kernels::Isa isa,
                                           const std::vector<int32_t>& tokens, size_t chunk) {
  testing::ModelHarness h(m, isa, core::DType::kF16);
  std::vector<std::vector<float>> out;
  const auto n_vocab = static_cast<size_t>(m.config().n_vocab);
  for (size_t pos = 0; pos < tokens.size(); pos += chunk) {
    const size_t n = std::min(chunk, tokens.size() - pos);
    h.ensure(0, static_cast<int64_t>(pos + n));
    SeqInput in{std::span(tokens).subspan(pos, n), static_cast<int32_t>(pos), h.table(0),
                static_cast<int32_t>(n)};
    auto r = h.forward().run(std::span(&in, 1));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    if (!r.ok()) return out;
    for (size_t i = 0; i < n; ++i)
      out.emplace_back(r->begin() + static_cast<std::ptrdiff_t>(i * n_vocab),
                       r->begin() + static_cast<std::ptrdiff_t>((i + 1) * n_vocab));
  }
  return out;
}

// Largest |a - b| over the vocabulary, relative to the reference's largest |logit|.
double rel_error(const std::vector<float>& got, const std::vector<float>& ref) {
  double err = 0.0, scale = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    err = std::max(err, std::abs(static_cast<double>(got[i]) - ref[i]));
    scale = std::max(scale, std::abs(static_cast<double>(ref[i])));
  }
  return err / scale;
}

size_t argmax(const std::vector<float>& v) {
  return static_cast<size_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

constexpr double kTolerance = 2e-3;

class ArchReference : public ::testing::TestWithParam<std::string> {};

TEST_P(ArchReference, MatchesLlamaCpp) {
  const RefData ref = read_ref();
  const RefCase* c = nullptr;
  for (const RefCase& rc : ref.cases)
    if (rc.shape == GetParam()) c = &rc;
  ASSERT_NE(c, nullptr) << "no reference for " << GetParam();
  ASSERT_EQ(ref.tokens.size(), 80u);
  LoadOptions opts;
  opts.n_ctx = 128;  // as the reference ran (Phi-3's factors and YaRN do not depend on it here)
  auto m = LlamaModel::load("synthetic:" + GetParam() + ":f32", opts);
  ASSERT_TRUE(m.ok()) << m.error().message;
  // The file the reference was made from.
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("sarathi-arch-" + std::to_string(::getpid()) + ".gguf"))
                               .string();
  ASSERT_TRUE(export_gguf(**m, path).ok());
  auto file = LlamaModel::load(path, opts);
  std::filesystem::remove(path);
  ASSERT_TRUE(file.ok()) << file.error().message;

  for (kernels::Isa isa : testing::supported_isas()) {
    for (size_t chunk : {size_t{80}, size_t{16}}) {
      SCOPED_TRACE(std::string(kernels::isa_name(isa)) + ", chunks of " + std::to_string(chunk));
      const auto got = all_logits(**m, isa, ref.tokens, chunk);
      ASSERT_EQ(got.size(), ref.tokens.size());
      for (const auto& [pos, want] : c->logits) {
        ASSERT_EQ(want.size(), got[static_cast<size_t>(pos)].size());
        const double err = rel_error(got[static_cast<size_t>(pos)], want);
        // f16 KV on both sides, f32 weights, sums in another order: measured 1.8e-5 to 8e-4
        // of the largest logit on the AVX2 host; a missing feature moves them by 6e-3 (Gemma
        // 2's attention soft cap, which few scores reach) to 0.9 (EachFeatureIsNeeded).
        EXPECT_LT(err, kTolerance) << "position " << pos;
        EXPECT_EQ(argmax(got[static_cast<size_t>(pos)]), argmax(want)) << "position " << pos;
      }
      if (isa == kernels::Isa::kScalar && chunk == 16) {
        const auto from_file = all_logits(**file, isa, ref.tokens, chunk);
        EXPECT_EQ(from_file, got);  // the GGUF loads to the same model
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Synthetic, ArchReference,
                         ::testing::Values("qwen3-tiny", "phi3-tiny", "llama3-tiny",
                                           "qwen2-yarn-tiny", "gemma2-tiny", "gemma3-tiny"),
                         [](const auto& param_info) {
                           std::string s = param_info.param;
                           for (char& ch : s)
                             if (ch == '-') ch = '_';
                           return s;
                         });

// Each feature matters: turning it off moves the logits past twice the tolerance above.
TEST(ArchReference, EachFeatureIsNeeded) {
  const RefData ref = read_ref();
  auto error_of = [&](const std::string& shape, const std::function<void(LlamaConfig&)>& edit) {
    LoadOptions opts;
    opts.n_ctx = 128;
    auto m = LlamaModel::load("synthetic:" + shape + ":f32", opts);
    EXPECT_TRUE(m.ok());
    edit(const_cast<LlamaConfig&>((*m)->config()));
    const auto got = all_logits(**m, kernels::Isa::kScalar, ref.tokens, 80);
    double worst = 0.0;
    for (const RefCase& c : ref.cases)
      if (c.shape == shape)
        for (const auto& [pos, want] : c.logits)
          worst = std::max(worst, rel_error(got[static_cast<size_t>(pos)], want));
    return worst;
  };
  EXPECT_GT(error_of("phi3-tiny", [](LlamaConfig& c) { c.sliding_window = 0; }), 2 * kTolerance);
  EXPECT_GT(error_of("llama3-tiny", [](LlamaConfig& c) { c.rope.freq_factors.clear(); }), 2 * kTolerance);
  EXPECT_GT(error_of("qwen2-yarn-tiny", [](LlamaConfig& c) { c.rope.ext_factor = 0.0f; }), 2 * kTolerance);
  EXPECT_GT(error_of("gemma2-tiny", [](LlamaConfig& c) { c.attn_softcap = 0.0f; }), 2 * kTolerance);
  EXPECT_GT(error_of("gemma2-tiny", [](LlamaConfig& c) { c.final_softcap = 0.0f; }), 2 * kTolerance);
  EXPECT_GT(error_of("gemma2-tiny", [](LlamaConfig& c) { c.swa_pattern = 0; }), 2 * kTolerance);
  EXPECT_GT(error_of("gemma3-tiny", [](LlamaConfig& c) { c.rope_swa.reset(); }), 2 * kTolerance);
  EXPECT_GT(error_of("gemma3-tiny", [](LlamaConfig& c) { c.embed_scale = 0.0f; }), 2 * kTolerance);
}

}  // namespace
}  // namespace sarathi::model
