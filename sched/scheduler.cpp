#include "sched/scheduler.h"

#include <algorithm>

#include "core/check.h"
#include "sched/registry.h"

namespace sarathi::sched {

using core::ErrorCode;
using core::make_error;

Scheduler::Scheduler(const SchedulerConfig& config, std::unique_ptr<Policy> policy)
    : config_(config),
      policy_(std::move(policy)),
      kv_(kv::BlockManagerOptions{.num_blocks = config.num_kv_blocks,
                                  .block_size = config.block_size}) {}

Scheduler::~Scheduler() = default;

core::Result<Scheduler> Scheduler::create(const SchedulerConfig& config) {
  SARATHI_ASSIGN_OR_RETURN(std::unique_ptr<Policy> policy, make_policy(config));
  return Scheduler(config, std::move(policy));
}

core::Status Scheduler::check_request(int32_t num_prompt_tokens, int32_t max_output_tokens) const {
  if (num_prompt_tokens < 1 || max_output_tokens < 1)
    return make_error(ErrorCode::kInvalidArgument,
                      "a request needs >= 1 prompt token and max_tokens >= 1, got {} and {}",
                      num_prompt_tokens, max_output_tokens);
  const int64_t total = int64_t{num_prompt_tokens} + max_output_tokens;
  if (total > config_.max_model_len)
    return make_error(ErrorCode::kOutOfRange,
                      "prompt ({} tokens) + max_tokens ({}) exceeds max_model_len ({})",
                      num_prompt_tokens, max_output_tokens, config_.max_model_len);
  const int32_t need = kv_.blocks_for(total - 1);
  const int32_t room = config_.num_kv_blocks - watermark_blocks(config_);
  if (need > room)
    return make_error(ErrorCode::kResourceExhausted,
                      "the request needs {} KV blocks but the pool admits at most {}", need, room);
  return core::ok_status();
}

void Scheduler::add(SeqId id, int32_t num_prompt_tokens, int32_t max_output_tokens) {
  SARATHI_CHECK(!seqs_.contains(id) && std::find(pending_rejects_.begin(), pending_rejects_.end(),
                                                 id) == pending_rejects_.end(),
                "sequence {} added twice", id);
  if (!check_request(num_prompt_tokens, max_output_tokens).ok()) {
    pending_rejects_.push_back(id);
    return;
  }
  SeqState& s = seqs_[id];
  s = SeqState{.id = id,
               .arrival_idx = next_arrival_idx_++,
               .num_prompt_tokens = num_prompt_tokens,
               .num_prefill_tokens = num_prompt_tokens,
               .max_output_tokens = max_output_tokens};
  waiting_.push_back(&s);
}

bool Scheduler::abort(SeqId id) {
  auto pending = std::find(pending_rejects_.begin(), pending_rejects_.end(), id);
  if (pending != pending_rejects_.end()) {
    pending_rejects_.erase(pending);
    return true;
  }
  if (!seqs_.contains(id)) return false;
  erase(id);
  return true;
}

const SeqState* Scheduler::find(SeqId id) const {
  auto it = seqs_.find(id);
  return it == seqs_.end() ? nullptr : &it->second;
}

bool Scheduler::produces_token(const SeqChunk& chunk) const {
  const SeqState* s = find(chunk.seq);
  return s && s->status == SeqStatus::kRunning &&
         chunk.first_token + chunk.num_tokens >= s->num_prefill_tokens;
}

double Scheduler::kv_usage() const {
  return static_cast<double>(kv_.num_used()) / static_cast<double>(kv_.num_blocks());
}

BatchPlan Scheduler::schedule() {
  SARATHI_CHECK(!step_in_flight_, "schedule() called again before on_step_done()");
  BatchPlan plan;
  const bool slo = config_.tbt_slo_s > 0 && cost_model_.valid();
  if (!waiting_.empty() || !running_.empty())
    plan = policy_->plan(
        SchedView(config_, waiting_, running_, kv_, slo ? &cost_model_ : nullptr,
                  step_target_s_));
  check_plan_shape(plan);
  apply_rejections(plan);
  for (SeqId id : plan.preempted) apply_preemption(id);
  plan.num_prefill_tokens = 0;
  plan.num_decode_tokens = 0;
  StepShape all, decodes;
  for (const SeqChunk& c : plan.chunks) {
    const SeqState* st = find(c.seq);
    const bool decode = st != nullptr && !st->is_prefilling();
    apply_chunk(c, plan);
    all.add_chunk(c.first_token, c.num_tokens);
    if (decode) decodes.add_chunk(c.first_token, c.num_tokens);
  }
  if (cost_model_.valid() && !plan.chunks.empty()) {
    plan.predicted_s = cost_model_.predict(all);
    plan.decodes_over_slo =
        slo && cost_model_.predict(decodes) > step_target_s_;
    num_over_slo_ += plan.decodes_over_slo ? 1 : 0;
  }
  SARATHI_CHECK(num_running() <= config_.max_num_seqs, "policy {} runs {} > max_num_seqs {}",
                policy_->name(), num_running(), config_.max_num_seqs);
  if (!plan.chunks.empty()) {
    step_in_flight_ = true;
    ++num_steps_;
  }
#ifndef NDEBUG
  check_invariants();
#endif
  return plan;
}

void Scheduler::check_plan_shape(const BatchPlan& plan) const {
  std::vector<SeqId> ids;
  ids.reserve(plan.chunks.size());
  for (const SeqChunk& c : plan.chunks) ids.push_back(c.seq);
  std::sort(ids.begin(), ids.end());
  SARATHI_CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end(),
                "policy {} gave a sequence two chunks", policy_->name());
  for (SeqId id : plan.preempted)
    SARATHI_CHECK(!std::binary_search(ids.begin(), ids.end(), id),
                  "policy {} preempts seq {} and schedules it", policy_->name(), id);
}

void Scheduler::apply_rejections(BatchPlan& plan) {
  for (SeqId id : plan.rejected) {  // a policy may reject waiting sequences itself
    const SeqState* s = find(id);
    SARATHI_CHECK(s && s->status == SeqStatus::kWaiting, "rejecting {} that is not waiting", id);
    erase(id);
  }
  plan.rejected.insert(plan.rejected.end(), pending_rejects_.begin(), pending_rejects_.end());
  pending_rejects_.clear();
}

void Scheduler::apply_preemption(SeqId id) {
  auto it = seqs_.find(id);
  SARATHI_CHECK(it != seqs_.end() && it->second.status == SeqStatus::kRunning,
                "policy {} preempts {} that is not running", policy_->name(), id);
  SeqState& s = it->second;
  kv_.free(id);
  running_.erase(std::find(running_.begin(), running_.end(), &s));
  s.num_computed_tokens = 0;
  s.num_prefill_tokens = s.num_tokens();  // recompute prompt + kept outputs
  ++s.num_restarts;
  s.status = SeqStatus::kWaiting;
  push_waiting(&s);
  ++num_preemptions_;
}

void Scheduler::push_waiting(SeqState* s) {
  if (s->num_restarts == 0) {
    waiting_.push_back(s);
    return;
  }
  // Restarted sequences form the front of the queue, ordered by arrival.
  auto end = std::find_if(waiting_.begin(), waiting_.end(),
                          [](const SeqState* w) { return w->num_restarts == 0; });
  auto pos = std::upper_bound(waiting_.begin(), end, s, [](const SeqState* a, const SeqState* b) {
    return a->arrival_idx < b->arrival_idx;
  });
  waiting_.insert(pos, s);
}

void Scheduler::apply_chunk(const SeqChunk& c, BatchPlan& plan) {
  auto it = seqs_.find(c.seq);
  SARATHI_CHECK(it != seqs_.end(), "policy {} schedules unknown sequence {}", policy_->name(),
                c.seq);
  SeqState& s = it->second;
  if (s.status == SeqStatus::kWaiting) {  // admission
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), &s));
    running_.push_back(&s);
    s.status = SeqStatus::kRunning;
  }
  SARATHI_CHECK(c.first_token == s.num_computed_tokens && c.num_tokens >= 1,
                "seq {}: chunk [{}, +{}) but {} tokens computed", c.seq, c.first_token,
                c.num_tokens, s.num_computed_tokens);
  if (s.is_prefilling()) {
    SARATHI_CHECK(c.num_tokens <= s.num_prefill_left(), "seq {}: chunk of {} > {} left", c.seq,
                  c.num_tokens, s.num_prefill_left());
    plan.num_prefill_tokens += c.num_tokens;
  } else {
    SARATHI_CHECK(c.num_tokens == 1, "seq {}: decode chunk of {} tokens", c.seq, c.num_tokens);
    plan.num_decode_tokens += 1;
  }
  const int32_t num_kv_tokens = std::max(c.first_token + c.num_tokens, c.num_kv_tokens);
  SARATHI_CHECK(kv_.ensure(c.seq, num_kv_tokens),
                "policy {} over-allocated the KV: seq {} needs {} tokens, {} blocks free",
                policy_->name(), c.seq, num_kv_tokens, kv_.num_free());
}

void Scheduler::on_step_done(const BatchPlan& plan, std::span<const StepResult> results) {
  if (plan.chunks.empty()) return;
  SARATHI_CHECK(step_in_flight_, "on_step_done() without a scheduled step");
  SARATHI_CHECK(results.size() == plan.chunks.size(), "{} results for {} chunks", results.size(),
                plan.chunks.size());
  for (size_t i = 0; i < results.size(); ++i) apply_result(plan.chunks[i], results[i]);
  step_in_flight_ = false;
#ifndef NDEBUG
  check_invariants();
#endif
}

void Scheduler::apply_result(const SeqChunk& c, const StepResult& r) {
  SARATHI_CHECK(r.seq == c.seq, "result for seq {} in the slot of seq {}", r.seq, c.seq);
  auto it = seqs_.find(c.seq);
  if (it == seqs_.end() || it->second.status != SeqStatus::kRunning) return;  // aborted
  SeqState& s = it->second;
  SARATHI_CHECK(s.num_computed_tokens == c.first_token, "seq {} changed during its step", c.seq);
  s.num_computed_tokens += c.num_tokens;
  const bool produces = !s.is_prefilling();
  SARATHI_CHECK(r.produced_token == produces && (produces || !r.finished),
                "seq {}: engine says produced={} finished={}, scheduler expects produced={}", c.seq,
                r.produced_token, r.finished, produces);
  if (!produces) return;
  ++s.num_output_tokens;
  if (r.finished || s.num_output_tokens >= s.max_output_tokens) erase(c.seq);
}

void Scheduler::erase(SeqId id) {
  auto it = seqs_.find(id);
  SeqState* s = &it->second;
  auto& queue = s->status == SeqStatus::kRunning ? running_ : waiting_;
  queue.erase(std::find(queue.begin(), queue.end(), s));
  kv_.free(id);
  seqs_.erase(it);
}

void Scheduler::check_invariants() const {
  kv_.check_invariants();
  SARATHI_CHECK(seqs_.size() == waiting_.size() + running_.size(), "{} live != {} + {}",
                seqs_.size(), waiting_.size(), running_.size());
  SARATHI_CHECK(num_running() <= config_.max_num_seqs, "{} running", num_running());
  int64_t num_held = 0;
  for (const SeqState* s : running_) {
    const int32_t held = kv_.num_blocks_held(s->id);
    SARATHI_CHECK(s->status == SeqStatus::kRunning && find(s->id) == s, "bad running {}", s->id);
    SARATHI_CHECK(held >= kv_.blocks_for(s->num_computed_tokens), "seq {} lost KV", s->id);
    SARATHI_CHECK(s->is_prefilling() || s->num_computed_tokens == s->num_tokens() - 1,
                  "seq {}: {} computed of {}", s->id, s->num_computed_tokens, s->num_tokens());
    num_held += held;
  }
  SARATHI_CHECK(num_held == kv_.num_used(), "running hold {} of {} used blocks", num_held,
                kv_.num_used());
  for (size_t i = 0; i < waiting_.size(); ++i) {
    const SeqState* s = waiting_[i];
    SARATHI_CHECK(s->status == SeqStatus::kWaiting && find(s->id) == s, "bad waiting {}", s->id);
    SARATHI_CHECK(s->num_computed_tokens == 0, "waiting seq {} has computed tokens", s->id);
    if (i == 0) continue;
    const SeqState* prev = waiting_[i - 1];
    const bool same_region = (prev->num_restarts > 0) == (s->num_restarts > 0);
    SARATHI_CHECK(same_region ? prev->arrival_idx < s->arrival_idx : prev->num_restarts > 0,
                  "waiting queue out of FCFS order at {}", i);
  }
}

}  // namespace sarathi::sched
