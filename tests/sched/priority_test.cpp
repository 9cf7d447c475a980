// Priority scheduling (SchedulingPolicy::kPriority): admission by priority then arrival,
// preemption of the worst priority first, and aging, which bounds how long a low-priority
// request can wait under a stream of better ones (without aging it waits forever).
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "sched/scheduler.h"

namespace sarathi::sched {
namespace {

SchedulerConfig config(std::string policy, SchedulingPolicy order) {
  SchedulerConfig c;
  c.policy = std::move(policy);
  c.max_num_seqs = 1;
  c.block_size = 16;
  c.num_kv_blocks = 64;
  c.watermark = 0.0;
  c.max_model_len = 256;
  c.scheduling_policy = order;
  return c;
}

// A fake model: a request finishes after exactly its max_output tokens.
class Driver {
 public:
  explicit Driver(const SchedulerConfig& c) : s_(make(c)) {}

  Scheduler& s() { return s_; }
  void add(SeqId id, int32_t prompt, int32_t max_out, int32_t priority) {
    s_.add(id, prompt, max_out, priority);
    max_out_[id] = max_out;
  }
  /// One step; returns the sequences it admitted (first scheduled), in plan order.
  std::vector<SeqId> step(BatchPlan* out = nullptr) {
    std::vector<SeqId> before;
    for (const SeqState* st : s_.running()) before.push_back(st->id);
    BatchPlan plan = s_.schedule();
    std::vector<SeqId> admitted;
    std::vector<StepResult> results;
    for (const SeqChunk& c : plan.chunks) {
      if (std::find(before.begin(), before.end(), c.seq) == before.end()) admitted.push_back(c.seq);
      const bool produced = s_.produces_token(c);
      const bool finished = produced && ++outputs_[c.seq] == max_out_[c.seq];
      results.push_back({.seq = c.seq, .produced_token = produced, .finished = finished});
    }
    s_.on_step_done(plan, results);
    s_.check_invariants();
    if (out) *out = std::move(plan);
    return admitted;
  }
  /// Steps until idle; the order requests were first admitted in.
  std::vector<SeqId> run_to_idle() {
    std::vector<SeqId> order;
    for (int i = 0; i < 1000 && !s_.idle(); ++i)
      for (SeqId id : step())
        if (std::find(order.begin(), order.end(), id) == order.end()) order.push_back(id);
    EXPECT_TRUE(s_.idle());
    return order;
  }

 private:
  static Scheduler make(const SchedulerConfig& c) {
    auto r = Scheduler::create(c);
    if (!r.ok()) {
      ADD_FAILURE() << r.error().to_string();
      std::abort();
    }
    return std::move(r).value();
  }
  Scheduler s_;
  std::map<SeqId, int32_t> max_out_, outputs_;
};

TEST(Priority, AdmitsLowerValuesFirstThenByArrival) {
  for (const char* policy : {"vllm", "sarathi", "sarathi-serve", "orca", "static"}) {
    SCOPED_TRACE(policy);
    Driver d(config(policy, SchedulingPolicy::kPriority));
    d.add(1, 8, 2, 5);
    d.add(2, 8, 2, 0);
    d.add(3, 8, 2, 5);
    d.add(4, 8, 2, -1);
    d.add(5, 8, 2, 0);
    EXPECT_EQ(d.run_to_idle(), (std::vector<SeqId>{4, 2, 5, 1, 3}));
  }
}

TEST(Priority, FcfsIgnoresPriorities) {
  Driver d(config("sarathi-serve", SchedulingPolicy::kFcfs));
  d.add(1, 8, 2, 5);
  d.add(2, 8, 2, 0);
  d.add(3, 8, 2, -1);
  EXPECT_EQ(d.run_to_idle(), (std::vector<SeqId>{1, 2, 3}));
}

// Two running sequences, the pool full, a decode needs a block: FCFS preempts the newest
// admitted (2); priority preempts the worst priority (1), which was admitted first.
TEST(Priority, PreemptionTakesTheWorstPriorityFirst) {
  for (SchedulingPolicy order : {SchedulingPolicy::kFcfs, SchedulingPolicy::kPriority}) {
    SchedulerConfig c = config("sarathi-serve", order);
    c.max_num_seqs = 4;
    c.block_size = 2;
    c.num_kv_blocks = 4;
    c.max_num_batched_tokens = 16;
    Driver d(c);
    d.add(1, 3, 4, 1);  // older, worse priority
    d.add(2, 3, 4, 0);
    EXPECT_EQ(d.step(), order == SchedulingPolicy::kFcfs ? (std::vector<SeqId>{1, 2})
                                                          : (std::vector<SeqId>{2, 1}));
    d.step();  // both decode into their second block; the pool is full
    BatchPlan p;
    d.step(&p);
    const SeqId expected = order == SchedulingPolicy::kFcfs ? 2 : 1;
    EXPECT_EQ(p.preempted, std::vector<SeqId>{expected});
    d.run_to_idle();
    EXPECT_EQ(d.s().kv().num_used(), 0);
  }
}

// The oldest and best sequence (1) asks for a block first: priority takes the worst (2), FCFS
// the newest admitted (3).
TEST(Priority, PreemptsTheWorstEvenWhenNotNewest) {
  for (SchedulingPolicy order : {SchedulingPolicy::kFcfs, SchedulingPolicy::kPriority}) {
    SchedulerConfig c = config("sarathi-serve", order);
    c.max_num_seqs = 4;
    c.block_size = 2;
    c.num_kv_blocks = 6;
    c.max_num_batched_tokens = 16;
    Driver d(c);
    d.add(1, 3, 6, 0);
    d.add(2, 3, 6, 3);
    EXPECT_EQ(d.step(), (std::vector<SeqId>{1, 2}));
    d.add(3, 3, 6, 1);
    EXPECT_EQ(d.step(), (std::vector<SeqId>{3}));  // the pool is full now
    BatchPlan p;
    d.step(&p);
    EXPECT_EQ(p.preempted, std::vector<SeqId>{order == SchedulingPolicy::kFcfs ? 3 : 2});
    d.run_to_idle();
    EXPECT_EQ(d.s().kv().num_used(), 0);
  }
}

// One slot; a low-priority request (10) waits behind a stream of better ones (0), one arriving
// every step and each holding the slot 2 steps, so the queue only grows. Every waiting request
// ages at the same rate, so aging (A steps per level) lets the low one overtake exactly the
// requests that arrive more than 10 * A steps after it: it waits at most for those that
// arrived before that, 10 * A + 1 requests of 2 steps. Without aging it never gets in.
int64_t steps_until_admitted(int32_t aging_steps, int64_t max_steps) {
  SchedulerConfig c = config("sarathi-serve", SchedulingPolicy::kPriority);
  c.priority_aging_steps = aging_steps;
  c.num_kv_blocks = 4096;
  Driver d(c);
  d.add(0, 8, 2, 10);
  SeqId next = 1;
  for (int64_t step = 0; step < max_steps; ++step) {
    d.add(next++, 8, 2, 0);
    for (SeqId id : d.step())
      if (id == 0) return step;
  }
  return -1;
}

TEST(Priority, AgingBoundsStarvation) {
  for (int32_t aging : {1, 4, 8}) {
    SCOPED_TRACE(aging);
    const int64_t admitted = steps_until_admitted(aging, 4000);
    ASSERT_GE(admitted, 0) << "the low-priority request starved despite aging";
    EXPECT_LE(admitted, 2 * (10 * aging + 1));
    EXPECT_GE(admitted, 10 * aging) << "admitted before its priority caught up";
  }
  EXPECT_EQ(steps_until_admitted(0, 4000), -1) << "without aging it should wait forever";
}

}  // namespace
}  // namespace sarathi::sched
