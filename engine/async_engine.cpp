#include "engine/async_engine.h"

#include <cstdio>

namespace sarathi::engine {

using core::ErrorCode;
using core::make_error;

std::optional<TokenEvent> RequestStream::next(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return std::nullopt;
  TokenEvent ev = std::move(events_.front());
  events_.pop_front();
  return ev;
}

void RequestStream::push(const TokenEvent& ev) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(ev);
    if (ev.finish != FinishReason::kNone) done_ = true;
  }
  cv_.notify_one();
}

bool RequestStream::finished() const {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}

void RequestStream::cancel() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancelled_ || done_) return;
    cancelled_ = true;
  }
  owner_->cancel(shared_from_this());
}

AsyncEngine::AsyncEngine(std::unique_ptr<Engine> engine, AsyncOptions options)
    : engine_(std::move(engine)), options_(std::move(options)), metrics_(options_.model_name) {}

core::Result<std::unique_ptr<AsyncEngine>> AsyncEngine::create(Executor& executor,
                                                               const model::Tokenizer* tokenizer,
                                                               EngineOptions options,
                                                               AsyncOptions async_options) {
  // Metrics are fed from the engine thread through on_finish; the pointer is bound below.
  auto holder = std::make_shared<AsyncEngine*>(nullptr);
  options.on_finish = [holder](const RequestRecord& rec) {
    AsyncEngine* self = *holder;
    std::lock_guard<std::mutex> lock(self->mu_);
    self->metrics_.on_request_done(rec);
  };
  SARATHI_ASSIGN_OR_RETURN(auto eng, Engine::create(executor, tokenizer, std::move(options)));
  std::unique_ptr<AsyncEngine> a(new AsyncEngine(std::move(eng), std::move(async_options)));
  *holder = a.get();
  const sched::SchedulerConfig& cfg = a->engine_->scheduler().config();
  a->metrics_.set_slo(cfg.tbt_slo_s, a->engine_->step_target_s());
  a->metrics_.set_cost_model(a->engine_->cost_model());
  a->thread_ = std::thread([p = a.get()] { p->loop(); });
  return a;
}

AsyncEngine::~AsyncEngine() { shutdown(std::chrono::milliseconds(0)); }

void AsyncEngine::warn_over_slo(const StepStats& st) {
  const double now = engine_->now();
  if (now - last_slo_warning_ < 10.0) return;
  last_slo_warning_ = now;
  const sched::SchedulerConfig& cfg = engine_->scheduler().config();
  std::fprintf(stderr,
               "warning: %d running decodes alone are predicted beyond the TBT SLO's step "
               "target (%.1f ms; this step %.1f ms): serving on, prompts advance by at least %d "
               "tokens a step (sarathi:steps_decodes_over_slo_total counts such steps)\n",
               st.num_decode_tokens, st.step_target_s * 1e3, st.duration_s * 1e3,
               sched::slo_min_chunk(cfg));
}

core::Result<std::shared_ptr<RequestStream>> AsyncEngine::submit(std::vector<int32_t> prompt,
                                                                 const RequestParams& params) {
  SARATHI_ASSIGN_OR_RETURN(const int32_t max_tokens, engine_->validate(prompt, params));
  auto stream = std::make_shared<RequestStream>();
  stream->owner_ = this;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!accepting_)
      return make_error(ErrorCode::kResourceExhausted, "the server is shutting down");
    const auto waiting = static_cast<int64_t>(pending_.size()) + sched_waiting_;
    if (options_.max_queue > 0 && waiting >= options_.max_queue)
      return make_error(ErrorCode::kResourceExhausted,
                        "the request queue is full ({} waiting); retry later", waiting);
    RequestParams p = params;
    p.max_tokens = max_tokens;
    pending_.push_back({std::move(prompt), std::move(p), stream});
    idle_ = false;
  }
  cv_.notify_one();
  return stream;
}

void AsyncEngine::cancel(std::shared_ptr<RequestStream> s) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancels_.push_back(std::move(s));
  }
  cv_.notify_one();
}

bool AsyncEngine::reset_prefix_cache(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stop_ || !thread_.joinable()) return false;
  const uint64_t ticket = ++resets_requested_;
  cv_.notify_one();
  return idle_cv_.wait_for(lock, timeout, [&] { return resets_done_ >= ticket || stop_; }) &&
         resets_done_ >= ticket;
}

std::string AsyncEngine::metrics_text() {
  std::lock_guard<std::mutex> lock(mu_);
  return metrics_.render();
}

AsyncEngine::Snapshot AsyncEngine::snapshot() {
  std::lock_guard<std::mutex> lock(mu_);
  return {metrics_.num_running(), metrics_.num_waiting() + static_cast<int32_t>(pending_.size()),
          metrics_.kv_usage()};
}

void AsyncEngine::loop() {
  // Live streams by engine id, so cancellations and shutdown can find them.
  std::unordered_map<RequestId, std::shared_ptr<RequestStream>> live;
  for (;;) {
    std::vector<Submission> subs;
    std::vector<std::shared_ptr<RequestStream>> cancels;
    bool abort_all = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      const bool busy = engine_->has_work();
      if (!busy) {
        idle_ = pending_.empty();
        idle_cv_.notify_all();
        cv_.wait(lock, [&] {
          return stop_ || abort_all_ || !pending_.empty() || !cancels_.empty() ||
                 resets_requested_ > resets_done_;
        });
      }
      if (stop_ && !engine_->has_work() && pending_.empty()) return;
      subs.swap(pending_);
      cancels.swap(cancels_);
      abort_all = abort_all_;
      if (resets_requested_ > resets_done_) {
        engine_->reset_prefix_cache();
        resets_done_ = resets_requested_;
        idle_cv_.notify_all();
      }
    }
    for (Submission& s : subs) {
      std::shared_ptr<RequestStream> stream = s.stream;
      auto id = engine_->add_request(std::move(s.prompt), s.params, [stream](const TokenEvent& e) {
        stream->push(e);
      });
      if (!id.ok()) {  // validated in submit(); only a race with configuration could get here
        TokenEvent ev;
        ev.token = -1;
        ev.finish = FinishReason::kAbort;
        ev.stop_reason = id.error().message;
        stream->push(ev);
        continue;
      }
      stream->id_ = *id;
      live[*id] = stream;
    }
    for (const auto& s : cancels) engine_->abort(s->id_);
    if (abort_all)
      for (auto& [id, s] : live) engine_->abort(id);
    if (engine_->has_work()) {
      auto st = engine_->step();
      std::lock_guard<std::mutex> lock(mu_);
      if (st.ok() && st->num_seqs > 0) {
        metrics_.on_step(*st);
        metrics_.set_cost_model(engine_->cost_model());
        metrics_.set_slo(engine_->scheduler().config().tbt_slo_s, engine_->step_target_s());
        if (st->decodes_over_slo) warn_over_slo(*st);
      }
    }
    for (auto it = live.begin(); it != live.end();)
      it = it->second->finished() ? live.erase(it) : std::next(it);
    const sched::Scheduler& sc = engine_->scheduler();
    std::lock_guard<std::mutex> lock(mu_);
    sched_waiting_ = sc.num_waiting();
    metrics_.set_gauges(sc.num_running(), sc.num_waiting(), sc.kv_usage(), sc.num_preemptions());
    metrics_.set_prefix_cache(sc.prefix_cache_queries(), sc.prefix_cache_hits());
  }
}

bool AsyncEngine::shutdown(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!thread_.joinable()) return true;
  accepting_ = false;
  const bool drained = idle_cv_.wait_for(lock, timeout, [&] { return idle_ && pending_.empty(); });
  if (!drained) abort_all_ = true;
  stop_ = true;
  lock.unlock();
  cv_.notify_all();
  thread_.join();
  return drained;
}

}  // namespace sarathi::engine
