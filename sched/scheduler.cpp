#include "sched/scheduler.h"

#include <algorithm>

#include "core/check.h"
#include "kv/block_hash.h"
#include "sched/registry.h"

namespace sarathi::sched {

using core::ErrorCode;
using core::make_error;

Scheduler::Scheduler(const SchedulerConfig& config, std::unique_ptr<Policy> policy)
    : config_(config),
      policy_(std::move(policy)),
      kv_(kv::BlockManagerOptions{.num_blocks = config.num_kv_blocks,
                                  .block_size = config.block_size,
                                  .cache_salt = config.prefix_cache_salt}) {}

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

void Scheduler::add(SeqId id, int32_t num_prompt_tokens, int32_t max_output_tokens,
                    int32_t priority) {
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
               .max_output_tokens = max_output_tokens,
               .priority = priority,
               .arrival_step = num_steps_};
  s.effective_priority = effective_priority(s, order_step_);
  push_waiting(&s);
}

int64_t Scheduler::effective_priority(const SeqState& s, int64_t step) const {
  if (config_.scheduling_policy != SchedulingPolicy::kPriority) return 0;
  const int64_t aged = config_.priority_aging_steps > 0
                           ? std::max<int64_t>(0, step - s.arrival_step) /
                                 config_.priority_aging_steps
                           : 0;
  return int64_t{s.priority} - aged;
}

// The waiting order: FCFS keeps restarted sequences first, each group by arrival; priority
// orders by effective priority first (restarted first, then arrival, among equals).
bool Scheduler::waits_before(const SeqState* a, const SeqState* b) const {
  if (config_.scheduling_policy == SchedulingPolicy::kPriority &&
      a->effective_priority != b->effective_priority)
    return a->effective_priority < b->effective_priority;
  if ((a->num_restarts > 0) != (b->num_restarts > 0)) return a->num_restarts > 0;
  return a->arrival_idx < b->arrival_idx;
}

// Ages every live sequence to this step and re-sorts the waiting queue (priority scheduling).
void Scheduler::order_by_priority() {
  order_step_ = num_steps_;
  for (auto& [id, s] : seqs_) s.effective_priority = effective_priority(s, order_step_);
  std::sort(waiting_.begin(), waiting_.end(),
            [this](const SeqState* a, const SeqState* b) { return waits_before(a, b); });
}

void Scheduler::add(SeqId id, std::span<const int32_t> prompt, int32_t max_output_tokens,
                    int32_t priority) {
  add(id, static_cast<int32_t>(prompt.size()), max_output_tokens, priority);
  if (!config_.enable_prefix_caching || !seqs_.contains(id)) return;
  SeqTokens& t = tokens_[id];
  t.tokens.assign(prompt.begin(), prompt.end());
  t.tokens.reserve(prompt.size() + static_cast<size_t>(max_output_tokens));
}

Scheduler::SeqTokens* Scheduler::tokens_of(SeqId id) {
  auto it = tokens_.find(id);
  return it == tokens_.end() ? nullptr : &it->second;
}

// Sets each waiting sequence's cached prefix (num_computed_tokens, whole blocks) before the
// policy plans, for the ones a policy could admit now (admission is FCFS without skipping, at
// most max_num_seqs running; the others are refreshed when they come up). At least the last
// token of what it must prefill is left to compute, for the logits.
void Scheduler::refresh_prefix_matches() {
  const int32_t bs = config_.block_size;
  const size_t n = std::min(waiting_.size(),
                            static_cast<size_t>(std::max(0, config_.max_num_seqs - num_running())));
  for (size_t i = 0; i < n; ++i) {
    SeqState& s = *waiting_[i];
    SeqTokens* t = tokens_of(s.id);
    if (t == nullptr || t->match_epoch == kv_.cache_epoch()) continue;
    const auto toks = std::span<const int32_t>(t->tokens).first(static_cast<size_t>(s.num_prefill_tokens));
    kv::extend_block_hashes(t->hashes, toks, bs, config_.prefix_cache_salt);
    const kv::PrefixMatch m = kv_.match_prefix(t->hashes, toks, (s.num_prefill_tokens - 1) / bs);
    s.num_computed_tokens = m.num_blocks * bs;
    s.num_prefix_blocks_held = m.num_held;
    t->match_epoch = kv_.cache_epoch();
  }
}

// Admission of a tracked sequence, in two passes over the plan. Before any block of the plan is
// allocated (so no allocation evicts a block an admission counted on), each admission takes the
// cached prefix it was planned with (grow = false). Then, just before its chunk is applied, the
// prefix may grow with blocks registered earlier in this plan (grow = true): they are computed
// in this very step, before anything reads them (the forward pass writes every sequence's K/V
// of a layer before any attention of that layer), so a request's n choices, or requests with a
// common prefix admitted together, compute it once. The chunk then starts later; it keeps its
// end and at least one token.
void Scheduler::share_cached_prefix(SeqChunk& c, bool grow) {
  SeqTokens* t = tokens_of(c.seq);
  if (t == nullptr) return;
  SeqState& s = seqs_.at(c.seq);
  const int32_t bs = config_.block_size;
  const auto toks =
      std::span<const int32_t>(t->tokens).first(static_cast<size_t>(s.num_prefill_tokens));
  if (!grow) {
    kv_.share_prefix(c.seq, t->hashes, toks, c.first_token / bs);
    return;
  }
  kv::extend_block_hashes(t->hashes, toks, bs, config_.prefix_cache_salt);
  const int32_t end = c.first_token + c.num_tokens;
  const int32_t max_blocks = std::min(s.num_prefill_tokens, end) - 1;
  const kv::PrefixMatch m = kv_.match_prefix(t->hashes, toks, max_blocks / bs);
  const int32_t cached = std::max(m.num_blocks * bs, c.first_token);
  kv_.share_prefix(c.seq, t->hashes, toks, cached / bs);
  s.num_computed_tokens = cached;
  s.num_prefix_blocks_held = 0;
  c.num_tokens = end - cached;
  c.first_token = cached;
  prefix_queries_ += s.num_prefill_tokens;
  prefix_hits_ += cached;
}

// Registers the blocks a chunk fills completely (their tokens are known: prompt, or outputs
// already sampled), so sequences admitted later share them.
void Scheduler::cache_chunk_blocks(const SeqChunk& c) {
  SeqTokens* t = tokens_of(c.seq);
  if (t == nullptr) return;
  const int32_t full = (c.first_token + c.num_tokens) / config_.block_size;
  const auto toks = std::span<const int32_t>(t->tokens);
  kv::extend_block_hashes(t->hashes, toks.first(static_cast<size_t>(full) * config_.block_size),
                          config_.block_size, config_.prefix_cache_salt);
  kv_.cache_full_blocks(c.seq, t->hashes, toks, full);
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
  SARATHI_CHECK(num_plans_in_flight_ < config_.max_in_flight,
                "schedule() called again with {} plans awaiting on_step_done() (max_in_flight "
                "{})",
                num_plans_in_flight_, config_.max_in_flight);
  BatchPlan plan;
  const bool slo = config_.tbt_slo_s > 0 && cost_model_.valid();
  if (config_.scheduling_policy == SchedulingPolicy::kPriority) order_by_priority();
  if (!tokens_.empty()) refresh_prefix_matches();
  ready_.clear();
  for (const SeqState* s : running_)
    if (!s->in_flight) ready_.push_back(s);
  if (!waiting_.empty() || !ready_.empty())
    plan = policy_->plan(SchedView(config_, waiting_, ready_, kv_, slo ? &cost_model_ : nullptr,
                                   step_target_s_,
                                   num_running() - static_cast<int32_t>(ready_.size())));
  check_plan_shape(plan);
  apply_rejections(plan);
  for (SeqId id : plan.preempted) apply_preemption(id);
  plan.num_prefill_tokens = 0;
  plan.num_decode_tokens = 0;
  StepShape all, decodes;
  // Cached prefixes are shared before any block is allocated, so no allocation of this plan
  // evicts a block an admission counted on.
  const bool caching = !tokens_.empty();
  if (caching)
    for (SeqChunk& c : plan.chunks)
      if (const SeqState* st = find(c.seq); st && st->status == SeqStatus::kWaiting)
        share_cached_prefix(c, /*grow=*/false);
  for (SeqChunk& c : plan.chunks) {
    const SeqState* st = find(c.seq);
    const bool decode = st != nullptr && !st->is_prefilling();
    if (caching && st && st->status == SeqStatus::kWaiting) share_cached_prefix(c, /*grow=*/true);
    apply_chunk(c, plan);
    if (caching) cache_chunk_blocks(c);
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
    for (const SeqChunk& c : plan.chunks) seqs_.at(c.seq).in_flight = true;
    ++num_plans_in_flight_;
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
  SARATHI_CHECK(it != seqs_.end() && it->second.status == SeqStatus::kRunning &&
                    !it->second.in_flight,
                "policy {} preempts {} that is not running or is in flight", policy_->name(), id);
  SeqState& s = it->second;
  kv_.free(id);
  running_.erase(std::find(running_.begin(), running_.end(), &s));
  s.num_computed_tokens = 0;
  s.num_prefix_blocks_held = 0;
  s.num_prefill_tokens = s.num_tokens();  // recompute prompt + kept outputs
  if (SeqTokens* t = tokens_of(id)) t->match_epoch = ~uint64_t{0};
  ++s.num_restarts;
  s.status = SeqStatus::kWaiting;
  push_waiting(&s);
  ++num_preemptions_;
}

void Scheduler::push_waiting(SeqState* s) {
  auto pos = std::upper_bound(waiting_.begin(), waiting_.end(), s,
                              [this](const SeqState* a, const SeqState* b) {
                                return waits_before(a, b);
                              });
  waiting_.insert(pos, s);
}

void Scheduler::apply_chunk(const SeqChunk& c, BatchPlan& plan) {
  auto it = seqs_.find(c.seq);
  SARATHI_CHECK(it != seqs_.end(), "policy {} schedules unknown sequence {}", policy_->name(),
                c.seq);
  SeqState& s = it->second;
  SARATHI_CHECK(!s.in_flight, "policy {} schedules seq {} that is in flight", policy_->name(),
                c.seq);
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
  // Cached (shared or registered) KV is never written again.
  for (int32_t b = c.first_token / config_.block_size,
               e = (c.first_token + c.num_tokens - 1) / config_.block_size;
       b <= e; ++b)
    SARATHI_CHECK(kv_.writable(c.seq, b), "seq {}: chunk [{}, +{}) would write cached block #{}",
                  c.seq, c.first_token, c.num_tokens, b);
}

void Scheduler::on_step_done(const BatchPlan& plan, std::span<const StepResult> results) {
  if (plan.chunks.empty()) return;
  SARATHI_CHECK(num_plans_in_flight_ > 0, "on_step_done() without a scheduled step");
  SARATHI_CHECK(results.size() == plan.chunks.size(), "{} results for {} chunks", results.size(),
                plan.chunks.size());
  for (size_t i = 0; i < results.size(); ++i) apply_result(plan.chunks[i], results[i]);
  --num_plans_in_flight_;
#ifndef NDEBUG
  check_invariants();
#endif
}

void Scheduler::apply_result(const SeqChunk& c, const StepResult& r) {
  SARATHI_CHECK(r.seq == c.seq, "result for seq {} in the slot of seq {}", r.seq, c.seq);
  auto it = seqs_.find(c.seq);
  if (it == seqs_.end() || it->second.status != SeqStatus::kRunning) return;  // aborted
  SeqState& s = it->second;
  SARATHI_CHECK(s.in_flight, "seq {} reported but not in flight", c.seq);
  s.in_flight = false;
  SARATHI_CHECK(s.num_computed_tokens == c.first_token, "seq {} changed during its step", c.seq);
  s.num_computed_tokens += c.num_tokens;
  const bool produces = !s.is_prefilling();
  SARATHI_CHECK(r.produced_token == produces && (produces || !r.finished),
                "seq {}: engine says produced={} finished={}, scheduler expects produced={}", c.seq,
                r.produced_token, r.finished, produces);
  if (!produces) return;
  ++s.num_output_tokens;
  if (SeqTokens* t = tokens_of(c.seq)) {
    SARATHI_CHECK(r.token >= 0, "seq {}: prefix caching needs the produced token", c.seq);
    t->tokens.push_back(r.token);
  }
  if (r.finished || s.num_output_tokens >= s.max_output_tokens) erase(c.seq);
}

void Scheduler::erase(SeqId id) {
  auto it = seqs_.find(id);
  SeqState* s = &it->second;
  auto& queue = s->status == SeqStatus::kRunning ? running_ : waiting_;
  queue.erase(std::find(queue.begin(), queue.end(), s));
  kv_.free(id);
  seqs_.erase(it);
  tokens_.erase(id);
}

void Scheduler::check_invariants() const {
  kv_.check_invariants();
  SARATHI_CHECK(seqs_.size() == waiting_.size() + running_.size(), "{} live != {} + {}",
                seqs_.size(), waiting_.size(), running_.size());
  SARATHI_CHECK(num_running() <= config_.max_num_seqs, "{} running", num_running());
  int32_t num_holders = 0;
  for (const SeqState* s : running_) {
    SARATHI_CHECK(!s->in_flight || num_plans_in_flight_ > 0, "seq {} in flight in no plan",
                  s->id);
    const int32_t held = kv_.num_blocks_held(s->id);
    SARATHI_CHECK(s->status == SeqStatus::kRunning && find(s->id) == s, "bad running {}", s->id);
    SARATHI_CHECK(held >= kv_.blocks_for(s->num_computed_tokens), "seq {} lost KV", s->id);
    SARATHI_CHECK(s->is_prefilling() || s->num_computed_tokens == s->num_tokens() - 1,
                  "seq {}: {} computed of {}", s->id, s->num_computed_tokens, s->num_tokens());
    if (const auto it = tokens_.find(s->id); it != tokens_.end())
      SARATHI_CHECK(static_cast<int32_t>(it->second.tokens.size()) == s->num_tokens(),
                    "seq {}: {} tokens tracked for {}", s->id, it->second.tokens.size(),
                    s->num_tokens());
    num_holders += held > 0 ? 1 : 0;
  }
  // Only running sequences hold blocks (kv_ checked each block's references match the tables).
  SARATHI_CHECK(num_holders == kv_.num_seqs(), "{} running sequences hold blocks, {} tables",
                num_holders, kv_.num_seqs());
  for (size_t i = 0; i < waiting_.size(); ++i) {
    const SeqState* s = waiting_[i];
    SARATHI_CHECK(s->status == SeqStatus::kWaiting && find(s->id) == s && !s->in_flight,
                  "bad waiting {}", s->id);
    SARATHI_CHECK(kv_.num_blocks_held(s->id) == 0, "waiting seq {} holds blocks", s->id);
    SARATHI_CHECK(s->num_computed_tokens % config_.block_size == 0 &&
                      s->num_computed_tokens < std::max(1, s->num_prefill_tokens) &&
                      (s->num_computed_tokens == 0 || tokens_.contains(s->id)),
                  "waiting seq {}: cached prefix of {} tokens", s->id, s->num_computed_tokens);
    SARATHI_CHECK(s->effective_priority == effective_priority(*s, order_step_),
                  "waiting seq {}: effective priority {} is stale", s->id, s->effective_priority);
    if (i == 0) continue;
    SARATHI_CHECK(waits_before(waiting_[i - 1], s), "waiting queue out of order at {} ({})", i,
                  config_.scheduling_policy == SchedulingPolicy::kPriority ? "priority" : "FCFS");
  }
}

}  // namespace sarathi::sched
