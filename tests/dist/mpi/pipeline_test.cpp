// Pipeline parallelism over MPI, run under mpirun with N = 2 or 3 processes (tests/dist/mpi/
// mpirun.sh): rank 0 runs the tests and drives the pipeline, the other ranks serve their stages
// (dist::run_worker) until it is done. Checks that the tokens through N stages, with up to N
// micro-batches in flight, equal those of one process running the whole model, for every policy,
// greedy and seeded, with preemption and the prefix cache, on a synthetic model and the shared
// GGUF models; that every micro-batch reports every stage's times; and that stage errors (more
// stages than layers, a stage failing to start) are errors naming the stage, after which the
// pipeline still works.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <random>

#include "dist/mpi_world.h"
#include "dist/pipeline.h"
#include "engine/engine.h"
#include "engine/model_executor.h"
#include "model/llama.h"
#include "tests/test_util.h"

namespace sarathi::dist {
namespace {

Pipeline* g_pipeline = nullptr;

struct Workload {
  std::vector<std::vector<int32_t>> prompts;
  std::vector<engine::RequestParams> params;
};

// Random prompts, most starting with one of two shared prefixes (prefix caching has whole
// blocks to share), a few repeated exactly.
Workload make_workload(int n, int32_t n_vocab, uint32_t seed, bool sampled) {
  std::mt19937 rng(seed);
  auto token = [&] { return 3 + static_cast<int32_t>(rng() % static_cast<uint32_t>(n_vocab - 3)); };
  std::vector<int32_t> prefixes[2] = {std::vector<int32_t>(24), std::vector<int32_t>(40)};
  for (auto& pre : prefixes)
    for (auto& t : pre) t = token();
  Workload w;
  for (int i = 0; i < n; ++i) {
    std::vector<int32_t> p(5 + rng() % 60);
    for (auto& t : p) t = token();
    if (i >= 3 && rng() % 5 == 0) {
      p = w.prompts[rng() % w.prompts.size()];
    } else if (rng() % 3 != 0) {
      const auto& pre = prefixes[rng() % 2];
      p.insert(p.begin(), pre.begin(), pre.end());
    }
    w.prompts.push_back(p);
    engine::RequestParams rp;
    rp.max_tokens = 4 + static_cast<int32_t>(rng() % 20);
    rp.ignore_eos = true;
    rp.detokenize = false;
    if (sampled) {
      rp.sampling.temperature = 0.9f;
      rp.sampling.top_k = 40;
      rp.sampling.seed = 500 + static_cast<uint64_t>(i);
    }
    w.params.push_back(rp);
  }
  return w;
}

// Every policy; a roomy KV pool and one small enough to force recompute preemption.
std::vector<sched::SchedulerConfig> configs() {
  std::vector<sched::SchedulerConfig> out;
  auto add = [&](std::string policy, int32_t blocks, auto&& tweak) {
    sched::SchedulerConfig c;
    c.policy = std::move(policy);
    c.num_kv_blocks = blocks;
    c.max_num_seqs = 8;
    c.max_model_len = 256;
    c.enable_prefix_caching = true;
    c.prefix_cache_salt = 3;
    tweak(c);
    out.push_back(c);
  };
  for (int32_t blocks : {256, 24}) {
    add("static", blocks, [](auto&) {});
    add("orca", blocks, [](auto& c) { c.max_num_batched_tokens = 256; });
    add("vllm", blocks, [](auto& c) {
      c.max_num_batched_tokens = 256;
      c.enable_prefix_caching = false;
    });
    add("sarathi", blocks, [](auto& c) { c.chunk_size = 16; });
    add("sarathi-serve", blocks, [](auto& c) { c.max_num_batched_tokens = 32; });
  }
  return out;
}

struct RunResult {
  std::map<engine::RequestId, std::vector<int32_t>> outputs;
  int64_t preemptions = 0;
  int32_t max_in_flight_seen = 0;
};

RunResult run(engine::Executor& exec, const model::LlamaModel& m, const Workload& w,
              const sched::SchedulerConfig& cfg) {
  RunResult r;
  auto eng = engine::Engine::create(exec, &m.tokenizer(), {.sched = cfg, .keep_finished = true});
  EXPECT_TRUE(eng.ok()) << eng.error().message;
  if (!eng.ok()) return r;
  for (size_t i = 0; i < w.prompts.size(); ++i) {
    auto id = (*eng)->add_request(w.prompts[i], w.params[i], nullptr);
    EXPECT_TRUE(id.ok()) << id.error().message;
  }
  for (int guard = 0; (*eng)->has_work() && guard < 100000; ++guard) {
    auto st = (*eng)->step();
    EXPECT_TRUE(st.ok()) << st.error().message;
    if (!st.ok()) break;
    if (st->num_seqs > 0) {
      // Every stage reports its times for every micro-batch.
      EXPECT_EQ(static_cast<int32_t>(st->stages.size()), exec.max_in_flight());
    }
    r.max_in_flight_seen = std::max(r.max_in_flight_seen, (*eng)->num_in_flight() + 1);
  }
  for (const engine::RequestRecord& rec : (*eng)->finished()) r.outputs[rec.id] = rec.output;
  r.preemptions = (*eng)->scheduler().num_preemptions();
  EXPECT_EQ((*eng)->scheduler().kv().num_used(), 0);
  EXPECT_EQ((*eng)->num_in_flight(), 0);
  return r;
}

// The whole model in this process against the same model split over every rank.
void check_exact(const std::string& spec) {
  Pipeline& pipeline = *g_pipeline;
  auto whole = model::LlamaModel::load(spec, {.n_ctx = 256});
  ASSERT_TRUE(whole.ok()) << whole.error().message;
  auto stage0 = pipeline.load_model(spec, {.n_ctx = 256});
  ASSERT_TRUE(stage0.ok()) << stage0.error().message;
  EXPECT_EQ(pipeline.bounds().size(), static_cast<size_t>(pipeline.num_stages()) + 1);
  EXPECT_EQ(pipeline.bounds().back(), (*whole)->config().n_layer);
  int64_t preemptions = 0;
  for (bool sampled : {false, true}) {
    const Workload w = make_workload(12, (*whole)->config().n_vocab, 11, sampled);
    for (const sched::SchedulerConfig& cfg : configs()) {
      SCOPED_TRACE(spec + " " + cfg.policy + " blocks=" + std::to_string(cfg.num_kv_blocks) +
                   (sampled ? " sampled" : " greedy"));
      const model::KvCacheOptions kv{.num_blocks = cfg.num_kv_blocks, .block_size = 16};
      auto single = engine::ModelExecutor::create(**whole, kv, 1);
      ASSERT_TRUE(single.ok()) << single.error().message;
      const RunResult ref = run(**single, **whole, w, cfg);
      ASSERT_EQ(ref.outputs.size(), w.prompts.size());
      auto piped = pipeline.start(**stage0, kv, 1);
      ASSERT_TRUE(piped.ok()) << piped.error().message;
      EXPECT_EQ((*piped)->max_in_flight(), pipeline.num_stages());
      const RunResult got = run(**piped, **stage0, w, cfg);
      EXPECT_EQ(got.outputs, ref.outputs);
      if (cfg.policy == "static") {
        // Static batching admits no new batch while members of the last one are in flight.
        EXPECT_EQ(got.max_in_flight_seen, 1);
      } else if (cfg.policy == "orca") {
        // Whole prompts within max_num_seqs: at least two micro-batches overlap.
        EXPECT_GE(got.max_in_flight_seen, 2) << "no micro-batches overlapped";
      } else {
        EXPECT_EQ(got.max_in_flight_seen, pipeline.num_stages()) << "the pipeline never filled";
      }
      preemptions += got.preemptions;
    }
  }
  EXPECT_GT(preemptions, 0) << "the small KV pool should have forced preemptions";
}

TEST(Pipeline, SameTokensAsOneProcessSynthetic) {
  check_exact(g_pipeline->num_stages() > 2 ? "synthetic:tiny-4l:q8_0" : "synthetic:tiny:q8_0");
}

TEST(Pipeline, SameTokensAsOneProcessStories260K) {
  SARATHI_REQUIRE_SHARED(path, testing::shared_model("stories260K.gguf"));
  check_exact(path);
}

TEST(Pipeline, SameTokensAsOneProcessLlama2TinyRandom) {
  SARATHI_REQUIRE_SHARED(path, testing::shared_model("llama-2-tiny-random.gguf"));
  auto config = model::LlamaModel::read_config(path, {});
  ASSERT_TRUE(config.ok()) << config.error().message;
  if (config->n_layer < g_pipeline->num_stages()) {
    // Fewer layers than stages: refused before anything loads.
    auto m = g_pipeline->load_model(path, {.n_ctx = 256});
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.error().message.find("stage"), std::string::npos) << m.error().message;
    GTEST_SKIP() << path << " has " << config->n_layer << " layers, fewer than "
                 << g_pipeline->num_stages() << " stages (the refusal was checked)";
  }
  check_exact(path);
}

TEST(Pipeline, MoreStagesThanLayersIsAnErrorBeforeLoading) {
  // synthetic:tiny has 2 layers: too few for 3 stages or more.
  if (g_pipeline->num_stages() < 3) GTEST_SKIP() << "needs 3 or more stages";
  auto m = g_pipeline->load_model("synthetic:tiny:f16", {.n_ctx = 64});
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("2 layers"), std::string::npos) << m.error().message;
}

TEST(Pipeline, StageFailingToStartIsAnErrorNamingIt) {
  auto m = g_pipeline->load_model("synthetic:tiny-4l:f16", {.n_ctx = 64});
  ASSERT_TRUE(m.ok()) << m.error().message;
  // A KV pool no rank can allocate: every stage fails, and the error names the other ranks.
  auto bad = g_pipeline->start(**m, {.num_blocks = 1 << 30, .block_size = 1 << 20}, 1);
  ASSERT_FALSE(bad.ok());
  for (int32_t r = 1; r < g_pipeline->num_stages(); ++r) {
    EXPECT_NE(bad.error().message.find("pipeline stage " + std::to_string(r) + " (rank " +
                                       std::to_string(r)),
              std::string::npos)
        << bad.error().message;
  }
  // The pipeline still works afterwards.
  auto good = g_pipeline->start(**m, {.num_blocks = 32, .block_size = 16}, 1);
  ASSERT_TRUE(good.ok()) << good.error().message;
  std::vector<int32_t> tokens = {5, 6, 7, 8};
  std::vector<int32_t> blocks = {0};
  engine::ExecSeq seq{.tokens = tokens, .first_pos = 0, .block_table = blocks, .want_logits = true};
  auto logits = (*good)->run(std::span<const engine::ExecSeq>(&seq, 1));
  ASSERT_TRUE(logits.ok()) << logits.error().message;
  EXPECT_EQ(static_cast<int32_t>(logits->size()), (*m)->config().n_vocab);
}

TEST(Pipeline, InvalidBatchIsAnErrorBeforeAnythingIsSent) {
  auto m = g_pipeline->load_model("synthetic:tiny-4l:f16", {.n_ctx = 64});
  ASSERT_TRUE(m.ok()) << m.error().message;
  auto exec = g_pipeline->start(**m, {.num_blocks = 8, .block_size = 16}, 1);
  ASSERT_TRUE(exec.ok()) << exec.error().message;
  std::vector<int32_t> tokens = {5, 6, 7};
  std::vector<int32_t> blocks = {99};  // no such block
  engine::ExecSeq seq{.tokens = tokens, .first_pos = 0, .block_table = blocks, .want_logits = true};
  EXPECT_FALSE((*exec)->run(std::span<const engine::ExecSeq>(&seq, 1)).ok());
  blocks = {1};
  auto ok = (*exec)->run(std::span<const engine::ExecSeq>(&seq, 1));
  EXPECT_TRUE(ok.ok()) << ok.error().message;
}

}  // namespace
}  // namespace sarathi::dist

int main(int argc, char** argv) {
  using namespace sarathi::dist;
  auto world = MpiWorld::init();
  if (!world.ok()) {
    std::fprintf(stderr, "error: %s\n", world.error().message.c_str());
    return 2;
  }
  MpiWorld& w = **world;
  if (w.rank() != 0) return run_worker(w);
  ::testing::InitGoogleTest(&argc, argv);
  std::printf("pipeline_test: %d stages (MPI ranks)\n", w.size());
  Pipeline pipeline(w);
  g_pipeline = &pipeline;
  const int code = RUN_ALL_TESTS();
  g_pipeline = nullptr;
  pipeline.finish(code);
  return code;
}
