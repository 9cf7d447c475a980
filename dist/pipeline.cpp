#include "dist/pipeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/check.h"
#include "core/thread_pool.h"
#include "dist/control.h"
#include "dist/link.h"
#include "dist/partition.h"

namespace sarathi::dist {

using core::ErrorCode;
using core::make_error;

int resolve_threads(int requested, const MpiWorld& world) {
  if (requested > 0) return requested;
  return std::max(1, core::default_num_threads() / std::max(1, world.local_size()));
}

namespace {

double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Rank 0's stage of a session: runs its layers for each micro-batch and hands the hidden states
// to rank 1; collects the logits rank N-1 sends back, in order.
class PipelineExecutor final : public engine::Executor {
 public:
  PipelineExecutor(MpiWorld& world, const model::LlamaModel& model, int threads)
      : world_(world), model_(model), pool_(threads) {}

  ~PipelineExecutor() override {
    if (!link_) return;
    while (!pending_.empty()) (void)collect();
    Buffer end = link_->take_buffer();
    encode({.kind = MessageKind::kEnd, .batch_idx = next_idx_}, end);
    link_->send(std::move(end));
    Buffer back = link_->receive();
    auto m = decode(back, seqs_, times_);
    if (!m.ok() || m->kind != MessageKind::kEnd)
      world_.abort("pipeline: expected the end of the session back from the last stage, got " +
                   (m.ok() ? std::string("another message") : m.error().message));
    link_->close();
  }

  core::Status init(const model::KvCacheOptions& kv) {
    SARATHI_ASSIGN_OR_RETURN(cache_, model::PagedKvCache::create(model_.config(), kv));
    forward_ = std::make_unique<model::Forward>(model_, *cache_, pool_);
    return core::ok_status();
  }
  // Opens the data plane once every stage is ready.
  void open() { link_ = std::make_unique<Link>(world_.comm(), world_.size() - 1, 1); }

  int32_t n_vocab() const override { return model_.config().n_vocab; }
  int32_t max_in_flight() const override { return world_.size(); }

  core::Result<std::span<const float>> run(std::span<const engine::ExecSeq> batch) override {
    SARATHI_CHECK(pending_.empty(), "run() with {} micro-batches in flight", pending_.size());
    SARATHI_RETURN_IF_ERROR(submit(batch));
    SARATHI_ASSIGN_OR_RETURN(engine::StepOutput out, collect());
    return out.logits;
  }

  core::Status submit(std::span<const engine::ExecSeq> batch) override {
    SARATHI_CHECK(static_cast<int32_t>(pending_.size()) < max_in_flight(),
                  "{} micro-batches in flight through {} stages", pending_.size(), max_in_flight());
    const double t0 = seconds_now();
    inputs_.clear();
    int32_t num_logits = 0;
    for (const engine::ExecSeq& s : batch) {
      inputs_.push_back({s.tokens, s.first_pos, s.block_table, s.want_logits ? 1 : 0});
      num_logits += s.want_logits ? 1 : 0;
    }
    // Invalid input is an error before anything is sent: the pipeline stays in step.
    SARATHI_ASSIGN_OR_RETURN(std::span<const float> hidden, forward_->run(inputs_));
    const double t1 = seconds_now();
    Buffer msg = link_->take_buffer();
    encode({.kind = MessageKind::kBatch, .batch_idx = next_idx_, .seqs = inputs_, .data = hidden},
           msg);
    link_->send(std::move(msg));
    const double t2 = seconds_now();
    pending_.push_back({.batch_idx = next_idx_++,
                        .num_logits = num_logits,
                        .time = {.idle_s = last_end_ < 0 ? 0.0 : t0 - last_end_,
                                 .transfer_s = t2 - t1,
                                 .compute_s = t1 - t0}});
    last_end_ = t2;
    return core::ok_status();
  }

  core::Result<engine::StepOutput> collect() override {
    SARATHI_CHECK(!pending_.empty(), "collect() with nothing in flight");
    const Pending p = pending_.front();
    pending_.pop_front();
    if (!current_.empty()) link_->recycle(std::move(current_));
    current_ = link_->receive();
    auto m = decode(current_, seqs_, times_);
    if (!m.ok()) world_.abort("pipeline: bad result from the last stage: " + m.error().message);
    const size_t want = static_cast<size_t>(p.num_logits) * static_cast<size_t>(n_vocab());
    if (m->kind != MessageKind::kResult || m->batch_idx != p.batch_idx || m->data.size() != want ||
        static_cast<int32_t>(m->times.size()) != world_.size() - 1)
      world_.abort(fmt::format(
          "pipeline: expected micro-batch {}'s {} logits and {} stage times, got micro-batch "
          "{} of kind {} with {} values and {} times",
          p.batch_idx, want, world_.size() - 1, m->batch_idx, static_cast<int>(m->kind),
          m->data.size(), m->times.size()));
    stages_.assign(1, p.time);
    stages_.insert(stages_.end(), m->times.begin(), m->times.end());
    return engine::StepOutput{m->data, stages_};
  }

 private:
  struct Pending {
    int64_t batch_idx;
    int32_t num_logits;
    engine::StageTime time;  // rank 0's own
  };
  MpiWorld& world_;
  const model::LlamaModel& model_;
  core::ThreadPool pool_;
  std::unique_ptr<model::PagedKvCache> cache_;
  std::unique_ptr<model::Forward> forward_;
  std::unique_ptr<Link> link_;
  std::vector<model::SeqInput> inputs_;
  std::deque<Pending> pending_;
  int64_t next_idx_ = 0;
  double last_end_ = -1;
  Buffer current_;  // the last result message: collect()'s logits point into it
  std::vector<model::SeqInput> seqs_;
  std::vector<engine::StageTime> times_;
  std::vector<engine::StageTime> stages_;
};

std::string stage_name(int32_t rank, const std::vector<int32_t>& bounds) {
  if (bounds.size() > static_cast<size_t>(rank) + 1)
    return fmt::format("pipeline stage {} (rank {}, layers [{}, {}))", rank, rank,
                       bounds[static_cast<size_t>(rank)], bounds[static_cast<size_t>(rank) + 1]);
  return fmt::format("pipeline stage {} (rank {})", rank, rank);
}

}  // namespace

Pipeline::Pipeline(MpiWorld& world) : world_(world) {
  SARATHI_CHECK(world.rank() == 0, "the pipeline is driven from rank 0, not {}", world.rank());
}

int32_t Pipeline::max_stage_layers() const {
  int32_t most = 0;
  for (size_t i = 0; i + 1 < bounds_.size(); ++i)
    most = std::max(most, bounds_[i + 1] - bounds_[i]);
  return most;
}

core::Status Pipeline::gather_replies(const std::string& what) {
  std::string failures;
  for (int32_t r = 1; r < world_.size(); ++r) {
    const Reply reply = parse_reply(world_.receive(r, kTagReply));
    if (reply.ok) continue;
    if (!failures.empty()) failures += "; ";
    failures += fmt::format("{} failed to {}: {}", stage_name(r, bounds_), what, reply.error);
  }
  if (failures.empty()) return core::ok_status();
  return make_error(ErrorCode::kInternal, "{}", failures);
}

core::Result<std::unique_ptr<model::LlamaModel>> Pipeline::load_model(const std::string& spec,
                                                                      model::LoadOptions options) {
  SARATHI_CHECK(!finished_, "load_model() after finish()");
  bounds_.clear();
  SARATHI_ASSIGN_OR_RETURN(const model::LlamaConfig config,
                           model::LlamaModel::read_config(spec, options));
  SARATHI_ASSIGN_OR_RETURN(bounds_, split_layers(config.n_layer, num_stages()));
  for (int32_t r = 1; r < world_.size(); ++r) {
    LoadCommand cmd{.spec = spec,
                    .options = options,
                    .first_layer = bounds_[static_cast<size_t>(r)],
                    .end_layer = bounds_[static_cast<size_t>(r) + 1]};
    world_.send(r, kTagControl, to_bytes(encode_command(cmd)));
  }
  options.first_layer = bounds_[0];
  options.end_layer = bounds_[1];
  auto mine = model::LlamaModel::load(spec, options);
  const core::Status others = gather_replies("load");
  std::string failures;
  if (!mine.ok())
    failures = fmt::format("{} failed to load: {}", stage_name(0, bounds_), mine.error().message);
  if (!others.ok()) failures += (failures.empty() ? "" : "; ") + others.error().message;
  if (!failures.empty()) return make_error(ErrorCode::kInternal, "{}", failures);
  return std::move(*mine);
}

core::Result<std::unique_ptr<engine::Executor>> Pipeline::start(const model::LlamaModel& stage0,
                                                                const model::KvCacheOptions& kv,
                                                                int threads) {
  SARATHI_CHECK(bounds_.size() == static_cast<size_t>(num_stages()) + 1 &&
                    stage0.first_layer() == bounds_[0] && stage0.end_layer() == bounds_[1],
                "start() needs rank 0's stage of the model load_model() loaded");
  for (int32_t r = 1; r < world_.size(); ++r)
    world_.send(r, kTagControl,
                to_bytes(encode_command(StartCommand{.kv = kv, .threads = threads})));
  model::KvCacheOptions mine_kv = kv;
  mine_kv.first_layer = bounds_[0];
  mine_kv.end_layer = bounds_[1];
  auto exec = std::make_unique<PipelineExecutor>(world_, stage0, resolve_threads(threads, world_));
  const core::Status mine = exec->init(mine_kv);
  // Every rank that started waits for the go (or the cancel) before its data plane opens.
  std::string failures;
  std::vector<bool> started(static_cast<size_t>(world_.size()), false);
  for (int32_t r = 1; r < world_.size(); ++r) {
    const Reply reply = parse_reply(world_.receive(r, kTagReply));
    started[static_cast<size_t>(r)] = reply.ok;
    if (reply.ok) continue;
    if (!failures.empty()) failures += "; ";
    failures += fmt::format("{} failed to start: {}", stage_name(r, bounds_), reply.error);
  }
  if (!mine.ok())
    failures = fmt::format("{} failed to start: {}{}{}", stage_name(0, bounds_),
                           mine.error().message, failures.empty() ? "" : "; ", failures);
  const bool go = failures.empty();
  for (int32_t r = 1; r < world_.size(); ++r)
    if (started[static_cast<size_t>(r)])
      world_.send(r, kTagControl, to_bytes(encode_command(go ? Command::kGo : Command::kCancel)));
  if (!go) return make_error(ErrorCode::kInternal, "{}", failures);
  exec->open();
  return std::unique_ptr<engine::Executor>(std::move(exec));
}

void Pipeline::finish(int code) {
  if (finished_) return;
  finished_ = true;
  for (int32_t r = 1; r < world_.size(); ++r)
    world_.send(r, kTagControl, to_bytes(encode_command(ExitCommand{.code = code})));
}

}  // namespace sarathi::dist
