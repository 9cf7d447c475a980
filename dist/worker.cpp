// Ranks other than 0: load a stage when told, and during a session run every micro-batch that
// comes from the previous rank through this stage's layers, handing the result to the next
// rank (the last stage sends the logits back to rank 0).
#include <fmt/format.h>

#include <chrono>
#include <memory>

#include "core/thread_pool.h"
#include "dist/control.h"
#include "dist/link.h"
#include "dist/pipeline.h"

namespace sarathi::dist {
namespace {

double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A worker's stage during a session.
struct StageRunner {
  MpiWorld& world;
  const model::LlamaModel& model;
  std::unique_ptr<core::ThreadPool> pool;
  std::unique_ptr<model::PagedKvCache> cache;
  std::unique_ptr<model::Forward> forward;

  core::Status init(const StartCommand& cmd) {
    pool = std::make_unique<core::ThreadPool>(resolve_threads(cmd.threads, world));
    model::KvCacheOptions kv = cmd.kv;
    kv.first_layer = model.first_layer();
    kv.end_layer = model.end_layer();
    SARATHI_ASSIGN_OR_RETURN(cache, model::PagedKvCache::create(model.config(), kv));
    forward = std::make_unique<model::Forward>(model, *cache, *pool);
    return core::ok_status();
  }

  // Runs micro-batches until the end of the session comes through.
  void run_session() {
    const int32_t rank = world.rank(), n = world.size();
    const bool last = rank == n - 1;
    Link link(world.comm(), rank - 1, (rank + 1) % n);
    std::vector<model::SeqInput> seqs;
    std::vector<engine::StageTime> in_times, out_times;
    double last_end = seconds_now();
    for (;;) {
      Buffer in = link.receive();
      const double t_in = seconds_now();
      auto m = decode(in, seqs, in_times);
      if (!m.ok())
        world.abort("pipeline stage: bad message from rank " + std::to_string(rank - 1) + ": " +
                    m.error().message);
      Buffer out = link.take_buffer();
      if (m->kind == MessageKind::kEnd) {
        encode({.kind = MessageKind::kEnd, .batch_idx = m->batch_idx}, out);
        link.send(std::move(out));
        break;
      }
      // Stage times travel from stage 1 on (rank 0 keeps its own): rank - 1 of them.
      if (m->kind != MessageKind::kBatch || static_cast<int32_t>(m->times.size()) != rank - 1)
        world.abort(
            fmt::format("pipeline stage: expected a micro-batch with {} stage times from "
                        "rank {}, got kind {} with {}",
                        rank - 1, rank - 1, static_cast<int>(m->kind), m->times.size()));
      const double t_decoded = seconds_now();
      auto result = forward->run(m->seqs, m->data);
      if (!result.ok())
        world.abort(fmt::format("pipeline stage {} (layers [{}, {})): micro-batch {}: {}", rank,
                                model.first_layer(), model.end_layer(), m->batch_idx,
                                result.error().message));
      const double t_computed = seconds_now();
      out_times.assign(m->times.begin(), m->times.end());
      out_times.push_back({});
      encode({.kind = last ? MessageKind::kResult : MessageKind::kBatch,
              .batch_idx = m->batch_idx,
              .seqs = last ? std::span<const model::SeqInput>() : m->seqs,
              .times = out_times,
              .data = *result},
             out);
      const double t_encoded = seconds_now();
      patch_time(out, out_times.size() - 1,
                 {.idle_s = t_in - last_end,
                  .transfer_s = (t_decoded - t_in) + (t_encoded - t_computed),
                  .compute_s = t_computed - t_decoded});
      link.send(std::move(out));
      link.recycle(std::move(in));
      last_end = t_encoded;
    }
    link.close();
  }
};

}  // namespace

int run_worker(MpiWorld& world) {
  std::unique_ptr<model::LlamaModel> model;
  for (;;) {
    const Buffer bytes = world.receive(0, kTagControl);
    auto cmd = parse_command(bytes);
    if (!cmd.ok()) world.abort(cmd.error().message);
    switch (cmd->kind) {
      case Command::kLoad: {
        model.reset();
        model::LoadOptions options = cmd->load.options;
        options.first_layer = cmd->load.first_layer;
        options.end_layer = cmd->load.end_layer;
        auto m = model::LlamaModel::load(cmd->load.spec, options);
        world.send(0, kTagReply, to_bytes(encode_reply(m.ok() ? core::ok_status() : m.error())));
        if (m.ok()) model = std::move(*m);
        break;
      }
      case Command::kStart: {
        if (!model) {
          world.send(0, kTagReply,
                     to_bytes(encode_reply(
                         core::make_error(core::ErrorCode::kInternal, "no model is loaded"))));
          break;
        }
        StageRunner stage{.world = world, .model = *model};
        const core::Status st = stage.init(cmd->start);
        world.send(0, kTagReply, to_bytes(encode_reply(st)));
        if (!st.ok()) break;
        auto next = parse_command(world.receive(0, kTagControl));
        if (!next.ok()) world.abort(next.error().message);
        if (next->kind == Command::kGo) stage.run_session();
        break;
      }
      case Command::kExit:
        return cmd->exit.code;
      case Command::kGo:
      case Command::kCancel:
        break;  // for a session this rank did not start
    }
  }
}

}  // namespace sarathi::dist
