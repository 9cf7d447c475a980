// Hand-written scenarios with the exact plan expected at every step (TRT-LLM ExpectedState,
// vLLM scheduler tests), plus rejection, abort and registry behaviour.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "sched/registry.h"
#include "sched/scheduler.h"

namespace sarathi::sched {
namespace {

struct Chunk {
  SeqId seq;
  int32_t first_token;
  int32_t num_tokens;
  bool operator==(const Chunk&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Chunk& c) {
  return os << "{" << c.seq << ": " << c.first_token << "+" << c.num_tokens << "}";
}

using V = std::vector<Chunk>;

// Drives a Scheduler with a fake model that finishes a request after exactly max_output tokens.
class Harness {
 public:
  explicit Harness(const SchedulerConfig& config) : s_(make(config)) {}

  Scheduler& s() { return s_; }
  void add(SeqId id, int32_t prompt, int32_t max_out) {
    s_.add(id, prompt, max_out);
    max_out_[id] = max_out;
  }
  int32_t outputs(SeqId id) { return outputs_[id]; }

  // Runs one step and returns its plan.
  BatchPlan step() {
    BatchPlan plan = s_.schedule();
    std::vector<StepResult> results;
    for (const SeqChunk& c : plan.chunks) {
      const SeqState* st = s_.find(c.seq);
      const bool produced = c.first_token + c.num_tokens >= st->num_prefill_tokens;
      EXPECT_EQ(s_.produces_token(c), produced);
      if (produced) ++outputs_[c.seq];
      results.push_back({.seq = c.seq,
                         .produced_token = produced,
                         .finished = produced && outputs_[c.seq] == max_out_[c.seq]});
    }
    s_.on_step_done(plan, results);
    s_.check_invariants();
    return plan;
  }

  // Runs one step and returns its chunks without the reservation detail.
  V step_chunks() {
    V out;
    for (const SeqChunk& c : step().chunks) out.push_back({c.seq, c.first_token, c.num_tokens});
    return out;
  }

 private:
  static Scheduler make(const SchedulerConfig& config) {
    auto r = Scheduler::create(config);
    if (!r.ok()) {
      ADD_FAILURE() << r.error().to_string();
      std::abort();
    }
    return std::move(r).value();
  }

  Scheduler s_;
  std::map<SeqId, int32_t> max_out_;
  std::map<SeqId, int32_t> outputs_;
};

SchedulerConfig config(std::string policy) {
  SchedulerConfig c;
  c.policy = std::move(policy);
  c.max_num_seqs = 4;
  c.block_size = 16;
  c.num_kv_blocks = 64;
  c.watermark = 0.0;
  c.max_model_len = 256;
  return c;
}

TEST(Trajectory, SarathiServeFillsBudgetAroundDecodes) {
  SchedulerConfig c = config("sarathi-serve");
  c.max_num_batched_tokens = 8;
  Harness h(c);
  h.add(1, 3, 10);
  h.add(2, 3, 10);
  EXPECT_EQ(h.step_chunks(), (V{{1, 0, 3}, {2, 0, 3}}));  // both prompts share a step
  h.add(3, 10, 10);
  // τ=8, 2 running decodes, a 10-token prompt: 2 decodes + 6 prefill tokens (less than a
  // block of budget left, so the chunk is not block-aligned), then the last 4.
  const BatchPlan p = h.step();
  EXPECT_EQ(p.num_decode_tokens, 2);
  EXPECT_EQ(p.num_prefill_tokens, 6);
  EXPECT_EQ(p.chunks.back().seq, 3);
  EXPECT_EQ(h.step_chunks(), (V{{1, 4, 1}, {2, 4, 1}, {3, 6, 4}}));
  EXPECT_EQ(h.step_chunks(), (V{{1, 5, 1}, {2, 5, 1}, {3, 10, 1}}));
  EXPECT_EQ(h.outputs(3), 2);
}

TEST(Trajectory, SarathiServeChunksEndOnBlockBoundaries) {
  SchedulerConfig c = config("sarathi-serve");
  c.block_size = 4;
  c.max_num_batched_tokens = 10;
  Harness h(c);
  h.add(1, 2, 20);
  EXPECT_EQ(h.step_chunks(), (V{{1, 0, 2}}));
  h.add(2, 20, 5);
  h.add(3, 3, 5);
  // 9 tokens left after the decode: request 2 is cut at 8 (a block boundary); the last token
  // of budget admits request 3 with a 1-token chunk (less than a block left).
  EXPECT_EQ(h.step_chunks(), (V{{1, 2, 1}, {2, 0, 8}, {3, 0, 1}}));
  // 16 is the last boundary within 8 + 9 tokens.
  EXPECT_EQ(h.step_chunks(), (V{{1, 3, 1}, {2, 8, 8}, {3, 1, 1}}));
  EXPECT_EQ(h.step_chunks(), (V{{1, 4, 1}, {2, 16, 4}, {3, 2, 1}}));  // both last chunks
  EXPECT_EQ(h.step_chunks(), (V{{1, 5, 1}, {2, 20, 1}, {3, 3, 1}}));
}

TEST(Trajectory, SarathiOneChunkPerStepTileQuantized) {
  SchedulerConfig c = config("sarathi");
  c.chunk_size = 8;
  c.tile_size = 4;
  Harness h(c);
  h.add(1, 2, 20);
  h.add(2, 2, 20);
  EXPECT_EQ(h.step_chunks(), (V{{1, 0, 2}}));             // one prefill chunk per step
  EXPECT_EQ(h.step_chunks(), (V{{1, 2, 1}, {2, 0, 2}}));  // 1 decode + the next prompt
  h.add(3, 20, 5);
  h.add(4, 2, 5);
  // chunk 8 + 2 decodes = 10: shrink to 6 so that 6 + 2 = 8 is a multiple of the tile.
  EXPECT_EQ(h.step_chunks(), (V{{1, 3, 1}, {2, 2, 1}, {3, 0, 6}}));
  EXPECT_EQ(h.step_chunks(), (V{{1, 4, 1}, {2, 3, 1}, {3, 6, 6}}));
  // The last 8 tokens end the prompt: never shrunk. Request 4 waits for its turn.
  EXPECT_EQ(h.step_chunks(), (V{{1, 5, 1}, {2, 4, 1}, {3, 12, 8}}));
  EXPECT_EQ(h.step_chunks(), (V{{1, 6, 1}, {2, 5, 1}, {3, 20, 1}, {4, 0, 2}}));
}

TEST(Trajectory, SarathiDecodesAtMostMaxSeqsMinusOneBesideAChunk) {
  SchedulerConfig c = config("sarathi");
  c.max_num_seqs = 2;
  c.chunk_size = 4;
  Harness h(c);
  h.add(1, 1, 10);
  h.add(2, 6, 10);
  h.add(3, 1, 10);
  EXPECT_EQ(h.step_chunks(), (V{{1, 0, 1}}));
  EXPECT_EQ(h.step_chunks(), (V{{1, 1, 1}, {2, 0, 4}}));
  EXPECT_EQ(h.step_chunks(), (V{{1, 2, 1}, {2, 4, 2}}));
  EXPECT_EQ(h.step_chunks(), (V{{1, 3, 1}, {2, 6, 1}}));  // full: request 3 waits
  EXPECT_EQ(h.s().num_waiting(), 1);
}

TEST(Trajectory, VllmPrefillOnlyThenDecodeOnly) {
  Harness h(config("vllm"));
  h.add(1, 5, 3);
  h.add(2, 7, 3);
  EXPECT_EQ(h.step_chunks(), (V{{1, 0, 5}, {2, 0, 7}}));
  EXPECT_EQ(h.step_chunks(), (V{{1, 5, 1}, {2, 7, 1}}));
  h.add(3, 4, 3);
  EXPECT_EQ(h.step_chunks(), (V{{3, 0, 4}}));  // the decodes stall behind the prompt
  EXPECT_EQ(h.step_chunks(), (V{{1, 6, 1}, {2, 8, 1}, {3, 4, 1}}));
  EXPECT_EQ(h.step_chunks(), (V{{3, 5, 1}}));  // 1 and 2 finished with 3 tokens each
  EXPECT_TRUE(h.s().idle());
}

TEST(Trajectory, OrcaMixesWholePromptsWithDecodes) {
  Harness h(config("orca"));
  h.add(1, 5, 3);
  EXPECT_EQ(h.step_chunks(), (V{{1, 0, 5}}));
  h.add(2, 30, 2);
  h.add(3, 4, 2);
  EXPECT_EQ(h.step_chunks(), (V{{1, 5, 1}, {2, 0, 30}, {3, 0, 4}}));
  EXPECT_EQ(h.step_chunks(), (V{{1, 6, 1}, {2, 30, 1}, {3, 4, 1}}));
  EXPECT_TRUE(h.s().idle());
}

TEST(Trajectory, StaticRunsBatchToCompletion) {
  SchedulerConfig c = config("static");
  c.max_num_seqs = 2;
  Harness h(c);
  h.add(1, 4, 1);
  h.add(2, 3, 3);
  h.add(3, 2, 2);
  EXPECT_EQ(h.step_chunks(), (V{{1, 0, 4}, {2, 0, 3}}));
  // Request 1 finished at its prefill; its slot stays empty until the batch is done.
  EXPECT_EQ(h.step_chunks(), (V{{2, 3, 1}}));
  EXPECT_EQ(h.s().kv().num_used(), 1);  // prompt + max output, reserved up front
  EXPECT_EQ(h.step_chunks(), (V{{2, 4, 1}}));
  EXPECT_EQ(h.step_chunks(), (V{{3, 0, 2}}));
  EXPECT_EQ(h.step_chunks(), (V{{3, 2, 1}}));
  EXPECT_TRUE(h.s().idle());
}

TEST(Trajectory, RecomputePreemptionRestartsWithKeptOutputs) {
  SchedulerConfig c = config("sarathi-serve");
  c.block_size = 2;
  c.num_kv_blocks = 4;
  c.max_num_batched_tokens = 16;
  Harness h(c);
  h.add(1, 3, 4);
  h.add(2, 3, 4);
  EXPECT_EQ(h.step_chunks(), (V{{1, 0, 3}, {2, 0, 3}}));
  EXPECT_EQ(h.s().kv().num_free(), 0);
  EXPECT_EQ(h.step_chunks(), (V{{1, 3, 1}, {2, 3, 1}}));
  // 1 needs a third block: the newest running sequence (2) is preempted and freed.
  const BatchPlan p = h.step();
  EXPECT_EQ(p.preempted, std::vector<SeqId>{2});
  EXPECT_EQ(p.chunks.size(), 1u);
  ASSERT_NE(h.s().find(2), nullptr);
  EXPECT_EQ(h.s().find(2)->num_restarts, 1);
  EXPECT_EQ(h.s().find(2)->num_prefill_tokens, 5);  // prompt + its 2 outputs
  EXPECT_EQ(h.s().waiting().front()->id, 2);
  EXPECT_EQ(h.step_chunks(), (V{{1, 5, 1}}));  // 2 does not fit yet; 1 finishes
  EXPECT_EQ(h.step_chunks(), (V{{2, 0, 5}}));  // recompute prompt + kept outputs
  EXPECT_EQ(h.step_chunks(), (V{{2, 5, 1}}));
  EXPECT_EQ(h.outputs(1), 4);
  EXPECT_EQ(h.outputs(2), 4);
  EXPECT_EQ(h.s().num_preemptions(), 1);
  EXPECT_TRUE(h.s().idle());
  EXPECT_EQ(h.s().kv().num_used(), 0);
}

TEST(Trajectory, VllmDecodePreemptsItselfWhenNothingNewerIsLeft) {
  SchedulerConfig c = config("vllm");
  c.block_size = 2;
  c.num_kv_blocks = 5;
  Harness h(c);
  h.add(1, 2, 4);
  h.add(2, 2, 4);
  h.add(3, 2, 4);
  EXPECT_EQ(h.step_chunks(), (V{{1, 0, 2}, {2, 0, 2}, {3, 0, 2}}));
  const BatchPlan p = h.step();  // 1 and 2 take the last 2 blocks; 3 must go
  EXPECT_EQ(p.preempted, std::vector<SeqId>{3});
  EXPECT_EQ(p.num_decode_tokens, 2);
  // 3 (2 prompt + 1 kept output = 3 tokens, 2 blocks) does not fit the 1 free block.
  EXPECT_EQ(h.step_chunks(), (V{{1, 3, 1}, {2, 3, 1}}));
  for (int i = 0; i < 20 && !h.s().idle(); ++i) h.step();
  EXPECT_TRUE(h.s().idle());
  for (SeqId id : {1, 2, 3}) EXPECT_EQ(h.outputs(id), 4) << id;
  EXPECT_EQ(h.s().num_preemptions(), 2);
}

TEST(Trajectory, OverLongAndOverPoolRequestsAreRejected) {
  SchedulerConfig c = config("sarathi-serve");
  c.num_kv_blocks = 4;  // 64 tokens
  c.max_model_len = 100;
  Harness h(c);
  EXPECT_FALSE(h.s().check_request(90, 20).ok());  // > max_model_len
  EXPECT_FALSE(h.s().check_request(60, 20).ok());  // 79 tokens need 5 blocks of 16
  EXPECT_FALSE(h.s().check_request(0, 1).ok());
  EXPECT_TRUE(h.s().check_request(60, 5).ok());
  h.add(1, 90, 20);
  h.add(2, 4, 2);
  h.add(3, 60, 20);
  h.add(4, 0, 3);
  const BatchPlan p = h.step();
  EXPECT_EQ(p.rejected, (std::vector<SeqId>{1, 3, 4}));
  EXPECT_EQ(p.chunks.size(), 1u);
  EXPECT_EQ(h.s().find(1), nullptr);
  EXPECT_TRUE(h.step().rejected.empty());
  EXPECT_TRUE(h.s().idle());
}

TEST(Trajectory, AbortFreesBlocksAtOnce) {
  Harness h(config("sarathi-serve"));
  h.add(1, 40, 5);
  h.add(2, 3, 5);
  h.add(3, 1, 5);
  h.step();
  EXPECT_EQ(h.s().kv().num_used(), 5);  // 3 + 1 + 1 blocks of 16
  const BatchPlan p = h.s().schedule();
  EXPECT_TRUE(h.s().abort(1));  // mid-step: its chunk's result is ignored
  EXPECT_EQ(h.s().kv().num_used(), 2);
  EXPECT_TRUE(h.s().abort(3));
  EXPECT_FALSE(h.s().abort(3));
  std::vector<StepResult> results;
  for (const SeqChunk& ch : p.chunks) results.push_back({.seq = ch.seq, .produced_token = true});
  h.s().on_step_done(p, results);
  h.s().check_invariants();
  EXPECT_EQ(h.s().num_running(), 1);
  EXPECT_TRUE(h.s().abort(2));
  EXPECT_EQ(h.s().kv().num_used(), 0);
  EXPECT_TRUE(h.s().idle());
  EXPECT_TRUE(h.s().schedule().empty());
}

TEST(Registry, UnknownPolicyListsKnownOnes) {
  SchedulerConfig c;
  c.policy = "fifo";
  auto r = make_policy(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, core::ErrorCode::kNotFound);
  for (std::string_view name : policy_names())
    EXPECT_NE(r.error().message.find(name), std::string::npos) << name;
  EXPECT_EQ(policy_names().size(), 5u);
  for (std::string_view name : policy_names()) {
    c.policy = std::string(name);
    auto p = make_policy(c);
    ASSERT_TRUE(p.ok()) << p.error().to_string();
    EXPECT_EQ((*p)->name(), name);
  }
}

TEST(Registry, InvalidConfigsAreErrors) {
  SchedulerConfig c;
  c.policy = "sarathi-serve";
  c.max_num_batched_tokens = 64;  // < max_num_seqs (128)
  EXPECT_FALSE(Scheduler::create(c).ok());
  c.policy = "vllm";
  c.max_num_batched_tokens = 512;  // < max_model_len (4096)
  EXPECT_FALSE(Scheduler::create(c).ok());
  c.max_num_batched_tokens = 0;  // default: max(2048, max_model_len)
  EXPECT_TRUE(Scheduler::create(c).ok());
  EXPECT_EQ(token_budget(c), 4096);
  c.num_kv_blocks = 0;
  EXPECT_FALSE(Scheduler::create(c).ok());
  c.num_kv_blocks = 10;
  c.watermark = 1.5;
  EXPECT_FALSE(Scheduler::create(c).ok());
}

}  // namespace
}  // namespace sarathi::sched
