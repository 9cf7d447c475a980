// Pipeline stages of a model: loading a layer range binds only that range's weights (plus the
// embedding on the first stage and the head on the last), and running the stages one after the
// other, each taking the previous stage's hidden states, gives bit-identical logits to the whole
// model, whatever the split and the thread count.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "model/export.h"
#include "model/forward.h"
#include "model/llama.h"
#include "tests/test_util.h"

namespace sarathi::model {
namespace {

std::optional<std::string> model_path(const std::string& spec) {
  if (spec.rfind("synthetic:", 0) == 0) return spec;
  return testing::shared_model(spec);
}

// One model split into stages, each with its own KV cache and pool, run in order.
class StagedModel {
 public:
  StagedModel(const std::string& path, const std::vector<int32_t>& bounds, int threads) {
    for (size_t i = 0; i + 1 < bounds.size(); ++i) {
      auto m = LlamaModel::load(
          path, {.n_ctx = 256, .first_layer = bounds[i], .end_layer = bounds[i + 1]});
      EXPECT_TRUE(m.ok()) << m.error().message;
      if (!m.ok()) return;
      Stage s;
      s.model = std::move(*m);
      s.pool = std::make_unique<core::ThreadPool>(threads);
      auto cache = PagedKvCache::create(s.model->config(), {.num_blocks = 64,
                                                            .block_size = 16,
                                                            .first_layer = s.model->first_layer(),
                                                            .end_layer = s.model->end_layer()});
      EXPECT_TRUE(cache.ok()) << cache.error().message;
      s.cache = std::move(*cache);
      s.forward = std::make_unique<Forward>(*s.model, *s.cache, *s.pool);
      stages_.push_back(std::move(s));
    }
  }

  // Runs the batch through every stage; returns the last stage's logits.
  std::vector<float> run(std::span<const SeqInput> batch) {
    std::vector<float> hidden;
    for (Stage& s : stages_) {
      auto out = s.forward->run(batch, hidden);
      EXPECT_TRUE(out.ok()) << out.error().message;
      if (!out.ok()) return {};
      hidden.assign(out->begin(), out->end());
    }
    return hidden;
  }

 private:
  struct Stage {
    std::unique_ptr<LlamaModel> model;
    std::unique_ptr<core::ThreadPool> pool;
    std::unique_ptr<PagedKvCache> cache;
    std::unique_ptr<Forward> forward;
  };
  std::vector<Stage> stages_;
};

// Two sequences: prefills in two chunks (the second mixed with the other's first chunk), then
// three steps of two decodes. Returns every logit row, in order.
std::vector<float> run_script(StagedModel& m, int32_t n_vocab) {
  std::mt19937 rng(3);
  std::vector<int32_t> a(37), b(21);
  for (auto& t : a) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(n_vocab));
  for (auto& t : b) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(n_vocab));
  const std::vector<int32_t> table_a = {0, 1, 2, 3}, table_b = {7, 5, 6};
  std::vector<float> all;
  auto append = [&](const std::vector<float>& v) { all.insert(all.end(), v.begin(), v.end()); };
  const SeqInput first[] = {{std::span(a).first(20), 0, table_a, 0}};
  append(m.run(first));
  const SeqInput second[] = {{std::span(a).subspan(20), 20, table_a, 1},
                             {std::span(b), 0, table_b, 2}};
  append(m.run(second));
  for (int32_t step = 0; step < 3; ++step) {
    const int32_t ta = 1 + step, tb = 2 + step;
    const SeqInput decodes[] = {{std::span(&ta, 1), 37 + step, table_a, 1},
                                {std::span(&tb, 1), 21 + step, table_b, 1}};
    append(m.run(decodes));
  }
  return all;
}

class Stages : public ::testing::TestWithParam<std::string> {};

TEST_P(Stages, SplitEqualsWhole) {
  const auto path = model_path(GetParam());
  if (!path) GTEST_SKIP() << "shared test data not found: set SARATHI_TEST_DATA";
  auto cfg = LlamaModel::read_config(*path);
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  const int32_t n = cfg->n_layer;
  ASSERT_GE(n, 2);
  StagedModel whole(*path, {0, n}, 2);
  const std::vector<float> ref = run_script(whole, cfg->n_vocab);
  ASSERT_EQ(ref.size(), static_cast<size_t>(cfg->n_vocab) * 9);
  std::vector<std::vector<int32_t>> splits = {{0, 1, n}, {0, n - 1, n}};
  std::vector<int32_t> every = {0};
  for (int32_t l = 1; l <= n; ++l) every.push_back(l);
  splits.push_back(every);
  for (const auto& bounds : splits) {
    for (int threads : {1, 2}) {
      SCOPED_TRACE(::testing::Message()
                   << bounds.size() - 1 << " stages, " << threads << " threads");
      StagedModel staged(*path, bounds, threads);
      EXPECT_EQ(run_script(staged, cfg->n_vocab), ref);  // bit-identical
    }
  }
}

TEST_P(Stages, LoadsOnlyItsOwnWeights) {
  const auto path = model_path(GetParam());
  if (!path) GTEST_SKIP() << "shared test data not found: set SARATHI_TEST_DATA";
  auto whole = LlamaModel::load(*path);
  ASSERT_TRUE(whole.ok()) << whole.error().message;
  const int32_t n = (*whole)->config().n_layer;
  const LlamaWeights& packed_whole = (*whole)->weights_for(kernels::cpu_ops());
  uint64_t sum = 0;
  for (int32_t first = 0; first < n; ++first) {
    auto m = LlamaModel::load(*path, {.first_layer = first, .end_layer = first + 1});
    ASSERT_TRUE(m.ok()) << m.error().message;
    const LlamaModel& s = **m;
    EXPECT_EQ(s.first_layer(), first);
    EXPECT_EQ(s.end_layer(), first + 1);
    EXPECT_EQ(s.has_embedding(), first == 0);
    EXPECT_EQ(s.has_head(), first + 1 == n);
    EXPECT_FALSE(s.is_whole() && n > 1);
    EXPECT_EQ(s.config().n_layer, n);
    EXPECT_EQ(s.config().n_vocab, (*whole)->config().n_vocab);
    // The fast kernels' view too: only this stage's matrices are repacked.
    for (const LlamaWeights* w : {&s.weights(), &s.weights_for(kernels::cpu_ops())}) {
      EXPECT_EQ(w->tok_embd.data != nullptr, first == 0);
      EXPECT_EQ(w->output.data != nullptr, first + 1 == n);
      EXPECT_EQ(w->output_norm != nullptr, first + 1 == n);
      for (int32_t l = 0; l < n; ++l) {
        const LayerWeights& L = w->layers[static_cast<size_t>(l)];
        for (const kernels::WeightView* v :
             {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down})
          EXPECT_EQ(v->data != nullptr, l == first) << "layer " << l;
        EXPECT_EQ(L.attn_norm != nullptr, l == first) << "layer " << l;
      }
    }
    const LayerWeights& mine = s.weights_for(kernels::cpu_ops()).layers[static_cast<size_t>(first)];
    const LayerWeights& ref = packed_whole.layers[static_cast<size_t>(first)];
    EXPECT_EQ(mine.w_down.packed, ref.w_down.packed);
    EXPECT_EQ(mine.w_down.dtype, ref.w_down.dtype);
    sum += s.weight_bytes();
    EXPECT_LT(s.weight_bytes(), (*whole)->weight_bytes());
  }
  // Every tensor is counted by exactly one stage, except a tied head (the embedding table is
  // both the first stage's embedding and the last stage's head).
  const bool tied = (*whole)->config().tied_output;
  const auto& e = (*whole)->weights().tok_embd;
  const uint64_t embd_bytes = static_cast<uint64_t>(e.rows) * e.row_bytes;
  EXPECT_EQ(sum, (*whole)->weight_bytes() + (tied && n > 1 ? embd_bytes : 0));
}

INSTANTIATE_TEST_SUITE_P(Models, Stages,
                         ::testing::Values("synthetic:tiny:q8_0", "synthetic:qwen2-tiny:f16",
                                           "synthetic:tiny-4l:q4_0", "stories260K.gguf"),
                         [](const auto& param_info) {
                           std::string s = param_info.param;
                           for (char& ch : s)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

TEST(Stages, BadRangesAreErrors) {
  for (auto [first, end] :
       {std::pair{-1, 1}, std::pair{1, 1}, std::pair{2, 1}, std::pair{0, 3}, std::pair{2, 0}}) {
    auto m = LlamaModel::load("synthetic:tiny:f16", {.first_layer = first, .end_layer = end});
    ASSERT_FALSE(m.ok()) << first << " " << end;
    EXPECT_NE(m.error().message.find("layers ["), std::string::npos) << m.error().message;
  }
  auto cfg = LlamaModel::read_config("synthetic:tiny:f16");
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->n_layer, 2);
  EXPECT_FALSE(LlamaModel::read_config("synthetic:nope").ok());
  EXPECT_FALSE(LlamaModel::read_config("/nonexistent.gguf").ok());
  // A stage can neither be exported nor run as a model of its own.
  auto stage = LlamaModel::load("synthetic:tiny:f16", {.end_layer = 1});
  ASSERT_TRUE(stage.ok());
  EXPECT_FALSE(export_gguf(**stage, ::testing::TempDir() + "/stage.gguf").ok());
  // The KV cache must hold the stage's layers.
  EXPECT_FALSE(
      PagedKvCache::create((*stage)->config(), {.num_blocks = 4, .first_layer = 1, .end_layer = 3})
          .ok());
  // A later stage needs hidden states of the right size.
  auto later = LlamaModel::load("synthetic:tiny:f16", {.first_layer = 1});
  ASSERT_TRUE(later.ok());
  auto cache =
      PagedKvCache::create((*later)->config(), {.num_blocks = 4, .first_layer = 1, .end_layer = 2});
  ASSERT_TRUE(cache.ok());
  core::ThreadPool pool(1);
  Forward f(**later, **cache, pool);
  const int32_t tok = 5;
  const std::vector<int32_t> table = {0};
  const SeqInput in[] = {{std::span(&tok, 1), 0, table, 1}};
  std::vector<float> hidden(255);
  auto r = f.run(in, hidden);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("hidden states"), std::string::npos) << r.error().message;
  hidden.resize(256);
  EXPECT_TRUE(f.run(in, hidden).ok());
}

}  // namespace
}  // namespace sarathi::model
