// The engine end to end on real forward passes: neither the scheduling policy nor prefix
// caching ever changes results (greedy and seeded sampling, every policy, chunk size, token
// budget and KV size, with and without preemption and the prefix cache), nor do micro-batches
// in flight (pipeline parallelism, through a fake pipelined executor), and requests stop,
// stream and abort as promised.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>
#include <set>

#include "engine/model_executor.h"
#include "model/llama.h"
#include "tests/test_util.h"

namespace sarathi::engine {
namespace {

struct Workload {
  std::vector<std::vector<int32_t>> prompts;
  std::vector<RequestParams> params;
};

// Random prompts; with `shared`, most start with one of two common prefixes (one block and a
// half, three blocks and a bit of 16-token blocks) and a few repeat an earlier prompt exactly,
// so prefix caching has whole blocks to share.
Workload make_workload(int n, int32_t n_vocab, uint32_t seed, bool sampled, bool shared = false) {
  std::mt19937 rng(seed);
  auto token = [&] { return 3 + static_cast<int32_t>(rng() % static_cast<uint32_t>(n_vocab - 3)); };
  std::vector<int32_t> prefixes[2] = {std::vector<int32_t>(24), std::vector<int32_t>(53)};
  for (auto& pre : prefixes)
    for (auto& t : pre) t = token();
  Workload w;
  for (int i = 0; i < n; ++i) {
    std::vector<int32_t> p(5 + rng() % 70);
    for (auto& t : p) t = token();
    if (shared && i >= 3 && rng() % 4 == 0) {
      p = w.prompts[rng() % w.prompts.size()];
    } else if (shared && rng() % 4 != 0) {
      const auto& pre = prefixes[rng() % 2];
      p.insert(p.begin(), pre.begin(), pre.end());
    }
    w.prompts.push_back(p);
    RequestParams rp;
    rp.max_tokens = 4 + static_cast<int32_t>(rng() % 24);
    rp.ignore_eos = true;
    rp.detokenize = false;
    if (sampled) {
      rp.sampling.temperature = 0.9f;
      rp.sampling.top_k = 50;
      rp.sampling.seed = 1000 + static_cast<uint64_t>(i);
    }
    w.params.push_back(rp);
  }
  return w;
}

// A pipelined executor without a pipeline: each submitted step runs at once on a real
// ModelExecutor (so the KV is written in submission order, as every stage of a pipeline does)
// and its logits are handed out by collect() in submission order, up to `depth` steps later.
class FakePipeline final : public Executor {
 public:
  FakePipeline(Executor& inner, int32_t depth) : inner_(inner), depth_(depth) {}
  int32_t n_vocab() const override { return inner_.n_vocab(); }
  core::Result<std::span<const float>> run(std::span<const ExecSeq> batch) override {
    EXPECT_TRUE(pending_.empty()) << "run() with steps in flight";
    return inner_.run(batch);
  }
  int32_t max_in_flight() const override { return depth_; }
  core::Status submit(std::span<const ExecSeq> batch) override {
    EXPECT_LT(static_cast<int32_t>(pending_.size()), depth_) << "more steps than stages";
    auto logits = inner_.run(batch);
    if (!logits.ok()) return logits.error();
    pending_.emplace_back(logits->begin(), logits->end());
    max_seen_ = std::max(max_seen_, static_cast<int32_t>(pending_.size()));
    return core::ok_status();
  }
  core::Result<StepOutput> collect() override {
    if (pending_.empty())
      return core::make_error(core::ErrorCode::kInternal, "collect() with nothing in flight");
    current_ = std::move(pending_.front());
    pending_.pop_front();
    times_.assign(static_cast<size_t>(depth_), StageTime{.compute_s = 1e-3});
    return StepOutput{current_, times_};
  }
  int32_t max_seen() const { return max_seen_; }

 private:
  Executor& inner_;
  int32_t depth_;
  std::deque<std::vector<float>> pending_;
  std::vector<float> current_;
  std::vector<StageTime> times_;
  int32_t max_seen_ = 0;
};

struct RunResult {
  std::map<RequestId, std::vector<int32_t>> outputs;
  int64_t preemptions = 0;
  int64_t prefix_hits = 0;  // prompt tokens found in the prefix cache
};

// Runs the whole workload (all requests at once) to completion under one configuration.
// depth > 1: through a FakePipeline of that many stages.
RunResult run(const model::LlamaModel& m, const Workload& w, sched::SchedulerConfig cfg,
              core::DType kv_dtype = core::DType::kF16, int32_t depth = 1) {
  cfg.max_model_len = 256;
  auto exec = ModelExecutor::create(
      m, {.num_blocks = cfg.num_kv_blocks, .block_size = cfg.block_size, .dtype = kv_dtype}, 2);
  EXPECT_TRUE(exec.ok());
  FakePipeline pipeline(**exec, depth);
  Executor& executor = depth > 1 ? static_cast<Executor&>(pipeline) : **exec;
  EngineOptions eo{.sched = cfg, .keep_finished = true};
  if (cfg.tbt_slo_s != 0) {  // SLO-driven chunking, calibrated on this executor
    auto cal = calibrate_slo(executor, eo.sched, cfg.tbt_slo_s);
    EXPECT_TRUE(cal.ok());
    eo.cost_fitter = cal->fitter;
  }
  auto eng = Engine::create(executor, &m.tokenizer(), eo);
  EXPECT_TRUE(eng.ok()) << eng.error().message;
  for (size_t i = 0; i < w.prompts.size(); ++i) {
    RequestParams p = w.params[i];
    // Priority scheduling reorders admission (and preemption) but never the tokens.
    if (cfg.scheduling_policy == sched::SchedulingPolicy::kPriority)
      p.priority = static_cast<int32_t>((i * 7) % 5) - 2;
    auto id = (*eng)->add_request(w.prompts[i], p, nullptr);
    EXPECT_TRUE(id.ok()) << id.error().message;
  }
  for (int guard = 0; (*eng)->has_work() && guard < 100000; ++guard) {
    auto st = (*eng)->step();
    EXPECT_TRUE(st.ok());
  }
  RunResult r;
  for (const RequestRecord& rec : (*eng)->finished()) r.outputs[rec.id] = rec.output;
  r.preemptions = (*eng)->scheduler().num_preemptions();
  r.prefix_hits = (*eng)->scheduler().prefix_cache_hits();
  EXPECT_EQ((*eng)->scheduler().kv().num_used(), 0);
  EXPECT_EQ((*eng)->num_in_flight(), 0);
  (*eng)->scheduler().check_invariants();
  if (depth > 1 && cfg.policy == "static") {
    // Static batching admits no new batch while members of the last one are in flight.
    EXPECT_EQ(pipeline.max_seen(), 1);
  } else if (depth > 1 && cfg.policy == "orca") {
    // Whole prompts within max_num_seqs: at least two micro-batches overlap.
    EXPECT_GE(pipeline.max_seen(), 2) << "no micro-batches overlapped";
  } else if (depth > 1 && cfg.tbt_slo_s < 0) {
    // The strict SLO is 5x a decode step measured now: on a loaded host a slow probe makes the
    // budget large enough for one micro-batch to take every admissible prompt (all arrive at
    // once), and the decodes of those requests then travel together, so filling is timing-bound.
    EXPECT_GE(pipeline.max_seen(), 1);
  } else if (depth > 1) {
    EXPECT_EQ(pipeline.max_seen(), depth) << "the pipeline never filled";
  }
  return r;
}

// The first configuration (static batching, no prefix cache) is the reference; every other
// runs with prefix caching, except a few that check the cache off under other policies too.
std::vector<sched::SchedulerConfig> configs() {
  std::vector<sched::SchedulerConfig> out;
  auto add = [&](std::string policy, int32_t blocks, auto&& tweak) {
    sched::SchedulerConfig c;
    c.policy = std::move(policy);
    c.num_kv_blocks = blocks;
    c.max_num_seqs = 8;
    c.enable_prefix_caching = !out.empty();
    c.prefix_cache_salt = 17;
    tweak(c);
    out.push_back(c);
  };
  for (int32_t blocks : {512, 24}) {  // 24 blocks of 16: forces recompute preemption (and
                                      // evictions from the prefix cache)
    add("static", blocks, [](auto&) {});
    add("vllm", blocks, [](auto& c) {
      c.max_num_batched_tokens = 256;
      c.enable_prefix_caching = false;
    });
    add("sarathi-serve", blocks, [](auto& c) {
      c.max_num_batched_tokens = 32;
      c.enable_prefix_caching = false;
    });
    add("orca", blocks, [](auto& c) { c.max_num_batched_tokens = 256; });
    add("vllm", blocks, [](auto& c) { c.max_num_batched_tokens = 256; });
    add("sarathi", blocks, [](auto& c) { c.chunk_size = 16; });
    add("sarathi", blocks, [](auto& c) { c.chunk_size = 64; c.tile_size = 8; });
    add("sarathi-serve", blocks, [](auto& c) { c.max_num_batched_tokens = 32; });
    add("sarathi-serve", blocks, [](auto& c) { c.max_num_batched_tokens = 128; });
    // SLO-driven chunking: the strict SLO and one so tight that only the minimum chunk of 5
    // fits; sarathi's chunk from the strict SLO.
    add("sarathi-serve", blocks, [](auto& c) { c.tbt_slo_s = -1; });
    add("sarathi-serve", blocks, [](auto& c) { c.tbt_slo_s = 1e-6; c.min_chunk = 5; });
    add("sarathi", blocks, [](auto& c) { c.tbt_slo_s = -1; });
    add("sarathi-serve", blocks, [](auto& c) {
      c.max_num_batched_tokens = 64;
      c.scheduling_policy = sched::SchedulingPolicy::kPriority;
      c.priority_aging_steps = 4;
    });
    add("vllm", blocks, [](auto& c) {
      c.max_num_batched_tokens = 256;
      c.scheduling_policy = sched::SchedulingPolicy::kPriority;
    });
  }
  return out;
}

class PolicyInvariance : public ::testing::TestWithParam<std::string> {};

TEST_P(PolicyInvariance, SameTokensUnderEveryPolicy) {
  std::string spec = GetParam();
  if (spec.rfind("synthetic:", 0) != 0) {
    auto p = testing::shared_model(spec);
    if (!p) GTEST_SKIP() << "shared test data not found: set SARATHI_TEST_DATA";
    spec = *p;
  }
  auto m = model::LlamaModel::load(spec, {.n_ctx = 256});
  ASSERT_TRUE(m.ok()) << m.error().message;
  for (bool sampled : {false, true}) {
    const Workload w = make_workload(12, (*m)->config().n_vocab, 5, sampled, /*shared=*/true);
    RunResult ref;
    int64_t preemptions = 0;
    int64_t hits = 0;
    for (const auto& cfg : configs()) {
      SCOPED_TRACE(cfg.policy + " blocks=" + std::to_string(cfg.num_kv_blocks) + " chunk=" +
                   std::to_string(cfg.chunk_size) + " tau=" +
                   std::to_string(cfg.max_num_batched_tokens) + " slo=" +
                   std::to_string(cfg.tbt_slo_s) + (sampled ? " sampled" : " greedy") +
                   (cfg.enable_prefix_caching ? " prefix-caching" : "") +
                   (cfg.scheduling_policy == sched::SchedulingPolicy::kPriority ? " priority"
                                                                                 : ""));
      RunResult r = run(**m, w, cfg);
      ASSERT_EQ(r.outputs.size(), w.prompts.size());
      preemptions += r.preemptions;
      if (!cfg.enable_prefix_caching) {
        EXPECT_EQ(r.prefix_hits, 0);
      }
      hits += r.prefix_hits;
      if (ref.outputs.empty()) {
        ref = r;
        for (size_t i = 0; i < w.prompts.size(); ++i)
          EXPECT_EQ(ref.outputs[static_cast<RequestId>(i + 1)].size(),
                    static_cast<size_t>(w.params[i].max_tokens));
        continue;
      }
      EXPECT_EQ(r.outputs, ref.outputs);
    }
    EXPECT_GT(preemptions, 0) << "the small KV pools should have forced preemptions";
    EXPECT_GT(hits, 0) << "the shared prefixes should have hit the prefix cache";
  }
}

// The same with an 8-bit (q8_0) KV cache: the cache is approximate, but every path reads it the
// same way, so the policy (and the prefix cache) still never changes the tokens.
TEST(PolicyInvarianceQ8Kv, SameTokensUnderEveryPolicy) {
  auto m = model::LlamaModel::load("synthetic:tiny:q8_0", {.n_ctx = 256});
  ASSERT_TRUE(m.ok()) << m.error().message;
  const Workload w = make_workload(12, (*m)->config().n_vocab, 7, /*sampled=*/true,
                                   /*shared=*/true);
  std::vector<sched::SchedulerConfig> all = configs(), some;
  for (size_t i = 0; i < all.size(); ++i)
    if (all[i].tbt_slo_s == 0 && (i == 0 || i % 3 == 1)) some.push_back(all[i]);
  ASSERT_GE(some.size(), 4u);
  RunResult ref;
  for (const auto& cfg : some) {
    SCOPED_TRACE(cfg.policy + " blocks=" + std::to_string(cfg.num_kv_blocks));
    RunResult r = run(**m, w, cfg, core::DType::kQ8_0);
    ASSERT_EQ(r.outputs.size(), w.prompts.size());
    if (ref.outputs.empty()) {
      ref = r;
      continue;
    }
    EXPECT_EQ(r.outputs, ref.outputs);
  }
}

// Micro-batches in flight (pipeline parallelism, 2 and 3 stages) change no token either: each
// is planned from the sequences not in flight, for every policy, with preemption, the prefix
// cache, priorities and SLO-driven chunking.
TEST(PipelinedInvariance, SameTokensWithMicroBatchesInFlight) {
  auto m = model::LlamaModel::load("synthetic:tiny:q8_0", {.n_ctx = 256});
  ASSERT_TRUE(m.ok()) << m.error().message;
  for (bool sampled : {false, true}) {
    const Workload w = make_workload(12, (*m)->config().n_vocab, 9, sampled, /*shared=*/true);
    const std::vector<sched::SchedulerConfig> all = configs();
    const RunResult ref = run(**m, w, all[0]);
    ASSERT_EQ(ref.outputs.size(), w.prompts.size());
    int64_t preemptions = 0;
    for (size_t i = 0; i < all.size(); ++i) {
      const sched::SchedulerConfig& cfg = all[i];
      const int32_t depth = 2 + static_cast<int32_t>(i % 2);
      SCOPED_TRACE(cfg.policy + " blocks=" + std::to_string(cfg.num_kv_blocks) + " depth=" +
                   std::to_string(depth) + " config #" + std::to_string(i) +
                   (sampled ? " sampled" : " greedy"));
      RunResult r = run(**m, w, cfg, core::DType::kF16, depth);
      EXPECT_EQ(r.outputs, ref.outputs);
      preemptions += r.preemptions;
    }
    EXPECT_GT(preemptions, 0) << "the small KV pools should have forced preemptions";
  }
}

// Aborting requests whose micro-batch is in flight: the other requests' tokens do not change,
// and every block comes back.
TEST(PipelinedInvariance, AbortWhileInFlight) {
  auto m = model::LlamaModel::load("synthetic:tiny:f16", {.n_ctx = 256});
  ASSERT_TRUE(m.ok()) << m.error().message;
  const Workload w = make_workload(10, (*m)->config().n_vocab, 4, /*sampled=*/true);
  sched::SchedulerConfig cfg;
  cfg.policy = "sarathi-serve";
  cfg.max_num_batched_tokens = 32;
  cfg.num_kv_blocks = 64;
  cfg.max_num_seqs = 6;
  cfg.max_model_len = 256;
  const RunResult ref = run(**m, w, cfg);
  auto exec = ModelExecutor::create(**m, {.num_blocks = 64, .block_size = 16}, 2);
  ASSERT_TRUE(exec.ok());
  FakePipeline pipeline(**exec, 3);
  auto eng = Engine::create(pipeline, &(*m)->tokenizer(), {.sched = cfg, .keep_finished = true});
  ASSERT_TRUE(eng.ok());
  std::vector<RequestId> ids;
  for (size_t i = 0; i < w.prompts.size(); ++i)
    ids.push_back(*(*eng)->add_request(w.prompts[i], w.params[i], nullptr));
  std::set<RequestId> aborted;
  for (int step = 0; (*eng)->has_work() && step < 10000; ++step) {
    ASSERT_TRUE((*eng)->step().ok());
    if (step == 3 || step == 7 || step == 11) {
      // The newest running request that is in a micro-batch in flight.
      for (auto it = (*eng)->scheduler().running().rbegin();
           it != (*eng)->scheduler().running().rend(); ++it) {
        if (!(*it)->in_flight) continue;
        const RequestId id = (*it)->id;  // abort() frees the sequence's state
        EXPECT_TRUE((*eng)->abort(id));
        aborted.insert(id);
        break;
      }
    }
  }
  EXPECT_EQ(aborted.size(), 3u);
  EXPECT_EQ((*eng)->scheduler().kv().num_used(), 0);
  EXPECT_EQ((*eng)->num_in_flight(), 0);
  for (const RequestRecord& rec : (*eng)->finished()) {
    if (aborted.count(rec.id)) {
      EXPECT_EQ(rec.finish, FinishReason::kAbort);
      continue;
    }
    EXPECT_EQ(rec.output, ref.outputs.at(rec.id)) << "request " << rec.id;
  }
  EXPECT_EQ((*eng)->finished().size(), w.prompts.size());
}

INSTANTIATE_TEST_SUITE_P(Models, PolicyInvariance,
                         ::testing::Values("synthetic:tiny:q8_0", "stories260K.gguf",
                                           "llama-2-tiny-random.gguf"),
                         [](const auto& param_info) {
                           std::string s = param_info.param;
                           for (char& ch : s)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

class EngineBehaviour : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = model::LlamaModel::load("synthetic:tiny:f16", {.n_ctx = 128});
    ASSERT_TRUE(m.ok());
    model_ = std::move(*m);
    auto e = ModelExecutor::create(*model_, {.num_blocks = 64, .block_size = 16}, 2);
    ASSERT_TRUE(e.ok());
    exec_ = std::move(*e);
    sched::SchedulerConfig cfg;
    cfg.num_kv_blocks = 64;
    cfg.max_model_len = 128;
    auto eng = Engine::create(*exec_, &model_->tokenizer(), {.sched = cfg, .keep_finished = true});
    ASSERT_TRUE(eng.ok());
    engine_ = std::move(*eng);
  }
  void drain() {
    for (int i = 0; engine_->has_work() && i < 10000; ++i) ASSERT_TRUE(engine_->step().ok());
  }
  std::vector<int32_t> encode(const std::string& s) {
    return model_->tokenizer().encode(s, true, false);
  }
  std::unique_ptr<model::LlamaModel> model_;
  std::unique_ptr<ModelExecutor> exec_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineBehaviour, StreamsEveryTokenThenFinishesWithLength) {
  std::vector<TokenEvent> events;
  RequestParams p;
  p.max_tokens = 7;
  p.ignore_eos = true;
  ASSERT_TRUE(engine_->add_request(encode("hello"), p, [&](const TokenEvent& e) { events.push_back(e); }).ok());
  drain();
  ASSERT_EQ(events.size(), 7u);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(events[static_cast<size_t>(i)].index, i);
  EXPECT_EQ(events.back().finish, FinishReason::kLength);
  const RequestRecord& rec = engine_->finished().at(0);
  EXPECT_EQ(rec.output.size(), 7u);
  EXPECT_LE(rec.times.arrival, rec.times.first_scheduled);
  EXPECT_LE(rec.times.first_scheduled, rec.times.first_token);
  EXPECT_LE(rec.times.first_token, rec.times.finish);
  EXPECT_EQ(engine_->scheduler().kv().num_used(), 0);
}

TEST_F(EngineBehaviour, StopTokenAndStopStringEndGeneration) {
  // Find what greedy generation produces, then stop on its third token / its text.
  RequestParams p;
  p.max_tokens = 12;
  p.ignore_eos = true;
  std::string text;
  ASSERT_TRUE(engine_->add_request(encode("abc"), p, [&](const TokenEvent& e) { text += e.text; }).ok());
  drain();
  const std::vector<int32_t> out = engine_->finished().back().output;
  ASSERT_EQ(out.size(), 12u);

  RequestParams stop_tok = p;
  stop_tok.stop_token_ids = {out[2]};
  FinishReason reason = FinishReason::kNone;
  ASSERT_TRUE(engine_->add_request(encode("abc"), stop_tok, [&](const TokenEvent& e) { reason = e.finish; }).ok());
  drain();
  EXPECT_EQ(reason, FinishReason::kStop);
  const size_t first = static_cast<size_t>(std::find(out.begin(), out.end(), out[2]) - out.begin());
  EXPECT_EQ(engine_->finished().back().output.size(), first + 1);

  if (text.size() >= 4) {
    RequestParams stop_str = p;
    stop_str.stop = {text.substr(2, 2)};
    std::string got;
    std::string why;
    ASSERT_TRUE(engine_->add_request(encode("abc"), stop_str, [&](const TokenEvent& e) {
                  got += e.text;
                  if (e.finish != FinishReason::kNone) why = e.stop_reason;
                }).ok());
    drain();
    EXPECT_EQ(got, text.substr(0, text.find(text.substr(2, 2))));
    EXPECT_EQ(why, text.substr(2, 2));
  }
}

TEST_F(EngineBehaviour, AbortFreesBlocksAndRejectsBadRequests) {
  RequestParams p;
  p.max_tokens = 50;
  p.ignore_eos = true;
  FinishReason reason = FinishReason::kNone;
  auto id = engine_->add_request(encode("a longer prompt to hold some blocks"), p,
                                 [&](const TokenEvent& e) { reason = e.finish; });
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(engine_->step().ok());
  EXPECT_GT(engine_->scheduler().kv().num_used(), 0);
  EXPECT_TRUE(engine_->abort(*id));
  EXPECT_EQ(reason, FinishReason::kAbort);
  EXPECT_EQ(engine_->scheduler().kv().num_used(), 0);
  EXPECT_FALSE(engine_->abort(*id));
  EXPECT_FALSE(engine_->has_work());

  EXPECT_FALSE(engine_->add_request({}, p, nullptr).ok());
  EXPECT_FALSE(engine_->add_request({1, 99999}, p, nullptr).ok());
  std::vector<int32_t> long_prompt(200, 5);
  auto r = engine_->add_request(long_prompt, p, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("maximum context length"), std::string::npos);
  RequestParams prio = p;
  prio.priority = 1;  // the engine schedules FCFS: a priority is an error, as in vLLM
  auto rp = engine_->add_request({1, 2, 3}, prio, nullptr);
  ASSERT_FALSE(rp.ok());
  EXPECT_NE(rp.error().message.find("--scheduling-policy priority"), std::string::npos);
  p.max_tokens = 0;  // 0: as many as the context allows
  auto ok = engine_->add_request({1, 2, 3}, p, nullptr);
  ASSERT_TRUE(ok.ok());
  drain();
  EXPECT_EQ(engine_->finished().back().output.size(), 125u);
}

TEST_F(EngineBehaviour, AbortFromCallbackIsDeferredSafely) {
  RequestParams p;
  p.max_tokens = 20;
  p.ignore_eos = true;
  RequestId a = 0;
  int events_a = 0;
  auto ra = engine_->add_request(encode("one"), p, [&](const TokenEvent&) {
    if (++events_a == 3) engine_->abort(a);
  });
  ASSERT_TRUE(ra.ok());
  a = *ra;
  ASSERT_TRUE(engine_->add_request(encode("two"), p, nullptr).ok());
  drain();
  EXPECT_EQ(events_a, 4);  // three tokens, then the abort event
  EXPECT_EQ(engine_->scheduler().kv().num_used(), 0);
}

}  // namespace
}  // namespace sarathi::engine
