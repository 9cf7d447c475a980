#include "cli/pipeline.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "engine/model_executor.h"
#ifdef SARATHI_HAVE_MPI
#include "dist/mpi_world.h"
#include "dist/pipeline.h"
#endif

namespace sarathi::cli {

void add_pipeline_option(CLI::App& cmd, int32_t& size) {
  cmd.add_option("--pipeline-parallel-size,--pp", size,
                 "Pipeline stages: run under mpirun with that many processes (mpirun -np N "
                 "sarathi ... --pipeline-parallel-size N); rank r holds a contiguous range of "
                 "the layers and their KV cache (rank 0 also the embedding and everything else: "
                 "scheduler, sampling, HTTP; the last rank the output head), and up to N "
                 "micro-batches are in flight. -t/--threads is per rank (0: the cores shared "
                 "among the ranks on a machine); --kv-cache-memory is per rank. Needs a build "
                 "with MPI")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
}

namespace {

// The signal that stopped a rank, printed from the handler (async-signal-safe calls only).
char g_stop_message[160] = "sarathi: stopped by a signal\n";

extern "C" void on_stop_signal(int sig) {
  (void)!write(2, g_stop_message, strlen(g_stop_message));
  _exit(128 + sig);
}

void install_stop_handlers(int32_t rank) {
  std::snprintf(g_stop_message, sizeof g_stop_message,
                "sarathi: rank %d: stopped by SIGTERM/SIGINT (under mpirun every rank is stopped "
                "when one exits with an error or dies, or when the job is interrupted)\n",
                rank);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

#ifdef SARATHI_HAVE_MPI
dist::Pipeline* g_pipeline = nullptr;  // rank 0 inside run_pipelined
#endif

}  // namespace

int run_alone(const std::string& name, const std::function<int()>& run) {
#ifdef SARATHI_HAVE_MPI
  if (const int32_t n = dist::launcher_world_size(); n > 1) {
    std::fprintf(stderr,
                 "error: `sarathi %s` runs in one process, but an MPI launcher started %d; only "
                 "generate, serve and bench throughput run under mpirun (with "
                 "--pipeline-parallel-size %d)\n",
                 name.c_str(), n, n);
    return 2;
  }
#else
  (void)name;
#endif
  return run();
}

#ifdef SARATHI_HAVE_MPI

int run_pipelined(int32_t size, const std::function<int()>& run) {
  const int32_t launched = dist::launcher_world_size();
  if (size == 1 && launched <= 1) return run();
  if (launched == 0) {
    std::fprintf(stderr,
                 "error: --pipeline-parallel-size %d runs one process per stage: start it with "
                 "mpirun -np %d sarathi ... --pipeline-parallel-size %d\n",
                 size, size, size);
    return 2;
  }
  auto world = dist::MpiWorld::init();
  if (!world.ok()) {
    std::fprintf(stderr, "error: %s\n", world.error().message.c_str());
    return 2;
  }
  dist::MpiWorld& w = **world;
  if (w.size() != size) {
    if (w.rank() == 0)
      std::fprintf(stderr,
                   "error: --pipeline-parallel-size %d needs %d MPI processes, but the launcher "
                   "started %d (mpirun -np %d)\n",
                   size, size, w.size(), size);
    return 2;
  }
  install_stop_handlers(w.rank());
  if (w.rank() != 0) return dist::run_worker(w);
  dist::Pipeline pipeline(w);
  g_pipeline = &pipeline;
  const int code = run();
  g_pipeline = nullptr;
  pipeline.finish(code);
  return code;
}

int32_t pipeline_stages() { return g_pipeline != nullptr ? g_pipeline->num_stages() : 1; }

core::Result<std::unique_ptr<model::LlamaModel>> load_pipelined(const std::string& spec,
                                                                const model::LoadOptions& options) {
  if (g_pipeline == nullptr) return model::LlamaModel::load(spec, options);
  return g_pipeline->load_model(spec, options);
}

int32_t kv_layers_per_rank(const model::LlamaConfig& config) {
  return g_pipeline != nullptr ? g_pipeline->max_stage_layers() : config.n_layer;
}

core::Result<std::unique_ptr<engine::Executor>> make_executor(const model::LlamaModel& model,
                                                              const model::KvCacheOptions& kv,
                                                              int num_threads) {
  if (g_pipeline != nullptr) return g_pipeline->start(model, kv, num_threads);
  SARATHI_ASSIGN_OR_RETURN(auto exec, engine::ModelExecutor::create(model, kv, num_threads));
  return std::unique_ptr<engine::Executor>(std::move(exec));
}

#else  // no MPI

int run_pipelined(int32_t size, const std::function<int()>& run) {
  if (size > 1) {
    std::fprintf(stderr,
                 "error: --pipeline-parallel-size %d needs a build with MPI; this sarathi was "
                 "built without one (install libopenmpi-dev, e.g. by scripts/setup.sh, and "
                 "configure again)\n",
                 size);
    return 2;
  }
  (void)install_stop_handlers;
  return run();
}

int32_t pipeline_stages() { return 1; }

core::Result<std::unique_ptr<model::LlamaModel>> load_pipelined(const std::string& spec,
                                                                const model::LoadOptions& options) {
  return model::LlamaModel::load(spec, options);
}

int32_t kv_layers_per_rank(const model::LlamaConfig& config) { return config.n_layer; }

core::Result<std::unique_ptr<engine::Executor>> make_executor(const model::LlamaModel& model,
                                                              const model::KvCacheOptions& kv,
                                                              int num_threads) {
  SARATHI_ASSIGN_OR_RETURN(auto exec, engine::ModelExecutor::create(model, kv, num_threads));
  return std::unique_ptr<engine::Executor>(std::move(exec));
}

#endif

}  // namespace sarathi::cli
