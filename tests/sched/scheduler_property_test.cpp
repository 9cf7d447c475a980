// Property tests of the scheduler over seeded random workloads, for every policy, with a fake
// executor that finishes a request after exactly its max output tokens. Arrivals are spread over
// steps, some requests are aborted (between steps and while their step runs) and some can never
// fit (rejected). Checked after every step: KV accounting (free + used == total, no block owned
// twice, tables cover the scheduled tokens), the token budget, decode-maximality where promised,
// one prefill chunk per step (sarathi), prefill-only or decode-only steps (vllm), no admission
// while a batch runs (static), FCFS first scheduling, and liveness; at the end: every request
// finished with exactly its output count, was aborted, or was rejected, and no block leaked.
// With prefix caching, prompts share random prefixes (and some repeat whole), and an oracle of
// the test's own tracks what every KV block holds: a sequence admitted with a cached prefix must
// find exactly its own tokens in the blocks it shares, no step writes a block another sequence
// holds, and eviction under tiny pools still lets everything finish without a leak.
// Micro-batch mode (pipeline parallelism, depth > 1): up to `depth` plans are in flight; the
// fake pipeline decides each plan's results when it is scheduled and reports the oldest plan
// later (sometimes several at once), with aborts in between. Then also: no sequence is in two
// plans in flight, none in flight is preempted, an empty plan leaves work behind only while
// plans are in flight, and max_num_seqs counts the sequences in flight.
// On failure the policy and seed are printed (also when a SARATHI_CHECK aborts the process).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <ostream>
#include <random>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "sched/config.h"
#include "sched/scheduler.h"

namespace sarathi::sched {
namespace {

char g_current_run[256] = "";

extern "C" void print_run_on_abort(int) {
  const char prefix[] = "\n*** aborted during property run: ";
  (void)!write(2, prefix, sizeof(prefix) - 1);
  (void)!write(2, g_current_run, strlen(g_current_run));
  (void)!write(2, "\n", 1);
}

enum class Pool { kLarge, kTiny };

struct Req {
  SeqId id = 0;
  int64_t arrival_step = 0;
  int32_t num_prompt_tokens = 0;
  int32_t max_output_tokens = 0;
  int64_t abort_step = -1;       // -1: never aborted
  bool abort_in_flight = false;  // abort between schedule() and on_step_done()
  std::vector<int32_t> prompt;   // token ids, with prefix caching only
  int32_t priority = 0;          // with priority scheduling only
};

// The fake model's output token i of request id (a tiny vocabulary, so outputs repeat too).
int32_t fake_token(SeqId id, int32_t i) {
  const uint64_t h = static_cast<uint64_t>(id) * 2654435761u + static_cast<uint64_t>(i) * 40503u;
  return static_cast<int32_t>((h >> 7) % 5);
}

struct Scenario {
  SchedulerConfig config;
  std::vector<Req> reqs;
};

int pick(std::mt19937& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

SchedulerConfig random_config(const std::string& policy, std::mt19937& rng) {
  SchedulerConfig c;
  c.policy = policy;
  const int block_sizes[] = {1, 2, 4, 8, 16};
  const double watermarks[] = {0.0, 0.01, 0.05};
  const int tiles[] = {1, 1, 2, 4, 8};
  c.block_size = block_sizes[pick(rng, 0, 4)];
  c.watermark = watermarks[pick(rng, 0, 2)];
  c.max_num_seqs = pick(rng, 1, 12);
  c.max_model_len = 96;
  c.chunk_size = pick(rng, 1, 40);
  c.tile_size = tiles[pick(rng, 0, 4)];
  if (policy == "sarathi-serve") {
    c.max_num_batched_tokens = pick(rng, c.max_num_seqs, c.max_num_seqs + 48);
  } else if (policy != "sarathi") {
    c.max_num_batched_tokens = pick(rng, 0, 1) ? 0 : pick(rng, c.max_model_len, 200);
  }
  return c;
}

Scenario random_scenario(const std::string& policy, uint32_t seed, Pool pool, bool caching,
                         bool priority) {
  std::mt19937 rng(seed);
  Scenario sc{random_config(policy, rng), {}};
  sc.config.enable_prefix_caching = caching;
  if (priority) {
    const int agings[] = {0, 1, 4, 16};
    sc.config.scheduling_policy = SchedulingPolicy::kPriority;
    sc.config.priority_aging_steps = agings[pick(rng, 0, 3)];
  }
  std::vector<std::vector<int32_t>> prefixes(3);  // shared system prompts
  for (auto& p : prefixes)
    for (int i = 0; i < 120; ++i) p.push_back(pick(rng, 0, 4));
  const int n = pick(rng, 5, 60);
  int64_t step = 0;
  int64_t total_tokens = 0;
  for (int i = 0; i < n; ++i) {
    Req r;
    r.id = i;
    step += pick(rng, 0, 4) == 0 ? pick(rng, 1, 12) : 0;  // bursts with gaps
    r.arrival_step = step;
    r.num_prompt_tokens = pick(rng, 0, 19) == 0 ? pick(rng, 60, 120) : pick(rng, 1, 48);
    r.max_output_tokens = pick(rng, 1, 40);
    if (priority) r.priority = pick(rng, -2, 2);
    if (caching) {
      if (i > 0 && pick(rng, 0, 4) == 0) {  // the same prompt again (as n > 1 choices are)
        r.prompt = sc.reqs[static_cast<size_t>(pick(rng, 0, i - 1))].prompt;
        r.num_prompt_tokens = static_cast<int32_t>(r.prompt.size());
      } else {
        const auto& pre = prefixes[static_cast<size_t>(pick(rng, 0, 2))];
        const int shared = pick(rng, 0, 3) == 0 ? 0 : pick(rng, 0, r.num_prompt_tokens);
        r.prompt.assign(pre.begin(), pre.begin() + shared);
        while (static_cast<int32_t>(r.prompt.size()) < r.num_prompt_tokens)
          r.prompt.push_back(pick(rng, 0, 4));
      }
    }
    if (pick(rng, 0, 9) == 0) {
      r.abort_step = step + pick(rng, 0, 60);
      r.abort_in_flight = pick(rng, 0, 1) == 1;
    }
    total_tokens += r.num_prompt_tokens + r.max_output_tokens + sc.config.block_size;
    sc.reqs.push_back(r);
  }
  const int32_t bs = sc.config.block_size;
  if (pool == Pool::kLarge) {  // everything resident at once: no preemption possible
    sc.config.num_kv_blocks = static_cast<int32_t>(total_tokens * 11 / 10 / bs) + 16;
  } else {  // room for one to a few requests: preemption and rejection
    sc.config.num_kv_blocks = pick(rng, (40 + bs - 1) / bs, (110 + bs - 1) / bs);
  }
  return sc;
}

enum class Fate { kPending, kLive, kFinished, kAborted, kRejected };

// One scenario's run: the scheduler, the fake model and what the test observed.
class PropertyRun {
 public:
  explicit PropertyRun(const Scenario& sc, uint32_t seed = 0)
      : sc_(sc),
        rng_(seed),
        s_(std::move(Scheduler::create(sc.config)).value()),
        fate_(sc.reqs.size(), Fate::kPending),
        outputs_(sc.reqs.size(), 0),
        expect_reject_(sc.reqs.size(), false),
        tokens_(sc.reqs.size()),
        content_(static_cast<size_t>(sc.config.num_kv_blocks) *
                     static_cast<size_t>(sc.config.block_size),
                 -1) {
    for (const Req& r : sc.reqs)
      expect_reject_[static_cast<size_t>(r.id)] =
          !s_.check_request(r.num_prompt_tokens, r.max_output_tokens).ok();
  }

  int64_t num_preemptions() const { return s_.num_preemptions(); }
  int64_t num_cache_hits() const { return s_.prefix_cache_hits(); }

  void run_to_end() {
    const auto depth = static_cast<size_t>(sc_.config.max_in_flight);
    for (int64_t step = 0;; ++step) {
      ASSERT_LT(step, 100000) << "no progress";
      arrive_and_abort(step, false);
      if (next_ == sc_.reqs.size() && s_.idle() && in_flight_.empty()) break;
      // Fill the pipeline, then report the oldest plan (with depth > 1 sometimes all of them).
      while (in_flight_.size() < depth && schedule_one(step)) {
        if (::testing::Test::HasFatalFailure()) return;
      }
      if (::testing::Test::HasFatalFailure()) return;
      if (in_flight_.empty()) continue;
      arrive_and_abort(step, true);
      const bool drain = depth > 1 && std::uniform_int_distribution<int>(0, 7)(rng_) == 0;
      do {
        complete_oldest();
      } while (drain && !in_flight_.empty());
    }
    check_end();
  }

 private:
  const Req& req(SeqId id) const { return sc_.reqs[static_cast<size_t>(id)]; }

  void arrive_and_abort(int64_t step, bool in_flight) {
    if (!in_flight) {
      for (; next_ < sc_.reqs.size() && sc_.reqs[next_].arrival_step <= step; ++next_) {
        const Req& r = sc_.reqs[next_];
        if (sc_.config.enable_prefix_caching) {
          s_.add(r.id, std::span<const int32_t>(r.prompt), r.max_output_tokens, r.priority);
          tokens_[static_cast<size_t>(r.id)] = r.prompt;
        } else {
          s_.add(r.id, r.num_prompt_tokens, r.max_output_tokens, r.priority);
        }
        fate_[next_] = Fate::kLive;
      }
    }
    for (const Req& r : sc_.reqs) {
      if (r.abort_step != step || r.abort_in_flight != in_flight) continue;
      if (fate_[static_cast<size_t>(r.id)] != Fate::kLive) continue;
      ASSERT_TRUE(s_.abort(r.id)) << "live request " << r.id << " unknown to the scheduler";
      fate_[static_cast<size_t>(r.id)] = Fate::kAborted;
    }
  }

  // Schedules one plan and puts it in flight; false when the plan is empty.
  bool schedule_one(int64_t step) {
    std::vector<SeqId> decoding_before;  // those the plan may use: not in flight
    std::set<SeqId> running_before;      // every running sequence, in flight included
    for (const SeqState* st : s_.running()) {
      running_before.insert(st->id);
      EXPECT_EQ(st->in_flight, in_flight_ids_.count(st->id) == 1) << "seq " << st->id;
      if (!st->is_prefilling() && !st->in_flight) decoding_before.push_back(st->id);
    }
    const bool batch_running = s_.num_running() > 0;
    const BatchPlan plan = s_.schedule();
    for (SeqId id : plan.rejected) {
      EXPECT_TRUE(expect_reject_[static_cast<size_t>(id)]) << "rejected " << id;
      EXPECT_EQ(fate_[static_cast<size_t>(id)], Fate::kLive);
      fate_[static_cast<size_t>(id)] = Fate::kRejected;
    }
    if (plan.chunks.empty()) {
      EXPECT_TRUE(!in_flight_.empty() || s_.num_running() + s_.num_waiting() == 0)
          << "stalled at step " << step;
      return false;
    }
    for (SeqId id : plan.preempted)
      EXPECT_EQ(in_flight_ids_.count(id), 0u) << "preempted seq " << id << " while in flight";
    for (const SeqChunk& c : plan.chunks) {
      EXPECT_TRUE(in_flight_ids_.insert(c.seq).second)
          << "seq " << c.seq << " is in two plans in flight";
      EXPECT_TRUE(s_.find(c.seq)->in_flight);
    }
    EXPECT_LE(s_.num_running(), sc_.config.max_num_seqs);
    EXPECT_LE(s_.num_plans_in_flight(), sc_.config.max_in_flight);
    one_step(plan, running_before, decoding_before, batch_running);
    return !::testing::Test::HasFatalFailure();
  }

  void complete_oldest() {
    InFlight f = std::move(in_flight_.front());
    in_flight_.pop_front();
    for (const SeqChunk& c : f.plan.chunks) in_flight_ids_.erase(c.seq);
    s_.on_step_done(f.plan, f.results);
    s_.check_invariants();
  }

  void one_step(const BatchPlan& plan, const std::set<SeqId>& running_before,
                const std::vector<SeqId>& decoding_before, bool batch_running) {
    check_kv_and_fcfs(plan);
    check_admission_order(plan, running_before);
    if (sc_.config.enable_prefix_caching) check_block_contents(plan, running_before);
    if (::testing::Test::HasFatalFailure()) return;
    for (const SeqChunk& c : plan.chunks) {  // admissions leave the watermark free
      if (running_before.count(c.seq)) continue;
      ASSERT_GE(s_.kv().num_free(), watermark_blocks(sc_.config)) << "admitted " << c.seq;
    }
    check_policy(plan, decoding_before, batch_running);
    if (::testing::Test::HasFatalFailure()) return;
    std::vector<StepResult> results = fake_model(plan);
    in_flight_.push_back({plan, std::move(results)});
  }

  std::vector<StepResult> fake_model(const BatchPlan& plan) {
    std::vector<StepResult> results;
    for (const SeqChunk& c : plan.chunks) {
      const bool produced = c.first_token + c.num_tokens >= s_.find(c.seq)->num_prefill_tokens;
      const size_t i = static_cast<size_t>(c.seq);
      bool finished = false;
      if (produced && fate_[i] == Fate::kLive) {
        finished = ++outputs_[i] == req(c.seq).max_output_tokens;
        if (finished) fate_[i] = Fate::kFinished;
      }
      const int32_t token = produced ? fake_token(c.seq, outputs_[i]) : -1;
      if (produced && sc_.config.enable_prefix_caching) tokens_[i].push_back(token);
      results.push_back(
          {.seq = c.seq, .produced_token = produced, .finished = finished, .token = token});
    }
    return results;
  }

  // The oracle of what each KV block holds (-1: nothing known). Every block a chunk writes is
  // its alone, except that sequences admitted in the same plan may share it: they start after
  // it and read it only after the step wrote it (the forward pass stores every sequence's K/V
  // of a layer before any attention of that layer). Then a new sequence's shared prefix blocks
  // must hold its tokens.
  void check_block_contents(const BatchPlan& plan, const std::set<SeqId>& running_before) {
    const int32_t bs = sc_.config.block_size;
    std::vector<int32_t> old_refs(static_cast<size_t>(s_.kv().num_blocks()), 0);
    for (const SeqState* st : s_.running())
      if (running_before.count(st->id))
        for (int32_t b : s_.block_table(st->id)) ++old_refs[static_cast<size_t>(b)];
    for (const SeqChunk& c : plan.chunks) {
      const auto table = s_.block_table(c.seq);
      const std::vector<int32_t>& toks = tokens_[static_cast<size_t>(c.seq)];
      for (int32_t pos = c.first_token; pos < c.first_token + c.num_tokens; ++pos) {
        const int32_t b = table[static_cast<size_t>(pos / bs)];
        ASSERT_EQ(old_refs[static_cast<size_t>(b)], running_before.count(c.seq) ? 1 : 0)
            << "seq " << c.seq << " writes block " << b << " that others held before";
        content_[static_cast<size_t>(b) * bs + pos % bs] = toks[static_cast<size_t>(pos)];
      }
    }
    for (const SeqChunk& c : plan.chunks) {
      if (running_before.count(c.seq)) continue;
      // Admitted: its prefix came from the cache.
      const auto table = s_.block_table(c.seq);
      const std::vector<int32_t>& toks = tokens_[static_cast<size_t>(c.seq)];
      ASSERT_EQ(c.first_token % bs, 0) << "seq " << c.seq;
      for (int32_t pos = 0; pos < c.first_token; ++pos)
        ASSERT_EQ(content_[static_cast<size_t>(table[static_cast<size_t>(pos / bs)]) * bs + pos % bs],
                  toks[static_cast<size_t>(pos)])
            << "seq " << c.seq << " shares a block that does not hold its token " << pos;
    }
  }

  void check_kv_and_fcfs(const BatchPlan& plan) {
#ifdef NDEBUG
    s_.check_invariants();  // debug builds check inside schedule() already
#endif
    for (const SeqChunk& c : plan.chunks) {
      ASSERT_EQ(fate_[static_cast<size_t>(c.seq)], Fate::kLive) << "scheduled dead " << c.seq;
      ASSERT_GE(static_cast<int32_t>(s_.block_table(c.seq).size()),
                s_.kv().blocks_for(c.first_token + c.num_tokens))
          << "seq " << c.seq << " runs tokens without KV blocks";
      if (first_scheduled_.insert(c.seq).second &&
          sc_.config.scheduling_policy == SchedulingPolicy::kFcfs) {
        ASSERT_GT(c.seq, last_first_scheduled_) << "first scheduling out of FCFS order";
        last_first_scheduled_ = c.seq;
      }
    }
  }

  // Admission never skips: every sequence admitted in this plan comes before every sequence
  // left waiting, by (effective priority under priority scheduling, restarted first, arrival).
  void check_admission_order(const BatchPlan& plan, const std::set<SeqId>& running_before) {
    const bool prio = sc_.config.scheduling_policy == SchedulingPolicy::kPriority;
    auto key = [&](const SeqState& s) {
      return std::tuple(prio ? s.effective_priority : 0, s.num_restarts > 0 ? 0 : 1,
                        s.arrival_idx);
    };
    for (const SeqChunk& c : plan.chunks) {
      if (running_before.count(c.seq)) continue;
      const SeqState& admitted = *s_.find(c.seq);
      if (prio) {
        const int64_t step = s_.num_steps() - 1;  // the step this plan was ordered at
        const int64_t aging = sc_.config.priority_aging_steps;
        const int64_t aged =
            aging > 0 ? std::max<int64_t>(0, step - admitted.arrival_step) / aging : 0;
        ASSERT_EQ(admitted.effective_priority, admitted.priority - aged)
            << "seq " << c.seq << " aged wrongly";
      }
      for (const SeqState* w : s_.waiting()) {
        if (std::find(plan.preempted.begin(), plan.preempted.end(), w->id) != plan.preempted.end())
          continue;
        ASSERT_LT(key(admitted), key(*w))
            << "seq " << c.seq << " admitted ahead of waiting seq " << w->id;
      }
    }
  }

  void check_policy(const BatchPlan& plan, const std::vector<SeqId>& decoding_before,
                    bool batch_running) {
    const std::string& policy = sc_.config.policy;
    const int32_t tau = token_budget(sc_.config);
    int32_t num_prefill_chunks = 0;
    std::set<SeqId> decoded;
    for (const SeqChunk& c : plan.chunks) {
      const SeqState& st = *s_.find(c.seq);
      if (!st.is_prefilling()) {
        decoded.insert(c.seq);
        continue;
      }
      ++num_prefill_chunks;
      const bool last = c.first_token + c.num_tokens == st.num_prefill_tokens;
      if (policy == "sarathi-serve" && !last) {
        ASSERT_TRUE((c.first_token + c.num_tokens) % sc_.config.block_size == 0 ||
                    c.num_tokens < sc_.config.block_size)
            << "unaligned chunk " << c.first_token << "+" << c.num_tokens;
      }
    }
    bool all_decodes = true;
    for (SeqId id : decoding_before) {
      const bool preempted =
          std::find(plan.preempted.begin(), plan.preempted.end(), id) != plan.preempted.end();
      if (!preempted && !decoded.count(id)) all_decodes = false;
    }
    if (policy == "sarathi-serve") {
      ASSERT_LE(plan.num_tokens(), tau);
      ASSERT_TRUE(all_decodes) << "a running decode was left out";
    } else if (policy == "sarathi") {
      ASSERT_LE(num_prefill_chunks, 1);
      ASSERT_LE(plan.num_prefill_tokens, sc_.config.chunk_size);
      ASSERT_TRUE(all_decodes);
    } else if (policy == "vllm") {
      ASSERT_TRUE(plan.num_prefill_tokens == 0 || plan.num_decode_tokens == 0) << "mixed step";
      ASSERT_LE(plan.num_prefill_tokens, tau);
      ASSERT_TRUE(plan.num_prefill_tokens > 0 || all_decodes);
    } else if (policy == "orca") {
      ASSERT_LE(plan.num_prefill_tokens, tau);
      ASSERT_TRUE(all_decodes);
    } else if (policy == "static") {
      ASSERT_LE(plan.num_prefill_tokens, tau);
      ASSERT_TRUE(plan.preempted.empty());
      ASSERT_TRUE(all_decodes);
      if (batch_running) {
        ASSERT_EQ(num_prefill_chunks, 0) << "admitted while a batch runs";
      }
    }
  }

  void check_end() {
    s_.check_invariants();
    ASSERT_TRUE(s_.idle());
    ASSERT_EQ(s_.kv().num_used(), 0) << "KV blocks leaked";
    ASSERT_EQ(s_.kv().num_free(), s_.kv().num_blocks());
    for (const Req& r : sc_.reqs) {
      const size_t i = static_cast<size_t>(r.id);
      if (expect_reject_[i]) {
        ASSERT_TRUE(fate_[i] == Fate::kRejected || fate_[i] == Fate::kAborted) << r.id;
      } else if (fate_[i] == Fate::kAborted) {
        ASSERT_LE(outputs_[i], r.max_output_tokens);
      } else {
        ASSERT_EQ(fate_[i], Fate::kFinished) << "request " << r.id;
        ASSERT_EQ(outputs_[i], r.max_output_tokens) << "request " << r.id;
      }
    }
  }

  struct InFlight {
    BatchPlan plan;
    std::vector<StepResult> results;  // decided when scheduled, reported when completed
  };
  const Scenario& sc_;
  std::mt19937 rng_;
  Scheduler s_;
  std::deque<InFlight> in_flight_;
  std::set<SeqId> in_flight_ids_;
  std::vector<Fate> fate_;
  std::vector<int32_t> outputs_;
  std::vector<bool> expect_reject_;
  std::vector<std::vector<int32_t>> tokens_;  // prompt + outputs, with prefix caching
  std::vector<int32_t> content_;              // [block * block_size + slot]: token held
  size_t next_ = 0;
  std::set<SeqId> first_scheduled_;
  SeqId last_first_scheduled_ = -1;
};

// Fewer seeds in debug/sanitizer builds, where the scheduler also checks its invariants itself
// after every schedule() and on_step_done().
#ifdef NDEBUG
constexpr uint32_t kNumSeeds = 300;
#else
constexpr uint32_t kNumSeeds = 40;
#endif

struct Param {
  const char* policy;
  Pool pool;
  bool caching = false;
  bool priority = false;  // priority scheduling with random priorities and aging
  int32_t depth = 1;      // micro-batches in flight (pipeline parallelism)
};

void PrintTo(const Param& p, std::ostream* os) {
  *os << p.policy << (p.pool == Pool::kTiny ? " (tiny KV)" : " (large KV)")
      << (p.caching ? " prefix caching" : "") << (p.priority ? " priority" : "")
      << (p.depth > 1 ? " micro-batches " + std::to_string(p.depth) : "");
}

class SchedulerProperty : public ::testing::TestWithParam<Param> {};

TEST_P(SchedulerProperty, RandomWorkloads) {
  static const bool installed = [] {
    std::signal(SIGABRT, print_run_on_abort);
    return true;
  }();
  (void)installed;
  const Param p = GetParam();
  int64_t num_preemptions = 0, num_hits = 0;
  for (uint32_t seed = 1; seed <= kNumSeeds; ++seed) {
    std::snprintf(g_current_run, sizeof(g_current_run),
                  "policy %s, %s pool%s%s, %d in flight, seed %u", p.policy,
                  p.pool == Pool::kTiny ? "tiny" : "large", p.caching ? ", prefix caching" : "",
                  p.priority ? ", priority" : "", p.depth, seed);
    SCOPED_TRACE(g_current_run);
    Scenario sc = random_scenario(p.policy, seed, p.pool, p.caching, p.priority);
    sc.config.max_in_flight = p.depth;
    PropertyRun run(sc, seed);
    run.run_to_end();
    if (HasFatalFailure()) return;
    if (p.pool == Pool::kLarge) {
      ASSERT_EQ(run.num_preemptions(), 0);
    }
    num_preemptions += run.num_preemptions();
    num_hits += run.num_cache_hits();
  }
  if (p.caching) {
    EXPECT_GT(num_hits, 0) << "no request ever found a cached prefix";
  } else {
    EXPECT_EQ(num_hits, 0);
  }
  if (std::string(p.policy) == "static") {
    EXPECT_EQ(num_preemptions, 0);
  } else if (p.pool == Pool::kTiny) {
    EXPECT_GT(num_preemptions, 0) << "the tiny pools never forced a preemption";
  }
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  std::string name = info.param.policy;
  std::replace(name.begin(), name.end(), '-', '_');
  return name + (info.param.pool == Pool::kTiny ? "_TinyKv" : "_LargeKv") +
         (info.param.caching ? "_PrefixCaching" : "") + (info.param.priority ? "_Priority" : "") +
         (info.param.depth > 1 ? "_InFlight" + std::to_string(info.param.depth) : "");
}

INSTANTIATE_TEST_SUITE_P(
    AllPolicies, SchedulerProperty,
    ::testing::Values(Param{"static", Pool::kLarge}, Param{"static", Pool::kTiny},
                      Param{"orca", Pool::kLarge}, Param{"orca", Pool::kTiny},
                      Param{"vllm", Pool::kLarge}, Param{"vllm", Pool::kTiny},
                      Param{"sarathi", Pool::kLarge}, Param{"sarathi", Pool::kTiny},
                      Param{"sarathi-serve", Pool::kLarge}, Param{"sarathi-serve", Pool::kTiny},
                      Param{"static", Pool::kLarge, true}, Param{"static", Pool::kTiny, true},
                      Param{"orca", Pool::kLarge, true}, Param{"orca", Pool::kTiny, true},
                      Param{"vllm", Pool::kLarge, true}, Param{"vllm", Pool::kTiny, true},
                      Param{"sarathi", Pool::kLarge, true}, Param{"sarathi", Pool::kTiny, true},
                      Param{"sarathi-serve", Pool::kLarge, true},
                      Param{"sarathi-serve", Pool::kTiny, true},
                      Param{"vllm", Pool::kTiny, false, true},
                      Param{"sarathi", Pool::kTiny, false, true},
                      Param{"sarathi-serve", Pool::kTiny, false, true},
                      Param{"sarathi-serve", Pool::kTiny, true, true},
                      Param{"orca", Pool::kLarge, false, true}),
    param_name);

// Micro-batches in flight (pipeline parallelism): every policy, tiny and large pools, prefix
// caching (a later plan shares blocks an earlier one in flight registers) and priorities.
INSTANTIATE_TEST_SUITE_P(
    MicroBatches, SchedulerProperty,
    ::testing::Values(Param{"static", Pool::kTiny, false, false, 2},
                      Param{"orca", Pool::kTiny, false, false, 2},
                      Param{"vllm", Pool::kLarge, false, false, 2},
                      Param{"vllm", Pool::kTiny, true, false, 3},
                      Param{"sarathi", Pool::kLarge, false, false, 3},
                      Param{"sarathi", Pool::kTiny, true, false, 2},
                      Param{"sarathi-serve", Pool::kLarge, true, false, 2},
                      Param{"sarathi-serve", Pool::kTiny, false, false, 3},
                      Param{"sarathi-serve", Pool::kTiny, true, true, 4}),
    param_name);

}  // namespace
}  // namespace sarathi::sched
