// The GPU step-time model on Vidur's profiles (../shared/profiles/vidur; skipped without it):
// the profiled operators at and between profiled token counts, the attention roofline, tensor
// parallel all-reduces, pipeline stages and hand-offs, KV capacity from memory minus weights.
#include "sim/gpu_model.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"
#include "workload/csv_table.h"

namespace sarathi::sim {
namespace {

// Per layer, from mlp.csv directly: the operators' medians at `tokens`, TP 1 (seconds).
double csv_layer_s(const std::string& file, int tokens) {
  auto t = workload::CsvTable::read(file);
  EXPECT_TRUE(t.ok());
  const auto n = *t->numbers("num_tokens");
  const auto tp = *t->numbers("num_tensor_parallel_workers");
  double sum = 0;
  for (const char* op :
       {"input_layernorm", "attn_pre_proj", "attn_rope", "attn_post_proj",
        "post_attention_layernorm", "mlp_up_proj", "mlp_act", "mlp_down_proj", "add", "add"}) {
    const auto ms = *t->numbers(std::string("time_stats.") + op + ".median");
    for (size_t i = 0; i < n.size(); ++i)
      if (n[i] == tokens && tp[i] == 1) sum += ms[i] * 1e-3;
  }
  return sum;
}

GpuModelOptions options(const std::string& dir, const std::string& model) {
  GpuModelOptions o;
  o.profile_dir = dir + "/profiles/vidur";
  o.model = model;
  return o;
}

TEST(GpuModel, ProfiledOperatorsPlusAttentionRoofline) {
  SARATHI_REQUIRE_SHARED(dir, testing::shared_dir());
  auto m = GpuModel::load(options(dir, "llama-2-7b"));
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->shape().n_layer, 32);
  EXPECT_EQ((*m)->shape().n_embd, 4096);
  const std::string csv = dir +
                          "/profiles/vidur/profiling/compute/a100/meta-llama/"
                          "Llama-2-7b-hf/mlp.csv";
  // Two decode steps of 64 sequences that differ only in context: the difference is the KV
  // bytes read (K and V, 32 heads x 128, fp16, 32 layers) at 60% of 2039 GB/s.
  auto decodes = [](int n, int pos) {
    StepWork w;
    for (int i = 0; i < n; ++i) w.add(pos, 1, true, true);
    return w;
  };
  const double dt =
      (*m)->predict(decodes(64, 3000)).stage_s - (*m)->predict(decodes(64, 1000)).stage_s;
  EXPECT_NEAR(dt, 32 * (64.0 * 2000 * 2 * 2 * 32 * 128) / (2.039e12 * 0.6), 1e-12);
  // At a profiled token count the linear part is the profile's: 512 decodes minus the model's
  // attention, embedding and LM head, which are known in closed form here.
  const GpuSpec a100 = *gpu_spec("a100");
  StepWork w = decodes(512, 0);
  const double attn = 10e-6 + 512.0 * 2 * 2 * 32 * 128 / (a100.mem_bandwidth * 0.6) * 2;
  const double layer = csv_layer_s(csv, 512);
  ASSERT_GT(layer, 0);
  const double head = std::max(2.0 * 32000 * 4096 / (a100.mem_bandwidth * 0.6),
                               2.0 * 32000 * 4096 * 512 / (a100.peak_flops * 0.5));
  const double t = (*m)->predict(w).stage_s;
  EXPECT_GT(t, 32 * (layer + attn) + head);  // + the embedding
  EXPECT_LT(t, 32 * (layer + attn) + head + 1e-3);
  // Between profiled counts (512 and 520) the linear part interpolates.
  const double t516 = (*m)->predict(decodes(516, 0)).stage_s;
  EXPECT_GT(t516, t);
  EXPECT_LT(t516, (*m)->predict(decodes(520, 0)).stage_s);
  // Prefill attention: 4 * 32 * 128 FLOPs per pair at 50% of 312 TFLOP/s, per layer.
  StepWork p1, p2;
  p1.add(0, 1024, false, true);
  p2.add(1024, 1024, false, true);  // the same tokens, 1024 * 1024 more pairs, 1024 more read
  const double extra = (*m)->predict(p2).stage_s - (*m)->predict(p1).stage_s;
  auto attn_prefill = [](double pairs, double positions) {
    return std::max(4.0 * 32 * 128 * pairs / (312e12 * 0.5),
                    2.0 * 2 * 32 * 128 * positions / (2.039e12 * 0.6));
  };
  const double pairs0 = 1024.0 * 1025 / 2;
  EXPECT_NEAR(extra, 32 * (attn_prefill(1024.0 * 1024 + pairs0, 2048) - attn_prefill(pairs0, 1024)),
              1e-12);
}

TEST(GpuModel, TensorParallelShardsAndAllReduces) {
  SARATHI_REQUIRE_SHARED(dir, testing::shared_dir());
  GpuModelOptions o = options(dir, "codellama-34b");
  auto tp1 = GpuModel::load(o);
  o.tensor_parallel = 2;
  auto tp2 = GpuModel::load(o);
  ASSERT_TRUE(tp1.ok() && tp2.ok()) << (tp1.ok() ? tp2.error().message : tp1.error().message);
  StepWork w;
  w.add(0, 512, false, true);
  const double t1 = (*tp1)->predict(w).stage_s, t2 = (*tp2)->predict(w).stage_s;
  EXPECT_LT(t2, t1);        // each GPU does half the work...
  EXPECT_GT(t2, 0.5 * t1);  // ...plus two all-reduces per layer
  // 34B in fp16 (~68 GB) barely fits one 80 GB GPU; two hold far more KV.
  EXPECT_GT((*tp2)->kv_capacity_tokens(), 3 * (*tp1)->kv_capacity_tokens());
  EXPECT_NEAR((*tp2)->weight_bytes_per_gpu(), 0.5 * (*tp1)->weight_bytes_per_gpu(), 1.0);
  o.tensor_parallel = 3;
  EXPECT_FALSE(GpuModel::load(o).ok());  // not profiled (and 64 heads do not split 3 ways)
}

TEST(GpuModel, PipelineStagesSplitLayersAndHandOff) {
  SARATHI_REQUIRE_SHARED(dir, testing::shared_dir());
  GpuModelOptions o = options(dir, "llama-2-70b");
  o.tensor_parallel = 4;
  auto pp1 = GpuModel::load(o);
  o.pipeline_parallel = 2;
  auto pp2 = GpuModel::load(o);
  ASSERT_TRUE(pp1.ok() && pp2.ok()) << (pp1.ok() ? pp2.error().message : pp1.error().message);
  EXPECT_EQ((*pp2)->num_stages(), 2);
  StepWork w;
  w.add(0, 256, false, true);
  const StepTime s1 = (*pp1)->predict(w), s2 = (*pp2)->predict(w);
  EXPECT_NEAR(s2.stage_s, 0.5 * s1.stage_s, 1e-12);
  EXPECT_EQ(s1.handoff_s, 0.0);
  EXPECT_GT(s2.handoff_s, 0.0);
  EXPECT_LT(s2.handoff_s, 0.1 * s2.stage_s);
  EXPECT_GT((*pp2)->kv_capacity_tokens(), (*pp1)->kv_capacity_tokens());
}

TEST(GpuModel, ErrorsNameWhatIsMissing) {
  SARATHI_REQUIRE_SHARED(dir, testing::shared_dir());
  auto unknown = GpuModel::load(options(dir, "mistral-7b"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("Llama-2-7b-hf"), std::string::npos);  // lists them
  EXPECT_FALSE(GpuModel::load(options(dir, "llama-2")).ok());  // ambiguous: 7b and 70b
  GpuModelOptions h100 = options(dir, "Meta-Llama-3-8B");
  h100.device = "h100";
  EXPECT_FALSE(GpuModel::load(h100).ok());  // profiled on A100 only
  GpuModelOptions big = options(dir, "llama-2-70b");
  EXPECT_FALSE(GpuModel::load(big).ok());  // 140 GB of weights on one 80 GB GPU
  EXPECT_FALSE(gpu_spec("v100").ok());
}

}  // namespace
}  // namespace sarathi::sim
