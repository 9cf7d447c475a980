// engine/engine.h: the step loop. Requests are added at any time; each step() asks the
// scheduler for a plan, runs it on the Executor as one mixed batch (computing grammar masks
// meanwhile), samples the tokens that are due, detokenizes and checks stop conditions, streams
// TokenEvents and reports back to the scheduler. With a pipelined executor (pipeline
// parallelism), step() first keeps up to max_in_flight micro-batches in flight, each planned
// from the sequences not in flight, then completes the oldest. Single-threaded: the caller
// (CLI, benchmark, server thread) owns the loop. Depends on sched/, engine/executor.h, sampler,
// and model/tokenizer for text.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "engine/executor.h"
#include "engine/request.h"
#include "engine/step_cost.h"
#include "engine/stop_checker.h"
#include "model/tokenizer.h"
#include "sched/scheduler.h"

namespace sarathi::engine {

using TokenFn = std::function<void(const TokenEvent&)>;
using ClockFn = std::function<double()>;

struct EngineOptions {
  sched::SchedulerConfig sched;
  ClockFn clock;        // seconds; default: steady clock since the engine started
  bool keep_finished = false;  // keep finished requests' records (benchmarks)
  std::function<void(const RequestRecord&)> on_finish;  // every finished or aborted request
  // The step-cost model's fitter (from calibrate()): the scheduler plans with its fit, and the
  // engine refines it from every step's measured duration. Empty: no cost model.
  std::optional<StepCostFitter> cost_fitter;
  // Compute grammar masks on a helper thread while the executor runs the step (else after it).
  bool overlap_grammar_masks = true;
};

class Engine {
 public:
  /// tokenizer may be null (no text, no EOS detection); executor and tokenizer must outlive it.
  static core::Result<std::unique_ptr<Engine>> create(Executor& executor,
                                                      const model::Tokenizer* tokenizer,
                                                      EngineOptions options);
  ~Engine();

  /// Queues a request. Errors (empty prompt, prompt + max_tokens beyond the model length or
  /// the KV pool, token ids outside the vocabulary) are returned here, never later.
  core::Result<RequestId> add_request(std::vector<int32_t> prompt, const RequestParams& params,
                                      TokenFn on_token);
  /// The checks add_request makes, without queuing: the effective max_tokens or the error.
  /// Reads only immutable configuration, so any thread may call it.
  core::Result<int32_t> validate(std::span<const int32_t> prompt,
                                 const RequestParams& params) const;
  /// Drops a request now (its KV blocks are freed); emits a final event with kAbort. False for
  /// an unknown or finished id.
  bool abort(RequestId id);
  /// Runs one step; a step with nothing to run returns stats with num_seqs == 0. With a
  /// pipelined executor: starts micro-batches until max_in_flight are in flight (or nothing
  /// more can start), then completes the oldest and returns its stats.
  core::Result<StepStats> step();
  /// Whether any request is waiting or running, or a micro-batch is still in flight.
  bool has_work() const;
  /// Micro-batches started and not yet completed (0 or 1 without pipelining, between steps 0).
  int32_t num_in_flight() const { return static_cast<int32_t>(in_flight_.size()); }
  /// The vocabulary as the grammar matcher sees it (every token's text; the tokenizer's
  /// end-of-generation tokens): compile RequestParams::grammar against it (or an equal one).
  /// Null without a tokenizer. Immutable; any thread may use it.
  const std::shared_ptr<const grammar::TokenVocab>& token_vocab() const { return token_vocab_; }
  /// Forgets every cached prefix block (running requests keep theirs). Returns the blocks
  /// unregistered. Not from a token callback.
  int32_t reset_prefix_cache() { return sched_.reset_prefix_cache(); }

  const sched::Scheduler& scheduler() const { return sched_; }
  /// Records of finished requests (kept only with keep_finished), in finish order.
  const std::vector<RequestRecord>& finished() const { return finished_; }
  double now() const { return clock_(); }
  /// The step-cost model the scheduler plans with (invalid without a cost_fitter).
  const sched::StepCostModel& cost_model() const { return sched_.cost_model(); }
  /// The predicted step duration SLO-driven chunking plans to now (0 without an SLO).
  double step_target_s() const {
    return sched_.config().tbt_slo_s > 0 ? sched_.step_target_s() : 0.0;
  }
  int64_t num_steps() const { return num_steps_; }

 private:
  struct Live;
  // A step started on the executor and not yet completed.
  struct InFlight {
    sched::BatchPlan plan;
    std::vector<uint8_t> want_logits;  // [plan.chunks.size()]
    StepStats stats;
  };
  Engine(Executor& executor, const model::Tokenizer* tokenizer, sched::Scheduler sched,
         EngineOptions options);
  void emit_token(Live& r, const SampledToken& t, double now, sched::StepResult& result,
                  bool grammar_done);
  SampledToken sample_row(Live& r, std::span<const float> logits, bool* grammar_done);
  void finish(Live& r, FinishReason reason, TokenEvent& ev);
  // Plans a step and starts it (runs it, without pipelining); false when the plan is empty
  // (`empty` then has its stats).
  core::Result<bool> launch(StepStats& empty);
  // Waits for the oldest step in flight, samples its tokens and reports it to the scheduler.
  core::Result<StepStats> complete();
  // A step the executor failed: drops its requests (nothing was produced) and the prefix
  // cache's blocks it registered (their KV may never have been written).
  void fail(const sched::BatchPlan& plan);

  class MaskWorker;

  Executor& executor_;
  const model::Tokenizer* tokenizer_;
  std::shared_ptr<const grammar::TokenVocab> token_vocab_;
  std::unique_ptr<MaskWorker> mask_worker_;  // started by the first constrained step
  std::vector<Live*> masked_;                // reused per step: rows sampled under a grammar
  sched::Scheduler sched_;
  EngineOptions options_;
  ClockFn clock_;
  std::unordered_map<RequestId, std::unique_ptr<Live>> live_;
  std::vector<RequestRecord> finished_;
  std::vector<ExecSeq> batch_;             // reused per step
  std::vector<sched::StepResult> results_; // reused per step
  int32_t max_in_flight_ = 1;              // executor_.max_in_flight()
  std::deque<InFlight> in_flight_;         // oldest first
  // Without pipelining: the step run() just ran (its logits stay valid until the next run).
  std::span<const float> run_logits_;
  StageTime run_time_;
  double last_run_end_ = -1;
  std::vector<RequestId> pending_aborts_;  // aborts requested from callbacks during a step
  bool in_step_ = false;
  RequestId next_id_ = 1;
  int64_t num_steps_ = 0;
};

}  // namespace sarathi::engine
