#include "engine/engine.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace sarathi::engine {

using core::ErrorCode;
using core::make_error;

std::string_view finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kAbort: return "abort";
    case FinishReason::kNone: break;
  }
  return "";
}

struct Engine::Live {
  RequestRecord rec;
  std::vector<int32_t> tokens;  // prompt followed by outputs
  RequestParams params;
  Sampler sampler;
  std::unique_ptr<model::IncrementalDecoder> decoder;
  StopChecker stop;
  TokenFn on_token;
  std::unique_ptr<grammar::Matcher> matcher;  // with a grammar
  std::vector<uint64_t> mask;                 // the matcher's mask for this step

  Live(const RequestParams& p, const model::Tokenizer* tok)
      : params(p), sampler(p.sampling), stop(p.stop) {
    if (tok && p.detokenize) decoder = std::make_unique<model::IncrementalDecoder>(*tok);
    if (p.grammar) {
      matcher = std::make_unique<grammar::Matcher>(p.grammar);
      mask.resize(p.grammar->vocab().mask_words());
    }
  }
  std::span<const int32_t> prompt() const {
    return std::span(tokens).first(static_cast<size_t>(rec.num_prompt_tokens));
  }
};

// Runs one job at a time on its own thread: the step's grammar masks, while the executor runs.
class Engine::MaskWorker {
 public:
  MaskWorker() : thread_([this] { loop(); }) {}
  ~MaskWorker() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void start(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = std::move(job);
      busy_ = true;
    }
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return !busy_; });
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || busy_; });
      if (stop_) return;
      auto job = std::move(job_);
      lock.unlock();
      job();
      lock.lock();
      busy_ = false;
      cv_.notify_all();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> job_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread thread_;
};

namespace {

std::shared_ptr<const grammar::TokenVocab> make_token_vocab(const model::Tokenizer& tok,
                                                            int32_t n_vocab) {
  std::vector<std::string> pieces(static_cast<size_t>(std::max(n_vocab, tok.n_vocab())));
  std::vector<int32_t> eos;
  for (int32_t i = 0; i < tok.n_vocab(); ++i) {
    if (tok.is_eog(i))
      eos.push_back(i);
    else
      pieces[static_cast<size_t>(i)] = tok.token_to_piece(i, false);
  }
  return grammar::TokenVocab::create(std::move(pieces), std::move(eos));
}

}  // namespace

Engine::Engine(Executor& executor, const model::Tokenizer* tokenizer, sched::Scheduler sched,
               EngineOptions options)
    : executor_(executor), tokenizer_(tokenizer), sched_(std::move(sched)),
      options_(std::move(options)), max_in_flight_(sched_.config().max_in_flight) {
  if (tokenizer_) token_vocab_ = make_token_vocab(*tokenizer_, executor_.n_vocab());
  if (options_.clock) {
    clock_ = options_.clock;
  } else {
    const auto t0 = std::chrono::steady_clock::now();
    clock_ = [t0] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
  }
  if (options_.cost_fitter)
    sched_.set_cost_model(options_.cost_fitter->fit(),
                          sched_.config().tbt_slo_s * options_.cost_fitter->plan_fraction());
}

Engine::~Engine() {
  // Leave a pipelined executor with nothing in flight (another engine may use it next).
  for (; !in_flight_.empty(); in_flight_.pop_front())
    if (max_in_flight_ > 1) (void)executor_.collect();
}

core::Result<std::unique_ptr<Engine>> Engine::create(Executor& executor,
                                                     const model::Tokenizer* tokenizer,
                                                     EngineOptions options) {
  // A pipelined executor takes as many micro-batches at once as it has stages.
  options.sched.max_in_flight = std::max(1, executor.max_in_flight());
  SARATHI_ASSIGN_OR_RETURN(sched::Scheduler s, sched::Scheduler::create(options.sched));
  return std::unique_ptr<Engine>(new Engine(executor, tokenizer, std::move(s), std::move(options)));
}

core::Result<int32_t> Engine::validate(std::span<const int32_t> prompt,
                                      const RequestParams& params) const {
  const int32_t max_len = sched_.config().max_model_len;
  const auto n = static_cast<int64_t>(prompt.size());
  if (n == 0) return make_error(ErrorCode::kInvalidArgument, "the prompt is empty");
  const int32_t vocab = executor_.n_vocab();
  for (int32_t t : prompt)
    if (t < 0 || t >= vocab)
      return make_error(ErrorCode::kInvalidArgument, "token id {} is outside the vocabulary [0, {})",
                        t, vocab);
  if (n >= max_len)
    return make_error(ErrorCode::kOutOfRange,
                      "this model's maximum context length is {} tokens, but the prompt has {}",
                      max_len, n);
  if (params.max_tokens < 0)
    return make_error(ErrorCode::kInvalidArgument, "max_tokens must be at least 1");
  if (params.priority != 0 &&
      sched_.config().scheduling_policy != sched::SchedulingPolicy::kPriority)
    return make_error(ErrorCode::kInvalidArgument,
                      "priority {} needs priority scheduling (--scheduling-policy priority)",
                      params.priority);
  const int32_t max_tokens =
      params.max_tokens == 0 ? max_len - static_cast<int32_t>(n) : params.max_tokens;
  if (n + max_tokens > max_len)
    return make_error(ErrorCode::kOutOfRange,
                      "this model's maximum context length is {} tokens, but {} were requested "
                      "({} in the prompt, {} for the completion)",
                      max_len, n + max_tokens, n, max_tokens);
  SARATHI_RETURN_IF_ERROR(sched_.check_request(static_cast<int32_t>(n), max_tokens));
  if (params.grammar && (!token_vocab_ || params.grammar->vocab().size() != token_vocab_->size() ||
                         params.grammar->vocab().fingerprint() != token_vocab_->fingerprint()))
    return make_error(ErrorCode::kInvalidArgument,
                      "the grammar was not compiled for this engine's vocabulary");
  return max_tokens;
}

core::Result<RequestId> Engine::add_request(std::vector<int32_t> prompt,
                                            const RequestParams& params, TokenFn on_token) {
  SARATHI_ASSIGN_OR_RETURN(const int32_t max_tokens, validate(prompt, params));
  const auto n = static_cast<int64_t>(prompt.size());
  const RequestId id = next_id_++;
  auto r = std::make_unique<Live>(params, tokenizer_);
  r->params.max_tokens = max_tokens;
  r->rec.id = id;
  r->rec.num_prompt_tokens = static_cast<int32_t>(n);
  r->rec.times.arrival = now();
  r->tokens = std::move(prompt);
  r->tokens.reserve(static_cast<size_t>(n + max_tokens));
  r->on_token = std::move(on_token);
  sched_.add(id, std::span<const int32_t>(r->tokens), max_tokens, params.priority);
  live_.emplace(id, std::move(r));
  return id;
}

bool Engine::abort(RequestId id) {
  auto it = live_.find(id);
  if (it == live_.end()) return false;
  if (in_step_) {  // called from a token callback: apply after the step
    pending_aborts_.push_back(id);
    return true;
  }
  sched_.abort(id);
  TokenEvent ev;
  ev.id = id;
  ev.token = -1;
  ev.index = static_cast<int32_t>(it->second->rec.output.size());
  finish(*it->second, FinishReason::kAbort, ev);
  live_.erase(it);
  return true;
}

bool Engine::has_work() const { return !live_.empty() || !in_flight_.empty(); }

void Engine::finish(Live& r, FinishReason reason, TokenEvent& ev) {
  ev.finish = reason;
  r.rec.finish = reason;
  r.rec.times.finish = now();
  // Records first: a client that sees the final event may read metrics right away.
  if (options_.on_finish) options_.on_finish(r.rec);
  if (r.on_token) r.on_token(ev);
  if (options_.keep_finished) finished_.push_back(std::move(r.rec));
}

// Appends a sampled token, streams its text and decides whether the request is done.
void Engine::emit_token(Live& r, const SampledToken& t, double t_now, sched::StepResult& result,
                        bool grammar_done) {
  r.tokens.push_back(t.token);
  r.rec.output.push_back(t.token);
  if (r.rec.times.first_token < 0) r.rec.times.first_token = t_now;
  r.rec.times.token_times.push_back(t_now);

  TokenEvent ev;
  ev.id = r.rec.id;
  ev.token = t.token;
  ev.index = static_cast<int32_t>(r.rec.output.size()) - 1;
  ev.logprob = t.logprob;
  ev.top_logprobs = t.top_logprobs;
  FinishReason reason = FinishReason::kNone;
  const auto& stops = r.params.stop_token_ids;
  if (std::find(stops.begin(), stops.end(), t.token) != stops.end() ||
      (!r.params.ignore_eos && tokenizer_ && tokenizer_->is_eog(t.token)))
    reason = FinishReason::kStop;
  else if (grammar_done)  // only the end may follow: no step for an EOS
    reason = FinishReason::kStop;
  else if (static_cast<int32_t>(r.rec.output.size()) >= r.params.max_tokens)
    reason = FinishReason::kLength;

  if (r.decoder) {
    ev.text = r.stop.push(r.decoder->push(t.token));
    if (reason != FinishReason::kNone && !r.stop.stopped()) ev.text += r.stop.push(r.decoder->flush());
    if (r.stop.stopped()) {
      reason = FinishReason::kStop;
      ev.stop_reason = r.stop.matched();
      if (r.params.include_stop_str_in_output) ev.text += r.stop.matched();
    } else if (reason != FinishReason::kNone) {
      ev.text += r.stop.flush();
    }
  }
  result.produced_token = true;
  result.token = t.token;
  result.finished = reason != FinishReason::kNone;
  if (result.finished) {
    finish(r, reason, ev);
  } else if (r.on_token) {
    r.on_token(ev);
  }
}

// Samples one row; under a grammar, from the allowed tokens, advancing the matcher. A grammar
// the vocabulary cannot continue (no token allowed) ends the request as if EOS was sampled.
SampledToken Engine::sample_row(Live& r, std::span<const float> logits, bool* grammar_done) {
  *grammar_done = false;
  if (!r.matcher) return r.sampler.sample(logits, r.prompt(), r.rec.output);
  const bool any = std::any_of(r.mask.begin(), r.mask.end(), [](uint64_t w) { return w != 0; });
  SampledToken t;
  if (any) t = r.sampler.sample(logits, r.prompt(), r.rec.output, r.mask);
  if (!any || !r.matcher->accept_token(t.token)) {
    const auto eos = r.params.grammar->vocab().eos_ids();
    t = SampledToken{.token = eos.empty() ? 0 : eos.front(), .logprob = 0.0f};
    *grammar_done = true;
    return t;
  }
  *grammar_done = r.matcher->is_terminated();
  return t;
}

core::Result<StepStats> Engine::step() {
  StepStats empty;
  while (static_cast<int32_t>(in_flight_.size()) < max_in_flight_) {
    SARATHI_ASSIGN_OR_RETURN(const bool started, launch(empty));
    if (!started) break;
  }
  if (in_flight_.empty()) return empty;
  return complete();
}

core::Result<bool> Engine::launch(StepStats& empty) {
  InFlight f;
  StepStats& stats = f.stats;
  stats.step = num_steps_ + static_cast<int64_t>(in_flight_.size());
  stats.start = now();
  f.plan = sched_.schedule();
  const sched::BatchPlan& plan = f.plan;
  stats.schedule_s = now() - stats.start;
  for (sched::SeqId id : plan.preempted)
    if (auto it = live_.find(id); it != live_.end()) ++it->second->rec.times.num_preemptions;
  for (sched::SeqId id : plan.rejected) abort(id);  // pre-checked in add_request: defensive
  if (plan.empty()) {
    stats.duration_s = now() - stats.start;
    empty = std::move(stats);
    return false;
  }
  batch_.clear();
  f.want_logits.reserve(plan.chunks.size());
  for (const sched::SeqChunk& c : plan.chunks) {
    Live& r = *live_.at(c.seq);
    if (r.rec.times.first_scheduled < 0) r.rec.times.first_scheduled = stats.start;
    const auto toks = std::span(r.tokens).subspan(static_cast<size_t>(c.first_token),
                                                  static_cast<size_t>(c.num_tokens));
    const bool decode = c.num_tokens == 1 && c.first_token >= r.rec.num_prompt_tokens;
    if (!decode) {
      ++stats.num_prefill_chunks;
      stats.prefill_chunk_lens.push_back(c.num_tokens);
    }
    const bool want = sched_.produces_token(c);
    batch_.push_back({toks, c.first_token, sched_.block_table(c.seq), want});
    f.want_logits.push_back(want ? 1 : 0);
  }
  stats.num_seqs = static_cast<int32_t>(plan.chunks.size());
  stats.num_prefill_tokens = plan.num_prefill_tokens;
  stats.num_decode_tokens = plan.num_decode_tokens;
  stats.predicted_s = plan.predicted_s;
  stats.decodes_over_slo = plan.decodes_over_slo;

  // Masks of the rows sampled under a grammar: they depend only on tokens already accepted (a
  // sequence is in at most one step in flight), so they are computed while the forward pass
  // runs: without pipelining on the mask worker, with it once the micro-batch is handed on.
  masked_.clear();
  for (size_t i = 0; i < plan.chunks.size(); ++i)
    if (batch_[i].want_logits)
      if (Live& r = *live_.at(plan.chunks[i].seq); r.matcher) masked_.push_back(&r);
  stats.num_masked = static_cast<int32_t>(masked_.size());
  auto compute_masks = [this, &stats] {
    const auto t0 = std::chrono::steady_clock::now();
    for (Live* r : masked_) r->matcher->fill_mask(r->mask);
    stats.grammar_mask_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  if (max_in_flight_ > 1) {
    if (auto st = executor_.submit(batch_); !st.ok()) {
      fail(plan);
      return st.error();
    }
    if (!masked_.empty()) compute_masks();
  } else {
    const bool overlap = !masked_.empty() && options_.overlap_grammar_masks;
    if (overlap) {
      if (!mask_worker_) mask_worker_ = std::make_unique<MaskWorker>();
      mask_worker_->start(compute_masks);
    }
    const double t0 = now();
    auto logits = executor_.run(batch_);
    const double t1 = now();
    if (overlap) {
      const auto w0 = std::chrono::steady_clock::now();
      mask_worker_->wait();
      stats.grammar_wait_s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
    } else if (!masked_.empty()) {
      compute_masks();
      stats.grammar_wait_s = stats.grammar_mask_s;
    }
    if (!logits.ok()) {
      // Internal failure: nothing was produced; drop the step's requests so nothing hangs, and
      // the blocks this step registered in the prefix cache (their KV was never written).
      fail(plan);
      return logits.error();
    }
    run_logits_ = *logits;
    run_time_ = {.idle_s = last_run_end_ < 0 ? 0.0 : t0 - last_run_end_, .compute_s = t1 - t0};
    last_run_end_ = t1;
  }
  in_flight_.push_back(std::move(f));
  return true;
}

void Engine::fail(const sched::BatchPlan& plan) {
  results_.assign(plan.chunks.size(), sched::StepResult{});
  for (size_t i = 0; i < plan.chunks.size(); ++i) results_[i].seq = plan.chunks[i].seq;
  sched_.reset_prefix_cache();
  sched_.on_step_done(plan, results_);
  for (const sched::SeqChunk& c : plan.chunks) abort(c.seq);
}

core::Result<StepStats> Engine::complete() {
  InFlight f = std::move(in_flight_.front());
  in_flight_.pop_front();
  const sched::BatchPlan& plan = f.plan;
  StepStats& stats = f.stats;
  StepOutput out{run_logits_, std::span(&run_time_, 1)};
  if (max_in_flight_ > 1) {
    auto collected = executor_.collect();
    if (!collected.ok()) {
      fail(plan);
      return collected.error();
    }
    out = *collected;
  }
  stats.stages.assign(out.stages.begin(), out.stages.end());
  const auto n_vocab = static_cast<size_t>(executor_.n_vocab());
  const double t_now = now();
  results_.assign(plan.chunks.size(), sched::StepResult{});
  in_step_ = true;
  size_t row = 0;
  for (size_t i = 0; i < plan.chunks.size(); ++i) {
    results_[i].seq = plan.chunks[i].seq;
    if (!f.want_logits[i]) continue;
    const size_t r_idx = row++;
    auto it = live_.find(plan.chunks[i].seq);
    if (it == live_.end()) continue;  // aborted while its micro-batch was in flight
    Live& r = *it->second;
    bool grammar_done = false;
    const SampledToken t =
        sample_row(r, out.logits.subspan(r_idx * n_vocab, n_vocab), &grammar_done);
    emit_token(r, t, t_now, results_[i], grammar_done);
  }
  in_step_ = false;
  sched_.on_step_done(plan, results_);
  for (const sched::StepResult& res : results_)
    if (res.finished) live_.erase(res.seq);
  for (RequestId id : pending_aborts_) abort(id);
  pending_aborts_.clear();
  ++num_steps_;
  stats.duration_s = now() - stats.start;
  stats.step_target_s = step_target_s();
  if (options_.cost_fitter) {
    // Without pipelining the step's wall time; with it, what the micro-batch cost the stages
    // (its wall time also counts waits behind other micro-batches).
    double cost_s = stats.duration_s;
    if (max_in_flight_ > 1) {
      cost_s = 0;
      for (const StageTime& t : stats.stages) cost_s += t.compute_s + t.transfer_s;
    }
    options_.cost_fitter->add(shape_of(plan), cost_s);
    sched_.set_cost_model(options_.cost_fitter->fit(),
                          sched_.config().tbt_slo_s * options_.cost_fitter->plan_fraction());
  }
  return std::move(stats);
}

}  // namespace sarathi::engine
