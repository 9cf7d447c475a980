// cli/common.h: options and helpers shared by subcommands (model loading with a progress bar,
// parsing of comma-separated lists, statistics).
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "model/llama.h"

namespace sarathi::cli {

struct ModelArgs {
  std::string model = "synthetic:llama-160m:q8_0";
  int threads = 0;
  int32_t ctx_size = 0;
  std::string kv_type = "f16";
  uint64_t seed = 42;  // synthetic weights
};

/// Registers -m/--model, -t/--threads, -c/--ctx-size, --kv-type on a subcommand.
void add_model_options(CLI::App& cmd, ModelArgs& args);

/// Loads the model (progress bar on a terminal); prints the error and returns null on failure.
std::unique_ptr<model::LlamaModel> load_model(const ModelArgs& args);

/// The KV dtype named by --kv-type, or nullopt after printing an error.
std::optional<core::DType> kv_dtype(const ModelArgs& args);

/// Median, and the p-th percentile (0..100, nearest rank) of a sample; 0 for an empty one.
double median(std::vector<double> v);
double percentile(std::vector<double> v, double p);

}  // namespace sarathi::cli
