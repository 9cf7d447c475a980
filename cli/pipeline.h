// cli/pipeline.h: pipeline parallelism for the subcommands that offer it (generate, serve,
// bench throughput): the --pipeline-parallel-size option, joining the MPI job (dist/), and rank
// 0's model loading and executors. Every rank runs the same command line under mpirun; rank 0
// runs the subcommand, the others serve their pipeline stages until it is done. Builds without
// MPI too: then any size above 1 is a clear error.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "engine/executor.h"
#include "model/forward.h"
#include "model/llama.h"

namespace sarathi::cli {

/// Registers --pipeline-parallel-size on a subcommand.
void add_pipeline_option(CLI::App& cmd, int32_t& size);

/// Runs a subcommand that offers pipeline parallelism. With size 1 (and no MPI launcher
/// starting several processes) just `run`. Otherwise joins the MPI job and checks it (this
/// binary has MPI, the launcher started `size` processes), all before any model is loaded; then
/// rank 0 runs `run` while the other ranks serve its stages, and every rank exits with rank 0's
/// code. SIGTERM or SIGINT (the MPI launcher stops every rank when one fails) makes a rank print
/// what happened and exit non-zero.
int run_pipelined(int32_t size, const std::function<int()>& run);

/// Runs a subcommand without pipeline parallelism: an error when an MPI launcher started this
/// process among several (each would run the whole command on its own).
int run_alone(const std::string& name, const std::function<int()>& run);

/// Pipeline stages this process drives: 1 unless it is rank 0 inside run_pipelined.
int32_t pipeline_stages();

/// Loads `spec`: the whole model, or under pipeline parallelism rank 0's stage (after checking
/// that every stage gets a layer; the other ranks load theirs). Errors name the failing stage.
core::Result<std::unique_ptr<model::LlamaModel>> load_pipelined(const std::string& spec,
                                                                const model::LoadOptions& options);

/// Layers one rank's KV cache holds per block: all of them, or the largest stage's.
int32_t kv_layers_per_rank(const model::LlamaConfig& config);

/// The executor over a model load_pipelined returned: an engine::ModelExecutor, or under
/// pipeline parallelism a session of the pipeline (max_in_flight() = the stage count).
core::Result<std::unique_ptr<engine::Executor>> make_executor(const model::LlamaModel& model,
                                                              const model::KvCacheOptions& kv,
                                                              int num_threads);

}  // namespace sarathi::cli
