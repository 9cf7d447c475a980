// dist/pipeline.h: pipeline parallelism over MPI. Rank r of N holds a contiguous range of the
// model's layers (rank 0 also the token embedding, rank N-1 the output norm and head) and the KV
// cache of those layers. Rank 0 runs everything else (scheduler, sampling, HTTP server) and
// drives the other ranks:
//  - control plane (blocking messages, dist/mpi_world.h): "load your stage of this model",
//    "start a session" (create the KV cache under the block ids rank 0's scheduler hands out),
//    "exit";
//  - data plane (dist/link.h, during a session): each micro-batch goes 0 -> 1 -> ... -> N-1 with
//    its block tables and the hidden states, non-blocking, so every stage computes the next
//    micro-batch while the last one is in flight; the last stage sends the logits back to rank 0.
// On rank 0 a session is an engine::Executor with max_in_flight() = N, so the engine keeps N
// micro-batches in flight (engine/engine.h). Faults: a rank that fails to load or start is an
// error naming it on rank 0; anything that breaks a session (a malformed message, a stage's
// forward pass failing) ends the whole job with MPI_Abort and a message naming the rank; a rank
// that dies is noticed by the MPI launcher, which ends the others.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "dist/mpi_world.h"
#include "engine/executor.h"
#include "model/forward.h"
#include "model/llama.h"

namespace sarathi::dist {

/// Threads a rank uses when `requested` is 0: this machine's cores shared among the job's ranks
/// on it (at least 1).
int resolve_threads(int requested, const MpiWorld& world);

/// Rank 0's handle on the pipeline (one per process).
class Pipeline {
 public:
  /// world.rank() must be 0.
  explicit Pipeline(MpiWorld& world);
  /// Stages: the job's ranks.
  int32_t num_stages() const { return world_.size(); }

  /// Loads `spec` split over the stages: first checks that every stage gets a layer (nothing is
  /// loaded otherwise), then has every other rank load its layers while rank 0 loads its own
  /// (options.progress reports rank 0's part), and returns rank 0's stage once every stage is
  /// loaded. A stage that fails is an error naming its rank and layers. Replaces any model
  /// loaded before.
  core::Result<std::unique_ptr<model::LlamaModel>> load_model(const std::string& spec,
                                                              model::LoadOptions options);
  /// The loaded model's stage boundaries: rank r holds layers [bounds[r], bounds[r + 1]).
  const std::vector<int32_t>& bounds() const { return bounds_; }
  /// Layers of the largest stage (what one rank's KV cache holds per block).
  int32_t max_stage_layers() const;

  /// Starts a session over the loaded model: every stage creates its KV cache (kv: the pool,
  /// block size and type, the same on every rank; the layers are each stage's own) and a pool
  /// of `threads` threads (0: resolve_threads). Returns rank 0's executor; stage0 (what
  /// load_model returned) must outlive it. One session at a time; destroying the executor
  /// ends it.
  core::Result<std::unique_ptr<engine::Executor>> start(const model::LlamaModel& stage0,
                                                        const model::KvCacheOptions& kv,
                                                        int threads);

  /// Tells every other rank to exit with `code`. No session may be open.
  void finish(int code);

 private:
  // Collects every other rank's reply to a command; the error names each rank that failed.
  core::Status gather_replies(const std::string& what);

  MpiWorld& world_;
  std::vector<int32_t> bounds_;
  bool finished_ = false;
};

/// Ranks other than 0: carries out rank 0's commands (load a stage, run sessions) until told to
/// exit; returns the exit code rank 0 gave.
int run_worker(MpiWorld& world);

}  // namespace sarathi::dist
